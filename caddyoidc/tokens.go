package caddyoidc

import "github.com/caddyserver/caddy/v2"

// Lifespan is a named set of token lifespans (Authelia's
// lifespans.custom.<name>) that clients select with their lifespan option.
// An unset lifespan keeps the provider-wide one.
type Lifespan struct {
	// AccessToken is how long the client's access tokens live.
	AccessToken caddy.Duration `json:"access_token,omitempty"`
	// AuthorizeCode is how long the client's authorization codes live.
	AuthorizeCode caddy.Duration `json:"authorize_code,omitempty"`
	// IDToken is how long the client's ID tokens live.
	IDToken caddy.Duration `json:"id_token,omitempty"`
	// RefreshToken is how long the client's refresh tokens live.
	RefreshToken caddy.Duration `json:"refresh_token,omitempty"`
	// Grants override these lifespans for the tokens one grant issues
	// (Authelia's grants.<grant>): authorize_code, device_code, implicit,
	// client_credentials, refresh_token or jwt_bearer. The grant's
	// lifespan of a token wins, then this lifespan's, then the provider's.
	Grants map[string]Lifespan `json:"grants,omitempty"`
}

// ClaimsPolicy is a named claims policy (Authelia's claims_policies) that
// clients select with their claims_policy option. Userinfo always carries
// every claim the granted scopes release; the policy decides which of them
// the ID token and JWT access tokens carry too, and defines custom claims.
type ClaimsPolicy struct {
	// IDToken lists the claims the ID token carries, among those the
	// granted scopes release. Absent (null): all of them, the default,
	// since several apps read only the ID token. An empty list: none.
	IDToken []string `json:"id_token"`
	// AccessToken lists the claims JWT access tokens carry, among those the
	// granted scopes release. Default none.
	AccessToken []string `json:"access_token,omitempty"`
	// CustomClaims defines claims, by name, read from a user attribute:
	// username, display_name, email, groups, given_name, family_name,
	// middle_name, nickname, profile, picture, website, gender, birthdate,
	// zoneinfo, locale, phone_number, phone_extension, address, or a key of
	// the user's extra map in the users file. Custom scopes release them.
	CustomClaims map[string]CustomClaim `json:"custom_claims,omitempty"`
	// IDTokenAudienceMode is specification (default: the ID token's aud
	// is the client) or experimental-merged (plus the audiences granted
	// to the access token), as Authelia's id_token_audience_mode.
	IDTokenAudienceMode string `json:"id_token_audience_mode,omitempty"`
}

// CustomClaim says where a custom claim's value comes from.
type CustomClaim struct {
	// Attribute is the user attribute. Default: the claim's name.
	Attribute string `json:"attribute,omitempty"`
}

// Scope is a custom scope (Authelia's scopes.<name>): a client that is
// granted it receives its claims at userinfo (and in the ID token, as its
// claims policy says).
type Scope struct {
	// Claims are standard claims (given_name, family_name, locale,
	// picture, ...) or custom claims of the client's claims policy.
	Claims []string `json:"claims,omitempty"`
}
