package store

import (
	"context"
	"time"
)

// Access tokens kept until their first use (SQLite).
//
// An app that signs a user in exchanges the code, then at once asks the
// userinfo endpoint with the access token it got: on SQLite a read on a
// pooled connection whose page cache the exchange's commit had emptied
// (6.7% of a code flow's CPU in a profile under the harness's load). So an
// access token issued at the token endpoint (a code exchange or a refresh)
// is kept as written until its first use, like codes and refresh tokens
// (recentrows.go), within the same bound of rows.
//
// Unlike theirs, an access token's use is a read, with no conditional
// write in the database to catch what happened to the token since. What
// keeps a kept token honest is that every change to access tokens forgets
// it:
//   - a token is kept when its INSERT runs, pending: not handed out until
//     its transaction commits (dropped if it rolls back);
//   - this process's deletions of access tokens (by signature; by grant at
//     a refresh's rotation or a revocation; by client through the admin
//     API) drop the rows kept both before their DELETE runs and after. On
//     SQLite the INSERT and the DELETE each run holding the write gate, so
//     a token inserted before the DELETE was kept before it and is dropped
//     by the second forgetting, and a token inserted after it was not
//     deleted; rows are only ever kept at their INSERT, so none comes back;
//   - another process's commits (a second Caddy on the file, a tool) empty
//     the set within sqliteLoginPoll (logincache_sqlite.go), as they empty
//     the login sessions kept;
//   - an expired token is never served, and a token served is taken out:
//     its next use reads the database.
//
// On PostgreSQL and MySQL, which instances share without hearing of each
// other's revocations, every use reads the database. Turning the login
// cache off on SQLite (SQLiteOptions.NoLoginCache) turns this off too.

// holdAccess keeps, pending, an access token just written in the
// transaction of ctx at the token endpoint (a context of
// WithDeferredDeletes); keepWritten confirms it once the transaction
// commits, Rollback drops it.
func (f *Fosite) holdAccess(ctx context.Context, args []any) {
	if f.db.accesses == nil || f.db.txStateFrom(ctx) == nil {
		return
	}
	d := deferredFrom(ctx)
	if d == nil {
		return
	}
	if c, ok := recentRowOf(args, codeExtras{}); ok {
		c.pending = true
		f.db.accesses.put(c)
		d.mu.Lock()
		d.accesses = append(d.accesses, c)
		d.mu.Unlock()
	}
}

// takeAccess returns the kept access token of signature and forgets it,
// or nil if none is kept, it expired, or ctx carries a transaction (which
// reads the database, its own writes included).
func (f *Fosite) takeAccess(ctx context.Context, signature string) *storedRequest {
	if f.db.accesses == nil || f.db.txStateFrom(ctx) != nil {
		return nil
	}
	if c := f.db.accesses.take(signature, time.Now()); c != nil {
		return &c.request
	}
	return nil
}

// forgetAccess drops the kept access token of signature; its deletion
// calls it before and after the DELETE.
func (db *DB) forgetAccess(signature string) {
	if db.accesses != nil {
		db.accesses.forget(signature)
	}
}

// forgetAccessOfRequest drops the kept access tokens of the grant
// requestID; their deletion calls it before and after the DELETE.
func (db *DB) forgetAccessOfRequest(requestID string) {
	if db.accesses != nil {
		db.accesses.forgetRequest(requestID)
	}
}
