package caddyoidc_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/authn/passkeytest"
)

// registerForCodes registers a passkey and returns the recovery codes the
// answer carries (none when the user already holds unused codes).
func registerForCodes(t *testing.T, b *browser, csrf, name string, auth *passkeytest.Authenticator) []any {
	t.Helper()
	status, body := b.passkeyCeremony("/register", csrf, func(opts []byte) ([]byte, error) {
		resp, _, err := auth.Create(opts)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"name": name, "credential": json.RawMessage(resp)})
	})
	var res struct {
		OK    bool  `json:"ok"`
		Codes []any `json:"recovery_codes"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || !res.OK {
		t.Fatalf("register %s: %d %s", name, status, body)
	}
	return res.Codes
}

// passwordSession signs alice in with her password at the one-factor
// client pk-one (passkeyClients) in a new browser; it returns the browser
// and the CSRF token of its pages, for the WebAuthn endpoints.
func passwordSession(t *testing.T, e *env) (*browser, string) {
	t.Helper()
	one := newRP(t, e.issuer, "pk-one", "pk-one-secret", oauth2.AuthStyleInHeader)
	one.config.Scopes = []string{"openid", "profile"}
	b := newBrowser(t, e.issuer)
	loginPage := b.get(one.config.AuthCodeURL(randString(t)))
	csrf := loginPage.formFields().Get("csrf_token")
	callbackParams(t, b.login(loginPage, "alice", testPassword), rpCallback)
	return b, csrf
}

// Passkeys turned off by a configuration reload: the endpoints answer 404
// passkeys_unavailable, no page offers a passkey, a user whose only second
// factor is a passkey is asked to set up an authenticator app by a
// two-factor client, the kept passkey is still listed by the admin API, and
// the log says so once.
func TestPasskeysTurnedOffThroughCaddy(t *testing.T) {
	e := newEnv(t, passkeyClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startOnLocalhost()

	// Alice registers a passkey while passkeys are on.
	b, csrf := passwordSession(t, e)
	if codes := registerForCodes(t, b, csrf, "Phone", passkeytest.New(e.issuer)); len(codes) != 10 {
		t.Fatalf("first passkey: %d recovery codes, want 10", len(codes))
	}

	e.extra = "webauthn {\n disable\n}"
	if err := e.load(); err != nil {
		t.Fatalf("reload with passkeys off: %v", err)
	}
	e.waitReady()

	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/login/options"}, {http.MethodPost, "/2fa/options"}, {http.MethodPost, "/register/options"},
		{http.MethodGet, "/credentials"}, {http.MethodPost, "/credentials/delete"},
	} {
		status, body := b.webauthnCall(c.method, c.path, csrf, nil)
		var m map[string]any
		if status != http.StatusNotFound || json.Unmarshal(body, &m) != nil || m["error"] != "passkeys_unavailable" {
			t.Errorf("%s %s with passkeys off: %d %s", c.method, c.path, status, body)
		}
	}
	settings := b.get(e.issuer + "/settings")
	for _, s := range []string{"passkeys-heading", "passkey-register", "passkey-rename", "webauthn.js", "recovery-heading"} {
		if strings.Contains(settings.body, s) {
			t.Errorf("settings with passkeys off show %q: %.1500s", s, settings.body)
		}
	}

	// A two-factor client: no passkey on the login page, and after the
	// password the authenticator enrolment, not the passkey.
	r := newRP(t, e.issuer, "pk-app", "pk-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "profile"}
	b2 := newBrowser(t, e.issuer)
	lp := b2.get(r.config.AuthCodeURL(randString(t)))
	if strings.Contains(lp.body, `id="passkey-login"`) || strings.Contains(lp.body, "webauthn.js") {
		t.Errorf("the login page offers a passkey: %.1200s", lp.body)
	}
	p := b2.login(lp, "alice", testPassword)
	if strings.Contains(p.body, `id="passkey-2fa"`) || secretRE.FindStringSubmatch(p.body) == nil {
		t.Errorf("second step with only a passkey, passkeys off: want the authenticator enrolment, got %d: %.1200s", p.status, p.body)
	}

	// The admin API still lists (and could remove) the kept passkey.
	list, _ := e.mustAdmin(http.MethodGet, "/oidc/passkeys?user=alice")["passkeys"].([]any)
	if len(list) != 1 || as[map[string]any](t, list[0])["name"] != "Phone" {
		t.Errorf("admin list with passkeys off: %v", list)
	}
	if n := strings.Count(e.logText(), "passkeys are turned off"); n != 1 {
		t.Errorf("the log says %d times that passkeys are off, want once", n)
	}
}

var timeRE = regexp.MustCompile(`<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)">(\d{4}-\d\d-\d\d, \d\d:\d\d UTC)</time>`)

