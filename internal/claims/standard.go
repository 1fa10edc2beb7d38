package claims

import (
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// The claims the standard scopes release besides name and
// preferred_username (OpenID Connect Core 5.4), as Authelia releases them.
var (
	profileClaims = []string{
		"given_name", "family_name", "middle_name", "nickname", "profile", "picture",
		"website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
	}
	phoneClaims   = []string{"phone_number", "phone_number_verified"}
	addressClaims = []string{"address"}
)

// StandardScopeClaims maps each standard scope to the claims it releases
// (OpenID Connect Core 5.4, plus Authelia's groups scope).
var StandardScopeClaims = map[string][]string{
	"profile": append([]string{"name", "preferred_username"}, profileClaims...),
	"email":   {"email", "email_verified"},
	"phone":   phoneClaims,
	"address": addressClaims,
	"groups":  {"groups"},
}

// addClaims sets the standard claims in names that u has a value for.
func addClaims(claims map[string]any, u *users.User, names []string) {
	for _, name := range names {
		if v, ok := standardClaim(u, name); ok {
			claims[name] = v
		}
	}
}

// phoneNumber is the phone_number claim: the number with its extension in
// RFC 3966 form ("+1 555 0100;ext=123"), as Authelia writes it.
func phoneNumber(u *users.User) (any, bool) {
	switch {
	case u.PhoneNumber == "":
		return nil, false
	case u.PhoneExtension == "":
		return u.PhoneNumber, true
	}
	return u.PhoneNumber + ";ext=" + u.PhoneExtension, true
}
