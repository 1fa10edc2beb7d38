package caddyoidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// a11yPage is a page the accessibility check visits: the script's name for
// it and the h1 it must show.
type a11yPage struct{ name, heading string }

// a11yPages are the pages testdata/clients/a11y.mjs brings the browser to,
// in its order, with the h1 each must show (so that a walk that goes astray
// fails), each checked with axe-core in light and dark mode at a phone's and
// a desktop's width. A new page gets a step in the script and a line here.
var a11yPages = []a11yPage{
	{"error-unknown-client", "This sign-in link is not valid"}, // an unknown client_id
	{"login", "Sign in"},                                    // with the passkey button
	{"login-error", "Sign in"},                              // after a wrong password
	{"totp-enroll", "Set up an authenticator app"},          // QR code and key
	{"totp-enroll-error", "Set up an authenticator app"},    // after a wrong code
	{"recovery-codes", "Your recovery codes"},               // shown once
	{"consent", "Allow access?"},                            // with "remember"
	{"error-with-code", "The sign-in did not complete"},     // a native app without PKCE
	{"code-page", "Copy this code"},                         // a native app's code (OOB)
	{"device-entry", "Connect a device"},                    // device flow: enter the code
	{"device-entry-error", "Connect a device"},              // an unknown code
	{"device-consent", "Allow access?"},                     // the device's consent
	{"device-done", "Device connected"},                     // back to the device
	{"device-denied", "Access denied"},                      // a second device, denied
	{"settings", "Security settings"},                       // authenticator app, passkey, consent, recovery codes
	{"logout-confirm", "Sign out?"},                         // from the settings' session
	{"logout-done", "Signed out"},                           // after signing out
	{"logout-signed-out", "Sign out"},                       // nothing to sign out of
	{"form-only-get", "Sign in"},                            // GET /login/2fa, signed out
	{"second-factor", "Confirm it's you"},                   // code or passkey
	{"second-factor-error", "Confirm it's you"},             // after a wrong code
	{"second-factor-recovery", "Confirm it's you"},          // "lost your device?" opened: recovery code entry
	{"settings-nothing", "Security settings"},               // no second factor, no consent
	{"settings-recovery-new", "Security settings"},          // recovery codes after a first passkey
	{"settings-confirm", "Create new recovery codes?"},      // a settings change's confirmation
	{"settings-step-up", "Confirm it's you"},                // then the step-up a password-only session needs
	{"recovery-codes-settings", "Your recovery codes"},      // the change resumed after the passkey
	{"totp-enroll-settings", "Set up an authenticator app"}, // from the settings, with Cancel
	{"second-factor-passkey", "Confirm it's you"},           // a passkey only
}

