package ldapusers

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Implementations are the names of the presets, as in Authelia.
const (
	ImplementationCustom          = "custom"
	ImplementationActiveDirectory = "activedirectory"
	ImplementationRFC2307bis      = "rfc2307bis"
	ImplementationFreeIPA         = "freeipa"
	ImplementationLLDAP           = "lldap"
	ImplementationGLAuth          = "glauth"
)

// Group search modes.
const (
	GroupSearchFilter   = "filter"
	GroupSearchMemberOf = "memberof"
)

// Attributes names the directory attributes read for a user and a group.
// Empty attributes are not read.
type Attributes struct {
	DistinguishedName string `json:"distinguished_name,omitempty"`
	Username          string `json:"username,omitempty"`
	DisplayName       string `json:"display_name,omitempty"`
	Mail              string `json:"mail,omitempty"`
	MemberOf          string `json:"member_of,omitempty"`
	GroupName         string `json:"group_name,omitempty"`

	FamilyName     string `json:"family_name,omitempty"`
	GivenName      string `json:"given_name,omitempty"`
	MiddleName     string `json:"middle_name,omitempty"`
	Nickname       string `json:"nickname,omitempty"`
	Gender         string `json:"gender,omitempty"`
	Birthdate      string `json:"birthdate,omitempty"`
	Website        string `json:"website,omitempty"`
	Profile        string `json:"profile,omitempty"`
	Picture        string `json:"picture,omitempty"`
	ZoneInfo       string `json:"zoneinfo,omitempty"`
	Locale         string `json:"locale,omitempty"`
	PhoneNumber    string `json:"phone_number,omitempty"`
	PhoneExtension string `json:"phone_extension,omitempty"`
	StreetAddress  string `json:"street_address,omitempty"`
	Locality       string `json:"locality,omitempty"`
	Region         string `json:"region,omitempty"`
	PostalCode     string `json:"postal_code,omitempty"`
	Country        string `json:"country,omitempty"`
}

// Pooling configures the pool of service connections.
type Pooling struct {
	Enable  bool          // keep up to Count connections open and reuse them
	Count   int           // at most this many connections at once (default 5)
	Timeout time.Duration // how long to wait for a free connection (default 10s)
}

// Config configures a Backend. The zero values of the optional fields are
// filled in by [Config.ApplyDefaults] from the implementation preset.
type Config struct {
	Address         string // ldap://host[:389], ldaps://host[:636] or ldapi:///path/to/socket
	Implementation  string // one of the Implementation* names; "" is custom
	Timeout         time.Duration
	StartTLS        bool
	TLS             *tls.Config // nil: system roots, TLS 1.2 minimum, server name from Address
	BaseDN          string
	AdditionalUsers string // additional_users_dn, prepended to BaseDN
	AdditionalGroup string // additional_groups_dn, prepended to BaseDN
	UsersFilter     string
	GroupsFilter    string
	GroupSearchMode string
	Attributes      Attributes
	PermitReferrals bool
	User            string // the service account's DN
	Password        string // the service account's password; never logged
	Pooling         Pooling

	// RefreshInterval: a user is read again from the directory when the copy
	// in memory is older than this. 0 reads on every use; negative never
	// reads again after the sign-in (Authelia's "disable").
	RefreshInterval time.Duration
}

// preset is the part of a Config an implementation fills in.
type preset struct {
	additionalUsers, additionalGroups string
	usersFilter, groupsFilter         string
	attrs                             Attributes
	timeout                           time.Duration
}

const usernameOrMail = "(|({username_attribute}={input})({mail_attribute}={input}))"

