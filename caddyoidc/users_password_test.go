package caddyoidc_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
)

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// changePasswordForm posts the settings page's password form.
func changePasswordForm(t *testing.T, e *env, b *browser, current, next, confirm string) page {
	t.Helper()
	settings := b.get(e.issuer + "/settings")
	m := csrfRE.FindStringSubmatch(settings.body)
	if m == nil || !strings.Contains(settings.body, `value="password-change"`) {
		t.Fatalf("settings page without the password form: %d %.300s", settings.status, settings.body)
	}
	return b.post(e.issuer+"/settings", url.Values{"csrf_token": {m[1]}, "action": {"password-change"},
		"current_password": {current}, "new_password": {next}, "new_password_confirm": {confirm}})
}

func TestPasswordChangeFromSettings(t *testing.T) {
	for _, backend := range []string{"file", "ldap"} {
		t.Run(backend, func(t *testing.T) {
			var e *env
			old := testPassword
			if backend == "ldap" {
				e, _ = ldapEnv(t)
				old = ldaptest.AlicePassword
			} else {
				e = newEnv(t, ldapClients)
				e.start()
			}
			b := newBrowser(t, e.issuer)
			if p := b.login(b.get(e.issuer+"/settings"), "alice", old); p.status != http.StatusOK {
				t.Fatalf("sign-in: %d", p.status)
			}
			if p := changePasswordForm(t, e, b, "wrong", "n3w-Passw0rd", "n3w-Passw0rd"); !strings.Contains(p.body, "The current password is not correct.") {
				t.Errorf("wrong current password: %d %.300s", p.status, p.body)
			}
			if p := changePasswordForm(t, e, b, old, "n3w-Passw0rd", "other"); !strings.Contains(p.body, "must be the same") {
				t.Errorf("mismatched confirmation: %d", p.status)
			}
			if p := changePasswordForm(t, e, b, old, "n3w-Passw0rd", "n3w-Passw0rd"); !strings.Contains(p.body, "Your password was changed.") {
				t.Fatalf("password change: %d %.400s", p.status, p.body)
			}
			fresh := newBrowser(t, e.issuer)
			if p := fresh.login(fresh.get(e.issuer+"/settings"), "alice", old); p.status != http.StatusUnauthorized {
				t.Errorf("old password after the change: %d", p.status)
			}
			if p := fresh.login(fresh.get(e.issuer+"/settings"), "alice", "n3w-Passw0rd"); p.status != http.StatusOK || !strings.Contains(p.body, "Security settings") {
				t.Errorf("new password: %d", p.status)
			}
			// Regulated: after three wrong current passwords even the right
			// one is refused, with the same message.
			for range 3 {
				changePasswordForm(t, e, b, "wrong", "x-Passw0rd-2", "x-Passw0rd-2")
			}
			if p := changePasswordForm(t, e, b, "n3w-Passw0rd", "x-Passw0rd-2", "x-Passw0rd-2"); !strings.Contains(p.body, "The current password is not correct.") {
				t.Errorf("banned password change: %d %.300s", p.status, p.body)
			}
			if !strings.Contains(e.logText(), "authentication attempt while banned") {
				t.Error("the ban was not logged")
			}
			for _, secret := range []string{"n3w-Passw0rd", "x-Passw0rd-2"} {
				if strings.Contains(e.logText(), secret) {
					t.Errorf("the log holds a password")
				}
			}
		})
	}
}

func TestPasswordChangeDisabled(t *testing.T) {
	e := newEnv(t, ldapClients)
	e.extra = "\t\tusers file " + e.dir + "/users.yml {\n\t\t\tpassword_change disable\n\t\t}"
	e.start()
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(e.issuer+"/settings"), "alice", testPassword)
	if p.status != http.StatusOK || strings.Contains(p.body, `value="password-change"`) {
		t.Fatalf("settings page with password_change disable: %d, form shown: %v", p.status, strings.Contains(p.body, `value="password-change"`))
	}
	m := csrfRE.FindStringSubmatch(p.body)
	p = b.post(e.issuer+"/settings", url.Values{"csrf_token": {m[1]}, "action": {"password-change"},
		"current_password": {testPassword}, "new_password": {"n3w"}, "new_password_confirm": {"n3w"}})
	if !strings.Contains(p.body, "not possible here") {
		t.Errorf("password change while disabled: %d %.300s", p.status, p.body)
	}
}
