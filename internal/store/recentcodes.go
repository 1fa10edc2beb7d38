package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Codes this instance issued, kept until they are exchanged.
//
// A client exchanges its authorization code within a second or so of
// receiving it, and, with one instance or a load balancer that keeps a
// browser's requests together, on the instance that issued it. That
// instance just wrote the code's row, so reading it back at the exchange
// is a read it can skip: on SQLite a read on a pooled connection, whose
// page cache every commit since has emptied; on PostgreSQL a round trip.
//
// What makes this safe is the same argument as reading a code once per
// exchange (deferred.go): the record kept is exactly the row written
// (only its active flag ever changes), and a code exchange's transaction
// invalidates the code on condition that it is still active in the
// database, so a code used, revoked or deleted meanwhile fails the
// exchange there, as a replay. Only a code exchange's context (one of
// WithDeferredDeletes) takes a code from here, and it takes it out: a
// second exchange of the same code reads the database. Other readers (the
// admin API, tests) always read the database.

// recentCodesMax bounds the codes kept: at an authorization a second,
// several minutes of codes never exchanged. When it is full the oldest is
// dropped (its exchange then reads the database).
const recentCodesMax = 1024

// recentCodes is the set of codes kept; its zero value is ready to use.
type recentCodes struct {
	mu    sync.Mutex
	byKey map[string]*recentCode
	ring  [recentCodesMax]*recentCode // insertion order; next is the oldest slot
	next  int
}

// recentCode is a code's row as written.
type recentCode struct {
	signature string
	request   storedRequest
	extras    codeExtras
	expires   sql.NullInt64 // Unix nanoseconds, as stored
	slot      int           // its place in recentCodes.ring
}

// recentCodeOf rebuilds the row a code's INSERT wrote from its arguments
// (requestArgs) and bundled columns; ok is false for arguments of an
// unexpected shape, which are then not kept.
func recentCodeOf(args []any, extras codeExtras) (c *recentCode, ok bool) {
	if len(args) != 11 {
		return nil, false
	}
	c = &recentCode{extras: extras}
	var session string
	for _, f := range []struct {
		dst *string
		i   int
	}{
		{&c.signature, argSignature}, {&c.request.requestID, argRequestID}, {&c.request.clientID, 3},
		{&c.request.scopes, 4}, {&c.request.grantedScopes, 5}, {&c.request.audience, 6},
		{&c.request.grantedAudience, 7}, {&c.request.form, argForm}, {&session, 9},
	} {
		if *f.dst, ok = args[f.i].(string); !ok {
			return nil, false
		}
	}
	if c.request.requestedAt, ok = args[2].(int64); !ok {
		return nil, false
	}
	if c.expires, ok = args[argExpires].(sql.NullInt64); !ok {
		return nil, false
	}
	c.request.session = []byte(session)
	return c, true
}

// put keeps c, dropping the oldest code kept if the set is full.
func (rc *recentCodes) put(c *recentCode) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.byKey == nil {
		rc.byKey = make(map[string]*recentCode, recentCodesMax)
	}
	if old := rc.ring[rc.next]; old != nil && rc.byKey[old.signature] == old {
		delete(rc.byKey, old.signature)
	}
	c.slot = rc.next
	rc.ring[rc.next] = c
	rc.next = (rc.next + 1) % recentCodesMax
	rc.byKey[c.signature] = c
}

// take returns the code of signature and forgets it, or nil if it is not
// kept or has expired.
func (rc *recentCodes) take(signature string, now time.Time) *recentCode {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.byKey[signature]
	if c == nil {
		return nil
	}
	delete(rc.byKey, signature)
	if rc.ring[c.slot] == c {
		rc.ring[c.slot] = nil
	}
	if c.expires.Valid && c.expires.Int64 <= now.UnixNano() {
		return nil
	}
	return c
}

// len returns the number of codes kept.
func (rc *recentCodes) len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.byKey)
}

// takeRecentCode is GetAuthorizeCodeSession's shortcut: in a code
// exchange's context, the code as this instance wrote it, if kept; the
// context then holds it as read (keepCode).
func (f *Fosite) takeRecentCode(ctx context.Context, signature string) *storedRequest {
	if deferredFrom(ctx) == nil {
		return nil
	}
	c := f.recent.take(signature, time.Now())
	if c == nil {
		return nil
	}
	keepCode(ctx, signature, &c.request, c.extras)
	return &c.request
}
