// Package clients is the registry of relying parties: it validates each
// client's whole configuration once (New), keeps the resulting immutable
// clients (Registry), and authenticates them at the back-channel endpoints
// (Authenticator), including their secrets and signed JWT assertions.
package clients

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/claims"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// Client is a registered client as fosite and the provider see it. It is
// complete and immutable once New returns it: every option is validated
// and resolved (authorization policy, claims policy, lifespans, sector,
// assertion keys), and it is read through methods only.
type Client struct {
	id, name               string
	public                 bool
	redirectURIs           []string
	scopes, audience       []string
	grantTypes             []string
	responseTypes          []string
	responseModes          []fosite.ResponseModeType
	authMethod             string // token_endpoint_auth_method, "" = basic or post
	authMethodExplicit     bool   // authMethod was set in config (or implied by public)
	secret                 clientSecret
	assertion              *assertionAuth // client_secret_jwt, private_key_jwt (assertion.go)
	requirePKCE            bool
	pkceMethod             string
	idTokenAlg             string
	consentMode            string        // explicit, implicit or pre-configured
	consentDuration        time.Duration // how long a remembered consent lasts (pre-configured)
	policyName             string        // authorization_policy as configured
	policy                 authn.Policy  // resolved against the named policies
	postLogoutRedirectURIs []string      // registered for RP-initiated logout
	requirePAR             bool          // authorization requests must be pushed
	dpopBound              bool          // token requests must carry a DPoP proof
	accessTokenAlg         string        // "" = opaque access tokens; RS256, ES256 = RFC 9068 JWTs
	userinfoAlg            string        // "" = userinfo as JSON; RS256, ES256 = signed JWT
	sector                 string        // pairwise subject sector; "" = public subjects (sector.go)
	lifespans              *Lifespans    // the client's named lifespan, nil = the provider's
	claimsPolicy           *claims.Policy
	implicitAudience       bool        // requested_audience_mode implicit (audience.go)
	jar                    jarOptions  // request objects, JARM, signed introspection (jar.go)
	enc                    encryptions // encrypted responses (encrypt.go)

	logout logoutOptions // back- and front-channel logout (logout.go)
}

// New validates cfg against the provider-wide definitions in env and
// returns the complete client. Errors name the option; the caller adds the
// client ID. A sector_identifier_uri is fetched within ctx.
func New(ctx context.Context, cfg Config, env *Env) (*Client, error) {
	c, err := newBase(cfg, env.Algorithms)
	if err != nil {
		return nil, err
	}
	if c.pkceMethod == "plain" && !env.AllowPlainPKCE {
		return nil, fmt.Errorf("pkce_challenge_method: plain needs enable_pkce_plain_challenge")
	}
	if c.accessTokenAlg, err = signingAlg(cfg.AccessTokenSignedResponseAlg, env.Algorithms); err != nil {
		return nil, fmt.Errorf("access_token_signed_response_alg: %w", err)
	}
	if c.userinfoAlg, err = signingAlg(cfg.UserinfoSignedResponseAlg, env.Algorithms); err != nil {
		return nil, fmt.Errorf("userinfo_signed_response_alg: %w", err)
	}
	if c.sector, err = resolveSector(ctx, c.redirectURIs, cfg.SectorIdentifier, cfg.SectorIdentifierURI, env.HTTPIssuer); err != nil {
		return nil, err
	}
	if cfg.Lifespan != "" {
		l, ok := env.Lifespans[cfg.Lifespan]
		if !ok {
			return nil, fmt.Errorf("lifespan: %q is not one of the lifespans (%s)", cfg.Lifespan, claims.JoinQuoted(sortedKeys(env.Lifespans)))
		}
		c.lifespans = &l
	}
	if c.implicitAudience, err = requestedAudienceMode(cfg.RequestedAudienceMode); err != nil {
		return nil, err
	}
	if cfg.ClaimsPolicy != "" {
		if c.claimsPolicy, err = env.claims().Policy(cfg.ClaimsPolicy); err != nil {
			return nil, fmt.Errorf("claims_policy: %w", err)
		}
	}
	if c.assertion, err = newAssertionAuth(c.authMethod, cfg); err != nil {
		return nil, err
	}
	if err := c.setJAR(cfg, env.Algorithms, env.KeyIDs); err != nil {
		return nil, err
	}
	if err := c.setEncryption(cfg); err != nil {
		return nil, err
	}
	if err := c.setLogout(cfg); err != nil {
		return nil, err
	}
	name := cmpOr(c.policyName, env.DefaultPolicy, PolicyOneFactor)
	if c.policy, err = env.Policies.Resolve(name); err != nil {
		return nil, fmt.Errorf("authorization_policy: %w", err)
	}
	if slices.Contains(c.grantTypes, GrantPassword) && (c.policy.Default != authn.OneFactor || len(c.policy.Rules) > 0) {
		// The token endpoint has no way to ask for a second factor.
		if c.policyName == "" {
			name = "the default authorization policy"
		}
		return nil, fmt.Errorf("grant_types: password is only allowed with authorization_policy one_factor (and no rules), not %s", name)
	}
	return c, nil
}

