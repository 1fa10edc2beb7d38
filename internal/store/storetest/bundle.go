package storetest

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// testCodeBundle checks store.WithCodeBundle: an authorization's code, PKCE
// and OpenID Connect records written in one transaction become one row of
// oauth2_code, which every lookup of the three finds, inside a code
// exchange's context and outside it, and which a used code no longer
// serves.
func testCodeBundle(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	bg := context.Background()
	count := func(t *testing.T, table string) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(bg, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// authorize stores what fosite's authorize handlers store for a code
	// with PKCE and openid, as they sanitize it: the same request, three
	// forms. It returns the three requests.
	authorize := func(t *testing.T, ctx context.Context, sig, raw string) (code, pkce, oidc *fosite.Request) {
		t.Helper()
		code = newTestRequest("req-" + sig)
		code.Form = url.Values{"response_type": {"code"}, "state": {"s-" + sig}}
		pkce, oidc = new(fosite.Request), new(fosite.Request)
		*pkce, *oidc = *code, *code
		pkce.Form = url.Values{"code_challenge": {"ch-" + sig}, "code_challenge_method": {"S256"}}
		oidc.Form = url.Values{"nonce": {"n-" + sig}, "max_age": {"60"}}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range []error{
			f.CreateAuthorizeCodeSession(tx, sig, code),
			f.CreatePKCERequestSession(tx, sig, pkce),
			f.CreateOpenIDConnectSession(tx, raw, oidc),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.GetAuthorizeCodeSession(bg, sig, newSession()); !isNotFound(err) {
			t.Fatalf("code before the commit: %v, want not found", err)
		}
		if err := f.Commit(tx); err != nil {
			t.Fatal(err)
		}
		return code, pkce, oidc
	}
	checkForm := func(t *testing.T, got fosite.Requester, want *fosite.Request) {
		t.Helper()
		if got.GetID() != want.ID || got.GetClient().GetID() != want.Client.GetID() {
			t.Errorf("request %q of client %q, want %q of %q", got.GetID(), got.GetClient().GetID(), want.ID, want.Client.GetID())
		}
		if g, w := defaultSession(t, got.GetSession()).Claims.Nonce, defaultSession(t, want.Session).Claims.Nonce; g != w {
			t.Errorf("session's nonce = %q, want %q", g, w)
		}
		if g, w := got.GetRequestForm().Encode(), want.Form.Encode(); g != w {
			t.Errorf("form = %q, want %q", g, w)
		}
	}

	t.Run("one row, read by the code exchange", func(t *testing.T) {
		before := [3]int{count(t, "oauth2_code"), count(t, "oauth2_pkce"), count(t, "oauth2_oidc")}
		code, pkce, oidc := authorize(t, store.WithCodeBundle(bg), "x-sig", "x-raw")
		after := [3]int{count(t, "oauth2_code"), count(t, "oauth2_pkce"), count(t, "oauth2_oidc")}
		if after != [3]int{before[0] + 1, before[1], before[2]} {
			t.Fatalf("rows in code, pkce, oidc tables: %v before, %v after; want one more code only", before, after)
		}
		// As the token endpoint runs an exchange.
		ctx := store.WithDeferredDeletes(bg)
		store.TakeOpenIDConnectSession(ctx, "x-raw")
		got, err := f.GetAuthorizeCodeSession(ctx, "x-sig", newSession())
		if err != nil {
			t.Fatal(err)
		}
		checkForm(t, got, code)
		got, err = f.GetPKCERequestSession(ctx, "x-sig", newSession())
		if err != nil {
			t.Fatal(err)
		}
		checkForm(t, got, pkce)
		if err := f.DeletePKCERequestSession(ctx, "x-sig"); err != nil {
			t.Fatal(err)
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.InvalidateAuthorizeCodeSession(tx, "x-sig"); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(tx); err != nil {
			t.Fatal(err)
		}
		got, err = f.GetOpenIDConnectSession(ctx, "x-raw", &fosite.Request{ID: code.ID, Session: newSession()})
		if err != nil {
			t.Fatal(err)
		}
		checkForm(t, got, oidc)
		if err := f.DeleteOpenIDConnectSession(ctx, "x-raw"); err != nil {
			t.Fatal(err)
		}
		if err := f.FlushDeferred(ctx); err != nil {
			t.Fatal(err)
		}
		// A replay of the used code finds no PKCE request.
		if _, err := f.GetAuthorizeCodeSession(bg, "x-sig", newSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("replayed code: %v, want invalidated", err)
		}
		if _, err := f.GetPKCERequestSession(bg, "x-sig", newSession()); !isNotFound(err) {
			t.Fatalf("pkce of a used code: %v, want not found", err)
		}
	})

	t.Run("outside a code exchange's context", func(t *testing.T) {
		code, pkce, oidc := authorize(t, store.WithCodeBundle(bg), "o-sig", "o-raw")
		got, err := f.GetPKCERequestSession(bg, "o-sig", newSession())
		if err != nil {
			t.Fatal(err)
		}
		checkForm(t, got, pkce)
		requester := &fosite.Request{ID: code.ID, Session: newSession()}
		got, err = f.GetOpenIDConnectSession(bg, "o-raw", requester)
		if err != nil {
			t.Fatal(err)
		}
		checkForm(t, got, oidc)
		if _, err := f.GetOpenIDConnectSession(bg, "another-raw", requester); !isNotFound(err) {
			t.Fatalf("another code of the request: %v, want not found", err)
		}
		if err := f.DeletePKCERequestSession(bg, "o-sig"); err != nil {
			t.Fatal(err)
		}
		if err := f.DeletePKCERequestSession(bg, "o-sig"); !isNotFound(err) {
			t.Fatalf("second pkce delete: %v, want not found", err)
		}
		if _, err := f.GetPKCERequestSession(bg, "o-sig", newSession()); !isNotFound(err) {
			t.Fatalf("deleted pkce: %v, want not found", err)
		}
		if err := f.DeleteOpenIDConnectSession(bg, "o-raw"); err != nil {
			t.Fatal(err)
		}
		if err := f.DeleteOpenIDConnectSession(bg, "o-raw"); !isNotFound(err) {
			t.Fatalf("second openid connect delete: %v, want not found", err)
		}
		if _, err := f.GetOpenIDConnectSession(bg, "o-raw", requester); !isNotFound(err) {
			t.Fatalf("deleted openid connect session: %v, want not found", err)
		}
		got, err = f.GetAuthorizeCodeSession(bg, "o-sig", newSession())
		if err != nil {
			t.Fatalf("the code itself: %v", err)
		}
		checkForm(t, got, code)
	})

	t.Run("a rolled back transaction writes nothing", func(t *testing.T) {
		ctx := store.WithCodeBundle(bg)
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CreateAuthorizeCodeSession(tx, "rb-sig", newTestRequest("req-rb")); err != nil {
			t.Fatal(err)
		}
		if err := f.Rollback(tx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.GetAuthorizeCodeSession(bg, "rb-sig", newSession()); !isNotFound(err) {
			t.Fatalf("rolled back code: %v, want not found", err)
		}
		// The context's next transaction starts afresh.
		authorize(t, ctx, "rb2-sig", "rb2-raw")
		if _, err := f.GetAuthorizeCodeSession(bg, "rb-sig", newSession()); !isNotFound(err) {
			t.Fatalf("rolled back code after the next commit: %v, want not found", err)
		}
	})

	t.Run("a record of another request keeps its own table", func(t *testing.T) {
		tx, err := f.BeginTX(store.WithCodeBundle(bg))
		if err != nil {
			t.Fatal(err)
		}
		code, other := newTestRequest("req-d1"), newTestRequest("req-d2")
		pkces := count(t, "oauth2_pkce")
		if err := f.CreateAuthorizeCodeSession(tx, "d-sig", code); err != nil {
			t.Fatal(err)
		}
		if err := f.CreatePKCERequestSession(tx, "d-sig", other); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(tx); err != nil {
			t.Fatal(err)
		}
		if got := count(t, "oauth2_pkce"); got != pkces+1 {
			t.Fatalf("pkce rows: %d, want %d", got, pkces+1)
		}
		got, err := f.GetPKCERequestSession(bg, "d-sig", newSession())
		if err != nil {
			t.Fatal(err)
		}
		checkRequest(t, got, other)
	})
}
