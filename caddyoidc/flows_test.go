package caddyoidc_test

// Every grant type, response type and response mode (issue 6): hybrid and
// implicit flows with c_hash and at_hash checked, the form_post page, iss
// on errors in each response mode, client_credentials and the password
// grant, and the misconfigurations refused at provision.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// allResponseTypes is every response type, as Authelia spells them, plus
// code token.
const allResponseTypes = `code "code id_token" "code token" "token id_token code" id_token "token id_token" token`

const flowClients = `
		client hybrid-app {
			client_secret "s3cret-hybrid"
			redirect_uris ` + rpCallback + `
			scopes openid profile email offline_access
			grant_types authorization_code implicit refresh_token
			response_types ` + allResponseTypes + `
			response_modes query fragment form_post
			consent_mode implicit
		}
		client hybrid-es {
			client_secret "s3cret-hybrid-es"
			redirect_uris ` + rpCallback + `
			scopes openid profile email offline_access
			grant_types authorization_code implicit
			response_types ` + allResponseTypes + `
			id_token_signed_response_alg ES256
			consent_mode implicit
		}
		client spa-implicit {
			public
			redirect_uris ` + rpCallback + `
			scopes openid profile
			grant_types implicit
			response_types "id_token token" id_token
		}
		client code-app {
			client_secret "s3cret-code"
			redirect_uris ` + rpCallback + `
			scopes openid profile
		}
		client m2m {
			client_secret "s3cret-m2m"
			grant_types client_credentials
			scopes openid api:read api:write
			audience https://api.example.com
		}
		client m2m-api {
			client_secret "s3cret-m2m-api"
			grant_types client_credentials
			scopes api:read
		}
		client legacy-app {
			client_name "Legacy App"
			client_secret "s3cret-legacy"
			grant_types password refresh_token
			authorization_policy one_factor
			scopes openid profile email offline_access
		}`

// authorizeAs follows an authorization URL through the login page and, when the
// client needs it, the consent page, and returns what the provider sends
// back to the client.
func authorizeAs(t *testing.T, b *browser, authURL, user string) page {
	t.Helper()
	p := b.get(authURL)
	if strings.Contains(p.body, `name="password"`) {
		p = b.login(p, user, testPassword)
	}
	if p.status == http.StatusOK && strings.Contains(p.body, `name="decision"`) {
		p = b.consent(p, "allow")
	}
	return p
}

// fragmentParams parses the fragment of the redirect to the client; the
// query must be empty.
func fragmentParams(t *testing.T, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("expected a redirect to the client, got %d: %.400s", p.status, p.body)
	}
	base, frag, ok := strings.Cut(p.location, "#")
	if !ok || base != redirectURI {
		t.Fatalf("redirect to %q: want %s#...", p.location, redirectURI)
	}
	v, err := url.ParseQuery(frag)
	if err != nil {
		t.Fatalf("fragment %q: %v", frag, err)
	}
	return v
}

