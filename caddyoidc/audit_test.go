package caddyoidc_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// auditLog is the global option the README shows: the audit events in a
// file of their own.
const auditLog = `	log audit {
		output file %s
		include http.handlers.oidc_provider.audit
	}`

// auditEvent is one line of the audit log.
type auditEvent map[string]any

func (a auditEvent) str(k string) string { s, _ := a[k].(string); return s }

// Every security event is in the audit log, sent to its own file with
// Caddy's log options, with user, client, address and method, and never a
// password, secret, code or token (in that log or Caddy's main log).
func TestAuditLog(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if shown := fmt.Sprintf(auditLog, "/var/log/caddy/oidc-audit.log"); !strings.Contains(string(readme), shown) {
		t.Fatalf("README.md does not show the log option this test uses:\n%s", shown)
	}
	e := newEnv(t, adminClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	auditPath := filepath.Join(e.dir, "audit.log")
	e.global = fmt.Sprintf(auditLog, auditPath)
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	const wrongPassword = "not-the-password-9f2c"

	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", wrongPassword)
	params := callbackParams(t, b.consent(b.login(p, "alice", testPassword), "allow"), rpCallback)
	code := params.Get("code")
	tok, err := r.config.Exchange(ctx(t), code)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"token": {fresh.RefreshToken}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/revocation", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("basic-app", "s3cret-basic")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation: %v %v", resp, err)
	}
	closeBody(resp)
	// Consent denied by another user, then banned after three failures.
	bob := newBrowser(t, e.issuer)
	bob.consent(bob.login(bob.get(r.config.AuthCodeURL(randString(t))), "bob", testPassword), "deny")
	var cookies []string
	for _, c := range b.client.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.issuer, "http://"), Path: "/"}) {
		cookies = append(cookies, c.Value)
	}
	// Sign out, then an administrator ends bob's sessions.
	lp := b.get(e.issuer + "/logout")
	b.submit(lp, nil)
	e.mustAdmin("DELETE", "/oidc/sessions?user=bob")
	mallory := newBrowser(t, e.issuer)
	p = mallory.get(r.config.AuthCodeURL(randString(t)))
	for range 4 {
		p = mallory.login(p, "carol", wrongPassword)
	}
	e.stop() // flushes and closes the logs

	raw, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var events []auditEvent
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var ev auditEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if ev.str("logger") != "http.handlers.oidc_provider.audit" {
			t.Errorf("another logger in the audit log: %v", ev)
		}
		events = append(events, ev)
	}
	find := func(msg string, match map[string]string) auditEvent {
		t.Helper()
	next:
		for _, ev := range events {
			if ev.str("msg") != msg {
				continue
			}
			for k, v := range match {
				if ev.str(k) != v {
					continue next
				}
			}
			return ev
		}
		t.Errorf("no %s event with %v in the audit log:\n%s", msg, match, raw)
		return nil
	}
	find("sign_in", map[string]string{"result": "failure", "user": "alice", "client_id": "basic-app", "remote_ip": "127.0.0.1", "method": "password", "issuer": e.issuer})
	find("sign_in", map[string]string{"result": "success", "user": "alice", "client_id": "basic-app", "remote_ip": "127.0.0.1", "method": "password"})
	find("consent_given", map[string]string{"user": "alice", "client_id": "basic-app"})
	find("consent_denied", map[string]string{"user": "bob", "client_id": "basic-app"})
	find("token_issued", map[string]string{"user": "alice", "client_id": "basic-app", "grant_type": "authorization_code"})
	find("token_refreshed", map[string]string{"user": "alice", "client_id": "basic-app", "grant_type": "refresh_token"})
	find("token_revoked", map[string]string{"client_id": "basic-app"})
	find("sign_out", map[string]string{"user": "alice", "remote_ip": "127.0.0.1"})
	find("sessions_revoked", map[string]string{"user": "bob", "actor": "admin"})
	find("ban", map[string]string{"user": "carol", "remote_ip": "127.0.0.1"})
	find("sign_in", map[string]string{"result": "banned", "user": "carol"})

	mainLog := e.logText()
	secrets := map[string]string{
		"the password": testPassword, "a wrong password": wrongPassword, "the client secret": "s3cret-basic",
		"the code": code, "the access token": tok.AccessToken, "the refresh token": tok.RefreshToken,
		"the refreshed token": fresh.RefreshToken, "the ID token": rawIDToken(t, tok),
	}
	for i, c := range cookies {
		secrets[fmt.Sprintf("cookie %d", i)] = c
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s is empty", what)
		}
		if strings.Contains(string(raw), s) {
			t.Errorf("the audit log contains %s", what)
		}
		if strings.Contains(mainLog, s) {
			t.Errorf("Caddy's log contains %s", what)
		}
	}
}

// hasAuditEvent reports whether log (Caddy's JSON log) has an audit entry
// with the message msg and the fields of match.
func hasAuditEvent(log, msg string, match map[string]string) bool {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
next:
	for sc.Scan() {
		var ev auditEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.str("logger") != "http.handlers.oidc_provider.audit" || ev.str("msg") != msg {
			continue
		}
		for k, v := range match {
			if ev.str(k) != v {
				continue next
			}
		}
		return true
	}
	return false
}
