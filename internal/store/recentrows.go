package store

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"time"
)

// Codes and refresh tokens this instance issued, kept until their use.
//
// A client exchanges its authorization code within a second or so of
// receiving it, and, with one instance or a load balancer that keeps a
// browser's requests together, on the instance that issued it; a client
// that refreshes often does so, with the refresh token it got last, on
// the instance that issued that one. The instance just wrote that row, so
// reading it back is a read it can skip: on SQLite a read on a pooled
// connection, whose page cache every commit since has emptied; on
// PostgreSQL a round trip.
//
// What makes this safe is the same argument as reading a code once per
// exchange (deferred.go): the row kept is exactly the row written, and of
// a code's or refresh token's row only the active flag ever changes (on
// PostgreSQL a rotated refresh token's row moves to another table; a failed
// exchange that burns a code's PKCE request clears it and retires the code
// in one statement, sqlBurnCodePKCE). The
// transaction that uses a code or refresh token retires it on condition
// that it is still active in the database (InvalidateAuthorizeCodeSession,
// RotateRefreshToken), so one used, revoked or deleted since it was kept
// fails there, and the token endpoint answers that as a replay. Only the
// token endpoint's context (one of WithDeferredDeletes) takes a row from
// here, and it takes it out: a second use of the same code or token reads
// the database, and finds it used. Every other reader (introspection,
// revocation, the admin API) reads the database.

// recentRowsMax bounds the rows kept of each kind. Codes live a minute or
// so, and a refresh token kept past its turn only wastes its place: when
// the set is full the oldest row is dropped (its use then reads the
// database). About 1.5 KiB a row.
const recentRowsMax = 1024

// recentRows is a set of rows kept; its zero value is ready to use.
type recentRows struct {
	mu    sync.Mutex
	byKey map[string]*recentRow
	ring  [recentRowsMax]*recentRow // insertion order; next is the oldest slot
	next  int
	// byRequest lists the rows kept by request ID, when indexRequests is
	// set (forgetRequest).
	byRequest     map[string][]*recentRow
	indexRequests bool
}

// recentRow is a code's, refresh token's or access token's row as written.
type recentRow struct {
	// pending marks a row kept before its transaction committed
	// (accessrows.go): take does not hand it out until confirm.
	pending   bool
	signature string
	request   storedRequest
	extras    codeExtras    // a code's bundled columns (bundle.go)
	expires   sql.NullInt64 // Unix nanoseconds, as stored
	slot      int           // its place in recentRows.ring
}

// recentRowOf rebuilds the row an INSERT wrote from its arguments
// (requestArgs; the extra columns after its own are not kept) and a code's
// bundled columns; ok is false for arguments of an unexpected shape, which
// are then not kept.
func recentRowOf(args []any, extras codeExtras) (c *recentRow, ok bool) {
	if len(args) < requestArgsColumns {
		return nil, false
	}
	c = &recentRow{extras: extras}
	var session string
	for _, f := range []struct {
		dst *string
		i   int
	}{
		{&c.signature, argSignature}, {&c.request.requestID, argRequestID}, {&c.request.clientID, argClientID},
		{&c.request.scopes, argScopes}, {&c.request.grantedScopes, argGrantedScopes}, {&c.request.audience, argAudience},
		{&c.request.grantedAudience, argGrantedAudience}, {&c.request.form, argForm}, {&session, argSession},
	} {
		if *f.dst, ok = args[f.i].(string); !ok {
			return nil, false
		}
	}
	if c.request.requestedAt, ok = args[argRequestedAt].(int64); !ok {
		return nil, false
	}
	if c.expires, ok = args[argExpires].(sql.NullInt64); !ok {
		return nil, false
	}
	c.request.session = []byte(session)
	return c, true
}

// put keeps c, dropping the oldest row kept if the set is full.
func (rc *recentRows) put(c *recentRow) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.byKey == nil {
		rc.byKey = make(map[string]*recentRow, recentRowsMax)
	}
	if old := rc.ring[rc.next]; old != nil {
		rc.drop(old)
	}
	if prev := rc.byKey[c.signature]; prev != nil {
		rc.drop(prev)
	}
	c.slot = rc.next
	rc.ring[rc.next] = c
	rc.next = (rc.next + 1) % recentRowsMax
	rc.byKey[c.signature] = c
	if rc.indexRequests {
		if rc.byRequest == nil {
			rc.byRequest = make(map[string][]*recentRow)
		}
		rc.byRequest[c.request.requestID] = append(rc.byRequest[c.request.requestID], c)
	}
}

