package ldapusers_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers"
	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers/ldaptest"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// rfcConfig is the rfc2307bis preset on srv, excluding employeeType=disabled.
func rfcConfig(srv *ldaptest.Server) ldapusers.Config {
	return ldapusers.Config{
		Address:         srv.URL,
		Implementation:  ldapusers.ImplementationRFC2307bis,
		BaseDN:          ldaptest.BaseDN,
		AdditionalUsers: "ou=users",
		AdditionalGroup: "ou=groups",
		UsersFilter:     "(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=inetOrgPerson)(!(employeeType=disabled)))",
		User:            ldaptest.ServiceDN,
		Password:        ldaptest.ServicePassword,
		Attributes:      ldapusers.Attributes{GivenName: "givenName", FamilyName: "sn", PhoneNumber: "telephoneNumber", Locality: "l", PostalCode: "postalCode"},
		Timeout:         2 * time.Second,
	}
}

func newBackend(t *testing.T, cfg ldapusers.Config) *ldapusers.Backend {
	t.Helper()
	b, err := ldapusers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func TestAuthenticateRFC2307bis(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	for _, mode := range []string{"filter", "memberof"} {
		for _, pool := range []bool{false, true} {
			cfg := rfcConfig(srv)
			cfg.GroupSearchMode = mode
			cfg.Pooling.Enable = pool
			b := newBackend(t, cfg)
			for _, login := range []string{"alice", "alice@example.com", "ALICE"} {
				u, err := b.Authenticate(login, ldaptest.AlicePassword)
				if err != nil {
					t.Fatalf("%s pool=%v: Authenticate(%q): %v", mode, pool, login, err)
				}
				if u.Username != "alice" || u.Email != "alice@example.com" || u.DisplayName() != "Alice Liddell" {
					t.Errorf("%s: user = %+v", mode, u)
				}
				if strings.Join(u.Groups, ",") != "admins,dev" {
					t.Errorf("%s: groups = %v, want admins,dev", mode, u.Groups)
				}
				if u.GivenName != "Alice" || u.FamilyName != "Liddell" || u.PhoneNumber != "+1 555 0100" || u.Address == nil || u.Address.Locality != "Oxford" || u.Address.PostalCode != "OX1" {
					t.Errorf("%s: extended claims = %+v address %+v", mode, u, u.Address)
				}
			}
			u, err := b.Lookup("bob")
			if err != nil || u.Username != "bob" || strings.Join(u.Groups, ",") != "dev" {
				t.Errorf("Lookup(bob) = %+v, %v", u, err)
			}
		}
	}
}

func TestAuthenticateLLDAP(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.LLDAP)
	b := newBackend(t, ldapusers.Config{
		Address: srv.URL, Implementation: ldapusers.ImplementationLLDAP, BaseDN: ldaptest.BaseDN,
		User: ldaptest.ServiceDN, Password: ldaptest.ServicePassword,
	})
	u, err := b.Authenticate("bob@example.com", ldaptest.BobPassword)
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "bob" || u.DisplayName() != "Bob the Builder" || strings.Join(u.Groups, ",") != "family" {
		t.Errorf("user = %+v", u)
	}
	if u, err := b.Lookup("alice"); err != nil || strings.Join(u.Groups, ",") != "family,lldap_admin" {
		t.Errorf("Lookup(alice) = %+v, %v", u, err)
	}
}

