package caddyoidc_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
)

// ldapReplicaEnv is a provider whose users ldap reads a read-only replica
// of a fresh directory; it returns the directory (the replica's provider).
func ldapReplicaEnv(t *testing.T, permitReferrals bool) (*env, *ldaptest.Server) {
	t.Helper()
	provider := ldaptest.StartProvider(t, ldaptest.RFC2307bis)
	replica := ldaptest.StartReplica(t, provider)
	replica.WaitFor("uid=alice,ou=users," + ldaptest.BaseDN)
	t.Setenv("OIDC_TEST_LDAP_PASSWORD", ldaptest.ServicePassword)
	permit := ""
	if permitReferrals {
		permit = "\t\t\tpermit_referrals\n"
	}
	e := newEnv(t, ldapClients)
	e.extra = `		users ldap {
			address ` + replica.URL + `
			implementation rfc2307bis
			base_dn ` + ldaptest.BaseDN + `
			additional_users_dn ou=users
			additional_groups_dn ou=groups
			user ` + ldaptest.ServiceDN + `
			password {env.OIDC_TEST_LDAP_PASSWORD}
			timeout 2s
` + permit + `		}`
	e.start()
	return e, provider
}

// bindsAt reports whether alice binds with password at the server.
func bindsAt(t *testing.T, srv *ldaptest.Server, password string) bool {
	t.Helper()
	c, err := ldap.DialURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	return c.Bind("uid=alice,ou=users,"+ldaptest.BaseDN, password) == nil
}

// The settings page's password change against a read-only replica: the
// replica refers it to its provider; permit_referrals makes the change
// there, without it the page says the directory is unavailable and the log
// names the referral.
func TestLDAPPasswordChangeReferral(t *testing.T) {
	for _, permit := range []bool{true, false} {
		name := map[bool]string{true: "permit_referrals", false: "off"}[permit]
		t.Run(name, func(t *testing.T) {
			e, provider := ldapReplicaEnv(t, permit)
			b := newBrowser(t, e.issuer)
			if p := b.login(b.get(e.issuer+"/settings"), "alice", ldaptest.AlicePassword); p.status != http.StatusOK {
				t.Fatalf("sign-in through the replica: %d", p.status)
			}
			p := changePasswordForm(t, e, b, ldaptest.AlicePassword, "n3w-Passw0rd", "n3w-Passw0rd")
			if permit {
				if !strings.Contains(p.body, "Your password was changed.") {
					t.Fatalf("referred password change: %d %.400s", p.status, p.body)
				}
				if !bindsAt(t, provider, "n3w-Passw0rd") || bindsAt(t, provider, ldaptest.AlicePassword) {
					t.Error("the directory does not have the new password")
				}
			} else {
				if p.status != http.StatusServiceUnavailable {
					t.Errorf("referral not followed: %d %.400s, want 503", p.status, p.body)
				}
				if !strings.Contains(e.logText(), "permit_referrals is off") || !strings.Contains(e.logText(), provider.URL) {
					t.Errorf("the log does not name the referral:\n%s", e.logText())
				}
				if !bindsAt(t, provider, ldaptest.AlicePassword) {
					t.Error("the password changed although the referral was not followed")
				}
			}
			for _, secret := range []string{"n3w-Passw0rd", ldaptest.AlicePassword, ldaptest.ServicePassword} {
				if strings.Contains(e.logText(), secret) {
					t.Errorf("the log holds a password")
				}
			}
		})
	}
}
