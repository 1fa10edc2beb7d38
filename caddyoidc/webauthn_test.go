package caddyoidc_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/authn/passkeytest"
)

// passkeyClients: a client that needs two factors and one that does not.
const passkeyClients = `
		client pk-one {
			client_secret pk-one-secret
			redirect_uris ` + rpCallback + `
			scopes openid profile
			consent_mode implicit
		}
		client pk-app {
			client_secret pk-secret
			redirect_uris ` + rpCallback + `
			scopes openid profile
			authorization_policy two_factor
			consent_mode implicit
		}`

// startOnLocalhost runs Caddy like start, with the issuer at localhost:
// WebAuthn does not accept an IP address as the relying party ID.
func (e *env) startOnLocalhost() {
	e.t.Helper()
	e.host = "localhost"
	e.issuer = fmt.Sprintf("http://%s:%d", e.host, e.port)
	e.start()
}

// webauthnCall posts to a WebAuthn endpoint as webauthn.js does.
func (b *browser) webauthnCall(method, path, csrf string, body []byte) (int, []byte) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.issuer+"/api/webauthn"+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.issuer)
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		b.t.Errorf("%s: Cache-Control %q", path, cc)
	}
	return resp.StatusCode, raw
}

// ceremony runs options → authenticator → finish.
func (b *browser) passkeyCeremony(kind, csrf string, answer func([]byte) ([]byte, error)) (int, []byte) {
	b.t.Helper()
	status, opts := b.webauthnCall(http.MethodPost, kind+"/options", csrf, nil)
	if status != http.StatusOK {
		b.t.Fatalf("%s options: %d %s", kind, status, opts)
	}
	resp, err := answer(opts)
	if err != nil {
		b.t.Fatalf("%s: authenticator: %v", kind, err)
	}
	return b.webauthnCall(http.MethodPost, kind+"/finish", csrf, resp)
}

// continueAfterPasskey posts the page's passkey-continue form.
func (b *browser) continueAfterPasskey(p page) page {
	b.t.Helper()
	f := p.formFields()
	return b.post(b.issuer+"/login/continue", url.Values{"csrf_token": {f.Get("csrf_token")}, "return_to": {f.Get("return_to")}})
}

func idTokenAMR(t *testing.T, r *rp, params url.Values) ([]any, any) {
	t.Helper()
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	claims := jwtClaims(t, rawIDToken(t, tok))
	amr, _ := claims["amr"].([]any)
	return amr, claims["acr"]
}

