package caddyoidc_test

// Bad input, end to end on a real Caddy (issue 3): every case asserts the
// error the specs require and, through leakCheck, that Caddy's log holds none
// of the secrets, passwords, codes or tokens the test used.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// leakCheck collects every secret value a test uses. When the test ends it
// fails the test if any of them appears in Caddy's log, raw or URL-encoded.
type leakCheck struct {
	t    *testing.T
	e    *env
	vals map[string]string // value → what it is
}

// newLeakCheck starts collecting; call it after e.start(). The test
// password is always collected.
func newLeakCheck(t *testing.T, e *env) *leakCheck {
	t.Helper()
	l := &leakCheck{t: t, e: e, vals: map[string]string{}}
	l.add("user password", testPassword)
	t.Cleanup(l.check)
	return l
}

// add records secret values; what says what they are in a failure message.
func (l *leakCheck) add(what string, values ...string) {
	for _, v := range values {
		if len(v) < 6 {
			continue // too short to search for without false alarms
		}
		l.vals[v] = what
		l.vals[url.QueryEscape(v)] = what + " (query-escaped)"
		l.vals[url.PathEscape(v)] = what + " (path-escaped)"
	}
}

// tokens records the tokens of a token response.
func (l *leakCheck) tokens(body map[string]any) {
	for _, k := range []string{"access_token", "refresh_token", "id_token"} {
		if s, _ := body[k].(string); s != "" {
			l.add(k, s)
		}
	}
}

// oauth2Token records the tokens of an x/oauth2 token.
func (l *leakCheck) oauth2Token(tok *oauth2.Token) {
	l.add("access_token", tok.AccessToken)
	l.add("refresh_token", tok.RefreshToken)
	if s, _ := tok.Extra("id_token").(string); s != "" {
		l.add("id_token", s)
	}
}

// check scans the log. It also insists the log has the provider's entries,
// so that an empty or misdirected log cannot pass vacuously.
func (l *leakCheck) check() {
	l.t.Helper()
	log := l.e.logText()
	if !strings.Contains(log, "http.handlers.oidc_provider") {
		l.t.Errorf("Caddy's log has no entries of the provider (%d bytes): the leak scan proves nothing", len(log))
	}
	for _, f := range l.findings(log) {
		l.t.Error(f)
	}
}

// findings lists every collected secret found in log, and any panic.
func (l *leakCheck) findings(log string) []string {
	var out []string
	for v, what := range l.vals {
		if i := strings.Index(log, v); i >= 0 {
			start, end := max(0, i-200), min(len(log), i+len(v)+40)
			out = append(out, fmt.Sprintf("Caddy's log contains a %s: …%s…", what, log[start:end]))
		}
	}
	if strings.Contains(log, "panic") {
		out = append(out, "Caddy's log mentions a panic:\n"+log)
	}
	return out
}

// TestLeakCheckFindsSecrets checks the scanner itself, so that the clean
// logs of the other tests mean something.
func TestLeakCheckFindsSecrets(t *testing.T) {
	l := &leakCheck{t: t, vals: map[string]string{}}
	l.add("user password", testPassword)
	l.add("client secret", "s3cret-basic")
	l.add("short", "abc") // too short to search for
	l.tokens(map[string]any{"access_token": "ory_at_AAAA.BBBB", "refresh_token": "ory_rt_CCCC.DDDD", "id_token": "eyJ.eyJ.sig"})
	cases := []struct {
		log  string
		want int
	}{
		{`{"msg":"login succeeded","username":"alice"}`, 0},
		{`{"msg":"x","password":"correct horse battery staple"}`, 1},
		{`{"uri":"/login?password=correct+horse+battery+staple"}`, 1},
		{`{"uri":"/cb?x=correct%20horse%20battery%20staple"}`, 1},
		{`{"secret":"s3cret-basic","token":"ory_rt_CCCC.DDDD"}`, 2},
		{`{"access_token":"ory_at_AAAA.BBBB"}`, 1},
		{`{"id_token":"eyJ.eyJ.sig"}`, 1},
		{`{"msg":"abc"}`, 0},
		{`http: panic serving 127.0.0.1:1234`, 1},
	}
	for _, c := range cases {
		if got := l.findings(c.log); len(got) != c.want {
			t.Errorf("%s: %d findings %q, want %d", c.log, len(got), got, c.want)
		}
	}
}

// authQuery is an authorization request for client with sensible defaults;
// kv overrides them pairwise, an empty value deleting the parameter.
func authQuery(t *testing.T, client string, kv ...string) url.Values {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {client},
		"redirect_uri":  {rpCallback},
		"scope":         {"openid profile email groups offline_access"},
		"state":         {randString(t)},
		"nonce":         {randString(t)},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

func (e *env) authURL(q url.Values) string {
	return e.issuer + "/api/oidc/authorization?" + q.Encode()
}

// tokenResp is a raw token endpoint response.
type tokenResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r tokenResp) str(k string) string { s, _ := r.body[k].(string); return s }

