package users

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidCredentials is returned for an unknown user, a wrong password and a
// disabled user alike, so that callers cannot tell them apart.
var ErrInvalidCredentials = errors.New("invalid username or password")

// ErrUserNotFound is returned by Lookup when no such user exists.
var ErrUserNotFound = errors.New("user not found")

// User is one end user as the provider sees it.
type User struct {
	Username string   // the key in the users map; never shown to clients as sub
	FullName string   // "displayname" in the file; see DisplayName
	Email    string   // the email claim
	Groups   []string // the groups claim
	Disabled bool     // a disabled user cannot log in nor refresh tokens

	// The optional profile fields below carry the OpenID Connect standard
	// claims of the same names (OpenID Connect Core 1.0, section 5.1). They
	// are empty when the user database does not set them.

	GivenName      string   // "given_name"
	MiddleName     string   // "middle_name"
	FamilyName     string   // "family_name"
	Nickname       string   // "nickname"
	Profile        string   // "profile": URL of the user's profile page
	Picture        string   // "picture": URL of the user's picture
	Website        string   // "website": URL of the user's web site
	Gender         string   // "gender"
	Birthdate      string   // "birthdate": YYYY-MM-DD, or YYYY
	ZoneInfo       string   // "zoneinfo": an IANA time zone such as Europe/Paris
	Locale         string   // "locale": a BCP 47 language tag such as en-US
	PhoneNumber    string   // "phone_number", preferably E.164 (+1 555 0100)
	PhoneExtension string   // "phone_extension"
	Address        *Address // "address"; nil when absent

	// UpdatedAt is when the user's record last changed, the updated_at
	// claim; zero when unknown. The file backend gives the users file's
	// modification time (the file does not say which user changed).
	UpdatedAt time.Time

	// Extra holds the custom attributes of the "extra" map, as values
	// encoding/json can write: strings, numbers, booleans, []any and
	// map[string]any (YAML maps with other keys get their keys as strings).
	// Nil when absent.
	Extra map[string]any
}

// DisplayName is the name shown to people and released as the name claim:
// the users file's displayname, or the username when it has none.
func (u *User) DisplayName() string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Username
}

// Address is a postal address, the OpenID Connect "address" claim.
type Address struct {
	StreetAddress string `yaml:"street_address"` // full street address, may span lines
	Locality      string `yaml:"locality"`       // city or locality
	Region        string `yaml:"region"`         // state, province or region
	PostalCode    string `yaml:"postal_code"`    // zip or postal code
	Country       string `yaml:"country"`        // country name
}

// clone returns a deep copy of u, so that callers may modify what they get.
func (u *User) clone() *User {
	c := *u
	if u.Groups != nil {
		c.Groups = append([]string(nil), u.Groups...)
	}
	if u.Address != nil {
		a := *u.Address
		c.Address = &a
	}
	if u.Extra != nil {
		c.Extra = copyMap(u.Extra)
	}
	return &c
}

// copyValue deep-copies the maps and slices that YAML decoding produces,
// turning map[any]any (a YAML map with non-string keys) into map[string]any
// so that every value can be written as JSON (claims).
func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = copyValue(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = copyValue(e)
		}
		return s
	default:
		return v
	}
}

// copyMap deep-copies m with copyValue.
func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, e := range m {
		c[k] = copyValue(e)
	}
	return c
}

// Backend is a source of users.
type Backend interface {
	// Authenticate verifies username and password. It returns
	// ErrInvalidCredentials when the user is unknown, disabled, or the password
	// is wrong, taking about the same time in each case.
	Authenticate(username, password string) (*User, error)
	// Lookup returns the current record of a user, or ErrUserNotFound.
	Lookup(username string) (*User, error)
}
