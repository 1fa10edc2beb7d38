package caddyoidc_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
	"github.com/caddy-oidc/caddy-oidc/internal/ldapusers"
)

func TestUnmarshalLDAPUsers(t *testing.T) {
	in := `ldap {
		address ldaps://ldap.example.com
		implementation lldap
		base_dn dc=example,dc=com
		additional_users_dn ou=people
		users_filter "(&({username_attribute}={input})(objectClass=person))"
		group_search_mode memberof
		user uid=svc,ou=people,dc=example,dc=com
		password {env.LDAP_PASSWORD}
		start_tls
		timeout 3s
		permit_referrals
		refresh_interval always
		pooling {
			count 2
			timeout 1s
		}
		tls {
			server_name ldap.internal
			ca /etc/caddy/ca.pem
			minimum_version TLS1.3
			skip_verify
		}
		attributes {
			username uid
			display_name cn
			phone_number mobile
		}
	}`
	var got caddyoidc.LDAPUsers
	if err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
		t.Fatal(err)
	}
	want := caddyoidc.LDAPUsers{
		Address: "ldaps://ldap.example.com", Implementation: "lldap", BaseDN: "dc=example,dc=com",
		AdditionalUsersDN: "ou=people", UsersFilter: "(&({username_attribute}={input})(objectClass=person))",
		GroupSearchMode: "memberof", User: "uid=svc,ou=people,dc=example,dc=com", Password: "{env.LDAP_PASSWORD}",
		StartTLS: true, Timeout: caddy.Duration(3 * time.Second), PermitReferrals: true, RefreshInterval: "always",
		Pooling:    &caddyoidc.LDAPPooling{Count: 2, Timeout: caddy.Duration(time.Second)},
		TLS:        &caddyoidc.LDAPTLS{ServerName: "ldap.internal", CA: "/etc/caddy/ca.pem", MinimumVersion: "TLS1.3", SkipVerify: true},
		Attributes: ldapusers.Attributes{Username: "uid", DisplayName: "cn", PhoneNumber: "mobile"},
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("got  %s\nwant %s", gj, wj)
	}

	for name, c := range map[string]struct{ in, err string }{
		"unknown option":    {"ldap {\n bogus x\n}", `unrecognized option "bogus"`},
		"unknown attribute": {"ldap {\n attributes {\n shoe_size x\n }\n}", `unrecognized attribute "shoe_size"`},
		"unknown tls":       {"ldap {\n tls {\n ciphers x\n }\n}", `unrecognized option "ciphers"`},
		"pooling count":     {"ldap {\n pooling {\n count 0\n }\n}", "a positive number"},
		"inline argument":   {"ldap ldap://x", "wrong argument count"},
		"address twice":     {"ldap {\n address a b\n}", "wrong argument count"},
	} {
		var l caddyoidc.LDAPUsers
		if err := l.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.in)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err = %v, want %q", name, err, c.err)
		}
	}
}

// TestLDAPAdaptKeepsPasswordOut: the service password given as a
// placeholder is not in `caddy adapt` output.
func TestLDAPAdaptKeepsPasswordOut(t *testing.T) {
	t.Setenv("LDAP_PASSWORD", "hunter2-service")
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(`http://auth.example.com {
	oidc_provider http://auth.example.com {
		users ldap {
			address ldap://127.0.0.1:3890
			implementation lldap
			base_dn dc=example,dc=com
			user uid=svc,ou=people,dc=example,dc=com
			password {env.LDAP_PASSWORD}
		}
	}
}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2-service") {
		t.Fatalf("adapt output holds the password: %s", out)
	}
	if !strings.Contains(string(out), `"backend":"ldap"`) || !strings.Contains(string(out), `{env.LDAP_PASSWORD}`) {
		t.Errorf("adapt output %s", out)
	}
}