// tokenCall posts form to the token endpoint, with HTTP Basic when user is
// set (RFC 6749 2.3.1 encoding), and extra headers.
func tokenCall(t *testing.T, e *env, method string, body io.Reader, contentType, user, pass string) tokenResp {
	t.Helper()
	req, _ := http.NewRequest(method, e.issuer+"/api/oidc/token", body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	r := tokenResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = jsonUnmarshal(raw, &r.body)
	return r
}

// clientToken authenticates as a standard client the way it is registered:
// post-app in the body, spa by client_id only, the others with HTTP Basic.
func clientToken(t *testing.T, e *env, client, secret string, form url.Values) tokenResp {
	t.Helper()
	form = cloneValues(form)
	switch client {
	case "post-app", "spa":
		form.Set("client_id", client)
		if secret != "" {
			form.Set("client_secret", secret)
		}
		return tokenCall(t, e, http.MethodPost, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", "", "")
	default:
		return tokenCall(t, e, http.MethodPost, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", client, secret)
	}
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func codeForm(code string, kv ...string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// wantTokenError asserts an OAuth error response (RFC 6749 5.2).
func wantTokenError(t *testing.T, r tokenResp, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %q (%.300s), want %d %s", r.status, r.str("error"), r.raw, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want JSON", ct)
	}
	if r.str("access_token") != "" {
		t.Error("an error response carries an access token")
	}
}

// wantErrorRedirect asserts an OAuth error redirect to the client
// (RFC 6749 4.1.2.1) with iss (RFC 9207) and the request's state.
func wantErrorRedirect(t *testing.T, e *env, p page, code, state string) url.Values {
	t.Helper()
	q := callbackParams(t, p, rpCallback)
	if q.Get("error") != code {
		t.Errorf("error = %q (%s), want %s", q.Get("error"), q.Get("error_description"), code)
	}
	if q.Get("iss") != e.issuer {
		t.Errorf("iss = %q, want %q (RFC 9207)", q.Get("iss"), e.issuer)
	}
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	if q.Get("code") != "" {
		t.Error("an error redirect carries a code")
	}
	return q
}

// wantErrorPage asserts the readable error page: no redirect anywhere.
func wantErrorPage(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Errorf("status = %d, want %d: %.300s", p.status, status, p.body)
	}
	if p.location != "" {
		t.Errorf("redirected to %q, want an error page and no redirect", p.location)
	}
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q, want an HTML page", ct)
	}
	if !strings.Contains(p.body, "<h1>") {
		t.Errorf("not a readable page: %.300s", p.body)
	}
}

// codeFor runs a full login and consent in b and returns the code.
func codeFor(t *testing.T, e *env, b *browser, q url.Values, user string) string {
	t.Helper()
	p := b.get(e.authURL(q))
	if strings.Contains(p.body, `name="password"`) {
		p = b.login(p, user, testPassword)
	}
	params := callbackParams(t, b.consent(p, "allow"), rpCallback)
	if params.Get("state") != q.Get("state") || params.Get("code") == "" {
		t.Fatalf("callback %v for state %q", params, q.Get("state"))
	}
	return params.Get("code")
}

// tokensFor logs user in to basic-app in b and exchanges the code.
func tokensFor(t *testing.T, e *env, l *leakCheck, b *browser, user string) tokenResp {
	t.Helper()
	code := codeFor(t, e, b, authQuery(t, "basic-app"), user)
	l.add("authorization code", code)
	r := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
	if r.status != 200 || r.str("access_token") == "" || r.str("refresh_token") == "" {
		t.Fatalf("code exchange: %d %.300s", r.status, r.raw)
	}
	l.tokens(r.body)
	return r
}

// userinfoCall calls userinfo with a bearer header and/or a form body.
func userinfoCall(t *testing.T, e *env, method, header string, form url.Values) tokenResp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.issuer+"/api/oidc/userinfo", body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if header != "" {
		req.Header.Set("Authorization", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	r := tokenResp{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = jsonUnmarshal(raw, &r.body)
	return r
}

// sessionCookie returns the browser's login session cookie, "" if none.
func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.issuer + "/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "caddy_oidc_session" {
			return c.Value
		}
	}
	return ""
}

func TestUntrustedAuthorizationRequests(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	newLeakCheck(t, e)
	const jelly = "https://requests.example.com/login?provider=caddy&callback=true"
	cases := []struct {
		name, client, redirect string
	}{
		{"unknown client_id", "no-such-app", rpCallback},
		{"empty client_id", "", rpCallback},
		{"unregistered redirect_uri", "basic-app", "https://evil.example/callback"},
		{"upper-case path", "basic-app", "http://127.0.0.1:4180/OAUTH2/callback"},
		{"trailing slash", "basic-app", rpCallback + "/"},
		{"extra query parameter", "basic-app", rpCallback + "?next=/admin"},
		{"query of a registered URI extended", "any-method-app", jelly + "&x=1"},
		{"query of a registered URI reordered", "any-method-app", "https://requests.example.com/login?callback=true&provider=caddy"},
		{"host case changed", "any-method-app", "https://Requests.example.com/login?provider=caddy&callback=true"},
		{"custom scheme case changed", "any-method-app", "App.Immich:///oauth-callback"},
		{"custom scheme with a fragment", "any-method-app", "app.immich:///oauth-callback#x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e.issuer)
			q := authQuery(t, tc.client, "redirect_uri", tc.redirect, "scope", "openid")
			if tc.client == "" {
				q.Del("client_id")
			}
			wantErrorPage(t, b.get(e.authURL(q)), http.StatusBadRequest)
		})
	}
	// Controls: the registered URIs, byte for byte, do redirect.
	for _, redirect := range []string{jelly, "app.immich:///oauth-callback"} {
		b := newBrowser(t, e.issuer)
		q := authQuery(t, "any-method-app", "redirect_uri", redirect, "prompt", "none")
		p := b.get(e.authURL(q))
		if p.status != http.StatusSeeOther && p.status != http.StatusFound || !strings.HasPrefix(p.location, redirect[:20]) {
			t.Errorf("registered %s: got %d %q, want a redirect to it", redirect, p.status, p.location)
		}
	}
}

