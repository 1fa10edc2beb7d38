package ldapusers_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers"
	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

const (
	aliceDN = "uid=alice,ou=users," + ldaptest.BaseDN
	bobDN   = "uid=bob,ou=users," + ldaptest.BaseDN
)

// canBind reports whether dn binds with password on the server at url.
func canBind(t *testing.T, url, dn, password string) bool {
	t.Helper()
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	err = c.Bind(dn, password)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind %s at %s: %v", dn, url, err)
	}
	return err == nil
}

// A read-only replica refers the password change to its provider: with
// permit_referrals it is made there (and comes back to the replica by
// replication); without, it fails naming the referral and nothing changes.
func TestPasswordChangeReferral(t *testing.T) {
	provider := ldaptest.StartProvider(t, ldaptest.RFC2307bis)
	replica := ldaptest.StartReplica(t, provider)
	replica.WaitFor(bobDN)

	off := newBackend(t, rfcConfig(replica))
	if _, err := off.Authenticate("bob", ldaptest.BobPassword); err != nil {
		t.Fatalf("sign-in on the replica: %v", err)
	}
	err := off.ChangePassword("bob", ldaptest.BobPassword, "new-bob-password")
	if !errors.Is(err, users.ErrUnavailable) || !strings.Contains(err.Error(), provider.URL) || !strings.Contains(err.Error(), "permit_referrals is off") {
		t.Fatalf("referral without permit_referrals: %v, want an unavailable error naming %s", err, provider.URL)
	}
	if !canBind(t, provider.URL, bobDN, ldaptest.BobPassword) {
		t.Fatal("the password changed although the referral was not followed")
	}

	cfg := rfcConfig(replica)
	cfg.PermitReferrals = true
	for _, pool := range []bool{false, true} {
		cfg.Pooling.Enable = pool
		on := newBackend(t, cfg)
		if err := on.ChangePassword("bob", "wrong", "new-bob-password"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatalf("pool=%v: wrong old password: %v", pool, err)
		}
	}
	on := newBackend(t, cfg)
	if err := on.ChangePassword("bob", ldaptest.BobPassword, "new-bob-password"); err != nil {
		t.Fatalf("referred password change: %v", err)
	}
	if canBind(t, provider.URL, bobDN, ldaptest.BobPassword) || !canBind(t, provider.URL, bobDN, "new-bob-password") {
		t.Fatal("the provider does not have the new password")
	}
	// The replica copies the change; then the sign-in through it takes the
	// new password only.
	deadline := time.Now().Add(15 * time.Second)
	for !canBind(t, replica.URL, bobDN, "new-bob-password") {
		if time.Now().After(deadline) {
			t.Fatal("the replica never got the new password")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := on.Authenticate("bob", "new-bob-password"); err != nil {
		t.Errorf("new password through the replica: %v", err)
	}
	if _, err := on.Authenticate("bob", ldaptest.BobPassword); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Errorf("old password through the replica: %v", err)
	}
}

// A referral is followed one hop: a server that refers the change on again
// gives a clear error, and nothing changes.
func TestPasswordChangeReferralOneHop(t *testing.T) {
	provider := ldaptest.StartProvider(t, ldaptest.RFC2307bis)
	first := ldaptest.StartReplica(t, provider)
	second := ldaptest.StartReplicaReferring(t, provider, first.URL)
	second.WaitFor(aliceDN)
	first.WaitFor(aliceDN)
	cfg := rfcConfig(second)
	cfg.PermitReferrals = true
	b := newBackend(t, cfg)
	err := b.ChangePassword("alice", ldaptest.AlicePassword, "new-alice-password")
	if !errors.Is(err, users.ErrUnavailable) || !strings.Contains(err.Error(), "one hop") {
		t.Fatalf("two referrals: %v, want an unavailable error about one hop", err)
	}
	if !canBind(t, provider.URL, aliceDN, ldaptest.AlicePassword) {
		t.Fatal("the password changed")
	}
}

// referring is a directory whose alice is a referral object pointing at
// the same DN on the server at url; bob is local, and the group team lists
// both.
func referring(url string) string {
	return `dn: ` + ldaptest.ServiceDN + `
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: service
userPassword: ` + ldaptest.ServicePassword + `

dn: ou=users,` + ldaptest.BaseDN + `
objectClass: organizationalUnit
ou: users

dn: ou=groups,` + ldaptest.BaseDN + `
objectClass: organizationalUnit
ou: groups

dn: ` + aliceDN + `
objectClass: referral
objectClass: extensibleObject
uid: alice
ref: ` + url + `/` + aliceDN + `

dn: ` + bobDN + `
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Builder
mail: bob@example.com
userPassword: ` + ldaptest.BobPassword + `

dn: cn=team,ou=groups,` + ldaptest.BaseDN + `
objectClass: groupOfNames
cn: team
member: ` + aliceDN + `
member: ` + bobDN + `
`
}

// A user held by another server (a referral object in the configured
// directory) is found by following the search's continuation reference
// with permit_referrals; the password is checked, and changed, on the
// server that holds the user. Without permit_referrals the user is unknown.
func TestSearchReferral(t *testing.T) {
	remote := ldaptest.Start(t, ldaptest.RFC2307bis)
	local := ldaptest.Start(t, referring(remote.URL))

	off := newBackend(t, rfcConfig(local))
	if _, err := off.Authenticate("alice", ldaptest.AlicePassword); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Fatalf("referred user without permit_referrals: %v, want invalid credentials", err)
	}
	if _, err := off.Lookup("alice"); !errors.Is(err, users.ErrUserNotFound) {
		t.Fatalf("Lookup without permit_referrals: %v", err)
	}

	for _, mode := range []string{ldapusers.GroupSearchFilter, ldapusers.GroupSearchMemberOf} {
		cfg := rfcConfig(local)
		cfg.PermitReferrals = true
		cfg.GroupSearchMode = mode
		on := newBackend(t, cfg)
		u, err := on.Authenticate("alice", ldaptest.AlicePassword)
		if err != nil {
			t.Fatalf("%s: referred user: %v", mode, err)
		}
		if u.Username != "alice" || u.Email != "alice@example.com" || u.GivenName != "Alice" {
			t.Errorf("%s: user = %+v", mode, u)
		}
		// filter mode searches the groups in the configured directory,
		// memberof mode reads the remote entry's memberOf.
		want := map[string]string{ldapusers.GroupSearchFilter: "team", ldapusers.GroupSearchMemberOf: "admins,dev"}[mode]
		if strings.Join(u.Groups, ",") != want {
			t.Errorf("%s: groups = %v, want %s", mode, u.Groups, want)
		}
		if _, err := on.Authenticate("alice", "wrong"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("%s: wrong password: %v", mode, err)
		}
		if u, err := on.Authenticate("bob", ldaptest.BobPassword); err != nil || u.Username != "bob" {
			t.Errorf("%s: local user: %+v, %v", mode, u, err)
		}
	}

	cfg := rfcConfig(local)
	cfg.PermitReferrals = true
	on := newBackend(t, cfg)
	if err := on.ChangePassword("alice", ldaptest.AlicePassword, "new-alice-password"); err != nil {
		t.Fatalf("password change of the referred user: %v", err)
	}
	if !canBind(t, remote.URL, aliceDN, "new-alice-password") {
		t.Fatal("the remote server does not have the new password")
	}
	if _, err := on.Authenticate("alice", "new-alice-password"); err != nil {
		t.Errorf("new password: %v", err)
	}

	// A referral to a server that is down makes the directory unavailable.
	remote.Stop()
	if _, err := on.Authenticate("alice", "new-alice-password"); !errors.Is(err, users.ErrUnavailable) {
		t.Errorf("referred server down: %v, want unavailable", err)
	}
}

