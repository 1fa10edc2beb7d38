package caddyoidc_test

// End-to-end tests of introspection (RFC 7662), revocation (RFC 7009),
// RP-initiated logout and pushed authorization requests (RFC 9126) on a real
// Caddy. Tokens come from go-oidc + x/oauth2; the endpoints themselves are
// called with plain HTTP, as no client library covers them.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	logoutReturn      = "http://127.0.0.1:4180/logged-out"
	logoutReturnQuery = "http://127.0.0.1:4180/bye?from=op"
)

// endpointClients adds to standardClients a client with post-logout
// redirect URIs, one that must push its requests, one that requests an
// audience, and the resource server named by that audience.
const endpointClients = standardClients + `
		client logout-app {
			client_secret "s3cret-logout"
			redirect_uris ` + rpCallback + `
			post_logout_redirect_uris ` + logoutReturn + ` "` + logoutReturnQuery + `"
			scopes openid profile email groups offline_access
		}
		client par-app {
			client_secret "s3cret-par"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			require_pushed_authorization_requests
		}
		client aud-app {
			client_secret "s3cret-aud"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			audience resource-server
		}
		client resource-server {
			client_secret "s3cret-rs"
			redirect_uris ` + rpCallback + `
		}`

// epResponse is a back-channel response.
type epResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// epPost posts a form to an endpoint under the issuer, with HTTP Basic
// credentials when user is set.
func epPost(t *testing.T, e *env, path string, form url.Values, user, pass string) epResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	r := epResponse{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal([]byte(r.raw), &r.body)
	return r
}