func TestTokenEndpointClientAuthentication(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic", "insecure_secret", "plain-any", "wrong-secret-123")
	form := codeForm("not-a-real-code-0123456789")
	post := func(client, secret string) tokenResp {
		f := cloneValues(form)
		f.Set("client_id", client)
		f.Set("client_secret", secret)
		return tokenCall(t, e, http.MethodPost, strings.NewReader(f.Encode()), "application/x-www-form-urlencoded", "", "")
	}
	basic := func(client, secret string) tokenResp {
		return tokenCall(t, e, http.MethodPost, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", client, secret)
	}
	cases := []struct {
		name      string
		r         func() tokenResp
		viaHeader bool
		hint      []string // words error_description must contain
	}{
		{"wrong secret, basic", func() tokenResp { return basic("basic-app", "wrong-secret-123") }, true, nil},
		{"wrong secret, post", func() tokenResp { return post("post-app", "wrong-secret-123") }, false, nil},
		{"wrong secret, unset method, basic", func() tokenResp { return basic("any-method-app", "wrong-secret-123") }, true, nil},
		{"wrong secret, unset method, post", func() tokenResp { return post("any-method-app", "wrong-secret-123") }, false, nil},
		{"unknown client, basic", func() tokenResp { return basic("no-such-app", "wrong-secret-123") }, true, nil},
		{"unknown client, post", func() tokenResp { return post("no-such-app", "wrong-secret-123") }, false, nil},
		{"post client using basic", func() tokenResp { return basic("post-app", "insecure_secret") }, true, []string{"client_secret_post", "client_secret_basic"}},
		{"basic client using post", func() tokenResp { return post("basic-app", "s3cret-basic") }, false, []string{"client_secret_post", "client_secret_basic"}},
		{"confidential client without a secret", func() tokenResp {
			f := cloneValues(form)
			f.Set("client_id", "basic-app")
			return tokenCall(t, e, http.MethodPost, strings.NewReader(f.Encode()), "application/x-www-form-urlencoded", "", "")
		}, false, []string{"client_secret_basic"}},
		{"public client with a secret", func() tokenResp { return post("spa", "wrong-secret-123") }, false, []string{"none"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r()
			wantTokenError(t, r, http.StatusUnauthorized, "invalid_client")
			desc := r.str("error_description")
			for _, w := range tc.hint {
				if !strings.Contains(desc, w) {
					t.Errorf("error_description %q does not name %s", desc, w)
				}
			}
			// RFC 6749 5.2: a client that authenticated with the
			// Authorization header gets 401 and a WWW-Authenticate challenge
			// of the scheme it used.
			if wa := r.header.Get("WWW-Authenticate"); tc.viaHeader && !strings.HasPrefix(wa, "Basic") {
				t.Errorf("WWW-Authenticate = %q, want a Basic challenge", wa)
			}
		})
	}
}

func TestAuthorizationCodeReuseRevokesTokens(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	b := newBrowser(t, e.issuer)
	code := codeFor(t, e, b, authQuery(t, "basic-app"), "alice")
	l.add("authorization code", code)
	first := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
	if first.status != 200 {
		t.Fatalf("first exchange: %d %s", first.status, first.raw)
	}
	l.tokens(first.body)
	if r := userinfoCall(t, e, http.MethodGet, "Bearer "+first.str("access_token"), nil); r.status != 200 {
		t.Fatalf("userinfo before the reuse: %d %s", r.status, r.raw)
	}

	second := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
	wantTokenError(t, second, http.StatusBadRequest, "invalid_grant")

	r := userinfoCall(t, e, http.MethodGet, "Bearer "+first.str("access_token"), nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo with the access token of a reused code: %d %q, want 401 invalid_token", r.status, r.header.Get("WWW-Authenticate"))
	}
	wantTokenError(t, clientToken(t, e, "basic-app", "s3cret-basic", refreshForm(first.str("refresh_token"))), http.StatusBadRequest, "invalid_grant")
}

func TestPKCEErrors(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	verifier := oauth2.GenerateVerifier()
	other := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	cases := []struct {
		name, client, secret string
		exchangeVerifier     string // "" sends none
		ok                   bool
	}{
		{"public, right verifier", "spa", "", verifier, true},
		{"public, wrong verifier", "spa", "", other, false},
		{"public, no verifier", "spa", "", "", false},
		{"public, the challenge as verifier", "spa", "", challenge, false},
		{"confidential, wrong verifier", "basic-app", "s3cret-basic", other, false},
		{"confidential, no verifier", "basic-app", "s3cret-basic", "", false},
	}
	b := newBrowser(t, e.issuer)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := authQuery(t, tc.client, "scope", "openid profile offline_access",
				"code_challenge", challenge, "code_challenge_method", "S256")
			code := codeFor(t, e, b, q, "alice")
			l.add("authorization code", code)
			f := codeForm(code)
			if tc.exchangeVerifier != "" {
				f.Set("code_verifier", tc.exchangeVerifier)
			}
			r := clientToken(t, e, tc.client, tc.secret, f)
			l.tokens(r.body)
			if tc.ok {
				if r.status != 200 {
					t.Fatalf("control exchange failed: %d %s", r.status, r.raw)
				}
				return
			}
			wantTokenError(t, r, http.StatusBadRequest, "invalid_grant")
			// A failed check retires the code: neither no verifier (fosite
			// would find no challenge left, a downgrade for a client that
			// need not use PKCE) nor the right one exchanges it afterwards.
			for _, again := range []string{"", verifier} {
				f := codeForm(code)
				if again != "" {
					f.Set("code_verifier", again)
				}
				r := clientToken(t, e, tc.client, tc.secret, f)
				l.tokens(r.body)
				wantTokenError(t, r, http.StatusBadRequest, "invalid_grant")
			}
		})
	}

	// A public client must send PKCE: the error goes to the client, with
	// iss, before any login or consent page (with or without a session).
	for _, br := range []struct {
		name string
		b    *browser
	}{{"signed in", b}, {"signed out", newBrowser(t, e.issuer)}} {
		t.Run("public without PKCE, "+br.name, func(t *testing.T) {
			q := authQuery(t, "spa", "scope", "openid profile")
			q2 := wantErrorRedirect(t, e, br.b.get(e.authURL(q)), "invalid_request", q.Get("state"))
			if !strings.Contains(strings.ToLower(q2.Get("error_description")), "code_challenge") {
				t.Errorf("error_description %q does not mention code_challenge", q2.Get("error_description"))
			}
		})
		for _, method := range []string{"plain", "", "S512"} {
			t.Run("method "+method+" refused, "+br.name, func(t *testing.T) {
				q := authQuery(t, "spa", "scope", "openid profile", "code_challenge", verifier, "code_challenge_method", method)
				wantErrorRedirect(t, e, br.b.get(e.authURL(q)), "invalid_request", q.Get("state"))
			})
		}
	}
}