// halfHash is c_hash / at_hash for a SHA-256 algorithm: the left half of
// the SHA-256 of the value, base64url (OpenID Connect Core 3.3.2.11).
func halfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func TestHybridAndImplicitFlows(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	for _, client := range []struct{ id, secret, alg string }{
		{"hybrid-app", "s3cret-hybrid", "RS256"},
		{"hybrid-es", "s3cret-hybrid-es", "ES256"},
	} {
		for _, rt := range []string{"code id_token", "code token", "code id_token token", "id_token", "id_token token", "token"} {
			t.Run(client.id+" "+rt, func(t *testing.T) {
				r := newRP(t, e.issuer, client.id, client.secret, oauth2.AuthStyleInHeader)
				r.config.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
				state, nonce := randString(t), randString(t)
				authURL := r.config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.SetAuthURLParam("response_type", rt))
				params := fragmentParams(t, authorizeAs(t, newBrowser(t, e.issuer), authURL, "alice"), rpCallback)
				words := strings.Fields(rt)
				if params.Get("state") != state || params.Get("iss") != e.issuer {
					t.Errorf("state %q iss %q", params.Get("state"), params.Get("iss"))
				}
				code, at, raw := params.Get("code"), params.Get("access_token"), params.Get("id_token")
				if (code != "") != slices.Contains(words, "code") || (at != "") != slices.Contains(words, "token") || (raw != "") != slices.Contains(words, "id_token") {
					t.Fatalf("response %v does not match response_type %q", params, rt)
				}

				var sub string
				if raw != "" {
					idt, err := r.verifier.Verify(ctx(t), raw)
					if err != nil {
						t.Fatalf("verify ID token: %v", err)
					}
					sub = idt.Subject
					if idt.Nonce != nonce {
						t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
					}
					if alg := jwtHeader(t, raw)["alg"]; alg != client.alg {
						t.Errorf("alg %v, want %s", alg, client.alg)
					}
					claims := jwtClaims(t, raw)
					if code != "" {
						if claims["c_hash"] != halfHash(code) {
							t.Errorf("c_hash %v, want %s", claims["c_hash"], halfHash(code))
						}
					} else if claims["c_hash"] != nil {
						t.Errorf("c_hash without a code: %v", claims["c_hash"])
					}
					if at != "" {
						if idt.AccessTokenHash == "" {
							t.Error("no at_hash with an access token")
						} else if err := idt.VerifyAccessToken(at); err != nil {
							t.Errorf("at_hash: %v", err)
						}
					} else if claims["at_hash"] != nil {
						t.Errorf("at_hash without an access token: %v", claims["at_hash"])
					}
					if claims["email"] != "alice@example.com" || claims["azp"] != client.id {
						t.Errorf("claims %v", claims)
					}
				}
				if at != "" {
					if !strings.EqualFold(params.Get("token_type"), "bearer") || params.Get("expires_in") == "" {
						t.Errorf("token_type %q expires_in %q", params.Get("token_type"), params.Get("expires_in"))
					}
					ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: at, TokenType: "Bearer"}))
					if err != nil {
						t.Fatalf("userinfo with the implicit access token: %v", err)
					}
					if sub != "" && ui.Subject != sub {
						t.Errorf("userinfo sub %q, ID token sub %q", ui.Subject, sub)
					}
				}
				if code != "" {
					tok, err := r.config.Exchange(ctx(t), code)
					if err != nil {
						t.Fatalf("exchange the code: %v", err)
					}
					idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
					if err != nil {
						t.Fatalf("token endpoint ID token: %v", err)
					}
					if sub != "" && idt.Subject != sub {
						t.Errorf("token endpoint sub %q, front channel sub %q", idt.Subject, sub)
					}
					if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
						t.Errorf("token endpoint at_hash: %v", err)
					}
					if idt.Nonce != nonce {
						t.Errorf("token endpoint nonce %q", idt.Nonce)
					}
				}
			})
		}
	}

	// A public SPA on the implicit flow, with the consent page.
	t.Run("public implicit client", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		nonce := randString(t)
		q := authQuery(t, "spa-implicit", "response_type", "id_token token", "scope", "openid profile", "nonce", nonce)
		params := fragmentParams(t, authorizeAs(t, b, e.authURL(q), "bob"), rpCallback)
		r := newRP(t, e.issuer, "spa-implicit", "", oauth2.AuthStyleInParams)
		idt, err := r.verifier.Verify(ctx(t), params.Get("id_token"))
		if err != nil {
			t.Fatal(err)
		}
		if idt.Nonce != nonce || idt.VerifyAccessToken(params.Get("access_token")) != nil || params.Get("iss") != e.issuer {
			t.Errorf("nonce %q, at_hash, iss %q", idt.Nonce, params.Get("iss"))
		}
		// query cannot carry the tokens: refused before any page.
		q = authQuery(t, "spa-implicit", "response_type", "id_token", "scope", "openid", "response_mode", "query")
		p := b.get(e.authURL(q))
		if got := callbackParams(t, p, rpCallback); got.Get("error") != "unsupported_response_mode" || got.Get("iss") != e.issuer {
			t.Errorf("response_mode=query for id_token: %v", got)
		}
		// The client may not use the code flow.
		p = b.get(e.authURL(authQuery(t, "spa-implicit", "scope", "openid")))
		if got := fragmentOrQuery(t, p); got.Get("error") != "unsupported_response_type" {
			t.Errorf("code for an implicit-only client: %v", got)
		}
	})
}