// epStrings reads a JSON array of strings.
func epStrings(m map[string]any, key string) []string {
	var out []string
	a, _ := m[key].([]any)
	for _, v := range a {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

func introspect(t *testing.T, e *env, token, hint, user, pass string) epResponse {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return epPost(t, e, "/api/oidc/introspection", form, user, pass)
}

func revoke(t *testing.T, e *env, token, hint, user, pass string) epResponse {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	r := epPost(t, e, "/api/oidc/revocation", form, user, pass)
	return r
}

// epTokens runs a code flow for client in b and returns the RP and its tokens.
func epTokens(t *testing.T, e *env, l *leakCheck, b *browser, client, secret, user string, opts ...oauth2.AuthCodeOption) (*rp, *oauth2.Token) {
	t.Helper()
	r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleAutoDetect)
	opts = append(opts, oidc.Nonce(randString(t)))
	params := loginFlow(t, b, r.config.AuthCodeURL(randString(t), opts...), user)
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if l != nil {
		l.oauth2Token(tok)
	}
	return r, tok
}

func idTokenOf(t *testing.T, r *rp, tok *oauth2.Token) *oidc.IDToken {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx(t), raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	return idt
}

func wantOAuthError(t *testing.T, r epResponse, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Errorf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

func wantInactive(t *testing.T, r epResponse) {
	t.Helper()
	if r.status != http.StatusOK || r.body["active"] != false || len(r.body) != 1 {
		t.Errorf("got %d %s, want 200 {\"active\":false}", r.status, r.raw)
	}
}

func TestIntrospection(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.start()
	l := newLeakCheck(t, e)
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["introspection_endpoint"] != e.issuer+"/api/oidc/introspection" {
		t.Errorf("introspection_endpoint = %v", meta["introspection_endpoint"])
	}
	if m := epStrings(meta, "introspection_endpoint_auth_methods_supported"); strings.Join(m, " ") != "client_secret_basic client_secret_post client_secret_jwt private_key_jwt" {
		t.Errorf("introspection_endpoint_auth_methods_supported = %v", m)
	}

	b := newBrowser(t, e.issuer)
	r, tok := epTokens(t, e, l, b, "basic-app", "s3cret-basic", "alice")
	sub := idTokenOf(t, r, tok).Subject

	t.Run("active access token", func(t *testing.T) {
		got := introspect(t, e, tok.AccessToken, "", "basic-app", "s3cret-basic")
		if got.status != 200 || got.body["active"] != true {
			t.Fatalf("got %d %s", got.status, got.raw)
		}
		now := float64(time.Now().Unix())
		exp, _ := got.body["exp"].(float64)
		iat, _ := got.body["iat"].(float64)
		switch {
		case got.body["client_id"] != "basic-app", got.body["sub"] != sub, got.body["iss"] != e.issuer,
			!strings.EqualFold(fmt.Sprint(got.body["token_type"]), "Bearer"), got.body["token_use"] != "access_token":
			t.Errorf("response: %s", got.raw)
		case !strings.Contains(" "+fmt.Sprint(got.body["scope"])+" ", " openid "):
			t.Errorf("scope = %v", got.body["scope"])
		case exp < now+3000 || exp > now+3700 || iat > now+1 || iat < now-60:
			t.Errorf("exp = %v, iat = %v, now %v", exp, iat, now)
		}
		if _, ok := got.body["username"]; ok || strings.Contains(got.raw, "alice") {
			t.Errorf("the response names the user: %s", got.raw)
		}
		if got.header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", got.header.Get("Cache-Control"))
		}
		// client_secret_post works too.
		form := url.Values{"token": {tok.AccessToken}, "client_id": {"basic-app"}, "client_secret": {"s3cret-basic"}}
		if got := epPost(t, e, "/api/oidc/introspection", form, "", ""); got.status == 200 {
			t.Errorf("basic-app is registered for client_secret_basic, client_secret_post got %d", got.status)
		}
		form = url.Values{"token": {tok.AccessToken}, "client_id": {"any-method-app"}, "client_secret": {"plain-any"}}
		wantInactive(t, epPost(t, e, "/api/oidc/introspection", form, "", ""))
	})
	t.Run("refresh token", func(t *testing.T) {
		for _, hint := range []string{"refresh_token", ""} {
			got := introspect(t, e, tok.RefreshToken, hint, "basic-app", "s3cret-basic")
			if got.body["active"] != true || got.body["token_use"] != "refresh_token" || got.body["sub"] != sub {
				t.Fatalf("hint %q: got %d %s", hint, got.status, got.raw)
			}
			if _, ok := got.body["token_type"]; ok {
				t.Errorf("a refresh token has token_type %v; a resource server checking for Bearer would accept it", got.body["token_type"])
			}
			if exp, _ := got.body["exp"].(float64); exp < float64(time.Now().Add(80*time.Minute).Unix()) {
				t.Errorf("refresh token exp = %v, want about 90m from now", exp)
			}
		}
	})
	t.Run("another client's token is inactive", func(t *testing.T) {
		form := url.Values{"token": {tok.AccessToken}, "client_id": {"post-app"}, "client_secret": {"insecure_secret"}}
		wantInactive(t, epPost(t, e, "/api/oidc/introspection", form, "", ""))
		wantInactive(t, introspect(t, e, tok.RefreshToken, "refresh_token", "resource-server", "s3cret-rs"))
	})
	t.Run("audience may introspect", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		_, atok := epTokens(t, e, l, b, "aud-app", "s3cret-aud", "bob", oauth2.SetAuthURLParam("audience", "resource-server"))
		got := introspect(t, e, atok.AccessToken, "access_token", "resource-server", "s3cret-rs")
		if got.body["active"] != true || got.body["client_id"] != "aud-app" || strings.Join(epStrings(got.body, "aud"), " ") != "resource-server" {
			t.Errorf("got %d %s", got.status, got.raw)
		}
	})
	t.Run("unknown and malformed tokens", func(t *testing.T) {
		wantInactive(t, introspect(t, e, "ory_at_nothing.nothing", "", "basic-app", "s3cret-basic"))
		wantInactive(t, introspect(t, e, tok.AccessToken+"x", "", "basic-app", "s3cret-basic"))
		// The hint does not limit the search (RFC 7662 2.1).
		if got := introspect(t, e, tok.AccessToken, "refresh_token", "basic-app", "s3cret-basic"); got.body["active"] != true {
			t.Errorf("access token with the refresh_token hint: %s", got.raw)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		got := introspect(t, e, tok.AccessToken, "", "", "")
		wantOAuthError(t, got, 401, "invalid_client")
		got = introspect(t, e, tok.AccessToken, "", "basic-app", "wrong")
		wantOAuthError(t, got, 401, "invalid_client")
		if !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("WWW-Authenticate = %q", got.header.Get("WWW-Authenticate"))
		}
		// A public client cannot authenticate.
		got = epPost(t, e, "/api/oidc/introspection", url.Values{"token": {tok.AccessToken}, "client_id": {"spa"}}, "", "")
		wantOAuthError(t, got, 401, "invalid_client")
		// A bearer token is no credential here (fosite would accept one).
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/introspection", strings.NewReader(url.Values{"token": {tok.RefreshToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		if resp.StatusCode == 200 {
			t.Error("a bearer access token was accepted as introspection credentials")
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		wantOAuthError(t, epPost(t, e, "/api/oidc/introspection", url.Values{"token_type_hint": {"access_token"}}, "basic-app", "s3cret-basic"), 400, "invalid_request")
		resp, err := http.Get(e.issuer + "/api/oidc/introspection?token=" + url.QueryEscape(tok.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}

func TestRevocation(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.start()
	l := newLeakCheck(t, e)
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["revocation_endpoint"] != e.issuer+"/api/oidc/revocation" {
		t.Errorf("revocation_endpoint = %v", meta["revocation_endpoint"])
	}
	if m := epStrings(meta, "revocation_endpoint_auth_methods_supported"); strings.Join(m, " ") != "client_secret_basic client_secret_post none client_secret_jwt private_key_jwt" {
		t.Errorf("revocation_endpoint_auth_methods_supported = %v", m)
	}
	userinfoWorks := func(r *rp, tok *oauth2.Token) bool {
		_, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer"}))
		return err == nil
	}
	refresh := func(r *rp, tok *oauth2.Token) error {
		_, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		return err
	}

	t.Run("access token", func(t *testing.T) {
		r, tok := epTokens(t, e, l, newBrowser(t, e.issuer), "basic-app", "s3cret-basic", "alice")
		if !userinfoWorks(r, tok) {
			t.Fatal("userinfo fails before revocation")
		}
		if got := revoke(t, e, tok.AccessToken, "access_token", "basic-app", "s3cret-basic"); got.status != 200 {
			t.Fatalf("revoke: %d %s", got.status, got.raw)
		}
		if userinfoWorks(r, tok) {
			t.Error("userinfo accepts a revoked access token")
		}
		wantInactive(t, introspect(t, e, tok.AccessToken, "", "basic-app", "s3cret-basic"))
		// fosite revokes the whole grant: the refresh token dies too.
		if err := refresh(r, tok); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("refresh after revoking the access token: %v, want invalid_grant", err)
		}
		// Revoking again is fine.
		if got := revoke(t, e, tok.AccessToken, "", "basic-app", "s3cret-basic"); got.status != 200 {
			t.Errorf("second revoke: %d %s", got.status, got.raw)
		}
	})
	t.Run("refresh token revokes the family", func(t *testing.T) {
		r, tok := epTokens(t, e, l, newBrowser(t, e.issuer), "post-app", "insecure_secret", "alice")
		r.config.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		// Rotate once, so the family has an older and a newer generation.
		fresh, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		l.oauth2Token(fresh)
		form := url.Values{"token": {fresh.RefreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {"post-app"}, "client_secret": {"insecure_secret"}}
		if got := epPost(t, e, "/api/oidc/revocation", form, "", ""); got.status != 200 {
			t.Fatalf("revoke: %d %s", got.status, got.raw)
		}
		if err := refresh(r, fresh); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Errorf("refresh with the revoked token: %v, want invalid_grant", err)
		}
		if userinfoWorks(r, fresh) {
			t.Error("the family's access token still works at userinfo")
		}
		wantInactive(t, introspect(t, e, fresh.RefreshToken, "refresh_token", "any-method-app", "plain-any"))
	})
	t.Run("another client's token is left alone", func(t *testing.T) {
		r, tok := epTokens(t, e, l, newBrowser(t, e.issuer), "basic-app", "s3cret-basic", "bob")
		if got := revoke(t, e, tok.AccessToken, "", "any-method-app", "plain-any"); got.status != 200 {
			t.Errorf("revoke: %d %s", got.status, got.raw)
		}
		if got := revoke(t, e, tok.RefreshToken, "refresh_token", "any-method-app", "plain-any"); got.status != 200 {
			t.Errorf("revoke: %d %s", got.status, got.raw)
		}
		if !userinfoWorks(r, tok) || refresh(r, tok) != nil {
			t.Error("another client revoked the tokens")
		}
	})
	t.Run("public client revokes its own token", func(t *testing.T) {
		r := newRP(t, e.issuer, "spa", "", oauth2.AuthStyleInParams)
		r.config.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
		verifier := oauth2.GenerateVerifier()
		params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(verifier)), "alice")
		tok, err := r.config.Exchange(ctx(t), params.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		l.oauth2Token(tok)
		got := epPost(t, e, "/api/oidc/revocation", url.Values{"token": {tok.RefreshToken}, "client_id": {"spa"}}, "", "")
		if got.status != 200 {
			t.Fatalf("revoke: %d %s", got.status, got.raw)
		}
		if err := refresh(r, tok); err == nil {
			t.Error("refresh works after revocation")
		}
	})
	t.Run("unknown token and errors", func(t *testing.T) {
		if got := revoke(t, e, "ory_rt_unknown.unknown", "", "basic-app", "s3cret-basic"); got.status != 200 {
			t.Errorf("unknown token: %d %s", got.status, got.raw)
		}
		wantOAuthError(t, revoke(t, e, "ory_rt_unknown.unknown", "", "", ""), 401, "invalid_client")
		got := revoke(t, e, "ory_rt_unknown.unknown", "", "basic-app", "wrong")
		wantOAuthError(t, got, 401, "invalid_client")
		if !strings.HasPrefix(got.header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("WWW-Authenticate = %q", got.header.Get("WWW-Authenticate"))
		}
		wantOAuthError(t, epPost(t, e, "/api/oidc/revocation", url.Values{"token_type_hint": {"access_token"}}, "basic-app", "s3cret-basic"), 400, "invalid_request")
	})
}

// endSessionURL builds a logout request.
func endSessionURL(e *env, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u := e.issuer + "/api/oidc/end-session"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// confirmLogout submits the sign-out confirmation shown on p.
func (b *browser) confirmLogout(p page) page {
	b.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="csrf_token"`) || !strings.Contains(p.body, "Sign out?") {
		b.t.Fatalf("expected the sign-out confirmation, got %d: %.600s", p.status, p.body)
	}
	if action := p.formAction(b.issuer); action != b.issuer+"/api/oidc/end-session" {
		b.t.Fatalf("the confirmation posts to %q", action)
	}
	return b.post(p.formAction(b.issuer), p.formFields())
}

// signedIn reports whether b's login session is alive: an authorization
// request then goes straight to consent instead of the login page.
func (b *browser) signedIn(e *env) bool {
	b.t.Helper()
	r := newRP(b.t, e.issuer, "logout-app", "s3cret-logout", oauth2.AuthStyleInHeader)
	p := b.get(r.config.AuthCodeURL(randString(b.t)))
	switch {
	case strings.Contains(p.body, `name="password"`):
		return false
	case strings.Contains(p.body, `name="decision"`):
		return true
	}
	b.t.Fatalf("neither login nor consent: %d %.400s", p.status, p.body)
	return false
}

func TestEndSession(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.start()
	l := newLeakCheck(t, e)
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["end_session_endpoint"] != e.issuer+"/api/oidc/end-session" {
		t.Fatalf("end_session_endpoint = %v", meta["end_session_endpoint"])
	}
	// tokens signs alice in with b and returns her raw ID token for client.
	// It takes the subtest's t: a parent's t must not fail from a subtest.
	tokens := func(t *testing.T, b *browser, client, secret, user string) string {
		t.Helper()
		_, tok := epTokens(t, e, l, b, client, secret, user)
		return rawIDToken(t, tok)
	}

	t.Run("id_token_hint, registered redirect, state", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		hint := tokens(t, b, "logout-app", "s3cret-logout", "alice")
		state := randString(t)
		p := b.confirmLogout(b.get(endSessionURL(e, "id_token_hint", hint, "post_logout_redirect_uri", logoutReturnQuery, "state", state)))
		if p.status != http.StatusSeeOther || p.location != logoutReturnQuery+"&state="+url.QueryEscape(state) {
			t.Fatalf("after confirming: %d to %q", p.status, p.location)
		}
		if b.signedIn(e) {
			t.Error("the login session survived the logout")
		}
	})
	t.Run("client_id without hint", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		tokens(t, b, "logout-app", "s3cret-logout", "alice")
		p := b.get(endSessionURL(e, "client_id", "logout-app", "post_logout_redirect_uri", logoutReturn, "state", "st4te-value"))
		if !strings.Contains(p.body, "Alice Example") {
			t.Errorf("the confirmation does not name the user: %.400s", p.body)
		}
		p = b.confirmLogout(p)
		if p.status != http.StatusSeeOther || p.location != logoutReturn+"?state=st4te-value" {
			t.Fatalf("after confirming: %d to %q", p.status, p.location)
		}
		if b.signedIn(e) {
			t.Error("the login session survived the logout")
		}
	})
	t.Run("no parameters", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		tokens(t, b, "basic-app", "s3cret-basic", "alice")
		p := b.confirmLogout(b.get(endSessionURL(e)))
		if p.status != http.StatusOK || p.location != "" || !strings.Contains(p.body, "signed out") {
			t.Fatalf("after confirming: %d %q %.300s", p.status, p.location, p.body)
		}
		if b.signedIn(e) {
			t.Error("the login session survived the logout")
		}
	})
	t.Run("POST logout request", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		hint := tokens(t, b, "logout-app", "s3cret-logout", "alice")
		p := b.post(endSessionURL(e), url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutReturn}})
		p = b.confirmLogout(p)
		if p.status != http.StatusSeeOther || p.location != logoutReturn {
			t.Fatalf("after confirming: %d to %q", p.status, p.location)
		}
	})
	t.Run("refused requests", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		hint := tokens(t, b, "logout-app", "s3cret-logout", "alice")
		parts := strings.Split(hint, ".")
		tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
		for name, u := range map[string]string{
			"unregistered redirect":     endSessionURL(e, "client_id", "logout-app", "post_logout_redirect_uri", "https://evil.example/"),
			"redirect_uri of login":     endSessionURL(e, "id_token_hint", hint, "post_logout_redirect_uri", rpCallback),
			"prefix of a registered":    endSessionURL(e, "client_id", "logout-app", "post_logout_redirect_uri", "http://127.0.0.1:4180/bye"),
			"redirect without a client": endSessionURL(e, "post_logout_redirect_uri", logoutReturn),
			"hint for another client":   endSessionURL(e, "id_token_hint", hint, "client_id", "basic-app"),
			"tampered hint":             endSessionURL(e, "id_token_hint", tampered, "post_logout_redirect_uri", logoutReturn),
			"unknown client":            endSessionURL(e, "client_id", "nobody"),
		} {
			t.Run(name, func(t *testing.T) {
				wantErrorPage(t, b.get(u), http.StatusBadRequest)
			})
		}
		// A forged confirmation changes nothing.
		p := b.post(endSessionURL(e), url.Values{"csrf_token": {"forged"}, "return_to": {""}})
		wantErrorPage(t, p, http.StatusForbidden)
		if !b.signedIn(e) {
			t.Error("a refused logout request ended the session")
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		p := b.get(endSessionURL(e, "client_id", "logout-app", "post_logout_redirect_uri", logoutReturn, "state", "abcdefgh"))
		if p.status != http.StatusSeeOther || p.location != logoutReturn+"?state=abcdefgh" {
			t.Fatalf("%d to %q, want straight back to the client", p.status, p.location)
		}
		p = b.get(endSessionURL(e))
		if p.status != http.StatusOK || !strings.Contains(p.body, "not signed in") {
			t.Errorf("%d %.300s", p.status, p.body)
		}
	})
	t.Run("hint of another user", func(t *testing.T) {
		bob := tokens(t, newBrowser(t, e.issuer), "logout-app", "s3cret-logout", "bob")
		b := newBrowser(t, e.issuer)
		tokens(t, b, "basic-app", "s3cret-basic", "alice")
		p := b.get(endSessionURL(e, "id_token_hint", bob, "post_logout_redirect_uri", logoutReturn))
		if !strings.Contains(p.body, "Alice Example") {
			t.Errorf("the confirmation does not name the signed-in user: %.400s", p.body)
		}
		p = b.confirmLogout(p)
		if p.status != http.StatusSeeOther || p.location != logoutReturn {
			t.Fatalf("after confirming: %d to %q", p.status, p.location)
		}
		if b.signedIn(e) {
			t.Error("the login session survived the logout")
		}
	})
}

// push sends a pushed authorization request.
func push(t *testing.T, e *env, form url.Values, user, pass string) epResponse {
	t.Helper()
	return epPost(t, e, "/api/oidc/pushed-authorization-request", form, user, pass)
}

// pushForm is a pushed code request for client with PKCE.
func pushForm(client, state, nonce, verifier string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {client},
		"redirect_uri":          {rpCallback},
		"scope":                 {"openid profile offline_access"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
}

// requestURI checks a PAR response and returns its request_uri.
func requestURI(t *testing.T, got epResponse, lifespan float64) string {
	t.Helper()
	uri, _ := got.body["request_uri"].(string)
	if got.status != http.StatusCreated || !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || got.body["expires_in"] != lifespan {
		t.Fatalf("push: %d %s", got.status, got.raw)
	}
	return uri
}

func parAuthURL(e *env, client, uri string, extra ...string) string {
	q := url.Values{"client_id": {client}, "request_uri": {uri}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return e.issuer + "/api/oidc/authorization?" + q.Encode()
}

func TestPushedAuthorizationRequests(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.start()
	l := newLeakCheck(t, e)
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["pushed_authorization_request_endpoint"] != e.issuer+"/api/oidc/pushed-authorization-request" || meta["require_pushed_authorization_requests"] != false {
		t.Fatalf("discovery: %v %v", meta["pushed_authorization_request_endpoint"], meta["require_pushed_authorization_requests"])
	}

	for _, client := range []struct{ id, secret string }{{"basic-app", "s3cret-basic"}, {"par-app", "s3cret-par"}} {
		t.Run("code flow "+client.id, func(t *testing.T) {
			r := newRP(t, e.issuer, client.id, client.secret, oauth2.AuthStyleInHeader)
			state, nonce, verifier := randString(t), randString(t), oauth2.GenerateVerifier()
			uri := requestURI(t, push(t, e, pushForm(client.id, state, nonce, verifier), client.id, client.secret), 300)
			l.add("request_uri", uri)
			// Parameters beside request_uri are ignored: only what was
			// pushed counts (no email scope, the pushed state).
			b := newBrowser(t, e.issuer)
			authURL := parAuthURL(e, client.id, uri, "state", "tampered-state", "scope", "openid email", "nonce", "tampered-nonce")
			params := loginFlow(t, b, authURL, "alice")
			if params.Get("state") != state || params.Get("iss") != e.issuer {
				t.Fatalf("callback: %v", params)
			}
			tok, err := r.config.Exchange(ctx(t), params.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			l.oauth2Token(tok)
			idt := idTokenOf(t, r, tok)
			var claims map[string]any
			_ = idt.Claims(&claims)
			if idt.Nonce != nonce || claims["email"] != nil || claims["name"] != "Alice Example" {
				t.Errorf("ID token: nonce %q, claims %v", idt.Nonce, claims)
			}
			// The request_uri was used: it cannot start another flow.
			wantErrorPage(t, newBrowser(t, e.issuer).get(authURL), http.StatusBadRequest)
		})
	}
	t.Run("a request_uri works once", func(t *testing.T) {
		uri := requestURI(t, push(t, e, pushForm("basic-app", randString(t), randString(t), oauth2.GenerateVerifier()), "basic-app", "s3cret-basic"), 300)
		first := newBrowser(t, e.issuer).get(parAuthURL(e, "basic-app", uri))
		if first.status != 200 || !strings.Contains(first.body, `name="password"`) {
			t.Fatalf("first use: %d %.300s", first.status, first.body)
		}
		p := newBrowser(t, e.issuer).get(parAuthURL(e, "basic-app", uri))
		wantErrorPage(t, p, http.StatusBadRequest)
		if !strings.Contains(p.body, "invalid_request_uri") {
			t.Errorf("reuse: %.400s", p.body)
		}
	})
	t.Run("a client that must push", func(t *testing.T) {
		r := newRP(t, e.issuer, "par-app", "s3cret-par", oauth2.AuthStyleInHeader)
		p := newBrowser(t, e.issuer).get(r.config.AuthCodeURL(randString(t)))
		wantErrorPage(t, p, http.StatusBadRequest)
		if !strings.Contains(p.body, "pushed authorization request") {
			t.Errorf("the page does not say why: %.600s", p.body)
		}
	})
	t.Run("public client", func(t *testing.T) {
		got := push(t, e, pushForm("spa", randString(t), randString(t), oauth2.GenerateVerifier()), "", "")
		requestURI(t, got, 300)
	})
	t.Run("refused pushes", func(t *testing.T) {
		form := pushForm("basic-app", randString(t), randString(t), oauth2.GenerateVerifier())
		wantOAuthError(t, push(t, e, form, "", ""), 401, "invalid_client")
		wantOAuthError(t, push(t, e, form, "basic-app", "wrong"), 401, "invalid_client")
		bad := cloneValues(form)
		bad.Set("redirect_uri", "https://evil.example/cb")
		if got := push(t, e, bad, "basic-app", "s3cret-basic"); got.status != 400 {
			t.Errorf("unregistered redirect_uri: %d %s", got.status, got.raw)
		}
		bad = cloneValues(form)
		bad.Set("request_uri", "urn:ietf:params:oauth:request_uri:abc")
		wantOAuthError(t, push(t, e, bad, "basic-app", "s3cret-basic"), 400, "invalid_request")
		bad = cloneValues(form)
		bad.Set("nonce", "short")
		wantOAuthError(t, push(t, e, bad, "basic-app", "s3cret-basic"), 400, "insufficient_entropy")
		bad = cloneValues(form)
		bad.Set("scope", "openid admin")
		wantOAuthError(t, push(t, e, bad, "basic-app", "s3cret-basic"), 400, "invalid_scope")
	})
}

func TestPushedAuthorizationExpiryAndEnforcement(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.extra = "\t\tpar_context_lifespan 1s\n\t\trequire_pushed_authorization_requests"
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["require_pushed_authorization_requests"] != true {
		t.Errorf("require_pushed_authorization_requests = %v", meta["require_pushed_authorization_requests"])
	}
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	t.Run("unpushed request refused", func(t *testing.T) {
		p := newBrowser(t, e.issuer).get(r.config.AuthCodeURL(randString(t)))
		wantErrorPage(t, p, http.StatusBadRequest)
		if !strings.Contains(p.body, "pushed authorization request") {
			t.Errorf("the page does not say why: %.600s", p.body)
		}
	})
	t.Run("expired request_uri", func(t *testing.T) {
		uri := requestURI(t, push(t, e, pushForm("basic-app", randString(t), randString(t), oauth2.GenerateVerifier()), "basic-app", "s3cret-basic"), 1)
		untilExpired(time.Now().Add(time.Second)) // expires_in 1, counted from before the response
		p := newBrowser(t, e.issuer).get(parAuthURL(e, "basic-app", uri))
		wantErrorPage(t, p, http.StatusBadRequest)
		if !strings.Contains(p.body, "invalid_request_uri") {
			t.Errorf("expired: %.400s", p.body)
		}
	})
	t.Run("the user may take longer than the lifespan", func(t *testing.T) {
		state, verifier := randString(t), oauth2.GenerateVerifier()
		uri := requestURI(t, push(t, e, pushForm("basic-app", state, randString(t), verifier), "basic-app", "s3cret-basic"), 1)
		expires := time.Now().Add(time.Second) // expires_in 1
		b := newBrowser(t, e.issuer)
		p := b.get(parAuthURL(e, "basic-app", uri))
		untilExpired(expires)
		p = b.consent(b.login(p, "alice", testPassword), "allow")
		params := callbackParams(t, p, rpCallback)
		if params.Get("state") != state {
			t.Fatalf("callback: %v", params)
		}
		if _, err := r.config.Exchange(ctx(t), params.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange: %v", err)
		}
	})
}
