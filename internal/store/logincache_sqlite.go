package store

import (
	"context"
	"time"
)

// Login sessions cached on SQLite.
//
// On SQLite too every authorization read its login session: a read on a
// pooled connection, whose page cache every commit since has emptied, so
// a few pages read again from the file (about 6% of a code flow's CPU
// under the harness's load). The cache of logincache.go serves here as
// well. This process's own changes forget a session at once, as on
// PostgreSQL; what SQLite has no notifications for is a change made by
// another process on the same file: a second Caddy sharing it, or
// `caddy oidc sessions revoke` working on the database directly. SQLite
// counts those instead: PRAGMA data_version, read on a connection, changes
// when any other connection committed since that connection last read it.
// In this process only the writing connection (shared.go) writes, so read
// on that connection the number moves only for other connections' commits:
// other processes' (and a write of this process through another
// connection, which only empties the cache once too often; the background
// checkpoints, PASSIVE, do not move it).
//
// So, every sqliteLoginPoll, the instance reads the number on the writing
// connection (holding the write gate: a statement of a few microseconds)
// and empties the cache when it moved or could not be read. A change made
// by another process is thus seen within sqliteLoginPoll. A session read
// from the database before a change and kept after it is dropped by the
// same emptying; one read after the emptying sees the change (it was
// committed before the number moved). Another process cannot commit
// between two readings without moving the number: the reading is taken
// in the shared transaction when one is open, and while it is open, this
// process holds SQLite's write lock.
const sqliteLoginPoll = 250 * time.Millisecond

// sqlDataVersion reads the connection's count of other connections' commits.
const sqlDataVersion = "PRAGMA data_version"

// startSQLiteLoginCache turns on the login session cache of a SQLite db.
func (db *DB) startSQLiteLoginCache() {
	last, err := db.writerDataVersion(context.Background())
	known := err == nil // whether last holds a reading
	db.startLoginKeeper(func(ctx context.Context, k *loginKeeper) {
		t := time.NewTicker(sqliteLoginPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			v, err := db.writerDataVersion(ctx)
			switch {
			case err != nil || !known:
				db.forgetOthersChanges()
			case v != last:
				db.forgetOthersChanges()
				k.moves.Add(1)
			}
			last, known = v, err == nil
		}
	})
	db.logins.cache.turnOn()
}

// forgetOthersChanges empties what the process keeps that another
// process may have changed: the login sessions and, through the cache's
// reset, the access tokens kept for their first use (accessrows.go).
func (db *DB) forgetOthersChanges() {
	db.logins.cache.forgetAll()
}

// writerDataVersion reads PRAGMA data_version on the writing connection,
// in the shared transaction if one is open (no other process can have
// committed since it began: it holds SQLite's write lock). It gives the
// write gate back as a member does, committing the shared transaction if
// no writer waits, so that members that waited for the gate's next holder
// to commit are not left for flushAfter.
func (db *DB) writerDataVersion(ctx context.Context) (int64, error) {
	if err := db.acquire(ctx); err != nil {
		return 0, db.wrapErr(err)
	}
	defer db.endMember()
	sh := db.shared
	row := sh.conn.QueryRowContext
	if sh.tx != nil {
		row = sh.tx.QueryRowContext
	}
	var v int64
	if err := row(ctx, sqlDataVersion).Scan(&v); err != nil {
		return 0, db.wrapErr(err)
	}
	return v, nil
}