// presets are Authelia's defaults per implementation
// (internal/configuration/schema/authentication.go).
var presets = map[string]preset{
	ImplementationCustom: {
		attrs:   Attributes{Username: "uid", DisplayName: "displayName", Mail: "mail", GroupName: "cn"},
		timeout: 20 * time.Second,
	},
	ImplementationActiveDirectory: {
		usersFilter:  "(&" + usernameOrMail + "(sAMAccountType=805306368)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(!(pwdLastSet=0))(|(!(accountExpires=*))(accountExpires=0)(accountExpires>={date-time:microsoft-nt})))",
		groupsFilter: "(&(member={dn})(|(sAMAccountType=268435456)(sAMAccountType=536870912)))",
		attrs: Attributes{
			DistinguishedName: "distinguishedName", Username: "sAMAccountName", DisplayName: "displayName",
			FamilyName: "sn", GivenName: "givenName", MiddleName: "middleName", Website: "wWWHomePage",
			Mail: "mail", PhoneNumber: "telephoneNumber", StreetAddress: "streetAddress", Locality: "l",
			Region: "st", PostalCode: "postalCode", Country: "c", MemberOf: "memberOf", GroupName: "cn",
		},
		timeout: 5 * time.Second,
	},
	ImplementationRFC2307bis: {
		usersFilter:  "(&" + usernameOrMail + "(|(objectClass=inetOrgPerson)(objectClass=organizationalPerson)))",
		groupsFilter: "(&(|(member={dn})(uniqueMember={dn}))(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=groupOfMembers))(!(pwdReset=TRUE)))",
		attrs:        Attributes{Username: "uid", DisplayName: "displayName", Mail: "mail", MemberOf: "memberOf", GroupName: "cn"},
		timeout:      5 * time.Second,
	},
	ImplementationFreeIPA: {
		usersFilter:  "(&" + usernameOrMail + "(objectClass=person)(!(nsAccountLock=TRUE))(krbPasswordExpiration>={date-time:generalized})(|(!(krbPrincipalExpiration=*))(krbPrincipalExpiration>={date-time:generalized})))",
		groupsFilter: "(&(member={dn})(objectClass=groupOfNames))",
		attrs:        Attributes{Username: "uid", DisplayName: "displayName", FamilyName: "sn", GivenName: "givenName", Mail: "mail", MemberOf: "memberOf", GroupName: "cn"},
		timeout:      5 * time.Second,
	},
	ImplementationLLDAP: {
		additionalUsers:  "OU=people",
		additionalGroups: "OU=groups",
		usersFilter:      "(&" + usernameOrMail + "(objectClass=person))",
		groupsFilter:     "(&(member={dn})(objectClass=groupOfUniqueNames))",
		attrs:            Attributes{Username: "uid", DisplayName: "cn", Mail: "mail", MemberOf: "memberOf", GroupName: "cn"},
		timeout:          5 * time.Second,
	},
	ImplementationGLAuth: {
		usersFilter:  "(&" + usernameOrMail + "(objectClass=posixAccount)(!(accountStatus=inactive)))",
		groupsFilter: "(&(uniqueMember={dn})(objectClass=posixGroup))",
		attrs:        Attributes{Username: "cn", DisplayName: "description", Mail: "mail", MemberOf: "memberOf", GroupName: "cn"},
		timeout:      5 * time.Second,
	},
}

// DefaultRefreshInterval is Authelia's default refresh_interval.
const DefaultRefreshInterval = 5 * time.Minute