// The referred server gets the configured TLS settings: with ldaps to the
// replica, the ldap:// referral to the provider is upgraded with StartTLS
// and its certificate checked, so that a CA trusting only the replica makes
// the referred change fail, and one trusting both lets it through.
func TestPasswordChangeReferralTLS(t *testing.T) {
	provider := ldaptest.StartProvider(t, ldaptest.RFC2307bis)
	replica := ldaptest.StartReplica(t, provider)
	replica.WaitFor(aliceDN)
	both := x509.NewCertPool()
	both.AppendCertsFromPEM(replica.CAPEM)
	both.AppendCertsFromPEM(provider.CAPEM)
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"replica CA only", replica.CAPool, false},
		{"both CAs", both, true},
	} {
		cfg := rfcConfig(replica)
		cfg.Address = replica.LDAPSURL
		cfg.TLS = &tls.Config{RootCAs: tc.roots, MinVersion: tls.VersionTLS12}
		cfg.PermitReferrals = true
		b := newBackend(t, cfg)
		err := b.ChangePassword("alice", ldaptest.AlicePassword, "new-alice-password")
		if tc.ok && err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !tc.ok && (!errors.Is(err, users.ErrUnavailable) || !strings.Contains(err.Error(), "start_tls")) {
			t.Fatalf("%s: %v, want the referred server's StartTLS to fail", tc.name, err)
		}
		if got := canBind(t, provider.URL, aliceDN, "new-alice-password"); got != tc.ok {
			t.Errorf("%s: new password set = %v, want %v", tc.name, got, tc.ok)
		}
	}
}
