package provider

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Token endpoint authentication methods (OpenID Connect Discovery, RFC 8414).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

// PKCE enforcement policies, with Authelia's names.
const (
	EnforcePKCENever             = "never"
	EnforcePKCEPublicClientsOnly = "public_clients_only"
	EnforcePKCEAlways            = "always"
)

// Authorization policies, with Authelia's names.
const (
	PolicyOneFactor = "one_factor"
	PolicyTwoFactor = "two_factor"
)

// DefaultScopes are granted to a client that does not list its own, as in Authelia.
var DefaultScopes = []string{"openid", "groups", "profile", "email"}

// DefaultGrantTypes are allowed to a client that does not list its own.
var DefaultGrantTypes = []string{"authorization_code", "refresh_token"}

// ClientConfig is one registered client, with Authelia's option names. It is
// the engine's view: placeholders are already resolved.
type ClientConfig struct {
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
	// the public keys of a private_key_jwt client (clientassert.go).
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
	// Lifespan names one of Config.Lifespans; "" = the provider's lifespans.
	Lifespan string
	// ClaimsPolicy names one of Config.ClaimsPolicies; "" = the default
	// (every released claim in the ID token and userinfo).
	ClaimsPolicy string
}

// Client is a registered client as fosite sees it.
type Client struct {
	fosite.DefaultOpenIDConnectClient
	Name                string
	AuthMethodExplicit  bool // TokenEndpointAuthMethod was set in config
	RequirePKCE         bool
	PKCEChallengeMethod string
	IDTokenAlg          string
	ConsentMode         string        // explicit, implicit or pre-configured
	ConsentDuration     time.Duration // how long a remembered consent lasts (pre-configured)
	PolicyName          string        // authorization_policy as configured
	policy              authn.Policy  // resolved by the provider
	ResponseModes       []fosite.ResponseModeType
	secret              clientSecret

	PostLogoutRedirectURIs []string // registered for RP-initiated logout
	RequirePAR             bool     // authorization requests must be pushed

	assertion *assertionAuth // client_secret_jwt, private_key_jwt (clientassert.go)

	AccessTokenAlg string        // "" = opaque access tokens; RS256, ES256 = RFC 9068 JWTs (accesstoken.go)
	UserinfoAlg    string        // "" = userinfo as JSON; RS256, ES256 = signed JWT
	Sector         string        // pairwise subject sector; "" = public subjects (sector.go)
	lifespans      *Lifespans    // the client's named lifespan, nil = the provider's (lifespan.go)
	claimsPolicy   *ClaimsPolicy // nil = the default claims (claimspolicy.go)
}

// GetResponseModes implements fosite.ResponseModeClient.
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return c.ResponseModes }

// skipConsent reports whether the client needs no consent page.
func (c *Client) skipConsent() bool { return c.ConsentMode == "implicit" }

