package caddyoidc_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

var handleRE = regexp.MustCompile(`(?m)^([0-9a-f]{64})\s`)

// `caddy oidc sessions` and `consents` go through the admin API while Caddy
// runs (the provider acts at once) and to the database when it is stopped.
func TestSessionsAndConsentsCommands(t *testing.T) {
	bin := buildCaddy(t)
	e := newEnv(t, adminClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	stop := e.runProcess(bin)                // a real Caddy process, whose admin endpoint goes away when it stops
	cfg := filepath.Join(e.dir, "Caddyfile") // as runProcess wrote it
	r := newRP(t, e.issuer, "remember-app", "remember-secret", oauth2.AuthStyleInHeader)
	signIn := func() *browser {
		b := newBrowser(t, e.issuer)
		p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
		callbackParams(t, b.submit(p, url.Values{"decision": {"allow"}, "remember": {"1"}}), rpCallback)
		return b
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
	const viaAPI, direct = "through its admin API at " + "127.0.0.1", "directly in the database (sqlite "

	// Running: through the admin API.
	b := signIn()
	out := run(viaAPI, "sessions", "list", "--user", "alice")
	handles := handleRE.FindAllStringSubmatch(out, -1)
	if len(handles) != 1 || !strings.Contains(out, "pwd") {
		t.Fatalf("sessions list:\n%s", out)
	}
	if out := run(viaAPI, "consents", "list", "--user", "alice"); !strings.Contains(out, "remember-app") {
		t.Errorf("consents list:\n%s", out)
	}
	if out := run(viaAPI, "consents", "revoke", "--user", "alice", "--client", "remember-app"); !strings.Contains(out, "Revoked 1 consents of alice") {
		t.Errorf("consents revoke:\n%s", out)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !isConsentPage(p) {
		t.Errorf("no consent page after consents revoke: %d", p.status)
	}
	if out := run(viaAPI, "sessions", "revoke", "--user", "alice", "--handle", handles[0][1]); !strings.Contains(out, "Revoked 1 login sessions of alice") {
		t.Errorf("sessions revoke:\n%s", out)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !isLoginPage(p) {
		t.Errorf("the session still works after sessions revoke: %d", p.status)
	}
	var list struct {
		Sessions []struct {
			Handle string `json:"handle"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(run(viaAPI, "sessions", "list", "--user", "alice", "--json")), &list); err != nil || len(list.Sessions) != 0 {
		t.Errorf("sessions list --json after revoking: %+v %v", list, err)
	}

	// Stopped: directly in the database.
	b = signIn()
	stop()
	if out := run(direct, "sessions", "list", "--user", "alice"); len(handleRE.FindAllString(out, -1)) != 1 {
		t.Errorf("sessions list without Caddy:\n%s", out)
	}
	if out := run(direct, "consents", "list", "--user", "alice", "--client", "remember-app"); !strings.Contains(out, "remember-app") {
		t.Errorf("consents list without Caddy:\n%s", out)
	}
	if out := run(direct, "sessions", "revoke", "--user", "alice"); !strings.Contains(out, "Revoked 1 login sessions") {
		t.Errorf("sessions revoke without Caddy:\n%s", out)
	}
	if out := run(direct, "consents", "revoke", "--user", "alice"); !strings.Contains(out, "Revoked 1 consents") {
		t.Errorf("consents revoke without Caddy:\n%s", out)
	}
	e.runProcess(bin)
	b.client.CloseIdleConnections()
	p := b.get(r.config.AuthCodeURL(randString(t)))
	if !isLoginPage(p) {
		t.Fatalf("the session revoked while Caddy was stopped still works: %d", p.status)
	}
	if p := b.login(p, "alice", testPassword); !isConsentPage(p) {
		t.Errorf("the consent revoked while Caddy was stopped is still remembered: %d", p.status)
	}
}
