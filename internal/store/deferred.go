package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// One commit per code exchange. fosite's handlers used to make a code
// exchange commit three times: the PKCE handler deletes the code's PKCE
// record while checking the verifier, the code grant invalidates the code
// and stores the tokens in a transaction, and the OpenID Connect handler
// reads and deletes the code's ID token request after that transaction,
// before signing. The two deletions are cleanup, not guards: the code's
// invalidation in that transaction (conditional on the code being active)
// is what makes a code single-use, and both records are only read for an
// active code.
//
// A token endpoint that marks its context with WithDeferredDeletes makes
// them ride on the code grant's transaction instead: the PKCE deletion
// waits for it, and once told the code (TakeOpenIDConnectSession), the same
// transaction reads the code's OpenID Connect record and deletes it, for
// GetOpenIDConnectSession to hand out afterwards. What no transaction took
// (the request failed before, a wrong code_verifier say) runs in
// FlushDeferred, which the endpoint calls before it answers, whatever the
// outcome: the stored state ends as it did, with one commit instead of three.
// The context also keeps the active code that fosite reads twice per
// exchange (once to check it, once to issue tokens), so it is read once.
// Both are safe for the same reason: the transaction's invalidation of the
// code fails if the code stopped being active in the meantime.

// deferredKey is the context key of a *deferred.
type deferredKey struct{}

// deferred is what one token request lets wait for its transaction.
type deferred struct {
	mu         sync.Mutex
	dels       []deferredDelete
	oidcKey    string         // hashKey of the code whose OpenID Connect record the transaction takes
	oidc       *storedRequest // that record once taken (nil: not taken, or none)
	codeSig    string         // the signature of the active code read in this context
	code       *storedRequest // its record, read once
	codeExtras codeExtras     // its bundled PKCE and OpenID Connect columns (bundle.go)
	usedCode   string         // the signature of the code a transaction in this context invalidated
	written    []*recentRow   // refresh tokens its transaction wrote, kept once it commits (recentrows.go)
	accesses   []*recentRow   // access tokens its transaction wrote, kept pending until it commits (accessrows.go)
}

// deferredDelete is a deletion waiting for a transaction. One with a code
// is skipped by the transaction that invalidates that code (the deletion
// then has nothing left to guard).
type deferredDelete struct{ what, query, key, code string }

// WithDeferredDeletes returns a context in which the Fosite storage defers
// the deletion of authorization codes' PKCE and OpenID Connect records to
// the next transaction committed in it, or to FlushDeferred.
func WithDeferredDeletes(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferredKey{}, &deferred{})
}

// TakeOpenIDConnectSession tells a context of WithDeferredDeletes the code
// being exchanged: the next transaction committed in it reads the code's
// OpenID Connect record and deletes it, and GetOpenIDConnectSession and
// DeleteOpenIDConnectSession then use what it read. Without
// WithDeferredDeletes it does nothing.
func TakeOpenIDConnectSession(ctx context.Context, code string) {
	if d := deferredFrom(ctx); d != nil {
		d.mu.Lock()
		d.oidcKey, d.oidc = hashKey(code), nil
		d.mu.Unlock()
	}
}

func deferredFrom(ctx context.Context) *deferred {
	d, _ := ctx.Value(deferredKey{}).(*deferred)
	return d
}

// deferDelete queues a deletion when ctx defers them and carries no
// transaction (in one it costs no commit of its own); it reports whether it
// did.
func (f *Fosite) deferDelete(ctx context.Context, what, query, key string) bool {
	return f.deferDeleteUnlessUsed(ctx, what, query, key, "")
}

// deferDeleteUnlessUsed is deferDelete for a deletion that the transaction
// invalidating the code of signature code skips.
func (f *Fosite) deferDeleteUnlessUsed(ctx context.Context, what, query, key, code string) bool {
	d := deferredFrom(ctx)
	if d == nil || f.db.txStateFrom(ctx) != nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dels = append(d.dels, deferredDelete{what, query, key, code})
	return true
}

// usedCodeInTx tells a context of WithDeferredDeletes that its transaction
// invalidated the code of signature.
func usedCodeInTx(ctx context.Context, signature string) {
	if d := deferredFrom(ctx); d != nil {
		d.mu.Lock()
		d.usedCode = signature
		d.mu.Unlock()
	}
}

// takenOIDC returns the OpenID Connect record the transaction took for the
// code whose hash is key, if it did.
func takenOIDC(ctx context.Context, key string) *storedRequest {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.oidc != nil && d.oidcKey == key {
		return d.oidc
	}
	return nil
}

// runDeferred runs, in the transaction of ctx, the queued deletions and the
// taking of the OpenID Connect record.
func (f *Fosite) runDeferred(ctx context.Context) error {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, del := range d.dels {
		if del.code != "" && del.code == d.usedCode {
			continue
		}
		if err := f.db.execQueued(ctx, nil, del.query, del.key); err != nil {
			return fmt.Errorf("store: delete %s: %w", del.what, err)
		}
	}
	d.dels = nil
	if d.oidcKey == "" || d.oidc != nil || d.bundledOIDCLocked(d.oidcKey) != nil {
		return nil // nothing to take, taken, or in the code's own row
	}
	var s storedRequest
	err := f.db.queryRow(ctx, sqlSelectOIDC, d.oidcKey).Scan(s.dest()...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil // no OpenID Connect request (no openid scope): nothing to take
	case err != nil:
		return fmt.Errorf("store: openid connect session: %w", err)
	}
	if _, err := f.db.exec(ctx, sqlDeleteOIDC, d.oidcKey); err != nil {
		return fmt.Errorf("store: delete openid connect session: %w", err)
	}
	d.oidc = &s
	return nil
}

// FlushDeferred runs the deletions still queued in ctx (see
// WithDeferredDeletes): in one transaction, or as one grouped write when
// there is one. A record already gone is no error: the deletion only
// cleans up.
func (f *Fosite) FlushDeferred(ctx context.Context) error {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	dels := d.dels
	d.dels = nil
	d.mu.Unlock()
	switch len(dels) {
	case 0:
		return nil
	case 1:
		if _, err := f.db.exec(ctx, dels[0].query, dels[0].key); err != nil {
			return fmt.Errorf("store: delete %s: %w", dels[0].what, err)
		}
		return nil
	}
	return f.db.inTx(ctx, func(ctx context.Context) error {
		for _, del := range dels {
			if err := f.db.execQueued(ctx, nil, del.query, del.key); err != nil {
				return fmt.Errorf("store: delete %s: %w", del.what, err)
			}
		}
		return nil
	})
}

// readCode returns the active code record of signature read earlier in ctx
// (a context of WithDeferredDeletes), if any.
func readCode(ctx context.Context, signature string) *storedRequest {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.code != nil && d.codeSig == signature {
		return d.code
	}
	return nil
}

// keepCode remembers an active code record read in ctx, for readCode, with
// its bundled columns.
func keepCode(ctx context.Context, signature string, s *storedRequest, extras codeExtras) {
	if d := deferredFrom(ctx); d != nil {
		d.mu.Lock()
		d.codeSig, d.code, d.codeExtras = signature, s, extras
		d.mu.Unlock()
	}
}
