package caddyoidc_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/caddy-oidc/caddy-oidc/internal/authn/passkeytest"
)

// An authorization request for a client_id nobody configured gets a page a
// person understands (no library text), and the log names the client_id
// that was asked for, so the administrator can tell which app is wrong.
func TestUnknownClientPageAndLog(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	long := strings.Repeat("x", 300)
	for _, id := range []string{"no-such-app", long} {
		b := newBrowser(t, e.issuer)
		p := b.get(e.authURL(authQuery(t, id, "scope", "openid")))
		wantErrorPage(t, p, http.StatusBadRequest)
		if strings.Contains(p.body, "OAuth 2.0 Client") || !strings.Contains(p.body, "not registered with this sign-in service") {
			t.Errorf("client_id %.20s: the page does not explain it: %.600s", id, p.body)
		}
	}
	logs := e.logText()
	if !strings.Contains(logs, `"client_id":"no-such-app"`) {
		t.Errorf("the log does not record the requested client_id:\n%s", logs)
	}
	// A long one is cut: the log is not the requester's to fill.
	if strings.Contains(logs, long) || !strings.Contains(logs, `"client_id":"`+long[:128]+`…"`) {
		t.Errorf("a 300-byte client_id was not cut to 128 bytes in the log")
	}
}

// A form-only page opened from the browser's history (a GET) leads to the
// settings page, which offers the way on, instead of a 405.
func TestFormOnlyPagesFromHistory(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	paths := []string{"/login/2fa", "/login/totp", "/login/continue", "/login/recovery", "/login/recovery/done", "/consent"}
	b := newBrowser(t, e.issuer)
	for _, path := range paths {
		if p := b.get(e.issuer + path); p.status != http.StatusOK || !isLoginPage(p) {
			t.Errorf("GET %s signed out: %d, want the sign-in form: %.300s", path, p.status, p.body)
		}
	}
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	codeFor(t, e, b, authQuery(t, "basic-app", "scope", "openid"), "alice")
	_ = r
	for _, path := range paths {
		if p := b.get(e.issuer + path); p.status != http.StatusOK || !strings.Contains(p.body, "Signed in as") {
			t.Errorf("GET %s signed in: %d, want the settings page: %.300s", path, p.status, p.body)
		}
	}
	// Other methods still get the readable 405.
	req, _ := http.NewRequest(http.MethodPut, e.issuer+"/login/2fa", nil)
	if p := b.do(req); p.status != http.StatusMethodNotAllowed || p.header.Get("Allow") != "POST" || !strings.Contains(p.body, "<h1>") {
		t.Errorf("PUT /login/2fa: %d Allow %q", p.status, p.header.Get("Allow"))
	}
}

// registerPasskey adds a passkey of auth named name to the user signed in
// in b (at a one-factor client, so no step-up is needed for the first).
func registerPasskey(t *testing.T, b *browser, csrf, name string, auth *passkeytest.Authenticator) {
	t.Helper()
	registerForCodes(t, b, csrf, name, auth) // passkeyoptions_test.go
}

// passwordless tries a passwordless sign-in with auth in a new browser and
// returns the finish status.
func passwordless(t *testing.T, e *env, auth *passkeytest.Authenticator) int {
	t.Helper()
	b := newBrowser(t, e.issuer)
	csrf := b.get(e.issuer + "/login").formFields().Get("csrf_token")
	status, _ := b.passkeyCeremony("/login", csrf, auth.Get)
	return status
}

