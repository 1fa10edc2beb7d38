package caddyoidc

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile reads
//
//	users ldap {
//		address              ldaps://ldap.example.com
//		implementation       lldap
//		base_dn              dc=example,dc=com
//		additional_users_dn  ou=people
//		additional_groups_dn ou=groups
//		users_filter         (&({username_attribute}={input})(objectClass=person))
//		groups_filter        (&(member={dn})(objectClass=groupOfUniqueNames))
//		group_search_mode    filter|memberof
//		user                 uid=admin,ou=people,dc=example,dc=com
//		password             {env.LDAP_PASSWORD}
//		start_tls
//		timeout              5s
//		permit_referrals
//		refresh_interval     5m|always|disable
//		password_change      disable
//		pooling              [{ count 5  timeout 10s }]
//		tls {
//			server_name     ldap.example.com
//			ca              /etc/caddy/ldap-ca.pem
//			minimum_version TLS1.2
//			skip_verify
//		}
//		attributes {
//			username     uid
//			display_name cn
//			mail         mail
//			...
//		}
//	}
func (l *LDAPUsers) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		return d.ArgErr()
	}
	strs := map[string]*string{
		"address": &l.Address, "implementation": &l.Implementation, "base_dn": &l.BaseDN,
		"additional_users_dn": &l.AdditionalUsersDN, "additional_groups_dn": &l.AdditionalGroupsDN,
		"users_filter": &l.UsersFilter, "groups_filter": &l.GroupsFilter, "group_search_mode": &l.GroupSearchMode,
		"user": &l.User, "password": &l.Password, "refresh_interval": &l.RefreshInterval,
	}
	for d.NextBlock(0) {
		opt := d.Val()
		if p, ok := strs[opt]; ok {
			if !d.NextArg() {
				return d.ArgErr()
			}
			*p = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
			continue
		}
		switch opt {
		case "password_change":
			if err := unmarshalPasswordChange(d, &l.DisablePasswordChange); err != nil {
				return err
			}
		case "start_tls":
			l.StartTLS = true
		case "permit_referrals":
			l.PermitReferrals = true
		case "timeout":
			if !d.NextArg() {
				return d.ArgErr()
			}
			t, err := caddy.ParseDuration(d.Val())
			if err != nil {
				return d.Errf("timeout: %v", err)
			}
			l.Timeout = caddy.Duration(t)
		case "pooling":
			l.Pooling = &LDAPPooling{}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				key := d.Val()
				if !d.NextArg() {
					return d.ArgErr()
				}
				switch key {
				case "count":
					n, err := strconv.Atoi(d.Val())
					if err != nil || n < 1 {
						return d.Errf("pooling count: %q: a positive number", d.Val())
					}
					l.Pooling.Count = n
				case "timeout":
					t, err := caddy.ParseDuration(d.Val())
					if err != nil {
						return d.Errf("pooling timeout: %v", err)
					}
					l.Pooling.Timeout = caddy.Duration(t)
				default:
					return d.Errf("users ldap pooling: unrecognized option %q", key)
				}
			}
		case "tls":
			l.TLS = &LDAPTLS{}
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				key := d.Val()
				fields := map[string]*string{"server_name": &l.TLS.ServerName, "ca": &l.TLS.CA, "minimum_version": &l.TLS.MinimumVersion}
				switch p, ok := fields[key]; {
				case key == "skip_verify":
					l.TLS.SkipVerify = true
				case ok:
					if !d.NextArg() {
						return d.ArgErr()
					}
					*p = d.Val()
				default:
					return d.Errf("users ldap tls: unrecognized option %q", key)
				}
			}
		case "attributes":
			for nesting := d.Nesting(); d.NextBlock(nesting); {
				key := d.Val()
				p, ok := l.attributeField(key)
				if !ok {
					return d.Errf("users ldap attributes: unrecognized attribute %q", key)
				}
				if !d.NextArg() {
					return d.ArgErr()
				}
				*p = d.Val()
			}
		default:
			return d.Errf("users ldap: unrecognized option %q", opt)
		}
	}
	return nil
}

// attributeField is the field of an attribute name in the Caddyfile.
func (l *LDAPUsers) attributeField(name string) (*string, bool) {
	a := &l.Attributes
	p, ok := map[string]*string{
		"distinguished_name": &a.DistinguishedName, "username": &a.Username, "display_name": &a.DisplayName,
		"mail": &a.Mail, "member_of": &a.MemberOf, "group_name": &a.GroupName,
		"family_name": &a.FamilyName, "given_name": &a.GivenName, "middle_name": &a.MiddleName,
		"nickname": &a.Nickname, "gender": &a.Gender, "birthdate": &a.Birthdate, "website": &a.Website,
		"profile": &a.Profile, "picture": &a.Picture, "zoneinfo": &a.ZoneInfo, "locale": &a.Locale,
		"phone_number": &a.PhoneNumber, "phone_extension": &a.PhoneExtension,
		"street_address": &a.StreetAddress, "locality": &a.Locality, "region": &a.Region,
		"postal_code": &a.PostalCode, "country": &a.Country,
	}[name]
	return p, ok
}

var _ caddyfile.Unmarshaler = (*LDAPUsers)(nil)
