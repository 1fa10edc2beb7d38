package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestRecentRows: a code written in an authorization's transaction, and a
// refresh token written in the token endpoint's, is kept once that
// commits, and only the token endpoint's context takes it, once. One used
// or revoked since it was kept still fails, at its invalidation or
// rotation, as a replay.
func TestRecentRows(t *testing.T) {
	t.Parallel()
	for _, backend := range []struct {
		name string
		open func(t *testing.T) *store.DB
	}{
		{"sqlite", openSQLite},
		{"postgres", func(t *testing.T) *store.DB { return storetest.Postgres(t).Open(t) }},
		{"mysql", func(t *testing.T) *store.DB { return storetest.MySQL(t).Open(t) }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			db := backend.open(t)
			kept := func(f *store.Fosite) (n struct{ codes, refreshes int }) {
				n.codes, n.refreshes = store.KeptRows(f)
				return n
			}
			f := store.NewFosite(db, storetest.Clients("c"))
			bg := context.Background()
			authorize := func(t *testing.T, sig string, commit bool) *fosite.Request {
				t.Helper()
				r := storetest.NewRequest("req-" + sig)
				tx, err := f.BeginTX(store.WithCodeBundle(bg))
				if err != nil {
					t.Fatal(err)
				}
				if err := f.CreateAuthorizeCodeSession(tx, sig, r); err != nil {
					t.Fatal(err)
				}
				if !commit {
					if err := f.Rollback(tx); err != nil {
						t.Fatal(err)
					}
					return r
				}
				if err := f.Commit(tx); err != nil {
					t.Fatal(err)
				}
				return r
			}
			// exchange runs a code exchange's storage calls: read, then
			// invalidate in a transaction with the token's insert.
			exchange := func(t *testing.T, sig string) (fosite.Requester, error) {
				t.Helper()
				ctx := store.WithDeferredDeletes(bg)
				r, err := f.GetAuthorizeCodeSession(ctx, sig, storetest.NewRequest("x").GetSession())
				if err != nil {
					return r, err
				}
				return r, commitSteps(ctx, f,
					func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, sig) },
					func(tx context.Context) error { return f.CreateAccessTokenSession(tx, "at-"+sig, r) },
					func(tx context.Context) error { return f.CreateRefreshTokenSession(tx, "rt-"+sig, "at-"+sig, r) })
			}

			authorize(t, "rolled-back", false)
			if n := kept(f).codes; n != 0 {
				t.Fatalf("a rolled back code is kept (%d kept)", n)
			}

			want := authorize(t, "kept", true)
			if n := kept(f).codes; n != 1 {
				t.Fatalf("%d codes kept after one authorization, want 1", n)
			}
			if _, err := f.GetAuthorizeCodeSession(bg, "kept", storetest.NewRequest("x").GetSession()); err != nil {
				t.Fatal(err)
			}
			if n := kept(f).codes; n != 1 {
				t.Fatal("a read outside a code exchange took the kept code")
			}
			got, err := exchange(t, "kept")
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if got.GetID() != want.ID || got.GetClient().GetID() != "c" {
				t.Errorf("exchanged request %q of client %q, want %q of c", got.GetID(), got.GetClient().GetID(), want.ID)
			}
			if n := kept(f).codes; n != 0 {
				t.Fatalf("the exchange left the code kept (%d kept)", n)
			}
			if _, err := exchange(t, "kept"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
				t.Errorf("second exchange: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
			}

			// Used elsewhere (another instance, say) after it was kept.
			authorize(t, "used-elsewhere", true)
			if err := f.InvalidateAuthorizeCodeSession(bg, "used-elsewhere"); err != nil {
				t.Fatal(err)
			}
			if _, err := exchange(t, "used-elsewhere"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
				t.Errorf("exchange of a code used elsewhere: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
			}
			if n := kept(f).codes; n != 0 {
				t.Fatalf("%d codes kept, want 0: the exchange did not take it", n)
			}
			// Revoked by the admin API after it was kept.
			authorize(t, "revoked", true)
			if _, err := db.RevokeClientGrants(bg, "c"); err != nil {
				t.Fatal(err)
			}
			if _, err := exchange(t, "revoked"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
				t.Errorf("exchange of a revoked code: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
			}
			for _, sig := range []string{"used-elsewhere", "revoked"} {
				if _, err := f.GetAccessTokenSession(bg, "at-"+sig, storetest.NewRequest("x").GetSession()); !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("the failed exchange of %q stored its access token: %v", sig, err)
				}
			}
			if n := kept(f).refreshes; n != 1 {
				t.Fatalf("%d refresh tokens kept, want the one of the successful exchange", n)
			}
			// That one was revoked with the client's grants; a new grant.
			want = authorize(t, "fresh", true)
			if _, err := exchange(t, "fresh"); err != nil {
				t.Fatal(err)
			}
			n0 := kept(f).refreshes

			// refresh runs a refresh's storage calls: read outside a
			// transaction, then rotate and issue in one.
			refresh := func(t *testing.T, sig, next string) error {
				t.Helper()
				ctx := store.WithDeferredDeletes(bg)
				r, err := f.GetRefreshTokenSession(ctx, sig, storetest.NewRequest("x").GetSession())
				if err != nil {
					return err
				}
				return commitSteps(ctx, f,
					func(tx context.Context) error { return f.RotateRefreshToken(tx, r.GetID(), sig) },
					func(tx context.Context) error { return f.CreateAccessTokenSession(tx, "at-"+next, r) },
					func(tx context.Context) error { return f.CreateRefreshTokenSession(tx, next, "at-"+next, r) })
			}
			if _, err := f.GetRefreshTokenSession(bg, "rt-fresh", storetest.NewRequest("x").GetSession()); err != nil {
				t.Fatal(err)
			}
			if n := kept(f).refreshes; n != n0 {
				t.Fatal("a read outside the token endpoint took the kept refresh token")
			}
			if err := refresh(t, "rt-fresh", "rt-kept-2"); err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if n := kept(f).refreshes; n != n0 {
				t.Fatalf("%d refresh tokens kept after a rotation, want %d (the new one instead of the used one)", n, n0)
			}
			if err := refresh(t, "rt-fresh", "rt-kept-3"); !errors.Is(err, fosite.ErrInactiveToken) {
				t.Errorf("reuse of a rotated refresh token: %v, want fosite.ErrInactiveToken", err)
			}
			if err := f.RevokeRefreshToken(bg, want.ID); err != nil {
				t.Fatal(err)
			}
			if err := refresh(t, "rt-kept-2", "rt-kept-4"); !errors.Is(err, fosite.ErrSerializationFailure) {
				t.Errorf("refresh with a token revoked after it was kept: %v, want fosite.ErrSerializationFailure", err)
			}
			if n := kept(f).refreshes; n != n0-1 {
				t.Errorf("%d refresh tokens kept after a failed rotation, want %d", n, n0-1)
			}
			for _, sig := range []string{"rt-kept-3", "rt-kept-4"} {
				if _, err := f.GetRefreshTokenSession(bg, sig, storetest.NewRequest("x").GetSession()); !errors.Is(err, fosite.ErrNotFound) {
					t.Errorf("a failed refresh stored its refresh token %q: %v", sig, err)
				}
			}
		})
	}
}