// a11ySelfTest is a page with violations axe-core must find; if it finds
// none, the check is broken and finds nothing anywhere.
const a11ySelfTest = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Broken on purpose</title></head>
<body><main>
<h1>Broken on purpose</h1>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="40" height="40">
<p style="color:#999;background:#aaa">Grey on grey</p>
<input type="text" name="unlabelled">
<div style="width:1600px">Too wide for a phone</div>
</main></body>
</html>`

// a11ySelfTestRules are the rules the self-test page breaks.
var a11ySelfTestRules = []string{"image-alt", "color-contrast", "label", "reflow"}

// TestAccessibility checks every page a user can see with axe-core's WCAG
// 2.0/2.1 A and AA rules, in light and dark mode at 390 and 1280 pixels
// (testdata/clients/a11y.mjs), and keeps a screenshot of each in
// ARTIFACTS_DIR/a11y. Any violation fails the test, and so does sideways
// scrolling (WCAG 2.1 reflow, which axe-core does not check); so does a
// self-test page with known violations that the check does not report.
func TestAccessibility(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	selfTest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(a11ySelfTest))
	}))
	defer selfTest.Close()
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	e := newEnv(t, `
		client a11y-app {
			client_name "Photo Album"
			client_secret a11y-secret
			redirect_uris `+redirect+`
			scopes openid profile
			pre_configured_consent_duration 1h
		}
		client a11y-2fa {
			client_name "Payroll"
			client_secret a11y-secret
			redirect_uris `+redirect+`
			scopes openid profile
			authorization_policy two_factor
			consent_mode implicit
		}
		client a11y-cli {
			client_name "Command Line Tool"
			public
			redirect_uris urn:ietf:wg:oauth:2.0:oob
			scopes openid profile
			consent_mode implicit
		}
		client a11y-tv {
			client_name "Living Room TV"
			public
			grant_types urn:ietf:params:oauth:grant-type:device_code
			scopes openid profile
		}`)
	// The walk mistypes on purpose; regulation must not ban alice for it.
	e.extra = "\t\tregulation {\n\t\t\tmax_retries 0\n\t\t}\n"
	e.startOnLocalhost() // passkeys need a host name
	dir := filepath.Join(artifactsDir(t), "a11y")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := flowEnv(e, "a11y-app", "a11y-secret", redirect)
	env["TF_CLIENT_ID"] = "a11y-2fa"
	env["OOB_CLIENT_ID"] = "a11y-cli"
	env["DEVICE_CLIENT_ID"] = "a11y-tv"
	env["SECOND_USERNAME"] = "bob"
	env["SELFTEST_URL"] = selfTest.URL
	env["ARTIFACTS_DIR"] = dir
	out := script(t, "a11y.mjs", env)

	pages := as[map[string]any](t, out["pages"])
	self, _ := pages["selftest"].(map[string]any)
	if found := a11yRules(self); !isSuperset(found, a11ySelfTestRules) {
		t.Fatalf("axe-core found %q on the self-test page, want at least %q: the check cannot fail", found, a11ySelfTestRules)
	}
	for _, want := range a11yPages {
		name := want.name
		p, ok := pages[name].(map[string]any)
		if !ok {
			t.Errorf("%s: not checked", name)
			continue
		}
		if h := str(p, "heading"); h != want.heading {
			t.Errorf("%s: the page at %s shows %q, want %q", name, str(p, "url"), h, want.heading)
		}
		shots := strs(p, "screenshots")
		if len(shots) != 4 {
			t.Errorf("%s: %d screenshots, want 4 (light and dark, phone and desktop)", name, len(shots))
		}
		for _, f := range shots {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				t.Errorf("%s: screenshot %s: %v", name, f, err)
			}
		}
		for _, v := range a11yFindings(p, "violations") {
			t.Errorf("%s: %s", name, v)
		}
		// What axe-core cannot decide (a contrast over an image, say)
		// needs a person's look at the screenshots.
		for _, v := range a11yFindings(p, "incomplete") {
			t.Logf("%s, to review: %s", name, v)
		}
	}
	for name := range pages {
		if name != "selftest" && !slices.ContainsFunc(a11yPages, func(p a11yPage) bool { return p.name == name }) {
			t.Errorf("a11y.mjs checked %q, which a11yPages does not list", name)
		}
	}
	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
	t.Logf("screenshots in %s", dir)
}

// a11yFindings describes a page report's violations or incomplete results,
// one line per rule and elements with the modes it was found in, the
// elements concerned below it.
func a11yFindings(report map[string]any, kind string) []string {
	var keys []string
	modes := map[string][]string{}
	list, _ := report[kind].([]any)
	for _, v := range list {
		v, _ := v.(map[string]any)
		key := fmt.Sprintf("%s [%s, %s]\n\t%s", str(v, "help"), str(v, "id"), str(v, "impact"), strings.Join(strs(v, "targets"), "\n\t"))
		if _, seen := modes[key]; !seen {
			keys = append(keys, key)
		}
		modes[key] = append(modes[key], str(v, "mode"))
	}
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s (%s): %s", str(report, "title"), strings.Join(modes[k], ", "), k))
	}
	return out
}

// a11yRules lists the ids of the rules a page report violates.
func a11yRules(report map[string]any) []string {
	var ids []string
	violations, _ := report["violations"].([]any)
	for _, v := range violations {
		m, _ := v.(map[string]any)
		if id := str(m, "id"); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func isSuperset(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