// fragmentOrQuery reads the parameters of a redirect to the client from
// wherever they are.
func fragmentOrQuery(t *testing.T, p page) url.Values {
	t.Helper()
	if strings.Contains(p.location, "#") {
		return fragmentParams(t, p, rpCallback)
	}
	return callbackParams(t, p, rpCallback)
}

var srcHrefRE = regexp.MustCompile(`(?i)\s(src|href)=`)

// checkFormPostPage asserts the form_post page's form and headers and
// returns its fields.
func checkFormPostPage(t *testing.T, e *env, p page) url.Values {
	t.Helper()
	if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("want the form_post page, got %d %q %.300s", p.status, p.location, p.body)
	}
	if action := p.formAction(e.issuer); action != rpCallback {
		t.Errorf("form action %q, want the redirect URI %q", action, rpCallback)
	}
	if !strings.Contains(p.body, `method="post"`) || !strings.Contains(p.body, "document.forms[0].submit()") || !strings.Contains(p.body, "<noscript>") {
		t.Errorf("the page does not submit itself (or offer a button):\n%s", p.body)
	}
	if srcHrefRE.MatchString(p.body) {
		t.Errorf("the page loads external resources:\n%s", p.body)
	}
	h := p.header
	if h.Get("Cache-Control") != "no-store" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: Cache-Control %q Referrer-Policy %q nosniff %q", h.Get("Cache-Control"), h.Get("Referrer-Policy"), h.Get("X-Content-Type-Options"))
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	fields := p.formFields()
	if len(fields["iss"]) != 1 || fields.Get("iss") != e.issuer {
		t.Errorf("iss fields %q, want exactly one %s", fields["iss"], e.issuer)
	}
	return fields
}

func TestFormPostResponseMode(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	r := newRP(t, e.issuer, "hybrid-app", "s3cret-hybrid", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}

	t.Run("code", func(t *testing.T) {
		state := randString(t)
		authURL := r.config.AuthCodeURL(state, oauth2.SetAuthURLParam("response_mode", "form_post"))
		f := checkFormPostPage(t, e, authorizeAs(t, newBrowser(t, e.issuer), authURL, "alice"))
		if f.Get("state") != state || f.Get("code") == "" {
			t.Fatalf("fields %v", f)
		}
		if _, err := r.config.Exchange(ctx(t), f.Get("code")); err != nil {
			t.Fatalf("exchange: %v", err)
		}
	})
	t.Run("code id_token token", func(t *testing.T) {
		state, nonce := randString(t), randString(t)
		authURL := r.config.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.SetAuthURLParam("response_type", "code id_token token"), oauth2.SetAuthURLParam("response_mode", "form_post"))
		f := checkFormPostPage(t, e, authorizeAs(t, newBrowser(t, e.issuer), authURL, "alice"))
		idt, err := r.verifier.Verify(ctx(t), f.Get("id_token"))
		if err != nil {
			t.Fatalf("id_token: %v (fields %v)", err, f)
		}
		if idt.Nonce != nonce || f.Get("state") != state || idt.VerifyAccessToken(f.Get("access_token")) != nil || jwtClaims(t, f.Get("id_token"))["c_hash"] != halfHash(f.Get("code")) {
			t.Errorf("nonce %q state %q, at_hash or c_hash wrong: %v", idt.Nonce, f.Get("state"), f)
		}
	})
	t.Run("error", func(t *testing.T) {
		state := randString(t)
		authURL := r.config.AuthCodeURL(state, oauth2.SetAuthURLParam("response_mode", "form_post"), oauth2.SetAuthURLParam("prompt", "none"))
		f := checkFormPostPage(t, e, newBrowser(t, e.issuer).get(authURL))
		if f.Get("error") != "login_required" || f.Get("state") != state || f.Get("code") != "" {
			t.Errorf("fields %v", f)
		}
	})
}

