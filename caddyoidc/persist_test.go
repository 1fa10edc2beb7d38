package caddyoidc_test

// State that must outlive a restart and a config reload (issue 3): keys,
// refresh tokens, access tokens and login sessions.

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"golang.org/x/oauth2"
)

// jwksKeys returns the JWKS's keys by kid, and the raw document.
func jwksKeys(t *testing.T, e *env) (map[string]string, string) {
	t.Helper()
	resp, err := http.Get(e.issuer + "/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("jwks: %v", err)
	}
	keys := map[string]string{}
	for _, k := range set.Keys {
		var h struct {
			Kid string `json:"kid"`
		}
		_ = json.Unmarshal(k, &h)
		keys[h.Kid] = string(k)
	}
	if len(keys) < 2 {
		t.Fatalf("jwks has %d keys: %s", len(keys), raw)
	}
	return keys, string(raw)
}

// reload loads e's current Caddyfile into the running Caddy. The old
// server's graceful shutdown closes idle keep-alive connections, so the test
// client drops its own: a POST (not retried by net/http) on a connection the
// server just closed would fail with a reset that no real app would blame on
// the provider.
//
// Caddy's Stop returns once the old servers' shutdowns have started; they
// close idle connections moments later, in goroutines. Give them that moment
// before dropping the client's pool, or a pooled connection may be closed by
// the server after the client let go of the others.
func reload(t *testing.T, e *env) error {
	t.Helper()
	err := e.load()
	time.Sleep(250 * time.Millisecond)
	http.DefaultClient.CloseIdleConnections()
	return err
}

// refreshWith refreshes through x/oauth2 as a real app does.
func refreshWith(t *testing.T, r *rp, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	expired := &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Now().Add(-time.Minute)}
	return r.config.TokenSource(ctx(t), expired).Token()
}

// wantConsentNotLogin asserts that the browser's session is honoured: an
// authorization request goes straight to the consent page.
func wantConsentNotLogin(t *testing.T, b *browser, authURL string) page {
	t.Helper()
	p := b.get(authURL)
	if p.status != 200 || !strings.Contains(p.body, `name="decision"`) || strings.Contains(p.body, `name="password"`) {
		t.Fatalf("login session not honoured: %d %.200q, want the consent page", p.status, p.location)
	}
	return p
}

