package provider

import (
	"context"
	"net/url"
	"testing"

	"github.com/ory/fosite"
)

// active reports whether a token still introspects as active.
func (tp *epProvider) active(token string) bool {
	_, _, err := tp.oauth2.IntrospectToken(context.Background(), token, "", emptySession())
	return err == nil
}

func TestRevocation(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	revoke := func(form url.Values, user, pass string) int {
		t.Helper()
		w := tp.post(pathRevocation, form, user, pass)
		if w.Code == 200 && w.Body.Len() != 0 {
			t.Errorf("200 with a body: %s", w.Body)
		}
		return w.Code
	}

	t.Run("refresh token revokes the grant", func(t *testing.T) {
		g := tp.mint("app", "alice")
		if code := revoke(url.Values{"token": {g.refresh}, "token_type_hint": {"refresh_token"}}, "app", "app-secret"); code != 200 {
			t.Fatalf("status %d", code)
		}
		if tp.active(g.refresh) || tp.active(g.access) {
			t.Error("the grant's tokens survived")
		}
	})
	t.Run("access token revokes the grant", func(t *testing.T) {
		g := tp.mint("app", "alice")
		if code := revoke(url.Values{"token": {g.access}, "client_id": {"app"}, "client_secret": {"app-secret"}}, "", ""); code != 200 {
			t.Fatalf("status %d", code)
		}
		if tp.active(g.refresh) || tp.active(g.access) {
			t.Error("the grant's tokens survived")
		}
	})
	t.Run("public client", func(t *testing.T) {
		g := tp.mint("spa", "alice")
		if code := revoke(url.Values{"token": {g.refresh}, "client_id": {"spa"}}, "", ""); code != 200 || tp.active(g.refresh) {
			t.Errorf("status %d, still active %v", code, tp.active(g.refresh))
		}
	})
	t.Run("another client's token is a no-op", func(t *testing.T) {
		g := tp.mint("app", "alice")
		for _, tok := range []string{g.access, g.refresh} {
			if code := revoke(url.Values{"token": {tok}}, "other", "other-secret"); code != 200 {
				t.Errorf("status %d", code)
			}
		}
		if !tp.active(g.refresh) || !tp.active(g.access) {
			t.Error("another client revoked the tokens")
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		if code := revoke(url.Values{"token": {"ory_rt_nothing.nothing"}}, "app", "app-secret"); code != 200 {
			t.Errorf("status %d", code)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for name, tc := range map[string]struct {
			form       url.Values
			user, pass string
			status     int
			code       string
		}{
			"no token":       {url.Values{"token_type_hint": {"access_token"}}, "app", "app-secret", 400, "invalid_request"},
			"no credentials": {url.Values{"token": {"x"}}, "", "", 401, "invalid_client"},
			"wrong secret":   {url.Values{"token": {"x"}}, "app", "wrong", 401, "invalid_client"},
			"unknown client": {url.Values{"token": {"x"}, "client_id": {"nobody"}}, "", "", 401, "invalid_client"},
		} {
			w := tp.post(pathRevocation, tc.form, tc.user, tc.pass)
			if m := jsonBody(t, w); w.Code != tc.status || m["error"] != tc.code {
				t.Errorf("%s: %d %v", name, w.Code, m)
			}
		}
	})
	t.Run("a storage failure is not reported as success", func(t *testing.T) {
		g := tp.mint("app", "alice")
		_ = tp.db.Close()
		w := tp.post(pathRevocation, url.Values{"token": {g.refresh}}, "app", "app-secret")
		if w.Code != 503 || jsonBody(t, w)["error"] != fosite.ErrTemporarilyUnavailable.ErrorField {
			t.Errorf("%d %s", w.Code, w.Body)
		}
	})
}
