package ldapusers

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestReferralAddress(t *testing.T) {
	for _, tc := range []struct {
		ref, want string
		ok        bool
	}{
		{"ldap://127.0.0.1:3890", "ldap://127.0.0.1:3890", true},
		{"LDAPS://dc2.example.com/uid=alice,ou=users,dc=example,dc=com??sub", "ldaps://dc2.example.com", true},
		{"ldap://user:pw@dc2.example.com:389/", "ldap://dc2.example.com:389", true}, // userinfo dropped
		{"ldapi:///run/slapd/ldapi", "", false},
		{"http://dc2.example.com/", "", false},
		{"ldap:///dc=example,dc=com", "", false},
		{"ldap://%zz", "", false},
	} {
		got, err := referralAddress(tc.ref)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("referralAddress(%q) = %q, %v; want %q, ok=%v", tc.ref, got, err, tc.want, tc.ok)
		}
	}
}

func TestReferralSearch(t *testing.T) {
	req := ldap.NewSearchRequest("ou=users,dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 5, false, "(uid=alice)", []string{"uid"}, nil)
	for _, tc := range []struct {
		ref, base string
		scope     int
	}{
		{"ldap://h/uid=alice,ou=users,dc=example,dc=com??sub", "uid=alice,ou=users,dc=example,dc=com", ldap.ScopeWholeSubtree},
		{"ldap://h/ou=people,dc=other??base", "ou=people,dc=other", ldap.ScopeBaseObject},
		{"ldap://h/ou=people,dc=other??one", "ou=people,dc=other", ldap.ScopeSingleLevel},
		{"ldap://h/ou=x%20y,dc=other", "ou=x y,dc=other", ldap.ScopeWholeSubtree},
		{"ldap://h", "ou=users,dc=example,dc=com", ldap.ScopeWholeSubtree},
	} {
		got := referralSearch(tc.ref, req)
		if got.BaseDN != tc.base || got.Scope != tc.scope || got.Filter != req.Filter || got.SizeLimit != 2 {
			t.Errorf("referralSearch(%q) = base %q scope %d filter %q; want base %q scope %d", tc.ref, got.BaseDN, got.Scope, got.Filter, tc.base, tc.scope)
		}
	}
	if req.BaseDN != "ou=users,dc=example,dc=com" {
		t.Error("referralSearch changed the original request")
	}
}