func TestExpiredAuthorizationCode(t *testing.T) {
	e := newEnv(t, standardClients)
	e.extra = "authorize_code_lifespan 1s"
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	b := newBrowser(t, e.issuer)

	fresh := codeFor(t, e, b, authQuery(t, "basic-app"), "alice")
	stale := codeFor(t, e, b, authQuery(t, "basic-app"), "alice")
	staleExpires := time.Now().Add(time.Second) // issued before now, for 1s
	l.add("authorization code", fresh, stale)
	r := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(fresh))
	if r.status != 200 {
		t.Fatalf("control: a fresh code fails: %d %s", r.status, r.raw)
	}
	l.tokens(r.body)
	untilExpired(staleExpires) // fosite checks code expiry with the system clock
	r = clientToken(t, e, "basic-app", "s3cret-basic", codeForm(stale))
	l.tokens(r.body)
	wantTokenError(t, r, http.StatusBadRequest, "invalid_grant")
}

func TestStateAndNonce(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	b := newBrowser(t, e.issuer)
	// The errors come before any login: a fresh browser gets them.
	cases := []struct {
		name, param, value, wantErr string
	}{
		{"missing state", "state", "", "invalid_state"},
		{"short state", "state", "1234567", "invalid_state"},
		{"short nonce", "nonce", "1234567", "insufficient_entropy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := authQuery(t, "basic-app", tc.param, tc.value)
			wantErrorRedirect(t, e, newBrowser(t, e.issuer).get(e.authURL(q)), tc.wantErr, q.Get("state"))
		})
	}
	// Exactly the minimum length is enough.
	t.Run("8-character state and nonce", func(t *testing.T) {
		q := authQuery(t, "basic-app", "state", "12345678", "nonce", "abcdefgh")
		p := newBrowser(t, e.issuer).get(e.authURL(q))
		if p.status != 200 || !strings.Contains(p.body, `name="password"`) {
			t.Errorf("got %d %q, want the login page", p.status, p.location)
		}
	})
	// Jellyseerr sends no nonce: the code flow works and the ID token has none.
	t.Run("no nonce", func(t *testing.T) {
		code := codeFor(t, e, b, authQuery(t, "basic-app", "nonce", ""), "alice")
		l.add("authorization code", code)
		r := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
		if r.status != 200 {
			t.Fatalf("exchange without nonce: %d %s", r.status, r.raw)
		}
		l.tokens(r.body)
		if n, ok := jwtClaims(t, r.str("id_token"))["nonce"]; ok {
			t.Errorf("ID token has nonce %v though none was sent", n)
		}
	})
}

