package ldapusers

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestPresets(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	cases := []struct {
		impl, wantUsername, wantDisplay, wantUsersDN string
		inFilter                                     []string
	}{
		{ImplementationActiveDirectory, "sAMAccountName", "displayName", "dc=x", []string{"(sAMAccountName=j\\2a)", "(mail=j\\2a)", "userAccountControl:1.2.840.113556.1.4.803:=2", "(accountExpires>=" + "134409276000000000)"}},
		{ImplementationRFC2307bis, "uid", "displayName", "dc=x", []string{"(uid=j\\2a)", "objectClass=inetOrgPerson"}},
		{ImplementationFreeIPA, "uid", "displayName", "dc=x", []string{"(!(nsAccountLock=TRUE))", "krbPasswordExpiration>=20261205070000Z"}},
		{ImplementationLLDAP, "uid", "cn", "OU=people,dc=x", []string{"(uid=j\\2a)", "(objectClass=person)"}},
		{ImplementationGLAuth, "cn", "description", "dc=x", []string{"(cn=j\\2a)", "(objectClass=posixAccount)", "(!(accountStatus=inactive))"}},
	}
	for _, c := range cases {
		cfg := Config{Address: "ldap://h", Implementation: c.impl, BaseDN: "dc=x"}
		if err := cfg.ApplyDefaults(); err != nil {
			t.Fatalf("%s: %v", c.impl, err)
		}
		if cfg.Attributes.Username != c.wantUsername || cfg.Attributes.DisplayName != c.wantDisplay || cfg.usersDN() != c.wantUsersDN {
			t.Errorf("%s: attributes %+v, users dn %q", c.impl, cfg.Attributes, cfg.usersDN())
		}
		f := usersFilter(cfg.UsersFilter, &cfg.Attributes, "j*", now)
		if _, err := ldap.CompileFilter(f); err != nil {
			t.Errorf("%s: filter %q: %v", c.impl, f, err)
		}
		for _, want := range c.inFilter {
			if !strings.Contains(f, want) {
				t.Errorf("%s: filter %q lacks %q", c.impl, f, want)
			}
		}
		g := groupsFilter(cfg.GroupsFilter, &cfg.Attributes, "j", "j", "cn=a(b),dc=x", now)
		if !strings.Contains(g, `cn=a\28b\29,dc=x`) {
			t.Errorf("%s: groups filter %q does not escape the DN", c.impl, g)
		}
	}
	// A custom implementation must bring its filters.
	cfg := Config{Address: "ldap://h", BaseDN: "dc=x"}
	if err := cfg.ApplyDefaults(); err == nil {
		t.Error("custom without users_filter accepted")
	}
}

func TestConfigErrors(t *testing.T) {
	ok := func() Config {
		return Config{Address: "ldap://h", Implementation: "lldap", BaseDN: "dc=x"}
	}
	cases := map[string]func(*Config){
		"bad scheme":        func(c *Config) { c.Address = "http://h" },
		"no address":        func(c *Config) { c.Address = "" },
		"starttls on ldaps": func(c *Config) { c.Address = "ldaps://h"; c.StartTLS = true },
		"no base dn":        func(c *Config) { c.BaseDN = "" },
		"unknown preset":    func(c *Config) { c.Implementation = "novell" },
		"filter w/o input":  func(c *Config) { c.UsersFilter = "(uid=x)" },
		"broken filter":     func(c *Config) { c.UsersFilter = "(uid={input}" },
		"bad mode":          func(c *Config) { c.GroupSearchMode = "magic" },
		"user w/o password": func(c *Config) { c.User = "cn=x" },
	}
	for name, mod := range cases {
		c := ok()
		mod(&c)
		if err := c.ApplyDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := ok()
	if err := c.ApplyDefaults(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestValidInput(t *testing.T) {
	for s, want := range map[string]bool{
		"alice": true, "alice@example.com": true, "Zoë": true, "a*": true,
		"": false, "a\x00": false, "a\nb": false, "\xff": false, strings.Repeat("a", 257): false,
	} {
		if got := validInput(s); got != want {
			t.Errorf("validInput(%q) = %v", s, got)
		}
	}
}

func TestADPassword(t *testing.T) {
	// "é" quoted, UTF-16LE: " 0x22 0x00, é 0xE9 0x00, " 0x22 0x00.
	if got := adPassword("é"); got != "\x22\x00\xe9\x00\x22\x00" {
		t.Errorf("adPassword = %q", got)
	}
}