// drop forgets c. The caller holds mu.
func (rc *recentRows) drop(c *recentRow) {
	if rc.byKey[c.signature] == c {
		delete(rc.byKey, c.signature)
	}
	if rc.ring[c.slot] == c {
		rc.ring[c.slot] = nil
	}
	if rc.indexRequests {
		id := c.request.requestID
		rows := slices.DeleteFunc(rc.byRequest[id], func(r *recentRow) bool { return r == c })
		if len(rows) == 0 {
			delete(rc.byRequest, id)
		} else {
			rc.byRequest[id] = rows
		}
	}
}

// confirm lets take hand out c, kept pending, if it is still kept.
func (rc *recentRows) confirm(c *recentRow) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.byKey[c.signature] == c {
		c.pending = false
	}
}

// dropRow drops c, if it is still kept.
func (rc *recentRows) dropRow(c *recentRow) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.drop(c)
}

// forget drops the row of signature, if kept.
func (rc *recentRows) forget(signature string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if c := rc.byKey[signature]; c != nil {
		rc.drop(c)
	}
}

// forgetRequest drops every row of the request (grant) requestID; the set
// must index requests.
func (rc *recentRows) forgetRequest(requestID string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range slices.Clone(rc.byRequest[requestID]) {
		rc.drop(c)
	}
}

// forgetWhere drops every row for which drop reports true.
func (rc *recentRows) forgetWhere(drop func(*recentRow) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range rc.byKey {
		if drop(c) {
			rc.drop(c)
		}
	}
}

// take returns the row of signature and forgets it, or nil if it is not
// kept or has expired.
func (rc *recentRows) take(signature string, now time.Time) *recentRow {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.byKey[signature]
	if c == nil || c.pending {
		return nil
	}
	rc.drop(c)
	if c.expires.Valid && c.expires.Int64 <= now.UnixNano() {
		return nil
	}
	return c
}

// len returns the number of rows kept.
func (rc *recentRows) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byKey)
}

// takeRecentCode is GetAuthorizeCodeSession's shortcut: in the token
// endpoint's context, the code as this instance wrote it, if kept; the
// context then holds it as read (keepCode).
func (f *Fosite) takeRecentCode(ctx context.Context, signature string) *storedRequest {
	if deferredFrom(ctx) == nil {
		return nil
	}
	c := f.codes.take(signature, time.Now())
	if c == nil {
		return nil
	}
	keepCode(ctx, signature, &c.request, c.extras)
	return &c.request
}

// takeRecentRefresh is GetRefreshTokenSession's shortcut: in the token
// endpoint's context, the active refresh token as this instance wrote it,
// if kept.
func (f *Fosite) takeRecentRefresh(ctx context.Context, signature string) *storedRequest {
	if deferredFrom(ctx) == nil {
		return nil
	}
	if c := f.refreshes.take(signature, time.Now()); c != nil {
		return &c.request
	}
	return nil
}

// holdRefresh notes a refresh token written in the transaction of ctx, in
// the token endpoint's context, to keep once the transaction commits.
func holdRefresh(ctx context.Context, args []any) {
	d := deferredFrom(ctx)
	if d == nil {
		return
	}
	if c, ok := recentRowOf(args, codeExtras{}); ok {
		d.mu.Lock()
		d.written = append(d.written, c)
		d.mu.Unlock()
	}
}

// keepWritten keeps the code (WithCodeBundle) and refresh tokens
// (WithDeferredDeletes) written in the transaction of ctx, which has
// committed.
func (f *Fosite) keepWritten(ctx context.Context) {
	if b := codeBundleFrom(ctx); b != nil {
		b.mu.Lock()
		c := b.written
		b.written = nil
		b.mu.Unlock()
		if c != nil {
			f.codes.put(c)
		}
	}
	if d := deferredFrom(ctx); d != nil {
		d.mu.Lock()
		written, accesses := d.written, d.accesses
		d.written, d.accesses = nil, nil
		d.mu.Unlock()
		for _, c := range written {
			f.refreshes.put(c)
		}
		for _, c := range accesses {
			f.db.accesses.confirm(c) // only held where kept (accessrows.go)
		}
	}
}

// dropWritten forgets what the transaction of ctx wrote (it rolled back).
func (f *Fosite) dropWritten(ctx context.Context) {
	dropHeldCode(ctx)
	if d := deferredFrom(ctx); d != nil {
		d.mu.Lock()
		accesses := d.accesses
		d.written, d.accesses = nil, nil
		d.mu.Unlock()
		for _, c := range accesses {
			f.db.accesses.dropRow(c)
		}
	}
}
