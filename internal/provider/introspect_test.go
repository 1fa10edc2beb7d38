package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// epIssuer is the issuer of the endpoint tests' provider.
const epIssuer = "https://op.example"

// epUsers is an in-memory users.Backend.
type epUsers map[string]*users.User

func (u epUsers) Authenticate(name, password string) (*users.User, error) {
	if x, ok := u[name]; ok && !x.Disabled && password == "pw" {
		c := *x
		return &c, nil
	}
	return nil, users.ErrInvalidCredentials
}

func (u epUsers) Lookup(name string) (*users.User, error) {
	if x, ok := u[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, users.ErrUserNotFound
}

// epProvider is a provider over a temporary database, with clients for the
// introspection, revocation, logout and PAR tests.
type epProvider struct {
	*Provider
	t  *testing.T
	db *store.DB // the provider's storage, for the tests to look into
	// scopes, when set, are the scopes mint grants (default openid profile).
	scopes fosite.Arguments
}

func newEndpointProvider(t *testing.T, mutate func(*Config)) *epProvider {
	t.Helper()
	km, err := keys.LoadOrCreate(context.Background(), &certmagic.FileStorage{Path: t.TempDir()}, "test")
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cfg := Config{
		Issuer: epIssuer,
		Users: epUsers{
			"alice": {Username: "alice", FullName: "Alice", Email: "alice@example.com"},
			"carol": {Username: "carol", Disabled: true},
		},
		Keys:         km,
		DB:           db,
		HMACSecret:   []byte(strings.Repeat("h", 32)),
		CookieSecret: []byte(strings.Repeat("c", 32)),
		Clients: []ClientConfig{
			{ID: "app", Secret: "app-secret", RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "profile", "offline_access"},
				Audience: []string{"rs"}, PostLogoutRedirectURIs: []string{"https://app.example/bye", "https://app.example/out?x=1"}},
			{ID: "other", Secret: "other-secret", RedirectURIs: []string{"https://other.example/cb"}},
			{ID: "rs", Secret: "rs-secret", RedirectURIs: []string{"https://rs.example/cb"}},
			{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"}, Scopes: []string{"openid", "offline_access"}},
			{ID: "par-app", Secret: "par-secret", RedirectURIs: []string{"https://par.example/cb"}, RequirePushedAuthorizationRequests: true},
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	db = cfg.DB // mutate may replace it
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &epProvider{Provider: p, t: t, db: db}
}

// grant is a stored grant with its tokens.
type grant struct {
	id, access, refresh string
}

// mint stores an access and a refresh token of one grant, as the token
// endpoint would.
func (tp *epProvider) mint(clientID, username string, audience ...string) grant {
	tp.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	sess := emptySession()
	sess.Subject, sess.Username = "sub-of-"+username, username
	sess.Claims.Subject = sess.Subject
	sess.Claims.Extra = map[string]any{"name": "Alice", "email": "alice@example.com"}
	sess.SetExpiresAt(fosite.AccessToken, now.Add(time.Hour))
	sess.SetExpiresAt(fosite.RefreshToken, now.Add(90*time.Minute))
	req := fosite.NewRequest()
	req.ID = randomToken()
	req.Client = tp.clients.Get(clientID)
	req.Session = sess
	req.RequestedAt = now
	req.GrantedScope = fosite.Arguments{"openid", "profile"}
	if tp.scopes != nil {
		req.GrantedScope = tp.scopes
	}
	req.GrantedAudience = audience
	strategy := compose.NewOAuth2HMACStrategy(tp.fosite)
	at, atSig, err := strategy.GenerateAccessToken(ctx, req)
	if err != nil {
		tp.t.Fatal(err)
	}
	rt, rtSig, err := strategy.GenerateRefreshToken(ctx, req)
	if err != nil {
		tp.t.Fatal(err)
	}
	if err := tp.storage.CreateAccessTokenSession(ctx, atSig, req); err != nil {
		tp.t.Fatal(err)
	}
	if err := tp.storage.CreateRefreshTokenSession(ctx, rtSig, atSig, req); err != nil {
		tp.t.Fatal(err)
	}
	return grant{id: req.ID, access: at, refresh: rt}
}

// post sends a form to path with HTTP Basic credentials when user is set.
func (tp *epProvider) post(path string, form url.Values, user, pass string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, epIssuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	return w
}

func jsonBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("%d %q: %v", w.Code, w.Body.String(), err)
	}
	return m
}

// mustBe returns v as a T (a value decoded from JSON, usually), or fails the
// test.
func mustBe[T any](t *testing.T, v any) T {
	t.Helper()
	x, ok := v.(T)
	if !ok {
		t.Fatalf("%v is a %T, want a %T", v, v, x)
	}
	return x
}

func TestIntrospectionResponse(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	g := tp.mint("app", "alice", "rs")
	introspect := func(token, hint, user, pass string) (int, map[string]any) {
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		w := tp.post(pathIntrospection, form, user, pass)
		return w.Code, jsonBody(t, w)
	}

	code, m := introspect(g.access, "", "app", "app-secret")
	want := map[string]any{
		"active": true, "iss": epIssuer, "client_id": "app", "token_use": "access_token", "token_type": "bearer",
		"scope": "openid profile", "sub": "sub-of-alice", "aud": []any{"rs"},
	}
	for k, v := range want {
		if b1, _ := json.Marshal(m[k]); string(b1) != mustJSON(v) {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if code != 200 || m["exp"] == nil || m["iat"] == nil {
		t.Errorf("%d %v", code, m)
	}
	for _, k := range []string{"username", "name", "email", "azp"} {
		if _, ok := m[k]; ok {
			t.Errorf("the response carries %q: %v", k, m)
		}
	}

	_, m = introspect(g.refresh, "refresh_token", "app", "app-secret")
	if m["active"] != true || m["token_use"] != "refresh_token" || m["token_type"] != nil {
		t.Errorf("refresh token: %v", m)
	}
	if exp, _ := m["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) < 80*time.Minute {
		t.Errorf("refresh token exp = %v: the access token's?", m["exp"])
	}

	// The audience may introspect; any other client learns nothing.
	if _, m = introspect(g.access, "", "rs", "rs-secret"); m["active"] != true {
		t.Errorf("audience: %v", m)
	}
	for _, tok := range []string{g.access, g.refresh, "ory_at_x.y", "garbage"} {
		if _, m = introspect(tok, "", "other", "other-secret"); len(m) != 1 || m["active"] != false {
			t.Errorf("other client: %v", m)
		}
	}

	// A disabled user's token is inactive.
	gc := tp.mint("app", "carol")
	if _, m = introspect(gc.access, "", "app", "app-secret"); m["active"] != false {
		t.Errorf("disabled user: %v", m)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIntrospectionRequestErrors(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	g := tp.mint("app", "alice")
	cases := []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
		challenge  bool
	}{
		{"no credentials", url.Values{"token": {g.access}}, "", "", 401, "invalid_client", false},
		{"wrong secret", url.Values{"token": {g.access}}, "app", "nope", 401, "invalid_client", true},
		{"unknown client", url.Values{"token": {g.access}}, "nobody", "x", 401, "invalid_client", true},
		{"public client", url.Values{"token": {g.access}, "client_id": {"spa"}}, "", "", 401, "invalid_client", false},
		{"no token", url.Values{"token_type_hint": {"access_token"}}, "app", "app-secret", 400, "invalid_request", false},
		{"two methods", url.Values{"token": {g.access}, "client_secret": {"app-secret"}}, "app", "app-secret", 400, "invalid_request", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := tp.post(pathIntrospection, tc.form, tc.user, tc.pass)
			if m := jsonBody(t, w); w.Code != tc.status || m["error"] != tc.code {
				t.Errorf("%d %v, want %d %s", w.Code, m, tc.status, tc.code)
			}
			if got := w.Header().Get("WWW-Authenticate") != ""; got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	// A token in the query string does not count, nor does GET.
	req := httptest.NewRequest(http.MethodGet, epIssuer+pathIntrospection+"?token="+url.QueryEscape(g.access), nil)
	req.SetBasicAuth("app", "app-secret")
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d %q", w.Code, w.Header().Get("Allow"))
	}
	req = httptest.NewRequest(http.MethodPost, epIssuer+pathIntrospection+"?token="+url.QueryEscape(g.access), strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", "app-secret")
	w = httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest {
		t.Errorf("token in the query: %d %s", w.Code, w.Body)
	}
}

func TestMayIntrospect(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	req := fosite.NewRequest()
	req.Client = tp.clients.Get("app")
	req.GrantedAudience = fosite.Arguments{"rs"}
	for caller, want := range map[string]bool{"app": true, "rs": true, "other": false, "": false} {
		if got := mayIntrospect(caller, req); got != want {
			t.Errorf("mayIntrospect(%q) = %v", caller, got)
		}
	}
}