// An administrator lists and removes a user's passkeys through the admin API
// and `caddy oidc passkeys` (by API while Caddy runs, in the database when
// it does not); a removed passkey signs in no more.
func TestPasskeysAdminAndCommand(t *testing.T) {
	e := newEnv(t, passkeyClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.startOnLocalhost()
	cfg := filepath.Join(e.dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(e.caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(wantVia string, args ...string) string {
		t.Helper()
		out, errOut, err := runOIDCCommand(t, append(args, "--config", cfg, "--adapter", "caddyfile")...)
		if err != nil {
			t.Fatalf("caddy oidc %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		if !strings.Contains(errOut, wantVia) {
			t.Errorf("caddy oidc %s: stderr %q, want it to say %q", strings.Join(args, " "), errOut, wantVia)
		}
		return out
	}
	const viaAPI, direct = "through its admin API at 127.0.0.1", "directly in the database (sqlite "

	// Alice signs in with her password and registers two passkeys.
	b, csrf := passwordSession(t, e) // passkeyoptions_test.go
	lost, kept := passkeytest.New(e.issuer), passkeytest.New(e.issuer)
	registerPasskey(t, b, csrf, "Lost phone", lost)
	// The second needs the first as step-up: sign in with it as second factor.
	b = newBrowser(t, e.issuer)
	r := newRP(t, e.issuer, "pk-app", "pk-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "profile"}
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	csrf = p.formFields().Get("csrf_token")
	if status, body := b.passkeyCeremony("/2fa", csrf, lost.Get); status != http.StatusOK {
		t.Fatalf("2fa: %d %s", status, body)
	}
	callbackParams(t, b.continueAfterPasskey(p), rpCallback)
	registerPasskey(t, b, csrf, "Laptop", kept)

	// The settings page tells the two remove buttons apart (for screen
	// readers too) and marks them as destructive.
	settings := b.get(e.issuer + "/settings")
	for _, name := range []string{"Lost phone", "Laptop"} {
		if !strings.Contains(settings.body, `value="passkey-remove" class="secondary danger"`) || !strings.Contains(settings.body, `aria-label="Remove passkey `+name+`"`) {
			t.Errorf("settings: no accessible, destructive remove button for %q: %.1200s", name, settings.body)
		}
	}

	// The admin API lists both, without key material.
	body := e.mustAdmin(http.MethodGet, "/oidc/passkeys?user=alice")
	list, _ := body["passkeys"].([]any)
	if len(list) != 2 || body["user"] != "alice" || body["issuer"] != e.issuer {
		t.Fatalf("GET /oidc/passkeys: %v", body)
	}
	first := as[map[string]any](t, list[0])
	lostID, _ := first["id"].(string)
	if first["name"] != "Lost phone" || lostID == "" || first["last_used_at"] == nil || first["created_at"] == nil {
		t.Errorf("first passkey: %v", first)
	}
	for _, k := range []string{"data", "public_key", "credential"} {
		if _, ok := first[k]; ok {
			t.Errorf("the admin API shows %q of a passkey", k)
		}
	}
	if status, body := e.adminCall(http.MethodGet, "/oidc/passkeys"); status != http.StatusBadRequest {
		t.Errorf("GET without user: %d %v", status, body)
	}

	// The command, through the API: lists them, removes the lost one.
	out := run(viaAPI, "passkeys", "list", "--user", "alice")
	if !strings.Contains(out, lostID) || !strings.Contains(out, "Lost phone") || !strings.Contains(out, "Laptop") {
		t.Errorf("passkeys list:\n%s", out)
	}
	if _, _, err := runOIDCCommand(t, "passkeys", "remove", "--user", "alice", "--config", cfg, "--adapter", "caddyfile"); err == nil || !strings.Contains(err.Error(), "--all") {
		t.Errorf("passkeys remove without --id or --all: %v", err)
	}
	if passwordless(t, e, lost) != http.StatusOK {
		t.Fatal("control: the passkey does not sign in before its removal")
	}
	if out := run(viaAPI, "passkeys", "remove", "--user", "alice", "--id", lostID); !strings.Contains(out, "Removed 1 passkey(s) of alice") {
		t.Errorf("passkeys remove --id:\n%s", out)
	}
	if status := passwordless(t, e, lost); status != http.StatusUnauthorized {
		t.Errorf("the removed passkey still signs in: %d", status)
	}
	if status := passwordless(t, e, kept); status != http.StatusOK {
		t.Errorf("the other passkey stopped working: %d", status)
	}
	// Removing it again: 404, nothing removed.
	if status, body := e.adminCall(http.MethodDelete, "/oidc/passkeys?user=alice&id="+url.QueryEscape(lostID)); status != http.StatusNotFound {
		t.Errorf("removing a removed passkey: %d %v", status, body)
	}
	// Bob cannot lose Alice's passkey.
	var kp struct {
		Passkeys []struct{ ID string } `json:"passkeys"`
	}
	if err := json.Unmarshal([]byte(run(viaAPI, "passkeys", "list", "--user", "alice", "--json")), &kp); err != nil || len(kp.Passkeys) != 1 {
		t.Fatalf("passkeys list --json: %+v %v", kp, err)
	}
	if status, _ := e.adminCall(http.MethodDelete, "/oidc/passkeys?user=bob&id="+url.QueryEscape(kp.Passkeys[0].ID)); status != http.StatusNotFound {
		t.Errorf("removing alice's passkey as bob's: %d", status)
	}
	if !strings.Contains(e.logText(), `"passkeys_removed"`) {
		t.Error("the removal is not in the audit log")
	}

	// Caddy stopped: the command works on the database. (caddy.Stop keeps
	// the in-process admin endpoint, so the command is pointed at an
	// address where nothing answers, as after a real process exit.)
	e.stop()
	nobody := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if out := run(direct, "passkeys", "list", "--user", "alice", "--address", nobody); !strings.Contains(out, "Laptop") || strings.Contains(out, "Lost phone") {
		t.Errorf("passkeys list without Caddy:\n%s", out)
	}
	if out := run(direct, "passkeys", "remove", "--user", "alice", "--all", "--address", nobody); !strings.Contains(out, "Removed 1 passkey(s)") {
		t.Errorf("passkeys remove --all without Caddy:\n%s", out)
	}
	if out := run(direct, "passkeys", "list", "--user", "alice", "--address", nobody); !strings.Contains(out, "alice has no passkeys") {
		t.Errorf("passkeys list after removing all:\n%s", out)
	}
	e.start()
	if status := passwordless(t, e, kept); status != http.StatusUnauthorized {
		t.Errorf("a passkey removed while Caddy was stopped still signs in: %d", status)
	}
}

// An authenticator app added from the settings page is the user's choice:
// the page says what it adds (not that the account needs it), offers Cancel
// back to the settings, and a mistyped code keeps the key.
func TestVoluntaryTOTPEnrolment(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(e.issuer+"/settings"), "alice", testPassword)
	csrf := p.formFields().Get("csrf_token")
	p = b.post(e.issuer+"/settings", url.Values{"csrf_token": {csrf}, "return_to": {"/settings"}, "action": {"totp-enroll"}})
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil || strings.Contains(p.body, "This account needs") || !strings.Contains(p.body, "An authenticator app adds a second step") ||
		!strings.Contains(p.body, `<a class="button secondary" href="/settings">Cancel</a>`) {
		t.Fatalf("voluntary enrolment page: %d %.900s", p.status, p.body)
	}
	p = b.submit(p, url.Values{"code": {"000000"}})
	if m2 := secretRE.FindStringSubmatch(p.body); m2 == nil || m2[1] != m[1] || !strings.Contains(p.body, "Cancel</a>") {
		t.Fatalf("after a wrong code: %d %.900s", p.status, p.body)
	}
	p = b.submit(p, url.Values{"code": {totpCode(t, m[1], time.Now())}})
	p = b.pastRecoveryCodes(p) // recovery_test.go
	if p.status != http.StatusOK || !strings.Contains(p.body, "An authenticator app is set up") {
		t.Fatalf("after the right code: %d %.600s", p.status, p.body)
	}
}
