package caddyoidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
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
	if r := as[map[string]any](t, rounds[1]); r["confirmed"] != true {
		t.Errorf("signing out everywhere from the settings did not ask for confirmation first: %v", r)
	}
	if r := as[map[string]any](t, rounds[0]); r["bye_state_ok"] != true {
		t.Errorf("end-session did not continue to the post_logout_redirect_uri with state: %v", r)
	}
}

// TestAdminRevokeSessionsBackchannel: an operator revoking a user's
// sessions through the admin API tells the apps that took part in them:
// the app's back-channel endpoint (served here) gets a logout token that
// go-oidc's verifier accepts (signature, iss, aud, exp) carrying the ID
// token's sid and sub.
func TestAdminRevokeSessionsBackchannel(t *testing.T) {
	tokens := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil && r.Method == http.MethodPost {
			tokens <- r.PostForm.Get("logout_token")
		}
	}))
	defer recv.Close()
	e := startWithAdmin(t, `
		client bc-app {
			client_secret bc-secret
			redirect_uris `+rpCallback+`
			scopes openid profile email groups offline_access
			backchannel_logout_uri `+recv.URL+`/backchannel
		}`)
	r := newRP(t, e.issuer, "bc-app", "bc-secret", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	params := loginFlow(t, b, r.config.AuthCodeURL("state-123456", oidcNonce("nonce-123456")), "alice")
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	var id struct {
		Sub string `json:"sub"`
		SID string `json:"sid"`
	}
	if err := idt.Claims(&id); err != nil || id.SID == "" {
		t.Fatalf("ID token sid %q: %v", id.SID, err)
	}
	// A refreshed ID token names the same session.
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := r.config.TokenSource(ctx(t), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	ridt, err := r.verifier.Verify(ctx(t), rawIDToken(t, refreshed))
	if err != nil {
		t.Fatal(err)
	}
	var rid struct {
		SID string `json:"sid"`
	}
	if err := ridt.Claims(&rid); err != nil || rid.SID != id.SID {
		t.Errorf("refreshed ID token sid %q, want %q (%v)", rid.SID, id.SID, err)
	}

	if got := e.mustAdmin("DELETE", "/oidc/sessions?user=alice"); got["revoked"] != 1.0 {
		t.Fatalf("revoke: %v", got)
	}
	var logoutToken string
	select {
	case logoutToken = <-tokens:
	case <-time.After(15 * time.Second):
		t.Fatal("no logout token after the admin revoked the sessions")
	}
	lt, err := r.verifier.Verify(ctx(t), logoutToken)
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	var claims map[string]any
	if err := lt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	ev, _ := claims["events"].(map[string]any)
	if claims["sid"] != id.SID || claims["sub"] != id.Sub || ev["http://schemas.openid.net/event/backchannel-logout"] == nil || claims["nonce"] != nil {
		t.Errorf("logout token claims %v; ID token sub %s sid %s", claims, id.Sub, id.SID)
	}
	if p := b.get(r.config.AuthCodeURL("state-123456")); !isLoginPage(p) {
		t.Error("the revoked session still works")
	}
	if strings.Contains(e.logText(), logoutToken) {
		t.Error("the logout token was logged")
	}
}

func oidcNonce(n string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam("nonce", n) }

// TestDisabledUserBackchannel: a user disabled in the users file loses
// their sessions as soon as the file is read again, and the apps that took
// part are told through the back channel.
func TestDisabledUserBackchannel(t *testing.T) {
	tokens := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err == nil && r.Method == http.MethodPost {
			tokens <- r.PostForm.Get("logout_token")
		}
	}))
	defer recv.Close()
	e := startWithAdmin(t, `
		client bc-app {
			client_secret bc-secret
			redirect_uris `+rpCallback+`
			scopes openid profile email groups offline_access
			backchannel_logout_uri `+recv.URL+`/backchannel
		}`)
	r := newRP(t, e.issuer, "bc-app", "bc-secret", oauth2.AuthStyleInHeader)
	alice := newBrowser(t, e.issuer)
	loginFlow(t, alice, r.config.AuthCodeURL("state-123456"), "alice")
	bob := newBrowser(t, e.issuer)
	loginFlow(t, bob, r.config.AuthCodeURL("state-123456"), "bob")

	e.writeUsers(map[string]string{"alice": "disabled", "bob": "", "carol": "disabled"})
	e.mustAdmin("POST", "/oidc/users/reload")
	var logoutToken string
	select {
	case logoutToken = <-tokens:
	case <-time.After(15 * time.Second):
		t.Fatal("no logout token after alice was disabled")
	}
	lt, err := r.verifier.Verify(ctx(t), logoutToken)
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	var claims map[string]any
	_ = lt.Claims(&claims)
	if claims["sid"] == nil || claims["sub"] == "" {
		t.Errorf("claims %v", claims)
	}
	if list := e.mustAdmin("GET", "/oidc/sessions?user=alice"); len(as[[]any](t, list["sessions"])) != 0 {
		t.Errorf("alice's sessions survived: %v", list)
	}
	if list := e.mustAdmin("GET", "/oidc/sessions?user=bob"); len(as[[]any](t, list["sessions"])) != 1 {
		t.Errorf("bob's session: %v", list)
	}
	select {
	case tok := <-tokens:
		c := jwtClaims(t, tok)
		t.Errorf("a second logout token (for bob?): %v", c)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestBackchannelReceiverDown: with the default delivery policy, an app
// whose back-channel endpoint is down does not keep the user from signing
// out: the sign-out page answers, and the session has ended, before the
// delivery has even given up; it gives up after 3 attempts and logs it,
// without the token.
func TestBackchannelReceiverDown(t *testing.T) {
	down := fmt.Sprintf("http://127.0.0.1:%d/backchannel", freePort(t)) // nothing listens
	e := startWithAdmin(t, `
		client down-app {
			client_secret down-secret
			redirect_uris `+rpCallback+`
			scopes openid profile email groups offline_access
			backchannel_logout_uri `+down+`
		}`)
	r := newRP(t, e.issuer, "down-app", "down-secret", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	loginFlow(t, b, r.config.AuthCodeURL("state-123456"), "alice")

	confirm := b.get(e.issuer + "/logout")
	form := confirm.formFields()
	done := b.post(confirm.formAction(e.issuer), form)
	if done.status != 200 || !strings.Contains(done.body, "signed out") {
		t.Fatalf("sign-out: %d %.300s", done.status, done.body)
	}
	const failed = "back-channel logout failed; the application may still consider the user signed in"
	if strings.Contains(e.logText(), failed) {
		t.Fatal("the sign-out answered only after the delivery gave up: it waited for the app")
	}
	if list := e.mustAdmin("GET", "/oidc/sessions?user=alice"); len(as[[]any](t, list["sessions"])) != 0 {
		t.Errorf("alice is still signed in: %v", list)
	}
	if p := b.get(r.config.AuthCodeURL("state-123456")); !isLoginPage(p) {
		t.Error("the browser is still signed in")
	}
	deadline := time.Now().Add(30 * time.Second)
	var line string
	for time.Now().Before(deadline) && line == "" {
		for l := range strings.SplitSeq(e.logText(), "\n") {
			if strings.Contains(l, failed) {
				line = l
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if line == "" {
		t.Fatal("no failure logged")
	}
	if !strings.Contains(line, `"client_id":"down-app"`) || !strings.Contains(line, `"attempts":3`) || strings.Contains(line, "eyJ") {
		t.Errorf("failure log line: %s", line)
	}
}