// TestIssOnAuthorizationErrors: RFC 9207's iss on error responses in every
// response mode, next to state, with error descriptions that need escaping
// intact.
func TestIssOnAuthorizationErrors(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	b := newBrowser(t, e.issuer)
	cases := []struct {
		name, mode, code string
		q                url.Values
	}{
		{"query: prompt=none without a session", "query", "login_required", authQuery(t, "code-app", "scope", "openid", "prompt", "none")},
		{"query: scope not allowed", "query", "invalid_scope", authQuery(t, "code-app", "scope", "openid admin")},
		{"fragment: implicit without nonce", "fragment", "invalid_request", authQuery(t, "hybrid-app", "response_type", "id_token token", "scope", "openid", "nonce", "")},
		{"fragment: hybrid prompt=none", "fragment", "login_required", authQuery(t, "hybrid-app", "response_type", "code id_token", "scope", "openid", "prompt", "none")},
		{"fragment: implicit scope not allowed", "fragment", "invalid_scope", authQuery(t, "hybrid-app", "response_type", "token", "scope", "openid groups")},
		{"fragment: code asked in the fragment", "fragment", "login_required", authQuery(t, "hybrid-app", "scope", "openid", "response_mode", "fragment", "prompt", "none")},
		{"form_post: implicit without nonce", "form_post", "invalid_request", authQuery(t, "hybrid-app", "response_type", "id_token", "scope", "openid", "nonce", "", "response_mode", "form_post")},
		{"form_post: scope not allowed", "form_post", "invalid_scope", authQuery(t, "code-app", "scope", "openid admin", "response_mode", "form_post")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get(e.authURL(tc.q))
			var params url.Values
			switch tc.mode {
			case "query":
				params = callbackParams(t, p, rpCallback)
				if strings.Contains(p.location, "#") {
					t.Errorf("a fragment in a query response: %s", p.location)
				}
			case "fragment":
				params = fragmentParams(t, p, rpCallback)
			case "form_post":
				params = checkFormPostPage(t, e, p)
			}
			if params.Get("error") != tc.code || params.Get("iss") != e.issuer || params.Get("state") != tc.q.Get("state") {
				t.Errorf("error %q iss %q state %q, want %s, %s, %s", params.Get("error"), params.Get("iss"), params.Get("state"), tc.code, e.issuer, tc.q.Get("state"))
			}
			if tc.code == "invalid_request" && !strings.Contains(params.Get("error_description"), "'nonce'") {
				t.Errorf("error_description %q", params.Get("error_description"))
			}
		})
	}

	// The user denies consent to the implicit SPA: access_denied in the
	// fragment.
	t.Run("fragment: consent denied", func(t *testing.T) {
		q := authQuery(t, "spa-implicit", "response_type", "id_token", "scope", "openid")
		p := b.login(b.get(e.authURL(q)), "alice", testPassword)
		params := fragmentParams(t, b.consent(p, "deny"), rpCallback)
		if params.Get("error") != "access_denied" || params.Get("iss") != e.issuer || params.Get("state") != q.Get("state") {
			t.Errorf("%v", params)
		}
	})
}

func TestClientCredentialsGrant(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-m2m")
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{
			ClientID: "m2m", ClientSecret: "s3cret-m2m", TokenURL: e.issuer + "/api/oidc/token",
			Scopes: []string{"api:read", "openid"}, AuthStyle: style,
			EndpointParams: url.Values{"audience": {"https://api.example.com"}},
		}
		tok, err := cc.Token(ctx(t))
		if err != nil {
			t.Fatalf("style %v: %v", style, err)
		}
		if tok.AccessToken == "" || tok.RefreshToken != "" || tok.Extra("id_token") != nil || tok.Extra("scope") != "api:read" {
			t.Errorf("access %t refresh %q id_token %v scope %v: want api:read only and no refresh or ID token", tok.AccessToken != "", tok.RefreshToken, tok.Extra("id_token"), tok.Extra("scope"))
		}
		intro := introspectAs(t, e, "m2m", "s3cret-m2m", tok.AccessToken)
		if intro["active"] != true || intro["sub"] != "m2m" || intro["client_id"] != "m2m" || fmt.Sprint(intro["aud"]) != "[https://api.example.com]" {
			t.Errorf("introspection %v", intro)
		}
	}
	// A client acting only for itself needs no openid scope (issue 13).
	apiCC := clientcredentials.Config{ClientID: "m2m-api", ClientSecret: "s3cret-m2m-api", TokenURL: e.issuer + "/api/oidc/token", Scopes: []string{"api:read"}}
	if tok, err := apiCC.Token(ctx(t)); err != nil {
		t.Errorf("client_credentials client without openid: %v", err)
	} else if tok.Extra("scope") != "api:read" {
		t.Errorf("client_credentials client without openid: scope %v, want api:read", tok.Extra("scope"))
	}
	cc := clientcredentials.Config{ClientID: "m2m", ClientSecret: "s3cret-m2m", TokenURL: e.issuer + "/api/oidc/token", Scopes: []string{"admin"}}
	if _, err := cc.Token(ctx(t)); err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Errorf("a scope the client may not ask: %v", err)
	}
	cc = clientcredentials.Config{ClientID: "code-app", ClientSecret: "s3cret-code", TokenURL: e.issuer + "/api/oidc/token"}
	if _, err := cc.Token(ctx(t)); err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("a client without the grant type: %v", err)
	}
}

