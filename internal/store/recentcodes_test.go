package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestRecentCodes: a code written in an authorization's transaction is
// kept once that commits, and only a code exchange's context takes it,
// once. A code used or revoked since it was kept still fails its exchange,
// at the invalidation, as a replay.
func TestRecentCodes(t *testing.T) {
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
				tx, err := f.BeginTX(ctx)
				if err != nil {
					t.Fatal(err)
				}
				err = f.InvalidateAuthorizeCodeSession(tx, sig)
				if err == nil {
					err = f.CreateAccessTokenSession(tx, "at-"+sig, r)
				}
				if err == nil {
					err = f.Commit(tx)
				}
				if err != nil {
					_ = f.Rollback(tx)
				}
				return r, err
			}

			authorize(t, "rolled-back", false)
			if n := store.KeptCodes(f); n != 0 {
				t.Fatalf("a rolled back code is kept (%d kept)", n)
			}

			want := authorize(t, "kept", true)
			if n := store.KeptCodes(f); n != 1 {
				t.Fatalf("%d codes kept after one authorization, want 1", n)
			}
			if _, err := f.GetAuthorizeCodeSession(bg, "kept", storetest.NewRequest("x").GetSession()); err != nil {
				t.Fatal(err)
			}
			if n := store.KeptCodes(f); n != 1 {
				t.Fatal("a read outside a code exchange took the kept code")
			}
			got, err := exchange(t, "kept")
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if got.GetID() != want.ID || got.GetClient().GetID() != "c" {
				t.Errorf("exchanged request %q of client %q, want %q of c", got.GetID(), got.GetClient().GetID(), want.ID)
			}
			if n := store.KeptCodes(f); n != 0 {
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
			if n := store.KeptCodes(f); n != 0 {
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
		})
	}
}
