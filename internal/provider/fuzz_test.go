package provider_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/provider"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// The fuzz targets below drive the provider through its public API only
// (New and ServeHTTP), with attacker-controlled input where the outside
// world gives it: authorization parameters, pushed authorization requests,
// client assertions and ID token hints. Whatever the input, the provider
// must not panic nor answer with a server error.

const (
	fzIssuer     = "https://op.example"
	fzAuthorize  = "/api/oidc/authorization"
	fzToken      = "/api/oidc/token"
	fzPAR        = "/api/oidc/pushed-authorization-request"
	fzEndSession = "/api/oidc/end-session"

	fzHSSecret       = "an-hmac-secret-of-more-than-32-bytes!!"
	fzAssertionType  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	fzCodeChallenge  = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // RFC 7636 appendix B
	fzAppRedirect    = "https://app.example/cb"
	fzAppPostLogout  = "https://app.example/bye"
	fzPARAppRedirect = "https://par.example/cb"
)

// fzFixture is a provider with a few clients, and what signs tokens for
// it: its own keys (ID token hints) and a private_key_jwt client's key.
type fzFixture struct {
	p         *provider.Provider
	keys      *keys.Manager
	clientKey *ecdsa.PrivateKey
}

func newFuzzProvider(f *testing.F) *fzFixture {
	f.Helper()
	km, err := keys.LoadOrCreate(context.Background(), newMemStorage(), "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	db, err := store.OpenSQLite(filepath.Join(f.TempDir(), "oidc.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p, err := provider.New(provider.Config{
		Issuer: fzIssuer,
		Users: fzUsers{
			"alice": {Username: "alice", FullName: "Alice", Email: "alice@example.com", Groups: []string{"admins"}},
			"carol": {Username: "carol", Disabled: true},
		},
		Keys:         km,
		DB:           db,
		HMACSecret:   []byte(strings.Repeat("h", 32)),
		CookieSecret: []byte(strings.Repeat("c", 32)),
		Logger:       zap.NewNop(),
		Clients: []provider.ClientConfig{
			{ID: "app", Secret: "app-secret", RedirectURIs: []string{fzAppRedirect},
				Scopes:                 []string{"openid", "profile", "email", "groups", "offline_access"},
				PostLogoutRedirectURIs: []string{fzAppPostLogout}},
			{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"}, Scopes: []string{"openid", "offline_access"}},
			{ID: "par-app", Secret: "par-secret", RedirectURIs: []string{fzPARAppRedirect}, RequirePushedAuthorizationRequests: true},
			{ID: "jwt-app", TokenEndpointAuthMethod: "private_key_jwt", GrantTypes: []string{"client_credentials"},
				RedirectURIs: []string{"https://jwt.example/cb"},
				JSONWebKeys:  []jose.JSONWebKey{{Key: &clientKey.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}},
			{ID: "hs-app", Secret: fzHSSecret, TokenEndpointAuthMethod: "client_secret_jwt", GrantTypes: []string{"client_credentials"},
				RedirectURIs: []string{"https://hs.example/cb"}},
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	return &fzFixture{p: p, keys: km, clientKey: clientKey}
}

// serve runs r through the provider and fails on a server error.
func (fx *fzFixture) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	fx.p.ServeHTTP(w, r)
	if w.Code >= 500 {
		t.Fatalf("%s %s: status %d: %s", r.Method, r.URL, w.Code, w.Body)
	}
	return w
}

// get builds a GET of path with a raw (possibly malformed) query.
func get(path, rawQuery string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, fzIssuer+path, nil)
	r.URL.RawQuery = rawQuery
	return r
}

// postForm builds a form POST of path with a raw (possibly malformed) body.
func postForm(path, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, fzIssuer+path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// idToken signs claims with the provider's RS256 key, as an ID token.
func (fx *fzFixture) idToken(f *testing.F, claims map[string]any) string {
	f.Helper()
	tok, err := fx.keys.Sign(claims, keys.RS256, nil)
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// assertion signs a client assertion for clientID with key (ES256 with
// the client's key, or HS256 with its secret).
func assertion(f *testing.F, clientID string, key jose.SigningKey, kid string, claims map[string]any) string {
	f.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(key, opts)
	if err != nil {
		f.Fatal(err)
	}
	c := map[string]any{
		"iss": clientID, "sub": clientID, "aud": fzIssuer + fzToken,
		"exp": time.Now().Add(5 * time.Minute).Unix(), "iat": time.Now().Unix(),
		"jti": fmt.Sprintf("jti-%d", time.Now().UnixNano()),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// FuzzAuthorizeParams sends arbitrary authorization parameters, in the
// query of a GET and in the body of a POST.
func FuzzAuthorizeParams(f *testing.F) {
	fx := newFuzzProvider(f)
	base := url.Values{
		"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {fzAppRedirect},
		"scope": {"openid profile email"}, "state": {"state-1234567"}, "nonce": {"nonce-1234567"},
	}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v.Encode()
	}
	for _, q := range []string{
		with(),
		with("code_challenge", fzCodeChallenge, "code_challenge_method", "S256"),
		with("client_id", "spa", "redirect_uri", "https://spa.example/cb", "code_challenge", fzCodeChallenge, "code_challenge_method", "S256", "scope", "openid offline_access"),
		with("response_mode", "form_post"),
		with("response_mode", "query.jwt"),
		with("response_type", "code id_token", "response_mode", "fragment"),
		with("response_type", "id_token token"),
		with("prompt", "none"),
		with("prompt", "login consent", "max_age", "0"),
		with("max_age", "-1"),
		with("login_hint", "alice", "ui_locales", "fr-CA en", "display", "popup"),
		with("acr_values", "urn:mace:incommon:iap:silver"),
		with("claims", `{"id_token":{"email":{"essential":true}},"userinfo":{"groups":null}}`),
		with("claims", `{"id_token":`),
		with("request", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJhcHAifQ."),
		with("request_uri", "urn:ietf:params:oauth:request_uri:abc"),
		with("client_id", "par-app", "redirect_uri", fzPARAppRedirect),
		with("client_id", "nobody"),
		with("redirect_uri", "https://evil.example/cb"),
		with("scope", ""),
		with("state", "", "nonce", "x"),
		"response_type=code&client_id=app&client_id=spa&redirect_uri=%zz",
		"%",
		"",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, params string) {
		fx.serve(t, get(fzAuthorize, params))
		fx.serve(t, postForm(fzAuthorize, params))
	})
}

// FuzzPAR pushes arbitrary authorization requests (RFC 9126), with the
// client's credentials in Basic auth or in the body; a pushed request that
// is accepted is then used at the authorization endpoint.
func FuzzPAR(f *testing.F) {
	fx := newFuzzProvider(f)
	push := url.Values{
		"response_type": {"code"}, "client_id": {"par-app"}, "redirect_uri": {fzPARAppRedirect},
		"scope": {"openid"}, "state": {"pushed-state"}, "nonce": {"pushed-nonce"},
		"code_challenge": {fzCodeChallenge}, "code_challenge_method": {"S256"},
	}
	post := url.Values{"client_secret": {"par-secret"}}
	for k, v := range push {
		post[k] = v
	}
	for _, s := range []struct {
		body  string
		basic bool
	}{
		{push.Encode(), true},
		{post.Encode(), false},
		{push.Encode() + "&response_mode=form_post&prompt=login", true},
		{push.Encode() + "&request_uri=urn:ietf:params:oauth:request_uri:x", true},
		{push.Encode() + "&redirect_uri=https://par.example/other", true},
		{"client_id=app&client_secret=app-secret&response_type=code&redirect_uri=" + url.QueryEscape(fzAppRedirect) + "&scope=openid&state=abcdefgh1", false},
		{"client_id=spa&response_type=code&redirect_uri=https%3A%2F%2Fspa.example%2Fcb", false},
		{"client_id=par-app&client_secret=wrong", false},
		{"response_type=code", true},
		{"%zz", true},
		{"", false},
	} {
		f.Add(s.body, s.basic)
	}
	f.Fuzz(func(t *testing.T, body string, basic bool) {
		r := postForm(fzPAR, body)
		if basic {
			r.SetBasicAuth("par-app", "par-secret")
		}
		w := fx.serve(t, r)
		if w.Code != http.StatusCreated {
			return
		}
		var res struct {
			RequestURI string `json:"request_uri"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.RequestURI == "" {
			t.Fatalf("201 without a request_uri: %s", w.Body)
		}
		fx.serve(t, get(fzAuthorize, url.Values{"client_id": {"par-app"}, "request_uri": {res.RequestURI}}.Encode()))
	})
}

// FuzzClientAssertion authenticates at the token endpoint with an
// arbitrary client_assertion (RFC 7523), for a private_key_jwt and a
// client_secret_jwt client.
func FuzzClientAssertion(f *testing.F) {
	fx := newFuzzProvider(f)
	es := jose.SigningKey{Algorithm: jose.ES256, Key: fx.clientKey}
	hs := jose.SigningKey{Algorithm: jose.HS256, Key: []byte(fzHSSecret)}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	valid := assertion(f, "jwt-app", es, "k1", nil)
	parts := strings.Split(valid, ".")
	for _, s := range []struct{ clientID, assertion string }{
		{"jwt-app", valid},
		{"", assertion(f, "jwt-app", es, "", nil)},
		{"hs-app", assertion(f, "hs-app", hs, "", nil)},
		{"jwt-app", assertion(f, "jwt-app", es, "k1", map[string]any{"aud": []string{fzIssuer, "other"}})},
		{"jwt-app", assertion(f, "jwt-app", es, "k1", map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})},
		{"jwt-app", assertion(f, "jwt-app", es, "k1", map[string]any{"exp": nil, "jti": nil})},
		{"jwt-app", assertion(f, "jwt-app", es, "k1", map[string]any{"nbf": "tomorrow", "iat": 1e300})},
		{"jwt-app", assertion(f, "hs-app", es, "k1", nil)},
		{"jwt-app", assertion(f, "jwt-app", jose.SigningKey{Algorithm: jose.ES256, Key: other}, "k1", nil)},
		{"hs-app", assertion(f, "hs-app", jose.SigningKey{Algorithm: jose.HS256, Key: []byte("wrong-secret-wrong-secret-wrong-secret")}, "", nil)},
		{"jwt-app", parts[0] + "." + parts[1] + "."},
		{"jwt-app", "eyJhbGciOiJub25lIn0." + parts[1] + "."},
		{"jwt-app", valid + "." + parts[2]},
		{"jwt-app", "not.a.jwt"},
		{"app", ""},
	} {
		f.Add(s.clientID, s.assertion)
	}
	f.Fuzz(func(t *testing.T, clientID, a string) {
		form := url.Values{
			"grant_type":            {"client_credentials"},
			"client_assertion_type": {fzAssertionType},
			"client_assertion":      {a},
		}
		if clientID != "" {
			form.Set("client_id", clientID)
		}
		fx.serve(t, postForm(fzToken, form.Encode()))
	})
}

// FuzzIDTokenHint sends an arbitrary id_token_hint to the authorization
// endpoint (prompt=none) and to the end-session endpoint (GET and POST).
func FuzzIDTokenHint(f *testing.F) {
	fx := newFuzzProvider(f)
	now := time.Now().Unix()
	valid := fx.idToken(f, map[string]any{"iss": fzIssuer, "sub": "s1", "aud": []string{"app"}, "azp": "app", "exp": now + 3600, "iat": now})
	parts := strings.Split(valid, ".")
	for _, h := range []string{
		valid,
		fx.idToken(f, map[string]any{"iss": fzIssuer, "sub": "s1", "aud": "app", "exp": now - 48*3600, "iat": now - 49*3600}),
		fx.idToken(f, map[string]any{"iss": fzIssuer, "sub": "s1", "aud": []string{"app", "spa"}}),
		fx.idToken(f, map[string]any{"iss": "https://evil.example", "sub": "s1", "aud": "app"}),
		fx.idToken(f, map[string]any{"iss": fzIssuer, "sub": 42, "aud": 7, "exp": "soon"}),
		fx.idToken(f, map[string]any{}),
		parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		parts[0] + "." + parts[1] + ".",
		"eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"a.b.c.d.e",
		"abc",
		"",
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, hint string) {
		authz := url.Values{
			"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {fzAppRedirect},
			"scope": {"openid"}, "state": {"state-1234567"}, "nonce": {"nonce-1234567"},
			"prompt": {"none"}, "id_token_hint": {hint},
		}
		fx.serve(t, get(fzAuthorize, authz.Encode()))
		logout := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {fzAppPostLogout}, "state": {"s"}}
		fx.serve(t, get(fzEndSession, logout.Encode()))
		fx.serve(t, postForm(fzEndSession, logout.Encode()))
	})
}

// fzUsers is a users.Backend over a map; no password is ever right.
type fzUsers map[string]*users.User

func (u fzUsers) Authenticate(string, string) (*users.User, error) {
	return nil, users.ErrInvalidCredentials
}

func (u fzUsers) Lookup(name string) (*users.User, error) {
	if x, ok := u[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, users.ErrUserNotFound
}

// memStorage is an in-memory keys.Storage.
type memStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemStorage() *memStorage { return &memStorage{m: map[string][]byte{}} }

func (s *memStorage) Lock(context.Context, string) error   { return nil }
func (s *memStorage) Unlock(context.Context, string) error { return nil }

func (s *memStorage) Store(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *memStorage) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return append([]byte(nil), v...), nil
}

func (s *memStorage) Exists(_ context.Context, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[key]
	return ok
}