func TestPasskeysThroughCaddy(t *testing.T) {
	e := newEnv(t, passkeyClients)
	e.startOnLocalhost()
	auth := passkeytest.New(e.issuer)

	// The script is served from the assets.
	js := newBrowser(t, e.issuer).get(e.issuer + "/assets/webauthn.js")
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, "passkey-login") {
		t.Fatalf("webauthn.js: %d %s", js.status, js.header.Get("Content-Type"))
	}

	r := newRP(t, e.issuer, "pk-app", "pk-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "profile"}

	// Alice signs in with her password (at a one-factor client) and
	// registers a passkey.
	b, csrf := passwordSession(t, e) // passkeyoptions_test.go
	status, body := b.passkeyCeremony("/register", csrf, func(opts []byte) ([]byte, error) {
		resp, _, err := auth.Create(opts)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"name": "Test key", "credential": json.RawMessage(resp)})
	})
	if status != http.StatusOK || !strings.Contains(string(body), `"ok":true`) {
		t.Fatalf("register: %d %s", status, body)
	}
	status, body = b.webauthnCall(http.MethodGet, "/credentials", "", nil)
	var list []map[string]any
	if err := json.Unmarshal(body, &list); status != http.StatusOK || err != nil || len(list) != 1 || list[0]["name"] != "Test key" || list[0]["discoverable"] != true {
		t.Fatalf("credentials: %d %s", status, body)
	}
	// A request without the CSRF header is refused.
	if status, body := b.webauthnCall(http.MethodPost, "/register/options", "", nil); status != http.StatusForbidden {
		t.Errorf("register without CSRF token: %d %s", status, body)
	}

	// Password, then the passkey as second factor.
	b2 := newBrowser(t, e.issuer)
	p := b2.login(b2.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	csrf2 := p.formFields().Get("csrf_token")
	if csrf2 == "" || p.formFields().Get("return_to") == "" {
		t.Fatalf("expected a second-factor step with a form, got %d: %.600s", p.status, p.body)
	}
	if status, body := b2.passkeyCeremony("/2fa", csrf2, auth.Get); status != http.StatusOK {
		t.Fatalf("2fa: %d %s", status, body)
	}
	amr, acr := idTokenAMR(t, r, callbackParams(t, b2.continueAfterPasskey(p), rpCallback))
	if !slices.Contains(amr, any("pwd")) || !slices.Contains(amr, any("hwk")) || acr != "2" {
		t.Errorf("after password + passkey: amr=%v acr=%v", amr, acr)
	}

	// Passwordless: the passkey alone, with user verification.
	b3 := newBrowser(t, e.issuer)
	p = b3.get(r.config.AuthCodeURL(randString(t)))
	csrf3 := p.formFields().Get("csrf_token")
	var assertion []byte
	status, body = b3.passkeyCeremony("/login", csrf3, func(opts []byte) ([]byte, error) {
		var err error
		assertion, err = auth.Get(opts)
		return assertion, err
	})
	if status != http.StatusOK {
		t.Fatalf("passwordless: %d %s", status, body)
	}
	amr, acr = idTokenAMR(t, r, callbackParams(t, b3.continueAfterPasskey(p), rpCallback))
	if !slices.Equal(amr, []any{"hwk", "user", "mfa"}) || acr != "2" {
		t.Errorf("after passwordless: amr=%v acr=%v", amr, acr)
	}

	// The same answer again, from another browser: refused.
	b4 := newBrowser(t, e.issuer)
	csrf4 := b4.get(e.issuer + "/login").formFields().Get("csrf_token")
	b4.webauthnCall(http.MethodPost, "/login/options", csrf4, nil)
	if status, body := b4.webauthnCall(http.MethodPost, "/login/finish", csrf4, assertion); status != http.StatusUnauthorized {
		t.Errorf("replayed assertion: %d %s", status, body)
	}

	// Nothing of the ceremonies reaches the log.
	var a struct {
		Response struct {
			Signature, ClientDataJSON string
		} `json:"response"`
	}
	_ = json.Unmarshal(assertion, &a)
	logs := e.logText()
	if a.Response.Signature == "" || strings.Contains(logs, a.Response.Signature) || strings.Contains(logs, a.Response.ClientDataJSON) {
		t.Error("the log contains a WebAuthn response")
	}
}