// DisplayName is the name shown to users.
func (c *Client) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// newClient validates cfg and builds the fosite client. Errors name the field;
// the caller adds the client ID.
func newClient(cfg ClientConfig, algs []string) (*Client, error) {
	if cfg.ID == "" {
		return nil, fmt.Errorf("client_id: must not be empty")
	}
	c := &Client{
		DefaultOpenIDConnectClient: fosite.DefaultOpenIDConnectClient{DefaultClient: &fosite.DefaultClient{}},
		Name:                       cfg.Name,
		RequirePKCE:                cfg.RequirePKCE,
		PKCEChallengeMethod:        cfg.PKCEChallengeMethod,
		IDTokenAlg:                 cfg.IDTokenSignedResponseAlg,
	}
	c.ID = cfg.ID
	c.Public = cfg.Public

	c.PolicyName = cfg.AuthorizationPolicy // resolved against the named policies by the provider

	// Consent, as Authelia: auto means pre-configured when a duration is
	// set, explicit otherwise.
	c.ConsentDuration = cfg.PreConfiguredConsentDuration
	switch mode := cfg.ConsentMode; mode {
	case "", "auto":
		c.ConsentMode = "explicit"
		if c.ConsentDuration > 0 {
			c.ConsentMode = "pre-configured"
		}
	case "explicit", "implicit":
		c.ConsentMode = mode
	case "pre-configured":
		if c.ConsentDuration <= 0 {
			return nil, fmt.Errorf("consent_mode: pre-configured needs pre_configured_consent_duration")
		}
		c.ConsentMode = mode
	default:
		return nil, fmt.Errorf("consent_mode: %q is not one of auto, explicit, implicit, pre-configured", mode)
	}
	if c.ConsentDuration < 0 {
		return nil, fmt.Errorf("pre_configured_consent_duration: must not be negative")
	}

	// Secret and authentication method.
	method := cfg.TokenEndpointAuthMethod
	switch {
	case cfg.Public && cfg.Secret != "":
		return nil, fmt.Errorf("client_secret: a public client must not have a secret")
	case cfg.Public && method != "" && method != AuthMethodNone:
		return nil, fmt.Errorf("token_endpoint_auth_method: a public client must use none, not %q", method)
	case cfg.Public:
		method = AuthMethodNone
	case cfg.Secret == "" && method != AuthMethodPrivateKeyJWT:
		return nil, fmt.Errorf("client_secret: required for a confidential client (or set public)")
	}
	switch method {
	case "", AuthMethodBasic, AuthMethodPost, AuthMethodNone, AuthMethodSecretJWT, AuthMethodPrivateKeyJWT:
	default:
		return nil, fmt.Errorf("token_endpoint_auth_method: %q is not one of client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, none", method)
	}
	if method == AuthMethodNone && !cfg.Public {
		return nil, fmt.Errorf("token_endpoint_auth_method: none is only for public clients")
	}
	c.AuthMethodExplicit = method != ""
	c.TokenEndpointAuthMethod = method
	if !cfg.Public {
		s, err := parseClientSecret(cfg.Secret)
		if err != nil {
			return nil, fmt.Errorf("client_secret: %w", err)
		}
		c.secret = s
		// fosite insists on a non-empty hashed secret for confidential
		// clients; our own authentication strategy compares secrets.
		c.Secret = []byte("-")
	}

	// Redirect URIs: exact strings, compared byte for byte by fosite.
	// Clients that never use the authorization endpoint (client_credentials,
	// password) need none.
	if len(cfg.RedirectURIs) == 0 && usesAuthorizationEndpoint(cfg) {
		return nil, fmt.Errorf("redirect_uris: at least one is required")
	}
	for _, raw := range cfg.RedirectURIs {
		if err := validateRedirectURI(raw, cfg.Public); err != nil {
			return nil, fmt.Errorf("redirect_uris: %q: %w", raw, err)
		}
	}
	c.RedirectURIs = slices.Clone(cfg.RedirectURIs)
	if err := validatePostLogoutRedirectURIs(cfg.PostLogoutRedirectURIs); err != nil {
		return nil, err
	}
	c.PostLogoutRedirectURIs = slices.Clone(cfg.PostLogoutRedirectURIs)
	c.RequirePAR = cfg.RequirePushedAuthorizationRequests

	c.Scopes = slices.Clone(cfg.Scopes)
	if len(c.Scopes) == 0 {
		c.Scopes = slices.Clone(DefaultScopes)
	}
	if !slices.Contains(c.Scopes, "openid") {
		return nil, fmt.Errorf("scopes: must include openid")
	}
	c.Audience = slices.Clone(cfg.Audience)

	if err := c.setFlows(cfg); err != nil {
		return nil, err
	}

	switch c.PKCEChallengeMethod {
	case "", "S256", "plain":
	default:
		return nil, fmt.Errorf("pkce_challenge_method: %q is not one of S256, plain", c.PKCEChallengeMethod)
	}
	if c.IDTokenAlg == "" {
		c.IDTokenAlg = keys.RS256
	}
	if !slices.Contains(algs, c.IDTokenAlg) {
		return nil, fmt.Errorf("id_token_signed_response_alg: %q is not one of %s", c.IDTokenAlg, strings.Join(algs, ", "))
	}
	return c, nil
}

// validateRedirectURI accepts absolute URIs with a scheme: https, http
// (loopback and local development), and custom schemes of native apps such as
// app.immich:///oauth-callback. Fragments are forbidden (RFC 6749 3.1.2).
func validateRedirectURI(raw string, public bool) error {
	if raw == "urn:ietf:wg:oauth:2.0:oob" {
		if !public {
			return fmt.Errorf("urn:ietf:wg:oauth:2.0:oob is only for public clients")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URI: %w", err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("must be absolute, with a scheme")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("must not contain a fragment")
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return fmt.Errorf("must have a host")
	}
	return nil
}
