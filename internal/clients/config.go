package clients

import (
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Token endpoint authentication methods (OpenID Connect Discovery, RFC 8414;
// RFC 7523 for the JWT ones).
const (
	AuthMethodBasic         = "client_secret_basic"
	AuthMethodPost          = "client_secret_post"
	AuthMethodNone          = "none"
	AuthMethodSecretJWT     = "client_secret_jwt"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// Authorization policies, with Authelia's names.
const (
	PolicyOneFactor = "one_factor"
	PolicyTwoFactor = "two_factor"
)

// Grant types, in the order discovery lists them.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantImplicit          = "implicit"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password" // resource owner password credentials, discouraged
	// GrantDeviceCode is the device authorization grant (RFC 8628), for
	// TVs and command-line tools.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// defaultScopes are granted to a client that does not list its own, as in Authelia.
var defaultScopes = []string{"openid", "groups", "profile", "email"}

// DefaultScopes returns the scopes of a client that lists none (a copy).
func DefaultScopes() []string { return slices.Clone(defaultScopes) }

// defaultGrantTypes are allowed to a client that does not list its own.
var defaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}

// Config is one registered client, with Authelia's option names. It is the
// engine's view: placeholders are already resolved.
type Config struct {
	ID                       string
	Name                     string
	Secret                   string // plain text, $plaintext$..., or a go-crypt digest
	Public                   bool
	RedirectURIs             []string
	Scopes                   []string
	Audience                 []string
	GrantTypes               []string
	ResponseTypes            []string
	ResponseModes            []string
	TokenEndpointAuthMethod  string // "" accepts client_secret_basic and client_secret_post
	RequirePKCE              bool
	PKCEChallengeMethod      string // "", "S256" or "plain"
	IDTokenSignedResponseAlg string // RS256 (default) or ES256
	AuthorizationPolicy      string // one_factor, two_factor or a named policy; "" = the provider default
	ConsentMode              string // auto (default), explicit, implicit or pre-configured
	// PreConfiguredConsentDuration is how long a remembered consent lasts
	// (consent_mode pre-configured, or auto when set).
	PreConfiguredConsentDuration time.Duration
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// user back to; compared exactly.
	PostLogoutRedirectURIs []string
	// RequirePushedAuthorizationRequests refuses this client's
	// authorization requests unless they were pushed (RFC 9126).
	RequirePushedAuthorizationRequests bool

	// TokenEndpointAuthSigningAlg is the algorithm of the client's
	// assertions (client_secret_jwt, private_key_jwt); "" accepts any of
	// the method's. JSONWebKeys (inline) or JSONWebKeysURI (fetched) are
	// the public keys of a private_key_jwt client (assertion.go).
	TokenEndpointAuthSigningAlg string
	JSONWebKeys                 []jose.JSONWebKey
	JSONWebKeysURI              string

	// AccessTokenSignedResponseAlg is none or "" (opaque HMAC access
	// tokens), RS256 or ES256 (RFC 9068 JWT access tokens).
	AccessTokenSignedResponseAlg string
	// UserinfoSignedResponseAlg is none or "" (userinfo as JSON), RS256 or
	// ES256 (userinfo as a signed JWT, application/jwt).
	UserinfoSignedResponseAlg string
	// SectorIdentifier (a host) or SectorIdentifierURI (an https URL of a
	// JSON array listing the client's redirect URIs, fetched by New) give
	// the client pairwise subjects within that sector.
	SectorIdentifier    string
	SectorIdentifierURI string
	// Lifespan names one of the provider's Lifespans; "" = the provider's
	// lifespans.
	Lifespan string
	// ClaimsPolicy names one of the provider's claims policies; "" = the
	// default (every released claim in the ID token and userinfo).
	ClaimsPolicy string

	// Request objects, JARM and signed introspection (jar.go).
	// RequestURIs are the https URLs the client may pass as request_uri;
	// RequestObjectSigningAlg is the only algorithm its request objects
	// may use ("" any asymmetric one of its keys, "none" unsigned).
	// AuthorizationSignedResponseAlg (default RS256) or the algorithm of
	// the provider key AuthorizationSignedResponseKeyID signs JARM
	// responses. IntrospectionSignedResponseAlg signs introspection
	// responses (RFC 9701); "" or none: JSON unless asked for a JWT.
	RequestURIs                      []string
	RequestObjectSigningAlg          string
	AuthorizationSignedResponseAlg   string
	AuthorizationSignedResponseKeyID string
	IntrospectionSignedResponseAlg   string

	// Encryption to the client's use-enc keys (encrypt.go): alg is one of
	// EncryptionAlgs, enc one of EncryptionEncs (default A128CBC-HS256).
	IDTokenEncryptedResponseAlg, IDTokenEncryptedResponseEnc             string
	UserinfoEncryptedResponseAlg, UserinfoEncryptedResponseEnc           string
	AuthorizationEncryptedResponseAlg, AuthorizationEncryptedResponseEnc string
}

// Lifespans are the token lifespans of a named lifespan (Authelia's
// lifespans.custom.<name>), which clients select with their lifespan option.
// A zero value keeps the provider-wide lifespan of that token.
type Lifespans struct {
	AccessToken   time.Duration
	AuthorizeCode time.Duration
	IDToken       time.Duration
	RefreshToken  time.Duration
}

// validate refuses negative lifespans. Errors name the field.
func (l Lifespans) validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"access_token", l.AccessToken},
		{"authorize_code", l.AuthorizeCode},
		{"id_token", l.IDToken},
		{"refresh_token", l.RefreshToken},
	} {
		if f.d < 0 {
			return fmt.Errorf("%s: must not be negative", f.name)
		}
	}
	return nil
}