var loginErrorRE = regexp.MustCompile(`<div class="alert"[^>]*>([^<]*)</div>`)

func TestLoginFailuresAreIndistinguishable(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("wrong password", "wrong-password-123")
	b := newBrowser(t, e.issuer)
	q := authQuery(t, "basic-app")
	attempt := func(user, pw string) (page, string) {
		p := b.login(b.get(e.authURL(q)), user, pw)
		// The page echoes the username; everything else must be identical.
		return p, strings.ReplaceAll(p.body, `value="`+user+`"`, `value="USER"`)
	}
	wrong, wrongBody := attempt("alice", "wrong-password-123")
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, `name="password"`) {
		t.Fatalf("wrong password: %d, want the login page again with 401", wrong.status)
	}
	m := loginErrorRE.FindStringSubmatch(wrong.body)
	if m == nil || !strings.Contains(m[1], "Incorrect username or password") {
		t.Fatalf("wrong password: no generic error message on the page: %.500s", wrong.body)
	}
	for _, c := range []struct{ name, user, pw string }{
		{"disabled user, right password", "carol", testPassword},
		{"disabled user, wrong password", "carol", "wrong-password-123"},
		{"unknown user", "mallory", testPassword},
		{"unknown user, wrong password", "mallory", "wrong-password-123"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, body := attempt(c.user, c.pw)
			if p.status != wrong.status || body != wrongBody {
				t.Errorf("differs from a wrong password: status %d vs %d\n%s\nvs\n%s", p.status, wrong.status, body, wrongBody)
			}
		})
	}
	if b.sessionCookie() != "" {
		t.Error("a failed login set a session cookie")
	}
	// Control: the right password signs in.
	if p := b.login(b.get(e.authURL(q)), "alice", testPassword); !strings.Contains(p.body, `name="decision"`) {
		t.Errorf("right password: got %d, want the consent page", p.status)
	}
}

func TestUserDisabledAfterLogin(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	alice, bob := newBrowser(t, e.issuer), newBrowser(t, e.issuer)
	aliceTok := tokensFor(t, e, l, alice, "alice")
	bobTok := tokensFor(t, e, l, bob, "bob")

	e.writeUsers(map[string]string{"alice": "disabled", "bob": "", "carol": "disabled"})
	deadline := time.Now().Add(5 * time.Second)
	var r tokenResp
	for {
		r = userinfoCall(t, e, http.MethodGet, "Bearer "+aliceTok.str("access_token"), nil)
		if r.status != 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo of a disabled user: %d %q, want 401 invalid_token", r.status, r.header.Get("WWW-Authenticate"))
	}
	wantTokenError(t, clientToken(t, e, "basic-app", "s3cret-basic", refreshForm(aliceTok.str("refresh_token"))), http.StatusBadRequest, "invalid_grant")
	// Her login session no longer counts.
	if p := alice.get(e.authURL(authQuery(t, "basic-app"))); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("a disabled user's session still signs in: %d %q", p.status, p.location)
	}
	// Control: bob is unaffected.
	if r := userinfoCall(t, e, http.MethodGet, "Bearer "+bobTok.str("access_token"), nil); r.status != 200 {
		t.Errorf("bob's userinfo: %d %s", r.status, r.raw)
	}
	r = clientToken(t, e, "basic-app", "s3cret-basic", refreshForm(bobTok.str("refresh_token")))
	l.tokens(r.body)
	if r.status != 200 {
		t.Errorf("bob's refresh: %d %s", r.status, r.raw)
	}
}