// Through Caddy: the relying party's display name from the config, renaming
// a passkey on the settings page (seen by the admin API), times with the
// time, the way back to the application, and recovery codes that go with
// the last second factor when an administrator removes it.
func TestSettingsPasskeysThroughCaddy(t *testing.T) {
	e := newEnv(t, passkeyClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.extra = "webauthn {\n display_name \"Example Sign-in\"\n}"
	e.startOnLocalhost()

	b, csrf := passwordSession(t, e)
	status, opts := b.webauthnCall(http.MethodPost, "/register/options", csrf, nil)
	var o struct {
		RP struct{ ID, Name string } `json:"rp"`
	}
	if status != http.StatusOK || json.Unmarshal(opts, &o) != nil || o.RP.Name != "Example Sign-in" || o.RP.ID != "localhost" {
		t.Errorf("register options: %d %s", status, opts)
	}
	if codes := registerForCodes(t, b, csrf, "Phone", passkeytest.New(e.issuer)); len(codes) != 10 {
		t.Fatalf("first passkey: %d recovery codes, want 10", len(codes))
	}
	list, _ := e.mustAdmin(http.MethodGet, "/oidc/passkeys?user=alice")["passkeys"].([]any)
	if len(list) != 1 {
		t.Fatalf("admin list: %v", list)
	}
	id, _ := as[map[string]any](t, list[0])["id"].(string)

	// The settings, from the application's link.
	settings := b.get(e.issuer + "/settings?client_id=pk-one")
	if !strings.Contains(settings.body, `<a href="http://127.0.0.1:4180/">Back to pk-one</a>`) {
		t.Errorf("settings from pk-one: no way back: %.2000s", settings.body)
	}
	if m := timeRE.FindAllStringSubmatch(settings.body, -1); len(m) != 1 || !strings.HasPrefix(m[0][2], m[0][1][:10]+", "+m[0][1][11:16]) {
		t.Errorf("settings: the passkey's time: %v", m)
	}
	if !strings.Contains(settings.body, `aria-label="Rename passkey Phone"`) || !strings.Contains(settings.body, "recovery-heading") {
		t.Errorf("settings: no rename button for Phone, or no recovery section: %.2000s", settings.body)
	}

	// Rename with the plain form (the page's own action, which keeps the client).
	action := e.issuer + "/settings?client_id=pk-one"
	if !strings.Contains(settings.body, `action="/settings?client_id=pk-one"`) {
		t.Errorf("the settings forms do not keep the client: %.2000s", settings.body)
	}
	p := b.post(action, url.Values{"csrf_token": {csrf}, "action": {"passkey-rename"}, "passkey_id": {id}, "passkey_name": {"  Work phone "}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "The passkey was renamed.") || !strings.Contains(p.body, "Back to pk-one") {
		t.Errorf("rename: %d %.1500s", p.status, p.body)
	}
	list, _ = e.mustAdmin(http.MethodGet, "/oidc/passkeys?user=alice")["passkeys"].([]any)
	if len(list) != 1 || as[map[string]any](t, list[0])["name"] != "Work phone" {
		t.Errorf("admin list after the rename: %v", list)
	}
	p = b.post(action, url.Values{"csrf_token": {csrf}, "action": {"passkey-rename"}, "passkey_id": {id}, "passkey_name": {"bad\x01name"}})
	if !strings.Contains(p.body, "A passkey name needs 1 to 64 characters") {
		t.Errorf("rename with a control character: %d %.1500s", p.status, p.body)
	}

	// The administrator removes her only passkey: her unused recovery
	// codes go with it, the settings show none, and the next passkey
	// comes with new ones.
	e.mustAdmin(http.MethodDelete, "/oidc/passkeys?user=alice&id="+url.QueryEscape(id))
	if settings := b.get(e.issuer + "/settings"); strings.Contains(settings.body, "recovery-heading") {
		t.Errorf("settings after the last second factor went: still a recovery section: %.2000s", settings.body)
	}
	if codes := registerForCodes(t, b, csrf, "New phone", passkeytest.New(e.issuer)); len(codes) != 10 {
		t.Errorf("the passkey after the removal: %d recovery codes, want 10 (the old ones must be gone)", len(codes))
	}
}

// TestSettingsInChromium runs testdata/clients/settings.mjs: the settings
// page at a phone's width in headless chromium, from an application's link
// (the way back), a passkey added and then renamed with JavaScript off.
func TestSettingsInChromium(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	e := newEnv(t, `
		client settings-app {
			client_name "Photo Album"
			client_secret settings-secret
			redirect_uris `+redirect+`
			scopes openid profile
			consent_mode implicit
		}`)
	e.startOnLocalhost()
	env := flowEnv(e, "settings-app", "settings-secret", redirect)
	env["ARTIFACTS_DIR"] = artifactsDir(t)
	out := script(t, "settings.mjs", env)

	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors: %q", errs)
	}
	origin := strings.TrimSuffix(redirect, "callback")
	if out["back_links"] != float64(1) || str(out, "back_text") != "Back to Photo Album" || str(out, "back_href") != origin {
		t.Errorf("the way back: %v links, %q to %q; want one, \"Back to Photo Album\" to %q", out["back_links"], str(out, "back_text"), str(out, "back_href"), origin)
	}
	if out["rename_fields"] != float64(1) || str(out, "notice") != "The passkey was renamed." ||
		out["rename_button_after"] != float64(1) || out["remove_button_after"] != float64(1) || out["back_after_rename"] != float64(1) {
		t.Errorf("renaming without JavaScript: %v", out)
	}
	times, _ := out["times"].([]any)
	if len(times) != 1 {
		t.Fatalf("time elements: %v, want the passkey's creation", times)
	}
	tm := as[map[string]any](t, times[0])
	dt, text := str(tm, "datetime"), str(tm, "text")
	if len(dt) != len("2006-01-02T15:04:05Z") || text != dt[:10]+", "+dt[11:16]+" UTC" {
		t.Errorf("the passkey's time: datetime %q, text %q", dt, text)
	}
}
