package caddyoidc_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const rpCallback = "http://127.0.0.1:4180/oauth2/callback"

// standardClients registers one client per way a real app authenticates.
const standardClients = `
		client basic-app {
			client_name "Basic App"
			client_secret "s3cret-basic"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method client_secret_basic
		}
		client post-app {
			client_secret "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method client_secret_post
			id_token_signed_response_alg ES256
		}
		client any-method-app {
			client_secret "plain-any"
			redirect_uris ` + rpCallback + ` "https://requests.example.com/login?provider=caddy&callback=true" app.immich:///oauth-callback
			scopes openid profile email groups offline_access
		}
		client spa {
			public
			redirect_uris ` + rpCallback + `
			scopes openid profile offline_access
		}`

func randString(t *testing.T) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rp is a relying party as real apps build it: go-oidc for discovery and ID
// token verification, x/oauth2 for the code exchange.
type rp struct {
	provider *oidc.Provider
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t *testing.T, issuer, clientID, secret string, style oauth2.AuthStyle) *rp {
	t.Helper()
	p, err := oidc.NewProvider(ctx(t), issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = style
	return &rp{
		provider: p,
		config: oauth2.Config{
			ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: rpCallback,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

// loginFlow runs authorize → login → consent and returns the callback params.
func loginFlow(t *testing.T, b *browser, authURL, user string) url.Values {
	t.Helper()
	p := b.login(b.get(authURL), user, testPassword)
	p = b.consent(p, "allow")
	return callbackParams(t, p, rpCallback)
}

func TestCodeFlowWithRealClient(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()

	cases := []struct {
		name, client, secret string
		style                oauth2.AuthStyle
		pkce                 bool
		alg                  string
	}{
		{"basic", "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader, false, "RS256"},
		{"basic+pkce", "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader, true, "RS256"},
		{"post digest", "post-app", "insecure_secret", oauth2.AuthStyleInParams, false, "ES256"},
		{"post digest+pkce", "post-app", "insecure_secret", oauth2.AuthStyleInParams, true, "ES256"},
		{"unset method, basic", "any-method-app", "plain-any", oauth2.AuthStyleInHeader, false, "RS256"},
		{"unset method, post", "any-method-app", "plain-any", oauth2.AuthStyleInParams, true, "RS256"},
		{"public spa", "spa", "", oauth2.AuthStyleInParams, true, "RS256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRP(t, e.issuer, tc.client, tc.secret, tc.style)
			if tc.client == "spa" {
				r.config.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
			}
			state, nonce, verifier := randString(t), randString(t), oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce)}
			if tc.pkce {
				opts = append(opts, oauth2.S256ChallengeOption(verifier))
			}
			b := newBrowser(t, e.issuer)
			params := loginFlow(t, b, r.config.AuthCodeURL(state, opts...), "alice")
			if params.Get("state") != state {
				t.Fatalf("state = %q, want %q", params.Get("state"), state)
			}
			if params.Get("iss") != e.issuer {
				t.Errorf("iss = %q, want %q (RFC 9207)", params.Get("iss"), e.issuer)
			}
			var exOpts []oauth2.AuthCodeOption
			if tc.pkce {
				exOpts = append(exOpts, oauth2.VerifierOption(verifier))
			}
			tok, err := r.config.Exchange(ctx(t), params.Get("code"), exOpts...)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := r.verifier.Verify(ctx(t), raw)
			if err != nil {
				t.Fatalf("verify id token: %v", err)
			}
			if idt.Nonce != nonce {
				t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Errorf("at_hash: %v", err)
			}
			if idt.Issuer != e.issuer {
				t.Errorf("iss = %q", idt.Issuer)
			}
			if alg := jwtHeader(t, raw)["alg"]; alg != tc.alg {
				t.Errorf("alg = %v, want %s", alg, tc.alg)
			}
			if kid := jwtHeader(t, raw)["kid"]; kid == nil || kid == "" {
				t.Error("ID token has no kid")
			}
			var claims struct {
				Sub      string   `json:"sub"`
				AuthTime int64    `json:"auth_time"`
				Azp      string   `json:"azp"`
				Name     string   `json:"name"`
				Username string   `json:"preferred_username"`
				Email    string   `json:"email"`
				Verified bool     `json:"email_verified"`
				Groups   []string `json:"groups"`
				Iat      int64    `json:"iat"`
				AMR      []string `json:"amr"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Sub == "" || claims.Sub == "alice" {
				t.Errorf("sub = %q: must be an opaque identifier, not the username", claims.Sub)
			}
			if claims.AuthTime == 0 || claims.Azp != tc.client || !slices.Contains(claims.AMR, "pwd") {
				t.Errorf("auth_time=%d azp=%q amr=%v", claims.AuthTime, claims.Azp, claims.AMR)
			}
			if claims.Iat > time.Now().Unix() {
				t.Errorf("iat %d is in the future", claims.Iat)
			}
			if claims.Name != "Alice Example" || claims.Username != "alice" {
				t.Errorf("profile claims: %+v", claims)
			}
			if tc.client != "spa" && (claims.Email != "alice@example.com" || !claims.Verified || !slices.Contains(claims.Groups, "users")) {
				t.Errorf("email/groups claims in ID token: %+v", claims)
			}
			if tc.client == "spa" && (claims.Email != "" || claims.Groups != nil) {
				t.Errorf("claims of scopes not granted leaked: %+v", claims)
			}

			// userinfo, through go-oidc.
			ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != claims.Sub {
				t.Errorf("userinfo sub %q != id token sub %q", ui.Subject, claims.Sub)
			}
			if tc.client != "spa" && ui.Email != "alice@example.com" {
				t.Errorf("userinfo email = %q", ui.Email)
			}

			// refresh: a new pair; the old refresh token is dead afterwards.
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token with offline_access")
			}
			old := tok.RefreshToken
			expired := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Minute)}
			fresh, err := r.config.TokenSource(ctx(t), expired).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if fresh.RefreshToken == "" || fresh.RefreshToken == old || fresh.AccessToken == tok.AccessToken {
				t.Fatal("refresh did not rotate the tokens")
			}
			if raw2, _ := fresh.Extra("id_token").(string); raw2 != "" {
				idt2, err := r.verifier.Verify(ctx(t), raw2)
				if err != nil {
					t.Fatalf("refreshed id token: %v", err)
				}
				if idt2.Subject != claims.Sub {
					t.Errorf("refreshed sub changed")
				}
			}
			_, err = r.config.TokenSource(ctx(t), expired).Token()
			if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
				t.Fatalf("reusing the rotated refresh token: err = %v, want invalid_grant", err)
			}
			// Reuse revokes the family: the fresh tokens die too.
			if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(fresh)); err == nil {
				t.Error("access token of a revoked family still works at userinfo")
			}
		})
	}
}

// TestSubjectIsStable checks that sub is the same for one user across
// clients and logins, and differs between users.
func TestSubjectIsStable(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	subOf := func(user, client, secret string) string {
		r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleInHeader)
		b := newBrowser(t, e.issuer)
		params := loginFlow(t, b, r.config.AuthCodeURL(randString(t)), user)
		tok, err := r.config.Exchange(ctx(t), params.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
		if err != nil {
			t.Fatal(err)
		}
		return idt.Subject
	}
	a1 := subOf("alice", "basic-app", "s3cret-basic")
	a2 := subOf("alice", "any-method-app", "plain-any")
	b1 := subOf("bob", "basic-app", "s3cret-basic")
	if a1 != a2 {
		t.Errorf("alice's sub differs across clients: %q vs %q", a1, a2)
	}
	if a1 == b1 {
		t.Error("alice and bob share a sub")
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	e := newEnv(t, standardClients)
	e.issuer += "/idp" // an issuer with a path
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	var meta map[string]any
	if err := r.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != e.issuer {
		t.Errorf("issuer = %v, want %s", meta["issuer"], e.issuer)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} {
		if s, _ := meta[k].(string); !strings.HasPrefix(s, e.issuer+"/") {
			t.Errorf("%s = %v, not under the issuer", k, meta[k])
		}
	}
	// RFC 8414: the well-known segment goes before the issuer's path.
	resp, err := http.Get(strings.Replace(e.issuer, "/idp", "/.well-known/oauth-authorization-server/idp", 1))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("RFC 8414 metadata: %v %v", err, resp)
	}
	closeBody(resp)
	// The site's other routes still work.
	resp, err = http.Get(strings.TrimSuffix(e.issuer, "/idp") + "/something-else")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("other routes: %v %v", err, resp)
	}
	closeBody(resp)
	jwks := getJSON(t, as[string](t, meta["jwks_uri"]))
	keys, _ := jwks["keys"].([]any)
	if len(keys) < 2 {
		t.Fatalf("jwks has %d keys, want RSA and EC", len(keys))
	}
	for _, k := range keys {
		m := as[map[string]any](t, k)
		if m["kid"] == nil || m["use"] != "sig" || m["alg"] == nil || m["d"] != nil {
			t.Errorf("bad jwk: %v", m)
		}
	}
}