// TestPasskeysInChromium runs testdata/clients/passkeys.mjs: headless
// chromium with a CDP virtual authenticator through the pages and
// webauthn.js (adding a passkey in the settings, passwordless sign-in, the
// passkey as second factor).
func TestPasskeysInChromium(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	e := newEnv(t, `
		client pk-browser {
			client_secret pk-browser-secret
			redirect_uris `+redirect+`
			scopes openid profile
			consent_mode implicit
		}
		client pk-browser-2fa {
			client_secret pk-browser-secret
			redirect_uris `+redirect+`
			scopes openid profile
			authorization_policy two_factor
			consent_mode implicit
		}`)
	e.startOnLocalhost()
	env := flowEnv(e, "pk-browser", "pk-browser-secret", redirect)
	env["TF_CLIENT_ID"] = "pk-browser-2fa"
	env["ARTIFACTS_DIR"] = artifactsDir(t)
	out := script(t, "passkeys.mjs", env)

	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors: %q", errs)
	}
	creds, _ := out["api_credentials"].([]any)
	if len(creds) != 1 || dig(as[map[string]any](t, creds[0]), "name") != "Chromium passkey" ||
		out["authenticator_credentials"] != float64(1) || out["resident"] != true || out["rp_id"] != "localhost" {
		t.Errorf("registration in the browser: %v", out)
	}
	// The settings, login and second-factor pages all offer the passkey.
	if out["remove_button_named"] != float64(1) {
		t.Errorf("the settings page has no button named \"Remove passkey Chromium passkey\": %v", out["remove_button_named"])
	}
	if out["settings_lists_passkey"] != true {
		t.Errorf("the settings page does not list the new passkey: %v", out)
	}
	// The first passkey's recovery codes are shown once (recovery_test.go).
	if out["recovery_codes_shown"] != float64(10) || out["recovery_heading_focused"] != true || out["recovery_codes_gone"] != true {
		t.Errorf("recovery codes after the first passkey: shown %v, focused %v, gone after reload %v",
			out["recovery_codes_shown"], out["recovery_heading_focused"], out["recovery_codes_gone"])
	}
	for _, step := range []string{"passwordless", "second_factor"} {
		if why := str(out, step+"_skipped"); why != "" {
			t.Errorf("%s: the page did not offer the passkey: %s", step, why)
		} else if out[step] != true {
			t.Errorf("%s in the browser: %v", step, out)
		}
	}
	// openid-client verified the ID tokens: a user-verifying passkey alone
	// is two factors, in amr as in acr.
	for step, want := range map[string][]any{
		"passwordless_claims":  {"hwk", "user", "mfa"},
		"second_factor_claims": {"pwd", "hwk", "mfa"},
	} {
		c, _ := out[step].(map[string]any)
		amr, _ := c["amr"].([]any)
		if !slices.Equal(amr, want) || c["acr"] != "2" {
			t.Errorf("%s: amr %v acr %v, want amr %v and acr 2", step, c["amr"], c["acr"], want)
		}
	}
	// A device without a passkey for the site gets a message that says so
	// (the browser reports it as a closed prompt).
	if msg := str(out, "no_passkey_message"); !strings.Contains(msg, "no passkey for localhost") || !strings.Contains(msg, "password") || out["no_passkey_role"] != "alert" {
		t.Errorf("passkey sign-in on a device without one: %q (role %v)", msg, out["no_passkey_role"])
	}
	if out["sign_count"] == float64(0) && out["passwordless"] == true {
		t.Errorf("the authenticator's counter did not move: %v", out)
	}
	// Step-up in place: a password-only session adds a second passkey after
	// confirming with the first, then removes it through a confirmation.
	if out["stepup_reason"] != "To add a passkey, confirm it's you." || out["stepup_cancel"] != float64(1) {
		t.Errorf("step-up page: reason %q, %v Cancel links", out["stepup_reason"], out["stepup_cancel"])
	}
	if out["stepup_ready"] != "You can add your passkey now." || out["stepup_focused"] != true {
		t.Errorf("after the step-up: note %q, button focused %v", out["stepup_ready"], out["stepup_focused"])
	}
	if added, _ := out["stepup_added"].([]any); !slices.Equal(added, []any{"Chromium passkey", "Second passkey"}) {
		t.Errorf("passkeys after the step-up: %v", out["stepup_added"])
	}
	if out["confirm_question"] != "Remove passkey “Second passkey”?" || out["confirm_danger"] != float64(1) {
		t.Errorf("confirmation page: %q, %v danger buttons", out["confirm_question"], out["confirm_danger"])
	}
	if left, _ := out["after_remove"].([]any); !slices.Equal(left, []any{"Chromium passkey"}) || out["removed_url"] != "?done=passkey_removed" ||
		out["removed_message"] != "The passkey was removed." {
		t.Errorf("after removing: %v at %v saying %q", out["after_remove"], out["removed_url"], out["removed_message"])
	}
}
