// Package claims decides which user claims go where: the claims the granted
// scopes release (profile, email, groups and custom scopes), and which of
// them a client's claims policy puts in the ID token and in JWT access
// tokens. It validates the provider-wide claims policies and custom scopes.
package claims

import (
	"fmt"
	"maps"
	"slices"
	"sort"
)

// Policy is a named claims policy (Authelia's claims_policies), which
// clients select with their claims_policy option. It decides which of the
// claims the granted scopes release go into the ID token and into JWT access
// tokens, and defines custom claims from user attributes. Userinfo always
// answers with every released claim.
type Policy struct {
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
	// IDTokenAudienceMode is specification ("", the default: the ID
	// token's aud is the client) or experimental-merged (the granted
	// access token audiences too), as Authelia's id_token_audience_mode.
	IDTokenAudienceMode string
}

// MergedIDTokenAudience reports whether ID tokens carry the access
// token's granted audiences too (id_token_audience_mode
// experimental-merged); false for a nil policy.
func (p *Policy) MergedIDTokenAudience() bool {
	return p != nil && p.IDTokenAudienceMode == IDTokenAudienceMerged
}

// The values of id_token_audience_mode.
const (
	IDTokenAudienceSpecification = "specification"
	IDTokenAudienceMerged        = "experimental-merged"
)

// Scope is a custom scope (Authelia's scopes.<name>): the claims it releases.
type Scope struct {
	// Claims are standard claims (given_name, locale, picture, ...) or custom
	// claims of the client's claims policy.
	Claims []string
}

// builtinScopes cannot be redefined as custom scopes.
var builtinScopes = []string{"openid", "offline_access", "offline", "profile", "email", "groups", "phone", "address"}

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
	"phone_number_verified", "updated_at",
}

// Set is the validated provider-wide claims configuration: the named
// claims policies and the custom scopes. It is immutable.
type Set struct {
	policies map[string]Policy
	scopes   map[string]Scope
}

// Policy returns the named claims policy, or an error listing the defined
// ones.
func (s *Set) Policy(name string) (*Policy, error) {
	pol, ok := s.policies[name]
	if !ok {
		return nil, fmt.Errorf("%q is not one of the claims_policies (%s)", name, JoinQuoted(slices.Sorted(maps.Keys(s.policies))))
	}
	return &pol, nil
}

// ScopeNames lists the custom scopes, sorted.
func (s *Set) ScopeNames() []string { return slices.Sorted(maps.Keys(s.scopes)) }

func clonePolicy(p Policy) Policy {
	return Policy{IDToken: slices.Clone(p.IDToken), AccessToken: slices.Clone(p.AccessToken), CustomClaims: maps.Clone(p.CustomClaims), IDTokenAudienceMode: p.IDTokenAudienceMode}
}

// New validates the claims policies and the custom scopes (whose claims
// must be standard claims or custom claims of some policy). Errors name the
// option: claims_policies "name": ..., scopes "name": ...
func New(policies map[string]Policy, scopes map[string]Scope) (*Set, error) {
	policyNames := slices.Sorted(maps.Keys(policies))
	defined := map[string]bool{} // custom claims of any policy
	s := &Set{policies: make(map[string]Policy, len(policies)), scopes: make(map[string]Scope, len(scopes))}
	for _, name := range policyNames {
		pol := policies[name]
		if name == "" {
			return nil, fmt.Errorf("claims_policies: a policy needs a name")
		}
		switch pol.IDTokenAudienceMode {
		case "", IDTokenAudienceSpecification, IDTokenAudienceMerged:
		default:
			return nil, fmt.Errorf("claims_policies %q: id_token_audience_mode: %q is not one of %s, %s", name, pol.IDTokenAudienceMode, IDTokenAudienceSpecification, IDTokenAudienceMerged)
		}
		for claim, attr := range pol.CustomClaims {
			if err := claimName(claim); err != nil {
				return nil, fmt.Errorf("claims_policies %q: custom_claims: %w", name, err)
			}
			if slices.Contains(standardClaims, claim) {
				return nil, fmt.Errorf("claims_policies %q: custom_claims: %q is a standard claim", name, claim)
			}
			if attr == "" {
				attr = claim
			}
			if !isAttributeName(attr) {
				return nil, fmt.Errorf("claims_policies %q: custom_claims %q: attribute %q is not a valid name", name, claim, attr)
			}
			defined[claim] = true
		}
		for _, list := range []struct {
			field  string
			claims []string
		}{{"id_token", pol.IDToken}, {"access_token", pol.AccessToken}} {
			for _, claim := range list.claims {
				if _, custom := pol.CustomClaims[claim]; !custom && !slices.Contains(standardClaims, claim) {
					return nil, fmt.Errorf("claims_policies %q: %s: %q is neither a standard claim (%s) nor one of the policy's custom_claims", name, list.field, claim, JoinQuoted(standardClaims))
				}
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(scopes)) {
		sc := scopes[name]
		switch {
		case name == "" || !isAttributeName(name):
			return nil, fmt.Errorf("scopes: %q is not a valid scope name", name)
		case slices.Contains(builtinScopes, name):
			return nil, fmt.Errorf("scopes %q: a built-in scope cannot be redefined", name)
		case len(sc.Claims) == 0:
			return nil, fmt.Errorf("scopes %q: claims: at least one is required", name)
		}
		for _, claim := range sc.Claims {
			if err := claimName(claim); err != nil {
				return nil, fmt.Errorf("scopes %q: claims: %w", name, err)
			}
			if !defined[claim] && !slices.Contains(standardClaims, claim) {
				return nil, fmt.Errorf("scopes %q: claims: %q is neither a standard claim nor defined in the custom_claims of a claims policy", name, claim)
			}
		}
		s.scopes[name] = Scope{Claims: slices.Clone(sc.Claims)}
	}

	for _, name := range policyNames {
		s.policies[name] = clonePolicy(policies[name])
	}
	return s, nil
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

// ClaimsSupported lists the claims of the custom scopes, for discovery.
func (s *Set) ClaimsSupported() []string {
	var out []string
	for _, sc := range s.scopes {
		for _, c := range sc.Claims {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// JoinQuoted lists names for error messages: "a", "b"; "none defined" when empty.
func JoinQuoted(names []string) string {
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
