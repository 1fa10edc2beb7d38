package store_test

// A login session changed in a caller's transaction: the cache must not
// serve it as it was once the transaction has committed.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// loginChanges are the changes that end a login session, as a caller's
// transaction would make them.
var loginChanges = []struct {
	name   string
	change func(ctx context.Context, db *store.DB, id string) error
}{
	{"DeleteLoginSession", func(ctx context.Context, db *store.DB, id string) error {
		return db.DeleteLoginSession(ctx, id)
	}},
	{"EndLoginSession", func(ctx context.Context, db *store.DB, id string) error {
		_, err := db.EndLoginSession(ctx, id)
		return err
	}},
}

// endInTransaction creates the login session id, ends it with change in a
// transaction, reads it from outside while that transaction is open (it
// still exists there, and the read may keep it), and commits.
func endInTransaction(t *testing.T, db *store.DB, id string, change func(ctx context.Context, db *store.DB, id string) error) {
	t.Helper()
	bg := context.Background()
	if err := db.CreateLoginSession(bg, store.LoginSession{ID: id, Username: "alice", AMR: []string{"pwd"}, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTX(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := change(tx, db, id); err != nil {
		_ = db.Rollback(tx)
		t.Fatal(err)
	}
	if _, err := db.GetLoginSession(bg, id, time.Now()); err != nil {
		_ = db.Rollback(tx)
		t.Fatalf("read before the commit: %v", err)
	}
	if err := db.Commit(tx); err != nil {
		t.Fatal(err)
	}
}

// TestSQLiteLoginChangeInTransaction: a login session ended in a caller's
// transaction is forgotten by the cache when the statement runs, before the
// commit. A read in between reads the database, which does not show the
// change yet, and keeps the session with a generation taken after the
// forgetting; on SQLite nothing announces this connection's own commit, so
// the session is forgotten again when the transaction ends (txState.atEnd).
// Found by review: without that, the ended session was served from the
// cache after the commit, until loginMaxAge (30 s). No caller in the
// provider changes login sessions in a transaction of its own yet; the
// store's methods all take one.
func TestSQLiteLoginChangeInTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range loginChanges {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openSQLite(t)
			id := "cookie-" + tc.name
			endInTransaction(t, db, id, tc.change)
			if _, err := db.GetLoginSession(context.Background(), id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ended login session still served after its transaction committed: %v", err)
			}
			// Well past the version poll, which only sees other
			// connections' commits.
			time.Sleep(3 * store.SQLiteLoginPoll)
			if _, err := db.GetLoginSession(context.Background(), id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ended login session still served %v after its transaction committed: %v", 3*store.SQLiteLoginPoll, err)
			}
		})
	}
}

// TestPostgresLoginChangeInTransaction is its PostgreSQL counterpart: the
// session read and kept while the transaction was open is forgotten when
// that transaction ends, and when the trigger's notice arrives.
func TestPostgresLoginChangeInTransaction(t *testing.T) {
	t.Parallel()
	dbs, _ := openInstances(t, 1)
	for _, tc := range loginChanges {
		id := "cookie-pg-" + tc.name
		endInTransaction(t, dbs[0], id, tc.change)
		waitFor(t, "the ended session to stop being served", func() bool { return gone(t, dbs[0], id) })
	}
}