func TestConsentDeniedAndPrompt(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	// signedIn is a browser where alice signed in and consented to nothing:
	// she left the consent page (or denied it).
	signedIn := func(t *testing.T) *browser {
		b := newBrowser(t, e.issuer)
		if p := b.login(b.get(e.authURL(authQuery(t, "basic-app"))), "alice", testPassword); !strings.Contains(p.body, `name="decision"`) {
			t.Fatalf("sign-in: got %d, want the consent page", p.status)
		}
		return b
	}

	t.Run("prompt=none without a session", func(t *testing.T) {
		q := authQuery(t, "basic-app", "prompt", "none")
		wantErrorRedirect(t, e, newBrowser(t, e.issuer).get(e.authURL(q)), "login_required", q.Get("state"))
	})
	t.Run("consent denied", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		q := authQuery(t, "basic-app")
		p := b.consent(b.login(b.get(e.authURL(q)), "alice", testPassword), "deny")
		wantErrorRedirect(t, e, p, "access_denied", q.Get("state"))
	})
	t.Run("prompt=none with a session, no consent", func(t *testing.T) {
		q := authQuery(t, "basic-app", "prompt", "none")
		wantErrorRedirect(t, e, signedIn(t).get(e.authURL(q)), "consent_required", q.Get("state"))
	})
	t.Run("prompt=none combined", func(t *testing.T) {
		q := authQuery(t, "basic-app", "prompt", "none login")
		p := signedIn(t).get(e.authURL(q))
		if q2 := callbackParams(t, p, rpCallback); q2.Get("error") == "" || q2.Get("iss") != e.issuer {
			t.Errorf("prompt='none login': %v, want an OAuth error with iss", q2)
		}
	})
	t.Run("prompt=login with a session", func(t *testing.T) {
		b := signedIn(t)
		code := codeFor(t, e, b, authQuery(t, "basic-app"), "alice")
		r := clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
		l.add("authorization code", code)
		l.tokens(r.body)
		firstAuth := int64(as[float64](t, jwtClaims(t, r.str("id_token"))["auth_time"]))
		// Move the provider to a later second, so a stale auth_time cannot pass.
		advanceClock(t, time.Second)
		before := caddyoidc.Now().Truncate(time.Second).Unix()
		if before <= firstAuth {
			t.Fatalf("test clock: %d <= %d", before, firstAuth)
		}

		q := authQuery(t, "basic-app", "prompt", "login")
		p := b.get(e.authURL(q))
		if p.status != 200 || !strings.Contains(p.body, `name="password"`) {
			t.Fatalf("prompt=login with a session: %d, want the login page", p.status)
		}
		p = b.consent(b.login(p, "alice", testPassword), "allow")
		code = callbackParams(t, p, rpCallback).Get("code")
		r = clientToken(t, e, "basic-app", "s3cret-basic", codeForm(code))
		l.add("authorization code", code)
		l.tokens(r.body)
		if r.status != 200 {
			t.Fatalf("exchange: %d %s", r.status, r.raw)
		}
		if at := int64(as[float64](t, jwtClaims(t, r.str("id_token"))["auth_time"])); at < before {
			t.Errorf("auth_time %d after prompt=login is older than the second login (%d)", at, before)
		}
	})
}

func TestCSRFAndReturnTo(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	newLeakCheck(t, e)
	q := authQuery(t, "basic-app")
	loginPage := func(b *browser) page {
		p := b.get(e.authURL(q))
		if !strings.Contains(p.body, `name="csrf_token"`) {
			t.Fatalf("no login form: %d", p.status)
		}
		return p
	}
	postForm := func(b *browser, action string, form url.Values, origin string) page {
		req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return b.do(req)
	}
	credentials := func(p page) url.Values {
		f := p.formFields()
		f.Set("username", "alice")
		f.Set("password", testPassword)
		return f
	}
	other := loginPage(newBrowser(t, e.issuer)).formFields().Get("csrf_token")

	cases := []struct {
		name   string
		edit   func(url.Values)
		origin string
		status int
	}{
		// Refused before the credentials are looked at: no session.
		{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }, "", http.StatusForbidden},
		{"wrong csrf_token", func(f url.Values) { f.Set("csrf_token", "AAAA"+f.Get("csrf_token")[4:]) }, "", http.StatusForbidden},
		{"another browser's csrf_token", func(f url.Values) { f.Set("csrf_token", other) }, "", http.StatusForbidden},
		{"foreign Origin", func(url.Values) {}, "https://evil.example", http.StatusForbidden},
		{"issuer's host on another port", func(url.Values) {}, "http://127.0.0.1:1", http.StatusForbidden},
		{"return_to absolute elsewhere", func(f url.Values) { f.Set("return_to", "https://evil.example/") }, "", http.StatusBadRequest},
		{"return_to scheme-relative", func(f url.Values) { f.Set("return_to", "//evil.example") }, "", http.StatusBadRequest},
		{"return_to backslash", func(f url.Values) { f.Set("return_to", `/\evil.example`) }, "", http.StatusBadRequest},
		{"return_to dot-dot", func(f url.Values) { f.Set("return_to", "/api/oidc/authorization/../x") }, "", http.StatusBadRequest},
		{"return_to other page", func(f url.Values) { f.Set("return_to", "/logout") }, "", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, e.issuer)
			p := loginPage(b)
			f := credentials(p)
			tc.edit(f)
			got := postForm(b, p.formAction(e.issuer), f, tc.origin)
			wantErrorPage(t, got, tc.status)
			if strings.Contains(got.header.Get("Set-Cookie"), "caddy_oidc_session=") || b.sessionCookie() != "" {
				t.Error("a refused login form set a session cookie")
			}
		})
	}
	t.Run("consent form", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		consent := b.login(loginPage(b), "alice", testPassword)
		action := consent.formAction(e.issuer)
		for _, c := range []struct {
			name   string
			edit   func(url.Values)
			origin string
			status int
		}{
			{"no csrf_token", func(f url.Values) { f.Del("csrf_token") }, "", http.StatusForbidden},
			{"foreign Origin", func(url.Values) {}, "https://evil.example", http.StatusForbidden},
			{"return_to elsewhere", func(f url.Values) { f.Set("return_to", "https://evil.example/") }, "", http.StatusBadRequest},
			{"return_to scheme-relative", func(f url.Values) { f.Set("return_to", "//evil.example/api/oidc/authorization") }, "", http.StatusBadRequest},
		} {
			f := consent.formFields()
			f.Set("decision", "allow")
			c.edit(f)
			got := postForm(b, action, f, c.origin)
			if got.status != c.status || got.location != "" {
				t.Errorf("%s: got %d %q, want %d and no redirect", c.name, got.status, got.location, c.status)
			}
		}
	})
	// Control: the untouched form with a same-origin Origin goes through.
	t.Run("control", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		p := loginPage(b)
		got := postForm(b, p.formAction(e.issuer), credentials(p), e.issuer)
		if got.status != 200 || !strings.Contains(got.body, `name="decision"`) || b.sessionCookie() == "" {
			t.Fatalf("valid login form: %d, want the consent page and a session", got.status)
		}
		f := got.formFields()
		f.Set("decision", "allow")
		callbackParams(t, postForm(b, got.formAction(e.issuer), f, e.issuer), rpCallback)
	})
	// return_to naming our endpoint with an unregistered redirect URI: the
	// login itself is genuine, but the browser goes nowhere.
	t.Run("return_to with unregistered redirect_uri", func(t *testing.T) {
		b := newBrowser(t, e.issuer)
		p := loginPage(b)
		f := credentials(p)
		f.Set("return_to", "/api/oidc/authorization?"+authQuery(t, "basic-app", "redirect_uri", "https://evil.example/cb").Encode())
		wantErrorPage(t, postForm(b, p.formAction(e.issuer), f, ""), http.StatusBadRequest)
	})
}

