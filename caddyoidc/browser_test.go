package caddyoidc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// artifactsDir is where the browser test writes its screenshots:
// $ARTIFACTS_DIR, or testdata/artifacts (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("ARTIFACTS_DIR") == "" {
		_ = os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("*\n"), 0o644)
	}
	return dir
}

// TestBrowser runs headless Debian chromium through the pages with
// playwright-core (testdata/clients/browser.mjs): a login with a wrong
// password first, consent, the redirect to a loopback app, Immich's mobile
// redirect to its custom scheme, and an unregistered redirect URI's error
// page; it checks accessibility basics and leaves screenshots.
func TestBrowser(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	port := freePort(t)
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", port)
	const immichSecret = "immich-browser-secret"
	t.Setenv("IMMICH_OIDC_SECRET", immichSecret)
	e := newEnv(t, `
		client browser-app {
			client_name "Browser App"
			client_secret browser-secret
			redirect_uris `+redirect+`
			scopes openid profile email groups
		}
`+exampleClient(t, "immich"))
	e.start()
	dir := artifactsDir(t)
	env := flowEnv(e, "browser-app", "browser-secret", redirect)
	env["IMMICH_CLIENT_ID"] = "immich"
	env["IMMICH_CLIENT_SECRET"] = immichSecret
	env["ARTIFACTS_DIR"] = dir
	out := script(t, "browser.mjs", env)

	for _, f := range strs(out, "screenshots") {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", f, err)
		}
	}
	t.Logf("screenshots in %s", dir)
	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors (CSP violations?): %q", errs)
	}

	// Login page.
	if out["login_status"] != float64(200) {
		t.Errorf("login page status %v", out["login_status"])
	}
	if p := strs(out, "login_a11y"); len(p) > 0 {
		t.Errorf("login page accessibility: %q", p)
	}
	for k, v := range as[map[string]any](t, out["labels"]) {
		if v != float64(1) {
			t.Errorf("getByLabel/getByRole %s found %v elements, want 1", k, v)
		}
	}
	if af := str(out, "autofocus"); af != "input#username[text]" {
		t.Errorf("autofocus on %q, want the username", af)
	}
	if order := strs(out, "tab_order"); !slices.Equal(order, []string{"input#username[text]", "input#password[password]", "input#remember_me[checkbox]", "button[submit]"}) {
		t.Errorf("Tab order from the username: %q, want username → password → keep me signed in → submit", order)
	}
	le, _ := out["login_error"].(map[string]any)
	if !strings.Contains(fmt.Sprint(le["alert"]), "Incorrect") || le["password_invalid"] != "true" || le["username_kept"] != "alice" {
		t.Errorf("wrong password: %v", le)
	}
	if le["focused"] != "input#password[password]" {
		t.Errorf("after a wrong password the focus is on %v, want the password", le["focused"])
	}

	// Consent and the app.
	if p := strs(out, "consent_a11y"); len(p) > 0 {
		t.Errorf("consent page accessibility: %q", p)
	}
	checkAlice(t, as[map[string]any](t, out["claims"]), "email", "profile", "groups")
	if out["callback_hits"] != float64(1) {
		t.Errorf("the loopback app was called %v times", out["callback_hits"])
	}
	if out["phone_overflow"] != false {
		t.Error("the login page scrolls sideways on a phone")
	}

	// Immich mobile through the custom scheme.
	checkAlice(t, as[map[string]any](t, out["mobile_claims"]), "email", "profile")

	// Error page.
	ep, _ := out["error_page"].(map[string]any)
	if ep["status"] != float64(400) || ep["stayed"] != true {
		t.Errorf("unregistered redirect URI: %v", ep)
	}
	if p := strs(ep, "a11y"); len(p) > 0 {
		t.Errorf("error page accessibility: %q", p)
	}
}

// TestDeviceGrantBrowser: a device on openid-client v6 starts the device
// authorization grant and polls; headless chromium, as the user's phone,
// follows verification_uri_complete, signs in and allows; then types a
// second code by hand and denies it (testdata/clients/device.mjs).
func TestDeviceGrantBrowser(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	e := newEnv(t, `
		client living-room-tv {
			client_name "Living Room TV"
			public
			grant_types urn:ietf:params:oauth:grant-type:device_code refresh_token
			scopes openid profile offline_access
		}
`)
	e.start()
	env := flowEnv(e, "living-room-tv", "", "")
	env["ARTIFACTS_DIR"] = artifactsDir(t)
	out := script(t, "device.mjs", env)

	if out["device_authorization_endpoint"] != e.issuer+"/api/oidc/device-authorization" {
		t.Errorf("discovery: device_authorization_endpoint %v", out["device_authorization_endpoint"])
	}
	if out["verification_uri"] != e.issuer+"/consent/openid/device-authorization" || out["expires_in"] != float64(600) || out["interval"] != float64(5) {
		t.Errorf("device authorization response: %v", out)
	}
	if out["prefilled"] != out["user_code"] || out["empty_field"] != "" {
		t.Errorf("code field: prefilled %v for %v; without the code %v", out["prefilled"], out["user_code"], out["empty_field"])
	}
	if !strings.Contains(str(out, "done_text"), "Living Room TV") {
		t.Errorf("done page: %v", out["done_text"])
	}
	claims := as[map[string]any](t, out["claims"])
	if claims["iss"] != e.issuer || fmt.Sprint(claims["aud"]) != "[living-room-tv]" || claims["sub"] == "" || claims["name"] == nil {
		t.Errorf("ID token claims %v", claims)
	}
	if out["has_refresh_token"] != true || out["refreshed_sub"] != claims["sub"] || out["userinfo_name"] == nil {
		t.Errorf("refresh/userinfo: %v %v %v", out["has_refresh_token"], out["refreshed_sub"], out["userinfo_name"])
	}
	if out["denied_poll"] != "access_denied" {
		t.Errorf("denied device's poll: %v, want access_denied", out["denied_poll"])
	}
	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}