// newBase validates the options that need nothing provider-wide but the
// signing algorithms.
func newBase(cfg Config, algs []string) (*Client, error) {
	if cfg.ID == "" {
		return nil, fmt.Errorf("client_id: must not be empty")
	}
	c := &Client{
		id:          cfg.ID,
		name:        cfg.Name,
		public:      cfg.Public,
		requirePKCE: cfg.RequirePKCE,
		pkceMethod:  cfg.PKCEChallengeMethod,
		idTokenAlg:  cfg.IDTokenSignedResponseAlg,
		policyName:  cfg.AuthorizationPolicy,
		requirePAR:  cfg.RequirePushedAuthorizationRequests,
		dpopBound:   cfg.DPoPBoundAccessTokens,
	}

	// Consent, as Authelia: auto means pre-configured when a duration is
	// set, explicit otherwise.
	c.consentDuration = cfg.PreConfiguredConsentDuration
	switch mode := cfg.ConsentMode; mode {
	case "", "auto":
		c.consentMode = "explicit"
		if c.consentDuration > 0 {
			c.consentMode = "pre-configured"
		}
	case "explicit", "implicit":
		c.consentMode = mode
	case "pre-configured":
		if c.consentDuration <= 0 {
			return nil, fmt.Errorf("consent_mode: pre-configured needs pre_configured_consent_duration")
		}
		c.consentMode = mode
	default:
		return nil, fmt.Errorf("consent_mode: %q is not one of auto, explicit, implicit, pre-configured", mode)
	}
	if c.consentDuration < 0 {
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
	c.authMethodExplicit = method != ""
	c.authMethod = method
	if !cfg.Public {
		s, err := parseClientSecret(cfg.Secret)
		if err != nil {
			return nil, fmt.Errorf("client_secret: %w", err)
		}
		c.secret = s
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
	c.redirectURIs = slices.Clone(cfg.RedirectURIs)
	if err := validatePostLogoutRedirectURIs(cfg.PostLogoutRedirectURIs); err != nil {
		return nil, err
	}
	c.postLogoutRedirectURIs = slices.Clone(cfg.PostLogoutRedirectURIs)

	if err := c.setFlows(cfg); err != nil {
		return nil, err
	}

	// A client acting only for itself (client_credentials) has no user to
	// identify: it needs no openid scope and gets no default scopes.
	c.scopes = slices.Clone(cfg.Scopes)
	if len(c.scopes) == 0 && c.actsForUsers() {
		c.scopes = DefaultScopes()
	}
	if c.actsForUsers() && !slices.Contains(c.scopes, "openid") {
		return nil, fmt.Errorf("scopes: must include openid")
	}
	c.audience = slices.Clone(cfg.Audience)

	switch c.pkceMethod {
	case "", "S256", "plain":
	default:
		return nil, fmt.Errorf("pkce_challenge_method: %q is not one of S256, plain", c.pkceMethod)
	}
	if c.idTokenAlg == "" {
		c.idTokenAlg = keys.RS256
	}
	if !slices.Contains(algs, c.idTokenAlg) {
		return nil, fmt.Errorf("id_token_signed_response_alg: %q is not one of %s", c.idTokenAlg, strings.Join(algs, ", "))
	}
	return c, nil
}

// signingAlg checks a per-client response signing algorithm: none (or
// unset) means unsigned and comes back as "".
func signingAlg(alg string, algs []string) (string, error) {
	if alg == "" || alg == "none" {
		return "", nil
	}
	if !slices.Contains(algs, alg) {
		return "", fmt.Errorf("%q is not one of none, %s", alg, strings.Join(algs, ", "))
	}
	return alg, nil
}

// OOBRedirectURI is the out-of-band redirect of public native clients: the
// code is shown to the user instead of sent anywhere.
const OOBRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

// validateRedirectURI accepts absolute URIs with a scheme: https, http
// (loopback and local development), and custom schemes of native apps such as
// app.immich:///oauth-callback. Fragments are forbidden (RFC 6749 3.1.2).
func validateRedirectURI(raw string, public bool) error {
	if raw == OOBRedirectURI {
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

// validatePostLogoutRedirectURIs checks a client's post_logout_redirect_uris
// with the rules of redirect_uris (absolute, no fragment, a host for http and
// https); the out-of-band URN makes no sense here.
func validatePostLogoutRedirectURIs(uris []string) error {
	for _, raw := range uris {
		err := validateRedirectURI(raw, false)
		if raw == OOBRedirectURI {
			err = fmt.Errorf("the out-of-band URN is not a place to return to")
		}
		if err != nil {
			return fmt.Errorf("post_logout_redirect_uris: %q: %w", raw, err)
		}
	}
	return nil
}

// cmpOr returns the first non-empty string.
func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// actsForUsers reports whether the client has a grant type that involves a
// user (authorization_code, implicit, password), rather than only
// client_credentials.
func (c *Client) actsForUsers() bool {
	for _, g := range c.grantTypes {
		if g != GrantClientCredentials && g != GrantRefreshToken {
			return true
		}
	}
	return false
}