func TestUserinfoErrors(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	tok := tokensFor(t, e, l, newBrowser(t, e.issuer), "alice").str("access_token")
	bearer := "Bearer " + tok

	r := userinfoCall(t, e, http.MethodGet, "", nil)
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q, want 401 with a Bearer challenge", r.status, r.header.Get("WWW-Authenticate"))
	}
	if strings.Contains(r.header.Get("WWW-Authenticate"), "error=") {
		t.Errorf("no token: challenge %q has an error code (RFC 6750 3.1: none without credentials)", r.header.Get("WWW-Authenticate"))
	}
	for _, garbage := range []string{"Bearer garbage", "Bearer ory_at_x.y", "Bearer " + tok + "x", "Bearer " + strings.Repeat("A", 8000)} {
		r = userinfoCall(t, e, http.MethodGet, garbage, nil)
		if r.status != http.StatusUnauthorized || r.str("error") != "invalid_token" || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%.30s: %d %q %q, want 401 invalid_token", garbage, r.status, r.str("error"), r.header.Get("WWW-Authenticate"))
		}
	}
	if r = userinfoCall(t, e, http.MethodPost, "", url.Values{"access_token": {tok}}); r.status != 200 || r.str("sub") == "" {
		t.Errorf("POST with a form access_token: %d %s", r.status, r.raw)
	}
	if r = userinfoCall(t, e, http.MethodPost, bearer, nil); r.status != 200 {
		t.Errorf("POST with a bearer header: %d %s", r.status, r.raw)
	}
	r = userinfoCall(t, e, http.MethodPost, bearer, url.Values{"access_token": {tok}})
	if r.status != http.StatusBadRequest || r.str("error") != "invalid_request" {
		t.Errorf("token in header and body: %d %q, want 400 invalid_request", r.status, r.str("error"))
	}
	if r = userinfoCall(t, e, http.MethodGet, "Basic "+tok, nil); r.status/100 != 4 {
		t.Errorf("Basic scheme: %d, want 4xx", r.status)
	}
	if r = userinfoCall(t, e, http.MethodDelete, bearer, nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d, want 405", r.status)
	}
	// A huge body: refused, not a crash.
	r = userinfoCall(t, e, http.MethodPost, "", url.Values{"access_token": {tok}, "pad": {strings.Repeat("x", 2<<20)}})
	if r.status/100 != 4 {
		t.Errorf("2 MB body: %d, want 4xx", r.status)
	}
}

