package caddyoidc_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

const hintClients = standardClients + `
		client cli-app {
			public
			redirect_uris urn:ietf:wg:oauth:2.0:oob
			scopes openid profile
		}
		client silent-app {
			client_secret silent-secret
			redirect_uris ` + rpCallback + `
			scopes openid profile
			consent_mode implicit
		}`

// TestOutOfBandCode: a public native client with the out-of-band redirect
// gets the code on a page to copy, never a redirect, and exchanges it.
func TestOutOfBandCode(t *testing.T) {
	e := newEnv(t, hintClients)
	e.start()
	verifier := oauth2.GenerateVerifier()
	cfg := oauth2.Config{ClientID: "cli-app", RedirectURL: "urn:ietf:wg:oauth:2.0:oob", Scopes: []string{"openid", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/api/oidc/authorization", TokenURL: e.issuer + "/api/oidc/token", AuthStyle: oauth2.AuthStyleInParams}}
	b := newBrowser(t, e.issuer)
	p := b.consent(b.login(b.get(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(verifier))), "alice", testPassword), "allow")
	m := regexp.MustCompile(`<code class="secret" id="code">([^<]+)</code>`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || p.location != "" || m == nil {
		t.Fatalf("expected the code page, got %d %q: %.400s", p.status, p.location, p.body)
	}
	tok, err := cfg.Exchange(ctx(t), m[1], oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchanging the copied code: %v", err)
	}
	if tok.Extra("id_token") == nil {
		t.Error("no ID token")
	}
	// A denial is shown too, never redirected to the URN.
	p = b.consent(b.get(cfg.AuthCodeURL(randString(t), oauth2.S256ChallengeOption(verifier))), "deny")
	if p.location != "" || p.status/100 != 4 || !strings.Contains(p.body, "access_denied") {
		t.Errorf("denied out-of-band request: %d %q", p.status, p.location)
	}
}

// TestIDTokenHintAtAuthorization: a hint naming the signed-in user lets
// prompt=none through; a hint naming someone else gives login_required (or
// the login page without prompt=none); a forged hint is an invalid request.
func TestIDTokenHintAtAuthorization(t *testing.T) {
	e := newEnv(t, hintClients)
	e.start()
	r := newRP(t, e.issuer, "silent-app", "silent-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "profile"}
	idTokenOf := func(b *browser, user string) string {
		params := callbackParams(t, b.login(b.get(r.config.AuthCodeURL(randString(t))), user, testPassword), rpCallback)
		tok, err := r.config.Exchange(ctx(t), params.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		return rawIDToken(t, tok)
	}
	alice, bob := newBrowser(t, e.issuer), newBrowser(t, e.issuer)
	aliceHint := idTokenOf(alice, "alice")
	idTokenOf(bob, "bob")
	silent := func(b *browser, hint string) page {
		return b.get(r.config.AuthCodeURL(randString(t), oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint)))
	}
	// Alice's own hint: silent sign-in works, and the code exchanges (fosite
	// does not trip over the hint when it issues the ID token).
	params := callbackParams(t, silent(alice, aliceHint), rpCallback)
	if params.Get("error") != "" {
		t.Fatalf("alice with her own hint: %v", params)
	}
	if _, err := r.config.Exchange(ctx(t), params.Get("code")); err != nil {
		t.Fatalf("exchange after a hinted request: %v", err)
	}
	// Bob's browser with Alice's hint.
	if got := callbackParams(t, silent(bob, aliceHint), rpCallback).Get("error"); got != "login_required" {
		t.Errorf("another user's hint with prompt=none: error=%q, want login_required", got)
	}
	p := bob.get(r.config.AuthCodeURL(randString(t), oauth2.SetAuthURLParam("id_token_hint", aliceHint)))
	if !strings.Contains(p.body, `name="password"`) {
		t.Errorf("another user's hint without prompt=none must ask to sign in: %d", p.status)
	}
	// A hint we did not sign.
	parts := strings.Split(aliceHint, ".")
	forged := parts[0] + "." + parts[1] + ".AAAA" + parts[2][4:]
	if got := callbackParams(t, silent(alice, forged), rpCallback); got.Get("error") != "invalid_request" || got.Get("iss") != e.issuer {
		t.Errorf("forged hint: %v", got)
	}
}
