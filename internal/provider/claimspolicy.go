package provider

import (
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// ClaimsPolicy is a named claims policy (Authelia's claims_policies), which
// clients select with their claims_policy option. It decides which of the
// claims the granted scopes release go into the ID token and into JWT access
// tokens, and defines custom claims from user attributes. Userinfo always
// answers with every released claim.
type ClaimsPolicy struct {
	// IDToken lists the claims the ID token carries, among those the
	// granted scopes release. Nil keeps the default: every released claim
	// (several real clients read only the ID token). Empty: none.
	IDToken []string
	// AccessToken lists the claims JWT access tokens carry, among those the
	// granted scopes release. Default none.
	AccessToken []string
	// CustomClaims maps a claim name to the user attribute it is read from
	// ("" = the attribute of the same name). Custom scopes release them.
	CustomClaims map[string]string
}

// Scope is a custom scope (Authelia's scopes.<name>): the claims it releases.
type Scope struct {
	// Claims are standard claims (given_name, locale, picture, ...) or custom
	// claims of the client's claims policy.
	Claims []string
}

// builtinScopes cannot be redefined as custom scopes.
var builtinScopes = []string{"openid", "offline_access", "offline", "profile", "email", "groups"}

// reservedClaims are protocol claims that no scope or policy may set.
var reservedClaims = []string{
	"sub", "iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr",
	"azp", "at_hash", "c_hash", "s_hash", "sid", "client_id", "scope", "cnf", "typ",
}

// standardClaims are the user claims a scope or policy may name without
// defining them: OpenID Connect Core 5.1 claims with a value in the users
// file.
var standardClaims = []string{
	"name", "preferred_username", "email", "email_verified", "groups",
	"given_name", "middle_name", "family_name", "nickname", "profile", "picture",
	"website", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "address",
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

// claimValue resolves a claim a custom scope releases to client c: a custom
// claim of the client's policy, else a standard claim.
func claimValue(c *Client, u *users.User, name string) (any, bool) {
	if c != nil && c.claimsPolicy != nil {
		if attr, ok := c.claimsPolicy.CustomClaims[name]; ok {
			if attr == "" {
				attr = name
			}
			return userAttribute(u, attr)
		}
	}
	return standardClaim(u, name)
}

// releasedClaims are the user claims the granted scopes release to client c:
// those of profile, email and groups (userClaims) and those of custom
// scopes. Userinfo answers with all of them.
func (p *Provider) releasedClaims(c *Client, u *users.User, scopes []string) map[string]any {
	claims := userClaims(u, scopes)
	for _, s := range scopes {
		sc, ok := p.scopes[s]
		if !ok {
			continue
		}
		for _, name := range sc.Claims {
			if _, done := claims[name]; done {
				continue
			}
			if v, ok := claimValue(c, u, name); ok {
				claims[name] = v
			}
		}
	}
	return claims
}

// idTokenClaims are the released claims the client's claims policy puts in
// the ID token: all of them by default.
func (p *Provider) idTokenClaims(c *Client, u *users.User, scopes []string) map[string]any {
	claims := p.releasedClaims(c, u, scopes)
	if c == nil || c.claimsPolicy == nil || c.claimsPolicy.IDToken == nil {
		return claims
	}
	return pick(claims, c.claimsPolicy.IDToken)
}

// accessTokenClaims are the released claims the client's claims policy puts
// in JWT access tokens: none by default.
func (p *Provider) accessTokenClaims(c *Client, u *users.User, scopes []string) map[string]any {
	if c == nil || c.claimsPolicy == nil || len(c.claimsPolicy.AccessToken) == 0 {
		return nil
	}
	return pick(p.releasedClaims(c, u, scopes), c.claimsPolicy.AccessToken)
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

// setupClaims validates the custom scopes and claims policies and resolves
// the clients' claims_policy.
func (p *Provider) setupClaims(cfg Config) error {
	policyNames := slices.Sorted(maps.Keys(cfg.ClaimsPolicies))
	defined := map[string]bool{} // custom claims of any policy
	for _, name := range policyNames {
		pol := cfg.ClaimsPolicies[name]
		if name == "" {
			return fmt.Errorf("claims_policies: a policy needs a name")
		}
		for claim, attr := range pol.CustomClaims {
			if err := claimName(claim); err != nil {
				return fmt.Errorf("claims_policies %q: custom_claims: %w", name, err)
			}
			if slices.Contains(standardClaims, claim) {
				return fmt.Errorf("claims_policies %q: custom_claims: %q is a standard claim", name, claim)
			}
			if attr == "" {
				attr = claim
			}
			if !isAttributeName(attr) {
				return fmt.Errorf("claims_policies %q: custom_claims %q: attribute %q is not a valid name", name, claim, attr)
			}
			defined[claim] = true
		}
		for _, list := range []struct {
			field  string
			claims []string
		}{{"id_token", pol.IDToken}, {"access_token", pol.AccessToken}} {
			for _, claim := range list.claims {
				if _, custom := pol.CustomClaims[claim]; !custom && !slices.Contains(standardClaims, claim) {
					return fmt.Errorf("claims_policies %q: %s: %q is neither a standard claim (%s) nor one of the policy's custom_claims", name, list.field, claim, joinQuoted(standardClaims))
				}
			}
		}
	}

	p.scopes = make(map[string]Scope, len(cfg.Scopes))
	for _, name := range slices.Sorted(maps.Keys(cfg.Scopes)) {
		sc := cfg.Scopes[name]
		switch {
		case name == "" || !isAttributeName(name):
			return fmt.Errorf("scopes: %q is not a valid scope name", name)
		case slices.Contains(builtinScopes, name):
			return fmt.Errorf("scopes %q: a built-in scope cannot be redefined", name)
		case len(sc.Claims) == 0:
			return fmt.Errorf("scopes %q: claims: at least one is required", name)
		}
		for _, claim := range sc.Claims {
			if err := claimName(claim); err != nil {
				return fmt.Errorf("scopes %q: claims: %w", name, err)
			}
			if !defined[claim] && !slices.Contains(standardClaims, claim) {
				return fmt.Errorf("scopes %q: claims: %q is neither a standard claim nor defined in the custom_claims of a claims policy", name, claim)
			}
		}
		p.scopes[name] = Scope{Claims: slices.Clone(sc.Claims)}
	}

	for _, cc := range cfg.Clients {
		if cc.ClaimsPolicy == "" {
			continue
		}
		pol, ok := cfg.ClaimsPolicies[cc.ClaimsPolicy]
		if !ok {
			return fmt.Errorf("client %q: claims_policy: %q is not one of the claims_policies (%s)", cc.ID, cc.ClaimsPolicy, joinQuoted(policyNames))
		}
		p.clients[cc.ID].claimsPolicy = &pol
	}
	return nil
}

// claimName refuses empty and protocol claim names.
func claimName(claim string) error {
	switch {
	case claim == "":
		return fmt.Errorf("a claim needs a name")
	case slices.Contains(reservedClaims, claim):
		return fmt.Errorf("%q is a protocol claim and cannot be set", claim)
	}
	return nil
}

// isAttributeName accepts names of printable ASCII without spaces or quotes.
func isAttributeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

// customClaimsSupported lists the claims of the custom scopes, for discovery.
func (p *Provider) customClaimsSupported() []string {
	var out []string
	for _, sc := range p.scopes {
		for _, c := range sc.Claims {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

func joinQuoted(names []string) string {
	if len(names) == 0 {
		return "none defined"
	}
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", n)
	}
	return s
}
