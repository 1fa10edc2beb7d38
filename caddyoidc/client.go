package caddyoidc

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
)

// Client is one registered relying party, with Authelia's option names. The
// older Authelia names id, secret and description are accepted as aliases.
type Client struct {
	// ClientID identifies the client; it must match the app's setting.
	ClientID string `json:"client_id,omitempty"`
	// ID is the older Authelia name of client_id.
	ID string `json:"id,omitempty"`

	// ClientName is shown on the consent page. Default: the client ID.
	ClientName string `json:"client_name,omitempty"`
	// Description is the older Authelia name of client_name.
	Description string `json:"description,omitempty"`

	// ClientSecret is the shared secret of a confidential client: plain
	// text, $plaintext$..., or a digest ($pbkdf2-sha512$..., $argon2id$...,
	// bcrypt $2b$...). Prefer a digest, or a {env.*} / {file.*} placeholder.
	ClientSecret string `json:"client_secret,omitempty"`
	// Secret is the older Authelia name of client_secret.
	Secret string `json:"secret,omitempty"`

	// Public marks a client that cannot keep a secret (SPA, native app): no
	// secret, token_endpoint_auth_method none, PKCE required.
	Public bool `json:"public,omitempty"`

	// RedirectURIs are compared exactly and case-sensitively, query string
	// included. Custom schemes of native apps (app.immich:///oauth-callback)
	// are allowed; http only on loopback addresses.
	RedirectURIs []string `json:"redirect_uris,omitempty"`

	// Scopes the client may request. Default: openid, groups, profile,
	// email (none for a client with only client_credentials, which needs no
	// openid). Add offline_access to allow refresh tokens.
	Scopes []string `json:"scopes,omitempty"`

	// Audience lists the audiences the client may request.
	Audience []string `json:"audience,omitempty"`

	// GrantTypes allowed: authorization_code, refresh_token, implicit,
	// client_credentials (confidential clients only), password (resource
	// owner password credentials: discouraged, and only for clients whose
	// authorization_policy is one_factor without rules). Default
	// authorization_code and refresh_token.
	GrantTypes []string `json:"grant_types,omitempty"`

	// ResponseTypes allowed: code, "code id_token", "code token",
	// "code id_token token", id_token, "id_token token", token (words in
	// any order). code needs the authorization_code grant type; token and
	// id_token need implicit. Default code (with authorization_code).
	ResponseTypes []string `json:"response_types,omitempty"`

	// ResponseModes allowed: query, fragment, form_post. Default form_post,
	// plus query for the code response type and fragment for the others.
	// query cannot carry tokens, so it needs the code response type.
	ResponseModes []string `json:"response_modes,omitempty"`

	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// client_secret_jwt, private_key_jwt, or none (public clients). When
	// unset, a confidential client may use either client_secret_basic or
	// client_secret_post.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method,omitempty"`

	// TokenEndpointAuthSigningAlg is the only algorithm the client's
	// assertions may use: HS256, HS384 or HS512 for client_secret_jwt
	// (whose client_secret must then be the plain secret, at least 32, 48
	// or 64 bytes); RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384
	// or ES512 for private_key_jwt. Default: any of the method's.
	TokenEndpointAuthSigningAlg string `json:"token_endpoint_auth_signing_alg,omitempty"`
	// JWKS are the client's public keys, for private_key_jwt and request
	// objects: key_id, algorithm, use and key (a PEM public key or
	// certificate). Not with jwks_uri.
	JWKS []JWK `json:"jwks,omitempty"`
	// JWKSURI is where the client publishes its JWK Set, for
	// private_key_jwt and request objects: https (http only on loopback); fetched with a 5s
	// timeout and a 256 KiB limit, cached for 10 minutes, and fetched
	// again when an assertion names a key it does not have.
	JWKSURI string `json:"jwks_uri,omitempty"`

	// RequirePKCE requires PKCE from this client even if it is confidential.
	RequirePKCE bool `json:"require_pkce,omitempty"`

	// PKCEChallengeMethod, when set (S256 or plain), is the only PKCE
	// method this client may use.
	PKCEChallengeMethod string `json:"pkce_challenge_method,omitempty"`

	// IDTokenSignedResponseAlg is the ID token signing algorithm: RS256
	// (default), RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or
	// EdDSA. The provider generates a key for an algorithm on first need,
	// unless its jwks has one.
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg,omitempty"`

	// AuthorizationPolicy is one_factor, two_factor, or the name of one of
	// the provider's authorization_policies. Default: the provider's
	// default_authorization_policy (one_factor unless set).
	AuthorizationPolicy string `json:"authorization_policy,omitempty"`

	// ConsentMode is auto (default: pre-configured when
	// pre_configured_consent_duration is set, else explicit), explicit (ask
	// every time), implicit (never ask) or pre-configured (offer to remember
	// the choice).
	ConsentMode string `json:"consent_mode,omitempty"`

	// PreConfiguredConsentDuration lets users remember their consent for
	// this long (consent_mode pre-configured, or auto when set): valid only
	// for the same user, client, scopes and audience.
	PreConfiguredConsentDuration caddy.Duration `json:"pre_configured_consent_duration,omitempty"`

	// PostLogoutRedirectURIs are where RP-initiated logout (the
	// end_session_endpoint) may send the user back to, compared exactly
	// like redirect_uris. A post_logout_redirect_uri not listed here gets
	// an error page and no redirect.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`

	// BackchannelLogoutURI receives a signed logout token (OpenID Connect
	// Back-Channel Logout 1.0, form field logout_token) whenever a login
	// session this client took part in ends: sign-out, "sign out
	// everywhere", an operator revoking sessions, a disabled user. An
	// absolute http or https URL without a fragment; http is fine on a
	// private network. Deliveries run in the background with bounded
	// retries; a failure is logged.
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// BackchannelLogoutSessionRequired says the client needs the sid claim
	// in logout tokens. The provider always sends sid (and sub); the option
	// is accepted for registration compatibility. Default false.
	BackchannelLogoutSessionRequired bool `json:"backchannel_logout_session_required,omitempty"`
	// FrontchannelLogoutURI is loaded in a hidden iframe of the signed-out
	// page (OpenID Connect Front-Channel Logout 1.0) when a login session
	// this client took part in ends in the browser. Its scheme, host and
	// port must be those of one of redirect_uris.
	FrontchannelLogoutURI string `json:"frontchannel_logout_uri,omitempty"`
	// FrontchannelLogoutSessionRequired adds iss and sid to the
	// front-channel logout URL's query. Default false.
	FrontchannelLogoutSessionRequired bool `json:"frontchannel_logout_session_required,omitempty"`

	// RequirePushedAuthorizationRequests refuses this client's
	// authorization requests unless they were first pushed to the
	// pushed_authorization_request_endpoint (RFC 9126). Default false.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`
	// DPoPBoundAccessTokens refuses this client's token requests that
	// carry no DPoP proof (RFC 9449 5.2): its access tokens are always
	// bound to its key. Default false (a proof is optional).
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`

	// AccessTokenSignedResponseAlg is none (default: opaque access tokens)
	// or a signing algorithm (as id_token_signed_response_alg): RFC 9068 JWT access tokens (typ at+jwt) signed with
	// the provider's keys, which resource servers can check against the
	// JWKS. They still work at userinfo, introspection and revocation.
	AccessTokenSignedResponseAlg string `json:"access_token_signed_response_alg,omitempty"`

	// UserinfoSignedResponseAlg is none (default: userinfo answers JSON)
	// or a signing algorithm (as id_token_signed_response_alg): userinfo answers a signed JWT (application/jwt) with
	// iss and aud added.
	UserinfoSignedResponseAlg string `json:"userinfo_signed_response_alg,omitempty"`
	// UserinfoSigningAlgorithm is the older Authelia name of
	// userinfo_signed_response_alg.
	UserinfoSigningAlgorithm string `json:"userinfo_signing_algorithm,omitempty"`

	// SectorIdentifier, a host (example.com), gives the client pairwise
	// subjects: the same sub for every client of the sector, a different
	// one elsewhere. Authelia's older option; see sector_identifier_uri.
	SectorIdentifier string `json:"sector_identifier,omitempty"`
	// SectorIdentifierURI is an https URL serving a JSON array that lists
	// every redirect URI of the client (OpenID Connect Registration 5). It
	// is fetched when the config loads (10 s, 64 KiB at most); its host is
	// the sector of the client's pairwise subjects.
	SectorIdentifierURI string `json:"sector_identifier_uri,omitempty"`

	// Lifespan names one of the provider's lifespans, whose token
	// lifespans replace the provider-wide ones for this client.
	Lifespan string `json:"lifespan,omitempty"`

	// ClaimsPolicy names one of the provider's claims_policies: which
	// claims go into the ID token and JWT access tokens, and the custom
	// claims custom scopes release. Default: every claim the granted scopes
	// release goes into the ID token and userinfo.
	ClaimsPolicy string `json:"claims_policy,omitempty"`

	// RequestedAudienceMode is explicit (default: only the audiences the
	// request names with the audience parameter are granted) or implicit
	// (a request naming none is granted every registered audience), as
	// Authelia's requested_audience_mode.
	RequestedAudienceMode string `json:"requested_audience_mode,omitempty"`

	// Request objects, JARM and signed introspection (README, "Request
	// objects and JARM").

	// RequestURIs are the https URLs this client may pass as request_uri
	// (a request object by reference, RFC 9101): compared exactly, fetched
	// when used (5 s, 64 KiB, no redirects).
	RequestURIs []string `json:"request_uris,omitempty"`
	// RequestObjectSigningAlg is the only algorithm this client's request
	// objects may use (verified with its jwks or jwks_uri): RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA. none
	// allows unsigned request objects, and only those. Default: any of
	// these but none.
	RequestObjectSigningAlg string `json:"request_object_signing_alg,omitempty"`
	// AuthorizationSignedResponseAlg signs this client's JARM responses
	// (response_mode query.jwt, fragment.jwt, form_post.jwt, jwt): any
	// signing algorithm of id_token_signed_response_alg. Default RS256.
	AuthorizationSignedResponseAlg string `json:"authorization_signed_response_alg,omitempty"`
	// AuthorizationSignedResponseKeyID picks the JARM signing key by its
	// key_id (one of the provider's jwks), and so its algorithm.
	AuthorizationSignedResponseKeyID string `json:"authorization_signed_response_key_id,omitempty"`
	// IntrospectionSignedResponseAlg makes introspection answer this
	// client with a signed JWT (RFC 9701), with this algorithm. Default
	// none: JSON, unless the request has Accept:
	// application/token-introspection+jwt (then RS256).
	IntrospectionSignedResponseAlg string `json:"introspection_signed_response_alg,omitempty"`

	// IDTokenEncryptedResponseAlg, UserinfoEncryptedResponseAlg and
	// AuthorizationEncryptedResponseAlg encrypt ID tokens, userinfo and
	// JARM responses to the client's encryption key (a jwk with use enc,
	// or in its jwks_uri): RSA-OAEP, RSA-OAEP-256 (RSA keys), ECDH-ES,
	// ECDH-ES+A128KW, ECDH-ES+A192KW, ECDH-ES+A256KW (EC keys). The *Enc
	// options pick the content encryption: A128CBC-HS256 (default),
	// A192CBC-HS384, A256CBC-HS512, A128GCM, A192GCM, A256GCM.
	IDTokenEncryptedResponseAlg       string `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncryptedResponseEnc       string `json:"id_token_encrypted_response_enc,omitempty"`
	UserinfoEncryptedResponseAlg      string `json:"userinfo_encrypted_response_alg,omitempty"`
	UserinfoEncryptedResponseEnc      string `json:"userinfo_encrypted_response_enc,omitempty"`
	AuthorizationEncryptedResponseAlg string `json:"authorization_encrypted_response_alg,omitempty"`
	AuthorizationEncryptedResponseEnc string `json:"authorization_encrypted_response_enc,omitempty"`
}

// id returns the client ID under either name, for error messages.
func (c Client) id() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return c.ID
}

// validate checks that no option is given under both its names.
func (c Client) validate() error {
	for _, a := range [][4]string{
		{"client_id", c.ClientID, "id", c.ID},
		{"client_name", c.ClientName, "description", c.Description},
		{"client_secret", c.ClientSecret, "secret", c.Secret},
		{"userinfo_signed_response_alg", c.UserinfoSignedResponseAlg, "userinfo_signing_algorithm", c.UserinfoSigningAlgorithm},
	} {
		if _, err := alias(a[0], a[1], a[2], a[3]); err != nil {
			return err
		}
	}
	return nil
}

// alias picks the canonical option or its older name, refusing both.
func alias(name, value, oldName, oldValue string) (string, error) {
	if value != "" && oldValue != "" {
		return "", fmt.Errorf("%s: set either %s or its older name %s, not both", name, name, oldName)
	}
	if value != "" {
		return value, nil
	}
	return oldValue, nil
}