func TestMalformedRequests(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")
	big := strings.Repeat("s", 1<<20)
	form := func(kv ...string) io.Reader {
		f := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return strings.NewReader(f.Encode())
	}
	const formCT = "application/x-www-form-urlencoded"
	type call struct {
		name        string
		method      string
		body        io.Reader
		ct          string
		user, pass  string
		wantStatus  int    // 0: any 4xx
		wantErrCode string // "" : any non-empty OAuth error
	}
	calls := []call{
		{"GET", http.MethodGet, nil, "", "", "", 0, "invalid_request"},
		{"PUT", http.MethodPut, form("grant_type", "authorization_code"), formCT, "basic-app", "s3cret-basic", 0, ""},
		{"empty body", http.MethodPost, nil, formCT, "basic-app", "s3cret-basic", 400, "invalid_request"},
		{"JSON body", http.MethodPost, strings.NewReader(`{"grant_type":"authorization_code","code":"x"}`), "application/json", "basic-app", "s3cret-basic", 400, "invalid_request"},
		{"bad percent-encoding", http.MethodPost, strings.NewReader("grant_type=authorization_code&code=%zz"), formCT, "basic-app", "s3cret-basic", 400, ""},
		{"bad multipart", http.MethodPost, strings.NewReader("--x\r\ngarbage"), "multipart/form-data; boundary=x", "basic-app", "s3cret-basic", 400, ""},
		{"unsupported grant_type", http.MethodPost, form("grant_type", "password", "username", "alice", "password", testPassword), formCT, "basic-app", "s3cret-basic", 400, ""},
		{"client_credentials", http.MethodPost, form("grant_type", "client_credentials"), formCT, "basic-app", "s3cret-basic", 400, ""},
		{"1 MB code", http.MethodPost, form("grant_type", "authorization_code", "code", big, "redirect_uri", rpCallback), formCT, "basic-app", "s3cret-basic", 400, "invalid_request"},
		{"1 MB refresh token", http.MethodPost, form("grant_type", "refresh_token", "refresh_token", big), formCT, "basic-app", "s3cret-basic", 400, "invalid_request"},
		{"1 MB client_id", http.MethodPost, form("grant_type", "authorization_code", "code", "x", "client_id", big, "client_secret", "x"), formCT, "", "", 400, "invalid_request"},
		{"11 MB body", http.MethodPost, form("grant_type", "authorization_code", "pad", strings.Repeat("p", 11<<20)), formCT, "basic-app", "s3cret-basic", 0, ""},
		{"both basic and post", http.MethodPost, form("grant_type", "authorization_code", "code", "x", "client_secret", "s3cret-basic"), formCT, "basic-app", "s3cret-basic", 400, "invalid_request"},
	}
	for _, c := range calls {
		t.Run("token "+c.name, func(t *testing.T) {
			r := tokenCall(t, e, c.method, c.body, c.ct, c.user, c.pass)
			if r.status/100 != 4 || (c.wantStatus != 0 && r.status != c.wantStatus) {
				t.Errorf("status %d (%.200s), want %d/4xx", r.status, r.raw, c.wantStatus)
			}
			if r.str("error") == "" || (c.wantErrCode != "" && r.str("error") != c.wantErrCode) {
				t.Errorf("error %q (%.200s), want %q", r.str("error"), r.raw, c.wantErrCode)
			}
		})
	}
	rawAuth := func(t *testing.T, header string) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/token", form("grant_type", "authorization_code", "code", "x"))
		req.Header.Set("Content-Type", formCT)
		req.Header.Set("Authorization", header)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		if resp.StatusCode/100 != 4 {
			t.Errorf("Authorization %q: %d, want 4xx", header, resp.StatusCode)
		}
	}
	for _, h := range []string{"Basic !!!not-base64", "Basic " + "Zm9v", "Basic ", "Bearer x", "Basic " + strings.Repeat("QUFB", 4000)} {
		t.Run("token Authorization "+h[:min(len(h), 14)], func(t *testing.T) { rawAuth(t, h) })
	}

	// The authorization endpoint: a 1 MB state never crashes, whether in the
	// URL (too long for a request line) or in a POST body.
	b := newBrowser(t, e.issuer)
	if p := b.get(e.authURL(authQuery(t, "basic-app", "state", big))); p.status/100 != 4 {
		t.Errorf("1 MB state in the URL: %d, want 4xx", p.status)
	}
	p := b.post(e.issuer+"/api/oidc/authorization", authQuery(t, "basic-app", "state", big))
	if p.status >= 500 || p.location != "" && !strings.HasPrefix(p.location, rpCallback) {
		t.Errorf("1 MB state in a POST: %d %.100q", p.status, p.location)
	}
	for name, raw := range map[string]string{
		"bad percent-encoding": "/api/oidc/authorization?client_id=basic-app&state=%zz",
		"no parameters":        "/api/oidc/authorization",
		"repeated client_id":   "/api/oidc/authorization?client_id=basic-app&client_id=post-app&redirect_uri=" + url.QueryEscape(rpCallback),
		"login GET bad return": "/login?return_to=%zz",
		"consent GET":          "/consent",
		"logout PUT":           "/logout",
	} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+raw, nil)
		if name == "logout PUT" {
			req.Method = http.MethodPut
		}
		// An error page, or an error redirect to basic-app's only registered URI.
		if p := b.do(req); p.status >= 500 || p.location != "" && !strings.HasPrefix(p.location, rpCallback+"?error=") {
			t.Errorf("%s: %d %q", name, p.status, p.location)
		}
	}
	// A 1 MB username on the login form: refused while reading the form
	// (bodies are capped), with a page saying so rather than a CSRF error.
	lp := b.get(e.authURL(authQuery(t, "basic-app")))
	if p := b.login(lp, big, "x"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "could not be read") {
		t.Errorf("1 MB username: %d, want 400 and the form error page", p.status)
	}
	// A long but sane username is the ordinary failure.
	if p := b.login(lp, strings.Repeat("u", 4096), "x"); p.status != http.StatusUnauthorized {
		t.Errorf("4 KB username: %d, want 401", p.status)
	}
	// Still serving.
	if p := b.get(e.issuer + "/.well-known/openid-configuration"); p.status != 200 {
		t.Errorf("discovery after the bad requests: %d", p.status)
	}
}

// jsonUnmarshal is json.Unmarshal that tolerates an empty body.
func jsonUnmarshal(b []byte, v any) error {
	if len(strings.TrimSpace(string(b))) == 0 {
		return fmt.Errorf("empty body")
	}
	return json.Unmarshal(b, v)
}