// ApplyDefaults fills the empty fields of c from its implementation preset
// and checks the result.
func (c *Config) ApplyDefaults() error {
	if c.Implementation == "" {
		c.Implementation = ImplementationCustom
	}
	p, ok := presets[c.Implementation]
	if !ok {
		return fmt.Errorf("implementation: unknown %q (one of custom, activedirectory, rfc2307bis, freeipa, lldap, glauth)", c.Implementation)
	}
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&c.AdditionalUsers, p.additionalUsers)
	fill(&c.AdditionalGroup, p.additionalGroups)
	fill(&c.UsersFilter, p.usersFilter)
	fill(&c.GroupsFilter, p.groupsFilter)
	fill(&c.GroupSearchMode, GroupSearchFilter)
	a, d := &c.Attributes, p.attrs
	for _, f := range [][2]*string{
		{&a.DistinguishedName, &d.DistinguishedName}, {&a.Username, &d.Username}, {&a.DisplayName, &d.DisplayName},
		{&a.Mail, &d.Mail}, {&a.MemberOf, &d.MemberOf}, {&a.GroupName, &d.GroupName},
		{&a.FamilyName, &d.FamilyName}, {&a.GivenName, &d.GivenName}, {&a.MiddleName, &d.MiddleName},
		{&a.Nickname, &d.Nickname}, {&a.Gender, &d.Gender}, {&a.Birthdate, &d.Birthdate},
		{&a.Website, &d.Website}, {&a.Profile, &d.Profile}, {&a.Picture, &d.Picture},
		{&a.ZoneInfo, &d.ZoneInfo}, {&a.Locale, &d.Locale}, {&a.PhoneNumber, &d.PhoneNumber},
		{&a.PhoneExtension, &d.PhoneExtension}, {&a.StreetAddress, &d.StreetAddress},
		{&a.Locality, &d.Locality}, {&a.Region, &d.Region}, {&a.PostalCode, &d.PostalCode}, {&a.Country, &d.Country},
	} {
		fill(f[0], *f[1])
	}
	if c.Timeout <= 0 {
		c.Timeout = p.timeout
	}
	if c.Pooling.Count <= 0 {
		c.Pooling.Count = 5
	}
	if c.Pooling.Timeout <= 0 {
		c.Pooling.Timeout = 10 * time.Second
	}
	return c.validate()
}

func (c *Config) validate() error {
	u, err := url.Parse(c.Address)
	if err != nil || c.Address == "" {
		return fmt.Errorf("address: required, as ldap://host, ldaps://host or ldapi:///path")
	}
	switch u.Scheme {
	case "ldap", "ldaps", "ldapi":
	default:
		return fmt.Errorf("address: scheme %q: use ldap, ldaps or ldapi", u.Scheme)
	}
	if c.StartTLS && u.Scheme != "ldap" {
		return fmt.Errorf("start_tls: only with an ldap:// address")
	}
	if c.BaseDN == "" {
		return fmt.Errorf("base_dn: required")
	}
	if !strings.Contains(c.UsersFilter, "{input}") {
		return fmt.Errorf("users_filter: must contain the {input} placeholder")
	}
	if c.Attributes.Username == "" {
		return fmt.Errorf("attributes: username: required")
	}
	switch c.GroupSearchMode {
	case GroupSearchFilter:
		if c.GroupsFilter == "" {
			return fmt.Errorf("groups_filter: required with group_search_mode filter")
		}
	case GroupSearchMemberOf:
		if c.Attributes.MemberOf == "" {
			return fmt.Errorf("attributes: member_of: required with group_search_mode memberof")
		}
	default:
		return fmt.Errorf("group_search_mode: %q: use filter or memberof", c.GroupSearchMode)
	}
	if (c.User == "") != (c.Password == "") {
		return fmt.Errorf("user and password: set both or neither")
	}
	if err := checkFilter(c.UsersFilter); err != nil {
		return fmt.Errorf("users_filter: %w", err)
	}
	if c.GroupSearchMode == GroupSearchFilter {
		if err := checkFilter(c.GroupsFilter); err != nil {
			return fmt.Errorf("groups_filter: %w", err)
		}
	}
	return nil
}

// usersDN is where users are searched.
func (c *Config) usersDN() string { return joinDN(c.AdditionalUsers, c.BaseDN) }

// groupsDN is where groups are searched.
func (c *Config) groupsDN() string { return joinDN(c.AdditionalGroup, c.BaseDN) }

func joinDN(extra, base string) string {
	if extra == "" {
		return base
	}
	return extra + "," + base
}
