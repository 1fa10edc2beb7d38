package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/ory/fosite"
)

// One row per authorization. fosite's handlers store three records for an
// authorization code: the code's request, its PKCE request (the same
// request, its form cut to the code challenge) and its OpenID Connect
// request (the same request, its form cut to the OpenID Connect
// parameters, keyed by the raw code). A transaction begun in a context of
// WithCodeBundle writes them as one row of oauth2_code, with the two forms
// and the raw code's hash in its own columns: one INSERT at commit instead
// of three, and a code exchange then reads the three from the code it has
// already read (WithDeferredDeletes) and has nothing to delete, the code's
// invalidation being what makes it single-use. Records that do not fit (a
// different session, say) are stored in their own tables as before, and
// every lookup falls back to those tables, so codes written by an older
// version still work.

// codeBundleKey is the context key of a *codeBundle.
type codeBundleKey struct{}

// codeBundle is the code an authorization's transaction is about to write.
type codeBundle struct {
	mu      sync.Mutex
	pending *pendingCode
	written *recentRow // the code written, kept once the transaction commits (recentrows.go)
}

// pendingCode is a code's INSERT arguments (requestArgs) and what joined it.
type pendingCode struct {
	args                   []any
	pkceForm               sql.NullString
	oidcKey, oidcForm      sql.NullString
	joinedPKCE, joinedOIDC bool
}

// WithCodeBundle returns a context in which the authorization code created
// in a Fosite transaction is written at its commit, together with the
// code's PKCE and OpenID Connect requests created in the same transaction,
// as one row. Use it around an authorization response's transaction.
func WithCodeBundle(ctx context.Context) context.Context {
	return context.WithValue(ctx, codeBundleKey{}, &codeBundle{})
}

func codeBundleFrom(ctx context.Context) *codeBundle {
	b, _ := ctx.Value(codeBundleKey{}).(*codeBundle)
	return b
}

// Column indexes in requestArgs' result.
const (
	argSignature       = 0
	argRequestID       = 1
	argRequestedAt     = 2
	argClientID        = 3
	argScopes          = 4
	argGrantedScopes   = 5
	argAudience        = 6
	argGrantedAudience = 7
	argForm            = 8
	argSession         = 9
	argExpires         = 10
	requestArgsColumns = 11 // before any extra columns
)

// sameRequest reports whether two requestArgs results store the same
// request apart from key and form: the PKCE and OpenID Connect records of a
// code may then live in the code's row.
func sameRequest(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 1; i < len(a); i++ {
		if i != argForm && a[i] != b[i] {
			return false
		}
	}
	return true
}

// holdCode keeps a code's INSERT for the commit of the transaction of ctx
// when ctx bundles codes; it reports whether it did.
func (f *Fosite) holdCode(ctx context.Context, args []any) bool {
	b := codeBundleFrom(ctx)
	if b == nil || f.db.txStateFrom(ctx) == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending != nil {
		return false // a second code in one transaction: store it at once
	}
	b.pending = &pendingCode{args: args}
	return true
}

// joinCode adds a PKCE request (oidcKey empty) or an OpenID Connect request
// (oidcKey the raw code's hash) to the held code it belongs to; it reports
// whether it did. A PKCE request belongs to the code of the same signature,
// an OpenID Connect request to the code of the same request ID; both must
// carry the same request.
func (f *Fosite) joinCode(ctx context.Context, args []any, oidcKey string) bool {
	b := codeBundleFrom(ctx)
	if b == nil || f.db.txStateFrom(ctx) == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	if p == nil || !sameRequest(p.args, args) {
		return false
	}
	text, _ := args[argForm].(string)
	form := sql.NullString{String: text, Valid: true}
	switch {
	case oidcKey == "" && !p.joinedPKCE && args[argSignature] == p.args[argSignature]:
		p.pkceForm, p.joinedPKCE = form, true
	case oidcKey != "" && !p.joinedOIDC:
		p.oidcKey, p.oidcForm, p.joinedOIDC = sql.NullString{String: oidcKey, Valid: true}, form, true
	default:
		return false
	}
	return true
}

