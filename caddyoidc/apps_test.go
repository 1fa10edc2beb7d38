package caddyoidc_test

// The real apps' client libraries as judges. Each test starts Caddy with the
// client block of examples/<app>/client.caddyfile (the file the example's
// Caddyfile imports) and runs an emulation of the app: a node script with
// the npm library the app uses, a python script with Debian's authlib or
// requests, or Go with golang.org/x/oauth2 and zitadel/oidc. The scripts
// sign in through the real login and consent pages over plain HTTP and print
// one JSON line with what they saw. Their tools come from .ci/setup.sh; a
// missing one fails the test (never skips) with that hint.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"
)

// clientsDir holds the emulation scripts, package.json and the lockfile.
const clientsDir = "testdata/clients"

// debianPython is Debian's interpreter, which sees python3-authlib and
// python3-requests whatever else is first on PATH (pyenv, venvs).
const debianPython = "/usr/bin/python3"

const setupHint = "run .ci/setup.sh (./test.sh does) to install the test clients"

var (
	toolsOnce sync.Once
	toolsErr  map[string]error
)

// checkTools looks once for node with the npm packages, and for Debian's
// python with authlib and requests.
func checkTools() {
	toolsErr = map[string]error{}
	if _, err := exec.LookPath("node"); err != nil {
		toolsErr["node"] = fmt.Errorf("node is not installed: %v", err)
	} else {
		for _, pkg := range []string{"openid-client", "openid-client-v5", "playwright-core", "axe-core"} {
			if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", pkg, "package.json")); err != nil {
				toolsErr["node"] = fmt.Errorf("npm package %s is missing in %s/node_modules", pkg, clientsDir)
				break
			}
		}
	}
	out, err := exec.Command(debianPython, "-c", "import authlib, requests").CombinedOutput()
	if err != nil {
		toolsErr["python"] = fmt.Errorf("%s cannot import authlib and requests (Debian packages python3-authlib, python3-requests): %v: %s", debianPython, err, out)
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		toolsErr["chromium"] = fmt.Errorf("/usr/bin/chromium is missing (Debian package chromium)")
	}
}

// needTool fails the test when a tool the setup script installs is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	toolsOnce.Do(checkTools)
	if err := toolsErr[name]; err != nil {
		t.Fatalf("%v\n%s", err, setupHint)
	}
}

// exampleClient returns examples/<app>/client.caddyfile, the client block
// both the example's Caddyfile and the test use.
func exampleClient(t *testing.T, app string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", app, "client.caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// script runs an emulation script in clientsDir with the flow's environment
// and returns the JSON object it printed last. A non-zero exit fails the
// test with the script's stderr.
func script(t *testing.T, file string, env map[string]string) map[string]any {
	t.Helper()
	var name string
	switch filepath.Ext(file) {
	case ".mjs":
		needTool(t, "node")
		name = "node"
	case ".py":
		needTool(t, "python")
		name = debianPython
	default:
		t.Fatalf("unknown script type %s", file)
	}
	// The longest, a11y.mjs (about 30 pages in four modes each), takes 20 to
	// 40 s here; a loaded CI machine must not turn that into a failure.
	c, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, name, file)
	cmd.Dir = clientsDir
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1", "PYTHONDONTWRITEBYTECODE=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		t.Fatalf("%s failed after %v: %v\nstderr:\n%s\nstdout:\n%s", file, time.Since(start).Round(time.Millisecond), err, stderr.String(), stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("%s printed no JSON result: %v\nstdout:\n%s\nstderr:\n%s", file, err, stdout.String(), stderr.String())
	}
	t.Logf("%s (%v): %s", file, time.Since(start).Round(time.Millisecond), lines[len(lines)-1])
	return out
}

