package store

import (
	"context"
	"time"
)

// Access tokens kept until their first use (SQLite and PostgreSQL).
//
// An app that signs a user in exchanges the code, then at once asks the
// userinfo endpoint with the access token it got: on SQLite a read on a
// pooled connection whose page cache the exchange's commit had emptied
// (6.7% of a code flow's CPU in a profile under the harness's load), on
// PostgreSQL a round trip. So an access token issued at the token endpoint
// (a code exchange or a refresh) is kept as written until its first use,
// like codes and refresh tokens (recentrows.go), within the same bound of
// rows.
//
// Unlike theirs, an access token's use is a read, with no conditional
// write in the database to catch what happened to the token since. What
// keeps a kept token honest is that every deletion of access tokens
// forgets it (nothing updates one: the row kept is the row stored until
// it is deleted):
//   - a token is kept when its INSERT runs (or is queued, on PostgreSQL),
//     pending: not handed out until its transaction commits (dropped if it
//     rolls back). On PostgreSQL only a code exchange's token is kept
//     (keepsAccess);
//   - this instance's deletions of access tokens (by signature; by grant
//     at a refresh's rotation or a revocation; by client through the admin
//     API) drop the rows kept both before their DELETE runs and after. On
//     SQLite the INSERT and the DELETE each run holding the write gate, so
//     a token inserted before the DELETE was kept before it and is dropped
//     by the second forgetting, and a token inserted after it was not
//     deleted; rows are only ever kept at their INSERT, so none comes back.
//     On PostgreSQL a DELETE in a transaction may only run at its Commit
//     (pipeline.go): a token a concurrent transaction inserts meanwhile
//     and the DELETE removes is dropped by the notice below;
//   - on SQLite, another process's commits (a second Caddy on the file, a
//     tool) empty the set within sqliteLoginPoll (logincache_sqlite.go),
//     as they empty the login sessions kept;
//   - on PostgreSQL, a kept token's row is written with announce set, and
//     a trigger (schema migration 13) announces its deletion, by any
//     instance or tool, on the login sessions' channel with its signature,
//     when the deleting transaction commits; every instance's listener
//     forgets it (logincache.go).
//     Kept tokens are only served while that listener is known to hear
//     (loginCache.whileLive), and are dropped whenever it turns off or on,
//     so a notice can only be missed together with all of them. A
//     deletion elsewhere is thus seen within the notification's delay, as
//     a login session's change is;
//   - an expired token is never served, and a token served is taken out:
//     its next use reads the database.
//
// MySQL, where instances do not hear of each other's deletions, reads the
// database every time. Turning the login cache off
// (SQLiteOptions.NoLoginCache, PostgresConfig.NoLoginCache) turns this off
// too.

// keepsAccess reports whether an access token written in ctx is kept
// (holdAccess): one written in the transaction of the token endpoint (a
// context of WithDeferredDeletes), and on PostgreSQL only by a code
// exchange, whose app asks userinfo at once. There every token kept is
// written announced, and its deletion costs a notice to every instance
// (about a tenth of a refresh's CPU, Caddy's and the server's, measured
// with one instance); a refresh's token is neither kept nor announced,
// so the refresh that deletes it next sends none.
func (f *Fosite) keepsAccess(ctx context.Context) bool {
	if f.db.accesses == nil || f.db.txStateFrom(ctx) == nil {
		return false
	}
	d := deferredFrom(ctx)
	if d == nil {
		return false
	}
	if !f.db.dialect.announcesAccess {
		return true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.usedCode != ""
}

// holdAccess keeps, pending, an access token just written in the
// transaction of ctx, where keepsAccess; keepWritten confirms it once the
// transaction commits, Rollback drops it.
func (f *Fosite) holdAccess(ctx context.Context, args []any) {
	d := deferredFrom(ctx)
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
	var c *recentRow
	f.db.logins.cache.whileLive(func() { c = f.db.accesses.take(signature, time.Now()) })
	if c != nil {
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
