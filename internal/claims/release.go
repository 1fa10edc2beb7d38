package claims

import (
	"slices"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// UserClaims are the claims about the user that the granted scopes release.
// They go into the ID token and into userinfo alike: several real clients
// read only one of the two.
func UserClaims(u *users.User, scopes []string) map[string]any {
	claims := map[string]any{}
	if slices.Contains(scopes, "profile") {
		claims["name"] = u.DisplayName()
		claims["preferred_username"] = u.Username
		addClaims(claims, u, profileClaims)
	}
	if slices.Contains(scopes, "phone") {
		addClaims(claims, u, phoneClaims)
	}
	if slices.Contains(scopes, "address") {
		addClaims(claims, u, addressClaims)
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = true // the administrator wrote it in the users file
	}
	if slices.Contains(scopes, "groups") {
		groups := u.Groups
		if groups == nil {
			groups = []string{}
		}
		claims["groups"] = groups
	}
	return claims
}

// Released are the user claims the granted scopes release under claims
// policy pol (nil: none): those of profile, email and groups (UserClaims)
// and those of custom scopes. Userinfo answers with all of them.
func (s *Set) Released(pol *Policy, u *users.User, scopes []string) map[string]any {
	claims := UserClaims(u, scopes)
	for _, name := range scopes {
		sc, ok := s.scopes[name]
		if !ok {
			continue
		}
		for _, claim := range sc.Claims {
			if _, done := claims[claim]; done {
				continue
			}
			if v, ok := claimValue(pol, u, claim); ok {
				claims[claim] = v
			}
		}
	}
	return claims
}

// IDToken are the released claims policy pol puts in the ID token: all of
// them by default (nil policy, or no id_token list).
func (s *Set) IDToken(pol *Policy, u *users.User, scopes []string) map[string]any {
	claims := s.Released(pol, u, scopes)
	if pol == nil || pol.IDToken == nil {
		return claims
	}
	return pick(claims, pol.IDToken)
}

// AccessToken are the released claims policy pol puts in JWT access
// tokens: none by default.
func (s *Set) AccessToken(pol *Policy, u *users.User, scopes []string) map[string]any {
	if pol == nil || len(pol.AccessToken) == 0 {
		return nil
	}
	return pick(s.Released(pol, u, scopes), pol.AccessToken)
}

// pick returns the entries of m named in keep.
func pick(m map[string]any, keep []string) map[string]any {
	out := make(map[string]any, len(keep))
	for _, k := range keep {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// standardClaim returns the value of a standard claim for u; false when the
// user has none.
func standardClaim(u *users.User, name string) (any, bool) {
	switch name {
	case "name":
		return u.DisplayName(), true
	case "preferred_username":
		return u.Username, true
	case "email_verified":
		return true, u.Email != "" // the administrator wrote it in the users file
	case "groups":
		if u.Groups == nil {
			return []string{}, true
		}
		return u.Groups, true
	case "phone_number":
		return phoneNumber(u)
	case "phone_number_verified":
		// Like Authelia: nobody verified the number the file holds.
		_, ok := phoneNumber(u)
		return false, ok
	case "updated_at":
		return u.UpdatedAt.Unix(), !u.UpdatedAt.IsZero()
	}
	if !slices.Contains(standardClaims, name) {
		return nil, false // custom claims come from a claims policy only
	}
	return userAttribute(u, name)
}

// userAttribute returns a user attribute by its Authelia name (username,
// display_name, email, groups, given_name, ..., phone_extension, address) or
// the name of an attribute in the users file's extra map; false when unset.
func userAttribute(u *users.User, name string) (any, bool) {
	str := func(s string) (any, bool) { return s, s != "" }
	switch name {
	case "username":
		return str(u.Username)
	case "display_name", "displayname":
		return str(u.FullName)
	case "email":
		return str(u.Email)
	case "groups":
		return u.Groups, u.Groups != nil
	case "given_name":
		return str(u.GivenName)
	case "middle_name":
		return str(u.MiddleName)
	case "family_name":
		return str(u.FamilyName)
	case "nickname":
		return str(u.Nickname)
	case "profile":
		return str(u.Profile)
	case "picture":
		return str(u.Picture)
	case "website":
		return str(u.Website)
	case "gender":
		return str(u.Gender)
	case "birthdate":
		return str(u.Birthdate)
	case "zoneinfo":
		return str(u.ZoneInfo)
	case "locale":
		return str(u.Locale)
	case "phone_number":
		return str(u.PhoneNumber)
	case "phone_extension":
		return str(u.PhoneExtension)
	case "address":
		if u.Address == nil {
			return nil, false
		}
		a := map[string]any{}
		for k, v := range map[string]string{
			"street_address": u.Address.StreetAddress, "locality": u.Address.Locality,
			"region": u.Address.Region, "postal_code": u.Address.PostalCode, "country": u.Address.Country,
		} {
			if v != "" {
				a[k] = v
			}
		}
		return a, len(a) > 0
	}
	v, ok := u.Extra[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true // Lookup returned a copy, already JSON-safe
}

// claimValue resolves a claim a custom scope releases under policy pol (nil:
// none): a custom claim of the policy, else a standard claim.
func claimValue(pol *Policy, u *users.User, name string) (any, bool) {
	if pol != nil {
		if attr, ok := pol.CustomClaims[name]; ok {
			if attr == "" {
				attr = name
			}
			return userAttribute(u, attr)
		}
	}
	return standardClaim(u, name)
}