// flowEnv is the environment every emulation script reads.
func flowEnv(e *env, clientID, secret, redirectURI string) map[string]string {
	return map[string]string{
		"ISSUER": e.issuer, "CLIENT_ID": clientID, "CLIENT_SECRET": secret,
		"REDIRECT_URI": redirectURI, "USERNAME": "alice", "PASSWORD": testPassword,
	}
}

// str reads a string at a path of nested JSON objects.
func str(m map[string]any, path ...string) string {
	v := dig(m, path...)
	s, _ := v.(string)
	return s
}

func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// strs reads a list of strings at a path.
func strs(m map[string]any, path ...string) []string {
	l, _ := dig(m, path...).([]any)
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkAlice asserts the user claims the scopes release for alice.
func checkAlice(t *testing.T, claims map[string]any, scopes ...string) {
	t.Helper()
	if sub, _ := claims["sub"].(string); sub == "" || sub == "alice" {
		t.Errorf("sub = %v: want an opaque identifier", claims["sub"])
	}
	for _, s := range scopes {
		switch s {
		case "email":
			if claims["email"] != "alice@example.com" || claims["email_verified"] != true {
				t.Errorf("email claims: %v", claims)
			}
		case "profile":
			if claims["name"] != "Alice Example" || claims["preferred_username"] != "alice" {
				t.Errorf("profile claims: %v", claims)
			}
		case "groups":
			if g := strs(claims, "groups"); !slices.Contains(g, "users") || !slices.Contains(g, "alice-group") {
				t.Errorf("groups claim: %v", claims["groups"])
			}
		}
	}
}

func TestImmichOpenIDClientV5(t *testing.T) {
	const secret = "immich-secret/with+chars"
	t.Setenv("IMMICH_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "immich"))
	e.start()
	for _, tc := range []struct{ name, redirect string }{
		{"web", "https://photos.example.com/auth/login"},
		{"user settings", "https://photos.example.com/user-settings"},
		{"mobile", "app.immich:///oauth-callback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := script(t, "immich.mjs", flowEnv(e, "immich", secret, tc.redirect))
			if str(out, "redirect") != tc.redirect || str(out, "iss_param") != e.issuer {
				t.Errorf("redirect %q iss %q", str(out, "redirect"), str(out, "iss_param"))
			}
			if str(out, "pkce") != "S256" {
				t.Error("openid-client did not use PKCE S256: discovery must list it")
			}
			if out["userinfo_called"] != false {
				t.Error("Immich had to call userinfo: the ID token lacks the email")
			}
			if out["iat_not_in_future"] != true {
				t.Error("ID token iat is in the future")
			}
			checkAlice(t, as[map[string]any](t, out["claims"]), "email", "profile")
		})
	}
}

// modernClient is a node app on openid-client v6; it authenticates with
// client_secret_basic and asks for refresh tokens.
const modernClient = `
		client node-app {
			client_name "Node App"
			client_secret {env.NODE_APP_SECRET}
			redirect_uris https://app.example.com/oidc/callback
			scopes openid profile email groups offline_access
			token_endpoint_auth_method client_secret_basic
		}`

func TestModernNodeOpenIDClientV6(t *testing.T) {
	const secret = "node/secret+with:colon%and space"
	t.Setenv("NODE_APP_SECRET", secret)
	e := newEnv(t, modernClient)
	e.start()
	out := script(t, "modern-rp.mjs", flowEnv(e, "node-app", secret, "https://app.example.com/oidc/callback"))
	claims, _ := out["claims"].(map[string]any)
	checkAlice(t, claims, "email", "profile", "groups")
	userinfo, _ := out["userinfo"].(map[string]any)
	checkAlice(t, userinfo, "email", "profile", "groups")
	if userinfo["sub"] != claims["sub"] {
		t.Errorf("userinfo sub %v != ID token sub %v", userinfo["sub"], claims["sub"])
	}
	if dig(out, "refreshed", "rotated") != true || dig(out, "refreshed", "new_access_token") != true {
		t.Errorf("refresh: %v", out["refreshed"])
	}
	if s := dig(out, "refreshed", "sub"); s != nil && s != claims["sub"] {
		t.Errorf("refreshed ID token sub %v", s)
	}
	if out["refresh_reuse_error"] != "invalid_grant" {
		t.Errorf("reusing a rotated refresh token: %v, want invalid_grant", out["refresh_reuse_error"])
	}
}

func TestJellyseerrFetch(t *testing.T) {
	const secret = "jellyseerr-secret"
	t.Setenv("JELLYSEERR_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "jellyseerr"))
	e.start()
	redirect := "https://requests.example.com/login?provider=caddy&callback=true"
	out := script(t, "jellyseerr.mjs", flowEnv(e, "jellyseerr", secret, redirect))
	if q, _ := out["redirect_query"].(map[string]any); q["provider"] != "caddy" || q["callback"] != "true" {
		t.Errorf("the redirect lost the registered query: %v", out["redirect_query"])
	}
	idt, _ := out["id_token"].(map[string]any)
	checkAlice(t, idt, "email", "profile", "groups")
	ui, _ := out["userinfo"].(map[string]any)
	checkAlice(t, ui, "email", "profile", "groups")
	// Jellyseerr gives the round trip 60 s; ours takes milliseconds, so
	// anything near that budget means something waits that should not.
	if ms, _ := out["elapsed_ms"].(float64); ms <= 0 || ms > 10000 {
		t.Errorf("the login took %v ms (Jellyseerr's limit is 60000)", out["elapsed_ms"])
	}
}

func TestRomMAuthlib(t *testing.T) {
	const secret = "romm+secret/with=chars"
	t.Setenv("ROMM_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "romm"))
	e.start()
	out := script(t, "romm.py", flowEnv(e, "romm", secret, "https://romm.example.com/api/oauth/openid"))
	if out["email"] != "alice@example.com" {
		t.Errorf("RomM reads the email from the ID token only: got %v", out["email"])
	}
	checkAlice(t, as[map[string]any](t, out["claims"]), "email", "profile")
	if out["iat_not_in_future"] != true {
		t.Error("iat is in the future")
	}
	if w, _ := out["wrong_issuer"].(string); !strings.HasPrefix(w, "rejected") {
		t.Errorf("authlib with another issuer: %v", w)
	}
}

func TestGlitchtipAllauth(t *testing.T) {
	// requests' HTTPBasicAuth does not form-encode the secret: '+' and '/'
	// must still match.
	const secret = "glitch+tip/s3cret"
	t.Setenv("GLITCHTIP_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "glitchtip"))
	e.start()
	out := script(t, "glitchtip.py", flowEnv(e, "glitchtip", secret, "https://glitchtip.example.com/accounts/oidc/authelia/login/callback/"))
	if out["basic_auth"] != true {
		t.Error("allauth did not pick client_secret_basic from discovery")
	}
	if ct, _ := out["userinfo_content_type"].(string); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("userinfo Content-Type = %q, want plain JSON", ct)
	}
	checkAlice(t, as[map[string]any](t, out["userinfo"]), "email", "profile")
}

func TestNextcloudUserOIDC(t *testing.T) {
	const secret = "nextcloud-secret"
	t.Setenv("NEXTCLOUD_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "nextcloud"))
	e.start()
	out := script(t, "nextcloud.py", flowEnv(e, "nextcloud", secret, "https://cloud.example.com/apps/user_oidc/code"))
	if out["pkce"] != "S256" {
		t.Error("user_oidc did not send PKCE S256: discovery must offer it")
	}
	user, _ := out["user"].(map[string]any)
	if user["email"] != "alice@example.com" || user["display_name"] != "Alice Example" || user["uid"] == "" {
		t.Errorf("provisioned user: %v", user)
	}
	if g := strs(user, "groups"); !slices.Contains(g, "users") {
		t.Errorf("groups from the ID token: %v", user["groups"])
	}
}

// TestClientsNegative checks what every relying party relies on, judged by
// openid-client (negatives.mjs) with the Immich client.
func TestClientsNegative(t *testing.T) {
	const secret = "immich-secret"
	t.Setenv("IMMICH_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "immich"))
	e.start()
	out := script(t, "negatives.mjs", flowEnv(e, "immich", secret, "https://photos.example.com/auth/login"))
	wantMsg := func(key, substr string) {
		t.Helper()
		if msg := str(out, key, "message"); !strings.Contains(msg, substr) {
			t.Errorf("%s: %v, want an error containing %q", key, out[key], substr)
		}
	}
	wantMsg("iss_param_mismatch", "iss mismatch")
	wantMsg("id_token_iss_mismatch", "unexpected iss value")
	if str(out, "code_replay", "error") != "invalid_grant" {
		t.Errorf("code replay: %v, want invalid_grant", out["code_replay"])
	}
	if dig(out, "access_token_after_replay", "accepted") == true {
		t.Error("the access token issued from a replayed code still works")
	}
	if str(out, "wrong_auth_method", "error") != "invalid_client" {
		t.Errorf("wrong auth method: %v, want invalid_client", out["wrong_auth_method"])
	} else if d := str(out, "wrong_auth_method", "description"); !strings.Contains(d, "client_secret_post") || !strings.Contains(d, "client_secret_basic") {
		t.Errorf("the invalid_client hint should name both methods: %q", d)
	}
	for k, v := range as[map[string]any](t, out["clock"]) {
		if v != true {
			t.Errorf("clock: %s = %v", k, v)
		}
	}
	ur, _ := out["unregistered_redirect"].(map[string]any)
	if ur["status"] != float64(400) || ur["location"] != nil || !strings.HasPrefix(fmt.Sprint(ur["content_type"]), "text/html") || ur["mentions_redirect"] != true {
		t.Errorf("unregistered redirect URI: %v, want the provider's 400 error page and no redirect", ur)
	}
}

// signIn runs an authorization URL through the login and consent pages with
// the harness's browser and returns the parameters of the redirect.
func signIn(t *testing.T, e *env, authURL, redirectURI string) map[string]string {
	t.Helper()
	b := newBrowser(t, e.issuer)
	p := b.consent(b.login(b.get(authURL), "alice", testPassword), "allow")
	q := callbackParams(t, p, redirectURI)
	out := map[string]string{}
	for k := range q {
		out[k] = q.Get(k)
	}
	return out
}

// TestGrafanaGenericOAuth follows Grafana's auth.generic_oauth connector,
// which is golang.org/x/oauth2 with the endpoints typed in grafana.ini: PKCE,
// the code exchange with auth_style AutoDetect, the ID token payload read
// without verification for email and groups (email_attribute_path,
// groups_attribute_path; role_attribute_path works on the groups), then
// api_url (userinfo) through the oauth2 client.
func TestGrafanaGenericOAuth(t *testing.T) {
	const secret = "grafana-secret"
	t.Setenv("GRAFANA_OIDC_SECRET", secret)
	e := newEnv(t, exampleClient(t, "grafana"))
	e.start()
	const redirect = "https://grafana.example.com/login/generic_oauth"
	cfg := oauth2.Config{
		ClientID: "grafana", ClientSecret: secret, RedirectURL: redirect,
		Scopes: []string{"openid", "profile", "email", "groups"},
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.issuer + "/api/oidc/authorization",
			TokenURL:  e.issuer + "/api/oidc/token",
			AuthStyle: oauth2.AuthStyleAutoDetect,
		},
	}
	verifier, state := oauth2.GenerateVerifier(), randString(t)
	params := signIn(t, e, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), redirect)
	if params["state"] != state {
		t.Fatalf("state = %q", params["state"])
	}
	tok, err := cfg.Exchange(ctx(t), params["code"], oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt := jwtClaims(t, raw)
	checkAlice(t, idt, "email", "profile", "groups")
	resp, err := cfg.Client(ctx(t), tok).Get(e.issuer + "/api/oidc/userinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	body, _ := io.ReadAll(resp.Body)
	var ui map[string]any
	if err := json.Unmarshal(body, &ui); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("api_url: %d %s", resp.StatusCode, body)
	}
	checkAlice(t, ui, "email", "profile", "groups")

	// Without PKCE this client is refused before any page is shown.
	b := newBrowser(t, e.issuer)
	p := b.get(cfg.AuthCodeURL(randString(t)))
	if q := callbackParams(t, p, redirect); q.Get("error") != "invalid_request" {
		t.Errorf("no PKCE: error = %q, want invalid_request", q.Get("error"))
	}
}

type nonceKey struct{}

// TestZitadelRelyingParty uses zitadel/oidc's RP package, a second Go
// implementation with its own discovery and ID token checks: issuer equality,
// signature from the JWKS, audience, azp, nonce, at_hash, and iat not in the
// future with zero offset.
func TestZitadelRelyingParty(t *testing.T) {
	const redirect = "https://zitadel-zrp.example.com/auth/callback"
	e := newEnv(t, `
		client zitadel-rp {
			client_secret zitadel-secret
			redirect_uris `+redirect+`
			scopes openid profile email groups offline_access
			id_token_signed_response_alg ES256
		}`)
	e.start()
	nonce := randString(t)
	relying, err := zrp.NewRelyingPartyOIDC(ctx(t), e.issuer, "zitadel-rp", "zitadel-secret", redirect,
		[]string{"openid", "profile", "email", "groups", "offline_access"},
		zrp.WithSigningAlgsFromDiscovery(),
		zrp.WithVerifierOpts(
			// The nonce belongs to one login (zitadel's RPs keep it in a
			// cookie): a refreshed ID token carries none (OIDC Core 12.2).
			zrp.WithNonce(func(c context.Context) string { s, _ := c.Value(nonceKey{}).(string); return s }),
			zrp.WithIssuedAtOffset(0),
		),
	)
	if err != nil {
		t.Fatalf("NewRelyingPartyOIDC: %v", err)
	}
	verifier := randString(t) + randString(t)
	state := randString(t)
	authURL := zrp.AuthURL(state, relying, zrp.WithCodeChallenge(zoidc.NewSHACodeChallenge(verifier)), zrp.AuthURLOpt(zrp.WithURLParam("nonce", nonce)))
	params := signIn(t, e, authURL, redirect)
	loginCtx := context.WithValue(ctx(t), nonceKey{}, nonce)
	tokens, err := zrp.CodeExchange[*zoidc.IDTokenClaims](loginCtx, params["code"], relying, zrp.WithCodeVerifier(verifier))
	if err != nil {
		t.Fatalf("CodeExchange: %v", err)
	}
	c := tokens.IDTokenClaims
	if c.Email != "alice@example.com" || !bool(c.EmailVerified) || c.Name != "Alice Example" || c.PreferredUsername != "alice" {
		t.Errorf("ID token claims: %+v", c)
	}
	if g, _ := c.Claims["groups"].([]any); len(g) == 0 {
		t.Errorf("groups missing from the ID token: %v", c.Claims)
	}
	info, err := zrp.Userinfo[*zoidc.UserInfo](ctx(t), tokens.AccessToken, tokens.TokenType, c.Subject, relying)
	if err != nil {
		t.Fatalf("Userinfo: %v", err)
	}
	if info.Email != "alice@example.com" || info.Subject != c.Subject {
		t.Errorf("userinfo: %+v", info)
	}
	refreshed, err := zrp.RefreshTokens[*zoidc.IDTokenClaims](ctx(t), relying, tokens.RefreshToken, "", "")
	if err != nil {
		t.Fatalf("RefreshTokens: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tokens.RefreshToken {
		t.Error("refresh did not rotate the refresh token")
	}
}