func TestRestartKeepsKeysTokensAndSessions(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic")

	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	params := loginFlow(t, b, r.config.AuthCodeURL(randString(t), oidc.Nonce(randString(t))), "alice")
	l.add("authorization code", params.Get("code"))
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	l.oauth2Token(tok)
	rawID, _ := tok.Extra("id_token").(string)
	before, beforeRaw := jwksKeys(t, e)
	session := b.sessionCookie()

	e.stop()
	http.DefaultClient.CloseIdleConnections()
	if resp, err := http.Get(e.issuer + "/.well-known/openid-configuration"); err == nil {
		closeBody(resp)
		t.Fatal("the provider still answers after stop: this is no restart")
	}
	e.start()

	after, afterRaw := jwksKeys(t, e)
	if !slices.Equal(sortedKeys(before), sortedKeys(after)) {
		t.Errorf("JWKS kids changed over a restart: %v → %v", sortedKeys(before), sortedKeys(after))
	}
	if beforeRaw != afterRaw {
		t.Errorf("JWKS changed over a restart:\n%s\n%s", beforeRaw, afterRaw)
	}

	// A new relying party (fresh discovery and key fetch) verifies the ID
	// token signed before the restart.
	r2 := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	idt, err := r2.verifier.Verify(ctx(t), rawID)
	if err != nil {
		t.Fatalf("ID token from before the restart: %v", err)
	}
	// The access token from before the restart still works.
	if ui, err := r2.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != idt.Subject {
		t.Errorf("userinfo with an access token from before the restart: %v", err)
	}
	// The refresh token from before the restart refreshes.
	fresh, err := refreshWith(t, r2, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh token from before the restart: %v", err)
	}
	l.oauth2Token(fresh)
	if raw2, _ := fresh.Extra("id_token").(string); raw2 != "" {
		idt2, err := r2.verifier.Verify(ctx(t), raw2)
		if err != nil || idt2.Subject != idt.Subject {
			t.Errorf("refreshed ID token: %v, sub %q vs %q", err, idt2.Subject, idt.Subject)
		}
	}
	// The login session survives: straight to consent, and the code works.
	if b.sessionCookie() != session {
		t.Fatal("the browser's session cookie changed")
	}
	p := wantConsentNotLogin(t, b, r2.config.AuthCodeURL(randString(t)))
	code := callbackParams(t, b.consent(p, "allow"), rpCallback).Get("code")
	l.add("authorization code", code)
	tok3, err := r2.config.Exchange(ctx(t), code)
	if err != nil {
		t.Fatalf("code after the restart: %v", err)
	}
	l.oauth2Token(tok3)
	idt3, err := r2.verifier.Verify(ctx(t), rawIDToken(t, tok3))
	if err != nil || idt3.Subject != idt.Subject {
		t.Errorf("ID token after the restart: %v; sub must stay %q", err, idt.Subject)
	}
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// cheapDigest is an argon2id digest of secret with test parameters.
func cheapDigest(t *testing.T, secret string) string {
	t.Helper()
	h, err := argon2.New(argon2.WithProfileRFC9106LowMemory(), argon2.WithM(1024), argon2.WithT(1), argon2.WithP(1))
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.Hash(secret)
	if err != nil {
		t.Fatal(err)
	}
	return d.Encode()
}

func reloadClient(id, secret string) string {
	return `
		client ` + id + ` {
			client_secret "` + secret + `"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
		}`
}

func TestReloadKeepsStateAndAppliesClients(t *testing.T) {
	oldDigest := cheapDigest(t, "first-secret-1")
	e := newEnv(t, reloadClient("basic-app", "s3cret-basic")+reloadClient("rotating-app", oldDigest))
	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic", "first-secret-1", "rotated-secret-2", "new-app-secret-3")

	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	params := loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "alice")
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	l.add("authorization code", params.Get("code"))
	l.oauth2Token(tok)
	rot := newRP(t, e.issuer, "rotating-app", "first-secret-1", oauth2.AuthStyleInHeader)
	params = callbackParams(t, b.consent(wantConsentNotLogin(t, b, rot.config.AuthCodeURL(randString(t))), "allow"), rpCallback)
	if _, err := rot.config.Exchange(ctx(t), params.Get("code")); err != nil { // also caches the verification
		t.Fatalf("rotating-app before the reload: %v", err)
	}
	l.add("authorization code", params.Get("code"))
	keysBefore, _ := jwksKeys(t, e)

	// Reload 1: add a client, rotate rotating-app's secret.
	e.clients = reloadClient("basic-app", "s3cret-basic") +
		reloadClient("rotating-app", cheapDigest(t, "rotated-secret-2")) +
		reloadClient("new-app", "new-app-secret-3")
	if err := reload(t, e); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if keysAfter, _ := jwksKeys(t, e); !slices.Equal(sortedKeys(keysBefore), sortedKeys(keysAfter)) {
		t.Errorf("JWKS kids changed over a reload")
	}
	fresh, err := refreshWith(t, r, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after the reload: %v", err)
	}
	l.oauth2Token(fresh)
	if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(fresh)); err != nil {
		t.Errorf("userinfo after the reload: %v", err)
	}
	// The new client works with the existing session.
	nr := newRP(t, e.issuer, "new-app", "new-app-secret-3", oauth2.AuthStyleInParams)
	params = callbackParams(t, b.consent(wantConsentNotLogin(t, b, nr.config.AuthCodeURL(randString(t))), "allow"), rpCallback)
	l.add("authorization code", params.Get("code"))
	newTok, err := nr.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatalf("new client after the reload: %v", err)
	}
	l.oauth2Token(newTok)
	if _, err := nr.verifier.Verify(ctx(t), rawIDToken(t, newTok)); err != nil {
		t.Errorf("new client's ID token: %v", err)
	}
	// The rotated secret: the old one (verified and cached before) fails,
	// the new one works.
	for _, c := range []struct {
		secret string
		ok     bool
	}{{"first-secret-1", false}, {"rotated-secret-2", true}} {
		code := codeFor(t, e, b, authQuery(t, "rotating-app"), "alice")
		l.add("authorization code", code)
		got := clientToken(t, e, "rotating-app", c.secret, codeForm(code))
		l.tokens(got.body)
		if c.ok && got.status != 200 {
			t.Errorf("rotated secret refused: %d %s", got.status, got.raw)
		}
		if !c.ok {
			wantTokenError(t, got, http.StatusUnauthorized, "invalid_client")
		}
	}

	// Reload 2: remove basic-app. Its tokens end with OAuth errors, never a 500.
	e.clients = reloadClient("new-app", "new-app-secret-3")
	if err := reload(t, e); err != nil {
		t.Fatalf("reload: %v", err)
	}
	got := clientToken(t, e, "basic-app", "s3cret-basic", refreshForm(fresh.RefreshToken))
	wantTokenError(t, got, http.StatusUnauthorized, "invalid_client")
	ui := userinfoCall(t, e, http.MethodGet, "Bearer "+fresh.AccessToken, nil)
	if ui.status != http.StatusUnauthorized || ui.str("error") != "invalid_token" {
		t.Errorf("userinfo with a removed client's access token: %d %s, want 401 invalid_token", ui.status, ui.raw)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("authorization for a removed client: %d %q, want the error page", p.status, p.location)
	}
	// The remaining client and the session are unaffected.
	if _, err := nr.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(newTok)); err != nil {
		t.Errorf("new-app's userinfo after removing basic-app: %v", err)
	}
	newFresh, err := refreshWith(t, nr, newTok.RefreshToken)
	if err != nil {
		t.Errorf("new-app's refresh after removing basic-app: %v", err)
	} else {
		l.oauth2Token(newFresh)
	}
	wantConsentNotLogin(t, b, nr.config.AuthCodeURL(randString(t)))
}
