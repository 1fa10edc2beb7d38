package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// testDeferredDeletes checks store.WithDeferredDeletes, the context a token
// endpoint gives a code exchange so that it commits once: the deletions of
// the code's PKCE and OpenID Connect records wait for the code's
// transaction (or FlushDeferred), and the stored state ends as without it.
func testDeferredDeletes(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	bg := context.Background()
	// seed stores a code, its PKCE and its OpenID Connect records under sig
	// (the code's signature) and raw (the code itself).
	seed := func(t *testing.T, sig, raw string) *fosite.Request {
		t.Helper()
		r := newTestRequest("req-" + sig)
		for _, err := range []error{
			f.CreateAuthorizeCodeSession(bg, sig, r),
			f.CreatePKCERequestSession(bg, sig, r),
			f.CreateOpenIDConnectSession(bg, raw, r),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	// stored reports whether the PKCE and OpenID Connect records are there.
	stored := func(t *testing.T, sig, raw string) (pkce, oidc bool) {
		t.Helper()
		n := func(table, key string) bool {
			var c int
			if err := db.QueryRowContext(bg, "SELECT COUNT(*) FROM "+table+" WHERE signature = ?", key).Scan(&c); err != nil {
				t.Fatal(err)
			}
			return c > 0
		}
		return n("oauth2_pkce", sig), n("oauth2_oidc", HashKey(raw))
	}
	check := func(t *testing.T, sig, raw string, wantPKCE, wantOIDC bool) {
		t.Helper()
		if p, o := stored(t, sig, raw); p != wantPKCE || o != wantOIDC {
			t.Fatalf("stored: pkce %v, oidc %v; want %v, %v", p, o, wantPKCE, wantOIDC)
		}
	}

	t.Run("deletions wait for FlushDeferred", func(t *testing.T) {
		seed(t, "fl-sig", "fl-raw")
		ctx := store.WithDeferredDeletes(bg)
		if err := f.DeletePKCERequestSession(ctx, "fl-sig"); err != nil {
			t.Fatal(err)
		}
		if err := f.DeleteOpenIDConnectSession(ctx, "fl-raw"); err != nil {
			t.Fatal(err)
		}
		check(t, "fl-sig", "fl-raw", true, true)
		if err := f.FlushDeferred(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, "fl-sig", "fl-raw", false, false)
		if err := f.FlushDeferred(ctx); err != nil {
			t.Fatalf("second flush: %v", err)
		}
	})

	t.Run("the code's transaction takes them", func(t *testing.T) {
		want := seed(t, "tx-sig", "tx-raw")
		ctx := store.WithDeferredDeletes(bg)
		store.TakeOpenIDConnectSession(ctx, "tx-raw")
		if err := f.DeletePKCERequestSession(ctx, "tx-sig"); err != nil {
			t.Fatal(err)
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.InvalidateAuthorizeCodeSession(tx, "tx-sig"); err != nil {
			t.Fatal(err)
		}
		check(t, "tx-sig", "tx-raw", true, true) // not before the commit
		if err := f.Commit(tx); err != nil {
			t.Fatal(err)
		}
		check(t, "tx-sig", "tx-raw", false, false)
		got, err := f.GetOpenIDConnectSession(ctx, "tx-raw", &fosite.Request{Session: newSession()})
		if err != nil {
			t.Fatalf("get taken openid connect session: %v", err)
		}
		checkRequest(t, got, want)
		if err := f.DeleteOpenIDConnectSession(ctx, "tx-raw"); err != nil {
			t.Fatalf("delete taken openid connect session: %v", err)
		}
		if _, err := f.GetOpenIDConnectSession(bg, "tx-raw", &fosite.Request{Session: newSession()}); !isNotFound(err) {
			t.Fatalf("get outside the context: %v, want not found", err)
		}
		if err := f.FlushDeferred(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a rolled back transaction leaves them to FlushDeferred", func(t *testing.T) {
		seed(t, "rb-sig", "rb-raw")
		ctx := store.WithDeferredDeletes(bg)
		store.TakeOpenIDConnectSession(ctx, "rb-raw")
		if err := f.DeletePKCERequestSession(ctx, "rb-sig"); err != nil {
			t.Fatal(err)
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Rollback(tx); err != nil {
			t.Fatal(err)
		}
		check(t, "rb-sig", "rb-raw", true, true)
		if _, err := f.GetOpenIDConnectSession(ctx, "rb-raw", &fosite.Request{Session: newSession()}); err != nil {
			t.Fatalf("get untaken openid connect session: %v", err) // read from the database
		}
		if err := f.FlushDeferred(ctx); err != nil {
			t.Fatal(err)
		}
		check(t, "rb-sig", "rb-raw", false, true) // only what was deleted
	})

	t.Run("an active code is read once; its invalidation still catches a concurrent exchange", func(t *testing.T) {
		want := seed(t, "once-sig", "once-raw")
		ctx := store.WithDeferredDeletes(bg)
		if _, err := f.GetAuthorizeCodeSession(ctx, "once-sig", newSession()); err != nil {
			t.Fatal(err)
		}
		// Another exchange of the same code wins meanwhile.
		if err := f.InvalidateAuthorizeCodeSession(bg, "once-sig"); err != nil {
			t.Fatal(err)
		}
		got, err := f.GetAuthorizeCodeSession(ctx, "once-sig", newSession())
		if err != nil {
			t.Fatalf("second read in the context: %v", err)
		}
		checkRequest(t, got, want)
		if _, err := f.GetAuthorizeCodeSession(bg, "once-sig", newSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("read outside the context: %v, want invalidated", err)
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Rollback(tx) }()
		// On PostgreSQL the invalidation waits for the commit, which
		// then fails; elsewhere the invalidation itself does.
		err = f.InvalidateAuthorizeCodeSession(tx, "once-sig")
		if err == nil {
			err = f.Commit(tx)
		}
		if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("invalidate and commit: %v, want invalidated", err)
		}
	})
}