// introspectAs posts token to the introspection endpoint as a client.
func introspectAs(t *testing.T, e *env, id, secret, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/introspection", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("introspection %d: %v", resp.StatusCode, err)
	}
	return m
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-legacy")
	r := newRP(t, e.issuer, "legacy-app", "s3cret-legacy", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}

	tok, err := r.config.PasswordCredentialsToken(ctx(t), "alice", testPassword)
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != "openid profile email offline_access" {
		t.Errorf("refresh %t scope %v", tok.RefreshToken != "", tok.Extra("scope"))
	}
	ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Email != "alice@example.com" || ui.Subject == "" || ui.Subject == "alice" {
		t.Errorf("userinfo %+v", ui)
	}
	fresh, err := refreshWith(t, r, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if raw, _ := fresh.Extra("id_token").(string); raw != "" {
		idt, err := r.verifier.Verify(ctx(t), raw)
		if err != nil || idt.Subject != ui.Subject {
			t.Errorf("refreshed ID token: %v (sub %v)", err, idt)
		}
	}

	for name, creds := range map[string][2]string{
		"wrong password": {"alice", "not the password"},
		"disabled user":  {"carol", testPassword},
		"unknown user":   {"mallory", testPassword},
	} {
		if _, err := r.config.PasswordCredentialsToken(ctx(t), creds[0], creds[1]); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("%s: %v, want invalid_grant", name, err)
		}
	}

	// Regulation: three wrong passwords ban bob, at the token endpoint and
	// on the login page alike.
	for i := 0; i < 3; i++ {
		if _, err := r.config.PasswordCredentialsToken(ctx(t), "bob", "wrong"); err == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	if _, err := r.config.PasswordCredentialsToken(ctx(t), "bob", testPassword); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("banned user with the right password: %v, want invalid_grant", err)
	}
	b := newBrowser(t, e.issuer)
	if p := b.login(b.get(e.authURL(authQuery(t, "code-app", "scope", "openid"))), "bob", testPassword); p.status != http.StatusUnauthorized {
		t.Errorf("banned user on the login page: %d", p.status)
	}
	if !strings.Contains(e.logText(), "authentication attempt while banned") {
		t.Error("the ban was not logged")
	}

	// A client without the grant type.
	code := newRP(t, e.issuer, "code-app", "s3cret-code", oauth2.AuthStyleInHeader)
	if _, err := code.config.PasswordCredentialsToken(ctx(t), "alice", testPassword); err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Errorf("client without the password grant: %v", err)
	}
}

func TestDiscoveryListsFlows(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	list := func(k string) []string {
		var out []string
		for _, v := range as[[]any](t, meta[k]) {
			out = append(out, as[string](t, v))
		}
		return out
	}
	if got, want := list("grant_types_supported"), []string{"authorization_code", "refresh_token", "implicit", "client_credentials", "password"}; !slices.Equal(got, want) {
		t.Errorf("grant_types_supported %q, want %q", got, want)
	}
	if got, want := list("response_types_supported"), []string{"code", "code id_token", "code token", "code id_token token", "id_token", "id_token token", "token"}; !slices.Equal(got, want) {
		t.Errorf("response_types_supported %q, want %q", got, want)
	}
	if got, want := list("response_modes_supported"), []string{"query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"}; !slices.Equal(got, want) {
		t.Errorf("response_modes_supported %q, want %q", got, want)
	}
}