func TestTLS(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	for name, cfg := range map[string]func(*ldapusers.Config){
		"ldaps":    func(c *ldapusers.Config) { c.Address = srv.LDAPSURL; c.TLS = srv.TLSConfig() },
		"starttls": func(c *ldapusers.Config) { c.StartTLS = true; c.TLS = srv.TLSConfig() },
	} {
		c := rfcConfig(srv)
		cfg(&c)
		if _, err := newBackend(t, c).Authenticate("alice", ldaptest.AlicePassword); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Without the test CA the certificate is refused: unavailable, not
		// a wrong password.
		c.TLS = nil
		_, err := newBackend(t, c).Authenticate("alice", ldaptest.AlicePassword)
		if !errors.Is(err, users.ErrUnavailable) {
			t.Errorf("%s with an unknown CA: err = %v, want ErrUnavailable", name, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	b := newBackend(t, rfcConfig(srv))
	cases := []struct{ name, user, password string }{
		{"wrong password", "alice", "nope"},
		{"unknown user", "mallory", "nope"},
		{"disabled user", "carol", ldaptest.CarolPassword},
		{"empty password", "alice", ""},
		{"empty username", "", "x"},
		{"password too long", "alice", strings.Repeat("a", 1025)},
		// Injection: none of these may match a user or bind.
		{"star", "*", ldaptest.AlicePassword},
		{"star prefix", "a*", ldaptest.AlicePassword},
		{"filter break-out", "alice)(uid=*", ldaptest.AlicePassword},
		{"filter break-out 2", "*)(|(uid=*", ldaptest.AlicePassword},
		{"or injection", "x)(|(uid=alice)", ldaptest.AlicePassword},
		{"NUL", "alice\x00", ldaptest.AlicePassword},
		{"NUL in middle", "ali\x00ce", ldaptest.AlicePassword},
		{"backslash", `alice\2a`, ldaptest.AlicePassword},
		{"escaped star", `\2a`, ldaptest.AlicePassword},
		{"parens", "(alice)", ldaptest.AlicePassword},
		{"dn as input", "uid=alice,ou=users," + ldaptest.BaseDN, ldaptest.AlicePassword},
		{"very long", strings.Repeat("a", 100000), ldaptest.AlicePassword},
		{"invalid utf-8", "alice\xff", ldaptest.AlicePassword},
	}
	for _, c := range cases {
		u, err := b.Authenticate(c.user, c.password)
		if !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("%s: Authenticate = %+v, %v; want ErrInvalidCredentials", c.name, u, err)
		}
		if u, err := b.Lookup(c.user); c.user != "alice" && c.user != "carol" && !errors.Is(err, users.ErrUserNotFound) {
			t.Errorf("%s: Lookup = %+v, %v; want ErrUserNotFound", c.name, u, err)
		}
	}
	// Lookup by email is not a username: the claims keep the username.
	if _, err := b.Lookup("alice@example.com"); !errors.Is(err, users.ErrUserNotFound) {
		t.Errorf("Lookup by email: %v", err)
	}
}

func TestDirectoryDown(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	for _, pool := range []bool{false, true} {
		cfg := rfcConfig(srv)
		cfg.Pooling.Enable = pool
		cfg.RefreshInterval = 0
		b := newBackend(t, cfg)
		if _, err := b.Authenticate("alice", ldaptest.AlicePassword); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		_, err := b.Authenticate("alice", ldaptest.AlicePassword)
		if !errors.Is(err, users.ErrUnavailable) || errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("pool=%v: Authenticate while down: %v, want ErrUnavailable", pool, err)
		}
		if _, err := b.Lookup("alice"); !errors.Is(err, users.ErrUnavailable) {
			t.Errorf("pool=%v: Lookup while down: %v, want ErrUnavailable", pool, err)
		}
		srv.Restart()
		if _, err := b.Authenticate("alice", ldaptest.AlicePassword); err != nil {
			t.Errorf("pool=%v: after restart: %v", pool, err)
		}
	}
}

func TestRefreshIntervalAndGone(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	cfg := rfcConfig(srv)
	cfg.RefreshInterval = time.Hour
	b := newBackend(t, cfg)
	var gone []string
	b.OnGone(func(u string) { gone = append(gone, u) })
	if _, err := b.Authenticate("bob", ldaptest.BobPassword); err != nil {
		t.Fatal(err)
	}
	srv.Apply("ldapmodify", "dn: uid=bob,ou=users,"+ldaptest.BaseDN+"\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n")
	// Within the refresh interval the copy in memory answers.
	if _, err := b.Lookup("bob"); err != nil {
		t.Fatalf("Lookup within refresh_interval: %v", err)
	}
	cfg.RefreshInterval = 0
	b2 := newBackend(t, cfg)
	b2.OnGone(func(u string) { gone = append(gone, u) })
	if _, err := b2.Lookup("alice"); err != nil {
		t.Fatal(err)
	}
	// b2 never saw bob: not found, but nothing to end.
	if _, err := b2.Lookup("bob"); !errors.Is(err, users.ErrUserNotFound) {
		t.Fatalf("disabled bob: %v", err)
	}
	if len(gone) != 0 {
		t.Fatalf("gone = %v before any known user left", gone)
	}
	srv.Apply("ldapdelete", "uid=alice,ou=users,"+ldaptest.BaseDN+"\n")
	if _, err := b2.Lookup("alice"); !errors.Is(err, users.ErrUserNotFound) {
		t.Fatalf("deleted alice: %v", err)
	}
	if strings.Join(gone, ",") != "alice" {
		t.Errorf("gone = %v, want alice", gone)
	}
}

func TestChangePassword(t *testing.T) {
	srv := ldaptest.Start(t, ldaptest.RFC2307bis)
	b := newBackend(t, rfcConfig(srv))
	if err := b.ChangePassword("bob", "wrong", "new-bob-password"); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Fatalf("wrong old password: %v", err)
	}
	if err := b.ChangePassword("bob", ldaptest.BobPassword, ""); !errors.Is(err, users.ErrPasswordRejected) {
		t.Fatalf("empty new password: %v", err)
	}
	if err := b.ChangePassword("bob", ldaptest.BobPassword, "new-bob-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate("bob", ldaptest.BobPassword); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Errorf("old password still works: %v", err)
	}
	if _, err := b.Authenticate("bob", "new-bob-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
}
