package caddyoidc_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestLogoutBrowser signs a user out three ways in headless chromium
// (testdata/clients/logout.mjs): RP-initiated logout from an openid-client
// v6 app, "Sign out everywhere" and "Sign out" on the settings page. Each
// time the app's front-channel page is loaded with iss and sid, its
// back-channel endpoint gets a logout token that the client library's JOSE
// verifies (signature, iss, aud, typ, events, no nonce, the ID token's sid
// and sub), and the user must sign in again.
func TestLogoutBrowser(t *testing.T) {
	needTool(t, "chromium")
	needTool(t, "node")
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	e := newEnv(t, `
		client logout-app {
			client_name "Logout App"
			client_secret logout-secret
			redirect_uris `+base+`/callback
			post_logout_redirect_uris `+base+`/bye
			backchannel_logout_uri `+base+`/backchannel
			backchannel_logout_session_required
			frontchannel_logout_uri `+base+`/frontchannel
			frontchannel_logout_session_required true
			consent_mode implicit
			scopes openid profile
		}
`)
	e.start()
	env := flowEnv(e, "logout-app", "logout-secret", base+"/callback")
	env["ARTIFACTS_DIR"] = artifactsDir(t)
	out := script(t, "logout.mjs", env)

	for k, v := range as[map[string]any](t, out["metadata"]) {
		if v != true {
			t.Errorf("discovery %s = %v, want true", k, v)
		}
	}
	if errs := strs(out, "console_errors"); len(errs) > 0 {
		t.Errorf("the browser reported errors (a CSP violation?): %q", errs)
	}
	rounds, _ := out["rounds"].([]any)
	if len(rounds) != 3 {
		t.Fatalf("%d sign-out rounds, want 3: %v", len(rounds), out)
	}
	sids := map[string]bool{}
	logs := e.logText()
	for _, rv := range rounds {
		r := as[map[string]any](t, rv)
		name := str(r, "name")
		sid := str(r, "sid")
		if r["id_token_has_sid"] != true || sids[sid] {
			t.Errorf("%s: ID token sid %q (a new one per session)", name, sid)
		}
		sids[sid] = true
		fcs, _ := r["frontchannel"].([]any)
		if len(fcs) != 1 {
			t.Errorf("%s: front-channel page loaded %d times, want once", name, len(fcs))
		} else if fc := as[map[string]any](t, fcs[0]); fc["iss"] != e.issuer || fc["sid"] != sid {
			t.Errorf("%s: front-channel parameters %v, want iss %s and sid %s", name, fc, e.issuer, sid)
		}
		if r["backchannel_count"] != float64(1) || str(r, "backchannel_content_type") != "application/x-www-form-urlencoded" {
			t.Errorf("%s: back-channel: %v tokens, %q", name, r["backchannel_count"], str(r, "backchannel_content_type"))
		}
		v := as[map[string]any](t, r["verified"])
		if v["valid"] != true || v["typ"] != "logout+jwt" || v["has_nonce"] != false || v["sid_matches"] != true || v["sub_matches"] != true {
			t.Errorf("%s: logout token verification: %v", name, v)
		}
		ev := as[map[string]any](t, v["events"])
		if m, ok := ev["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(m) != 0 || len(ev) != 1 {
			t.Errorf("%s: events %v", name, ev)
		}
		for _, k := range []string{"forged_rejected", "other_audience_rejected", "other_issuer_rejected"} {
			if v[k] != true {
				t.Errorf("%s: %s = %v: the judge accepted a bad token", name, k, v[k])
			}
		}
		if r["login_asked"] != true {
			t.Errorf("%s: still signed in at the provider after signing out", name)
		}
		if tok := str(r, "logout_token"); tok == "" || strings.Contains(logs, tok) {
			t.Errorf("%s: the logout token is missing or was logged", name)
		}
	}
	if r := as[map[string]any](t, rounds[0]); r["bye_state_ok"] != true {
		t.Errorf("end-session did not continue to the post_logout_redirect_uri with state: %v", r)
	}
}