// writeHeldCode inserts the code held in ctx, with what joined it, in the
// transaction of ctx, or as one write of the group commit when that
// transaction is a lazy member that ran no statement (shared.go); Commit
// calls it.
func (f *Fosite) writeHeldCode(ctx context.Context) error {
	b := codeBundleFrom(ctx)
	if b == nil {
		return nil
	}
	b.mu.Lock()
	p := b.pending
	b.pending = nil
	b.mu.Unlock()
	if p == nil {
		return nil
	}
	extras := codeExtras{p.pkceForm, p.oidcKey, p.oidcForm}
	args := append(p.args[:len(p.args):len(p.args)], p.pkceForm, p.oidcKey, p.oidcForm)
	wctx := ctx
	if s := f.db.txStateFrom(ctx); deferredFrom(ctx) == nil && s.unbegun() {
		// The code is all a lazy member writes: one write of the group
		// commit, durable when exec returns (shared.go, lazy members). A
		// member whose context is done commits nothing, begun or not;
		// once claimed, the write is the member's commit, and its
		// context's end no longer stops it (Commit reports its outcome).
		if ctx.Err() != nil || !s.claimLazyWrite() {
			return fmt.Errorf("store: create authorize code: %w", errTxEnded)
		}
		wctx = context.WithoutCancel(outsideTx(ctx))
	}
	if err := f.db.execQueued(wctx, nil, sqlInsertCodeBundle, args...); err != nil {
		return fmt.Errorf("store: create authorize code: %w", err)
	}
	if c, ok := recentRowOf(p.args, extras); ok {
		b.mu.Lock()
		b.written = c
		b.mu.Unlock()
	}
	return nil
}

// dropHeldCode forgets the code held or written in ctx (the transaction
// rolled back).
func dropHeldCode(ctx context.Context) {
	if b := codeBundleFrom(ctx); b != nil {
		b.mu.Lock()
		b.pending, b.written = nil, nil
		b.mu.Unlock()
	}
}

// codeExtras are a code row's bundled PKCE and OpenID Connect columns.
type codeExtras struct {
	pkceForm, oidcKey, oidcForm sql.NullString
}

func (e *codeExtras) dest() []any { return []any{&e.pkceForm, &e.oidcKey, &e.oidcForm} }

// bundledPKCE returns the PKCE request in the code row of signature read
// earlier in ctx, if it has one.
func bundledPKCE(ctx context.Context, signature string) *storedRequest {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.code == nil || d.codeSig != signature || !d.codeExtras.pkceForm.Valid {
		return nil
	}
	s := *d.code
	s.form = d.codeExtras.pkceForm.String
	return &s
}

// bundledOIDC returns the OpenID Connect request of the code whose hash is
// key, when it is in the code row read earlier in ctx.
func bundledOIDC(ctx context.Context, key string) *storedRequest {
	d := deferredFrom(ctx)
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bundledOIDCLocked(key)
}

func (d *deferred) bundledOIDCLocked(key string) *storedRequest {
	if d.code == nil || !d.codeExtras.oidcKey.Valid || d.codeExtras.oidcKey.String != key {
		return nil
	}
	s := *d.code
	s.form = d.codeExtras.oidcForm.String
	return &s
}

// createBundled stores a code's PKCE request (oidcKey empty) or OpenID
// Connect request under key: in the held code's row when it joins it,
// else in its own table with insert.
func (f *Fosite) createBundled(ctx context.Context, what, insert, key, oidcKey string, r fosite.Requester) error {
	args, err := requestArgs(key, r, fosite.AuthorizeCode)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", what, err)
	}
	if f.joinCode(ctx, args, oidcKey) {
		return nil
	}
	return f.insert(ctx, what, insert, args)
}

// getBundled reads a PKCE or OpenID Connect request from a code's row with
// query, which selects the request columns and then the record's own form;
// found is false when no row has it (look in its own table then).
func (f *Fosite) getBundled(ctx context.Context, what, query string, args []any, session fosite.Session) (r fosite.Requester, found bool, err error) {
	var (
		s    storedRequest
		form string
	)
	switch err := f.db.queryRow(ctx, query, args...).Scan(s.dest(&form)...); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("store: %s: %w", what, err)
	}
	s.form = form
	r, err = f.hydrateRequester(ctx, what, &s, session)
	return r, true, err
}

// delBundled clears a PKCE or OpenID Connect request from a code's row
// with clearQuery, or deletes it from its own table with deleteQuery; in
// neither, it is fosite.ErrNotFound.
func (f *Fosite) delBundled(ctx context.Context, what, clearQuery, deleteQuery, key string) error {
	n, err := f.db.exec(ctx, clearQuery, key)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", what, err)
	}
	if n > 0 {
		return nil
	}
	return f.del(ctx, what, deleteQuery, key)
}