func TestFlowMisconfigurations(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	good := e.clients
	const cb = "https://app.example.com/cb"
	cases := []struct {
		name, clients string
		want          []string
	}{
		{"response type without its grant type", `
		client hybrid-nogrant {
			client_secret x-secret
			redirect_uris ` + cb + `
			response_types code "code id_token"
		}`, []string{`client "hybrid-nogrant"`, "response_types", `"code id_token"`, "implicit"}},
		{"code without authorization_code", `
		client implicit-code {
			client_secret x-secret
			redirect_uris ` + cb + `
			grant_types implicit
			response_types code
		}`, []string{`client "implicit-code"`, "response_types", "authorization_code"}},
		{"password on a two_factor client", `
		client legacy-2fa {
			client_secret x-secret
			grant_types password
			authorization_policy two_factor
		}`, []string{`client "legacy-2fa"`, "grant_types", "password", "one_factor"}},
		{"password with the provider default two_factor", `
		client legacy-default {
			client_secret x-secret
			grant_types password
		}
		default_authorization_policy two_factor`, []string{`client "legacy-default"`, "grant_types", "password"}},
		{"query with a token response type", `
		client query-token {
			client_secret x-secret
			redirect_uris ` + cb + `
			grant_types implicit
			response_types "id_token token"
			response_modes query
		}`, []string{`client "query-token"`, "response_modes", "query"}},
		{"public client_credentials", `
		client public-m2m {
			public
			grant_types client_credentials
		}`, []string{`client "public-m2m"`, "grant_types", "client_credentials"}},
		{"unknown response mode", `
		client web-message {
			client_secret x-secret
			redirect_uris ` + cb + `
			response_modes web_message
		}`, []string{`client "web-message"`, "response_modes", "web_message"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clients = good + tc.clients
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

// TestFormPostInBrowser drives headless chromium (testdata/clients/
// formpost.mjs) through the login page to the form_post page, which must
// submit itself to the client under its Content-Security-Policy (any
// violation is a console error) and, with JavaScript off, through its
// button.
func TestFormPostInBrowser(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	e := newEnv(t, `
		client fp-browser {
			client_secret "s3cret-fp"
			redirect_uris `+redirect+`
			scopes openid profile
			grant_types authorization_code implicit
			response_types code "code id_token"
			consent_mode implicit
		}`)
	e.start()
	r := newRP(t, e.issuer, "fp-browser", "s3cret-fp", oauth2.AuthStyleInHeader)
	r.config.RedirectURL = redirect
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}
	states := [2]string{randString(t), randString(t)}
	nonce := randString(t)
	hybrid := r.config.AuthCodeURL(states[0], oidc.Nonce(nonce), oauth2.SetAuthURLParam("response_type", "code id_token"), oauth2.SetAuthURLParam("response_mode", "form_post"))
	code := r.config.AuthCodeURL(states[1], oauth2.SetAuthURLParam("response_mode", "form_post"))
	env := flowEnv(e, "fp-browser", "s3cret-fp", redirect)
	env["AUTH_URL"], env["AUTH_URL_NOSCRIPT"] = hybrid, code
	out := script(t, "formpost.mjs", env)

	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors (CSP violations?): %q", errs)
	}
	if out["noscript_button"] != true {
		t.Error("no Continue button without JavaScript")
	}
	posts, _ := out["posts"].([]any)
	if len(posts) != 2 {
		t.Fatalf("posts %v", out["posts"])
	}
	for i, p := range posts {
		m := as[map[string]any](t, p)
		if !strings.HasPrefix(str(m, "content_type"), "application/x-www-form-urlencoded") {
			t.Errorf("post %d content type %q", i, str(m, "content_type"))
		}
		if str(m, "fields", "state") != states[i] || str(m, "fields", "iss") != e.issuer || str(m, "fields", "code") == "" {
			t.Errorf("post %d fields %v", i, m["fields"])
		}
		if _, err := r.config.Exchange(ctx(t), str(m, "fields", "code")); err != nil {
			t.Errorf("post %d: exchange: %v", i, err)
		}
	}
	raw := str(as[map[string]any](t, posts[0]), "fields", "id_token")
	idt, err := r.verifier.Verify(ctx(t), raw)
	if err != nil {
		t.Fatalf("posted ID token: %v", err)
	}
	if idt.Nonce != nonce || jwtClaims(t, raw)["c_hash"] != halfHash(str(as[map[string]any](t, posts[0]), "fields", "code")) {
		t.Errorf("nonce %q, c_hash %v", idt.Nonce, jwtClaims(t, raw)["c_hash"])
	}
}

// TestHybridExchangeTokenLifespan: the access token of a code exchange
// lives its whole lifespan from the exchange, also when the authorization
// response already issued one (a hybrid flow's token) and the code has a
// PKCE challenge. Reading the PKCE record once decoded the stored session
// into the exchange's own, putting back the authorization's token expiry:
// the exchange's token then expired as early as the first one.
func TestHybridExchangeTokenLifespan(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	for _, rt := range []string{"code token", "code id_token token", "code"} {
		t.Run(rt, func(t *testing.T) {
			t.Parallel() // each waits
			r := newRP(t, e.issuer, "hybrid-app", "s3cret-hybrid", oauth2.AuthStyleInHeader)
			r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}
			verifier := oauth2.GenerateVerifier()
			authURL := r.config.AuthCodeURL(randString(t), oidc.Nonce(randString(t)), oauth2.S256ChallengeOption(verifier),
				oauth2.SetAuthURLParam("response_type", rt), oauth2.SetAuthURLParam("response_mode", "form_post"))
			f := checkFormPostPage(t, e, authorizeAs(t, newBrowser(t, e.issuer), authURL, "alice"))
			// Expiry times are whole seconds (and expires_in rounds
			// down): wait long enough to tell.
			time.Sleep(3 * time.Second)
			tok, err := r.config.Exchange(ctx(t), f.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if left := time.Until(tok.Expiry); left < time.Hour-2*time.Second {
				t.Errorf("the exchange's access token expires in %v, want its whole hour", left.Round(time.Second))
			}
			// Introspection reads the expiry stored with the token.
			form := url.Values{"token": {tok.AccessToken}}
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/introspection", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("hybrid-app", "s3cret-hybrid")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer closeBody(resp)
			var in struct {
				Active bool  `json:"active"`
				Exp    int64 `json:"exp"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&in); err != nil || !in.Active {
				t.Fatalf("introspection: %v %+v", err, in)
			}
			if left := time.Until(time.Unix(in.Exp, 0)); left < time.Hour-2*time.Second {
				t.Errorf("introspection: exp in %v, want the whole hour", left.Round(time.Second))
			}
		})
	}
}

// TestHybridPKCEFailureRetiresCode: a hybrid flow's code keeps its PKCE
// request in a table of its own (the authorization's access token makes its
// session differ from the code's); a failed PKCE check retires that code
// too, so that no exchange follows, not even one without a verifier (for
// this confidential client, which need not use PKCE, fosite would find no
// challenge left and let it through).
func TestHybridPKCEFailureRetiresCode(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	r := newRP(t, e.issuer, "hybrid-app", "s3cret-hybrid", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}
	verifier := oauth2.GenerateVerifier()
	authURL := r.config.AuthCodeURL(randString(t), oidc.Nonce(randString(t)), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("response_type", "code token"), oauth2.SetAuthURLParam("response_mode", "form_post"))
	code := checkFormPostPage(t, e, authorizeAs(t, newBrowser(t, e.issuer), authURL, "alice")).Get("code")
	for _, step := range []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"a wrong verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}},
		{"then no verifier", nil},
		{"then the right verifier", []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}},
	} {
		_, err := r.config.Exchange(ctx(t), code, step.opts...)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Errorf("%s: %v, want invalid_grant", step.name, err)
		}
	}
}
