// Package provider is the OpenID Connect engine: it composes fosite with the
// client registry (package clients), the claims (claims), the signing keys
// (keys), the users, the storage and the pages people see (pages), and
// serves every endpoint under the issuer from one route table (routes.go).
// Each protocol endpoint has its file: discovery.go (and the JWKS in
// routes.go), authorize.go, token.go, userinfo.go, introspect.go,
// revoke.go, par.go, endsession.go. It knows nothing about Caddy; package
// caddyoidc adapts it.
package provider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/claims"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/cors"
	"github.com/caddy-oidc/caddy-oidc/internal/dpop"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/logout"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// maxRequestBody bounds every request body the provider reads (forms, token
// requests, WebAuthn JSON).
const maxRequestBody = 64 << 10

// The client options and provider-wide definitions live in package clients
// and claims; these aliases keep the configuration in one place for callers.
type (
	// ClientConfig is one registered client (clients.Config).
	ClientConfig = clients.Config
	// Lifespans are named token lifespans (clients.Lifespans).
	Lifespans = clients.Lifespans
	// ClaimsPolicy is a named claims policy (claims.Policy).
	ClaimsPolicy = claims.Policy
	// Scope is a custom scope (claims.Scope).
	Scope = claims.Scope
	// AuthnConfig is how users authenticate (pages.AuthnConfig).
	AuthnConfig = pages.AuthnConfig
	// PasskeyConfig is the webauthn option (pages.PasskeyConfig).
	PasskeyConfig = pages.PasskeyConfig
	// CORSConfig is the cors section (cors.Config).
	CORSConfig = cors.Config
)

// corsEndpoints are the endpoints the cors option may name, with their
// paths and the methods they answer.
var corsEndpoints = map[string]cors.Endpoint{
	"authorization": {Path: pathAuthorize, Methods: "GET, POST"},
	"token":         {Path: pathToken, Methods: "POST"},
	"revocation":    {Path: pathRevocation, Methods: "POST"},
	"introspection": {Path: pathIntrospection, Methods: "POST"},
	"userinfo":      {Path: pathUserinfo, Methods: "GET, POST"},
}

// PKCE enforcement policies, with Authelia's names.
const (
	EnforcePKCENever             = "never"
	EnforcePKCEPublicClientsOnly = "public_clients_only"
	EnforcePKCEAlways            = "always"
)

// Config is everything the engine needs. Durable parts (DB, Keys) are shared
// across configuration reloads by the caller; the rest is per configuration.
type Config struct {
	// Issuer is the issuer identifier, an https URL (http only for local
	// testing) that may carry a path; it appears byte for byte in discovery
	// and in every token.
	Issuer string
	// Clients are the registered relying parties.
	Clients []ClientConfig
	// Users authenticates end users.
	Users users.Backend
	// Keys signs tokens and publishes the JWKS.
	Keys *keys.Manager
	// DB stores grants, tokens, login sessions and subjects.
	DB *store.DB
	// HMACSecret (at least 32 bytes) signs opaque tokens and codes.
	HMACSecret []byte
	// CookieSecret (at least 32 bytes) derives CSRF tokens.
	CookieSecret []byte

	AccessTokenLifespan   time.Duration // default 1h
	AuthorizeCodeLifespan time.Duration // default 1m
	IDTokenLifespan       time.Duration // default 1h
	RefreshTokenLifespan  time.Duration // default 90m
	// SessionLifespan is how long a login session lasts (default 12h).
	SessionLifespan time.Duration

	// EnforcePKCE is never, public_clients_only (default) or always.
	EnforcePKCE string
	// EnablePKCEPlainChallenge allows the plain PKCE method.
	EnablePKCEPlainChallenge bool
	// MinimumParameterEntropy is the minimum length of state and nonce (default 8).
	MinimumParameterEntropy int
	// EnableClientDebugMessages sends fosite's debug details to clients.
	EnableClientDebugMessages bool

	// RequirePushedAuthorizationRequests makes every client push its
	// authorization requests (RFC 9126); clients may also require it
	// one by one.
	RequirePushedAuthorizationRequests bool
	// PARContextLifespan is how long a pushed authorization request's
	// request_uri stays usable (default 5m, as fosite and Authelia).
	PARContextLifespan time.Duration

	// DeviceCodeLifespan is how long a device grant's device code and user
	// code work (default 10m, Authelia's device_code lifespan);
	// DevicePollInterval the least time between two polls (default 5s).
	DeviceCodeLifespan time.Duration
	DevicePollInterval time.Duration
	// DPoPNonceRequired makes every DPoP proof carry a server nonce
	// (RFC 9449 8, 9), announced in DPoP-Nonce; DPoPNonceLifespan is how
	// often it changes (default 5m; a nonce stays valid for one more
	// period). dpop.go.
	DPoPNonceRequired bool
	DPoPNonceLifespan time.Duration

	// Authn configures authentication: policies, second factors,
	// regulation, session lifetimes (package pages).
	Authn AuthnConfig

	// CORS allows browser apps on other origins to call the token,
	// userinfo and other endpoints (package cors).
	CORS CORSConfig

	// Lifespans are named token lifespans that clients select with their
	// Lifespan option.
	Lifespans map[string]Lifespans
	// ClaimsPolicies are named claims policies that clients select with
	// their ClaimsPolicy option; Scopes are custom scopes releasing claims
	// (package claims).
	ClaimsPolicies map[string]ClaimsPolicy
	Scopes         map[string]Scope

	// Logger receives structured logs; never secrets or tokens.
	Logger *zap.Logger
	// Telemetry receives metrics and audit events (default: none).
	Telemetry telemetry.Sink
	// BackchannelLogout tunes the delivery of logout tokens (logout.go).
	BackchannelLogout logout.SenderConfig

	// Now is the engine's clock for the expiry decisions it makes itself
	// (login sessions, max_age, client assertions, JWT access tokens,
	// consents); default time.Now. fosite's own token expiry reads the
	// system clock.
	Now func() time.Time
}

// Provider serves the OpenID Connect endpoints.
type Provider struct {
	issuer     string
	origin     string // the issuer's origin, scheme://host, for CSRF checks
	base       string // the issuer's path without trailing slash, "" for the root
	clients    *clients.Registry
	clientAuth *clients.Authenticator
	now        func() time.Time // the clock (Config.Now)
	claims     *claims.Set
	users      users.Backend
	keys       *keys.Manager
	db         Subjects
	oauth2     fosite.OAuth2Provider
	pages      *pages.Pages
	log        *zap.Logger
	tel        telemetry.Sink
	minEntropy int
	fosite     *fosite.Config
	storage    FositeStorage
	requirePAR bool // every client must push its authorization requests
	// fetchClient fetches request objects by reference (request_uri):
	// no redirects; the timeout and size bound are the caller's.
	fetchClient *http.Client
	// deviceLifespan and deviceInterval configure the device grant (device.go).
	deviceLifespan, deviceInterval time.Duration
	devices                        DeviceGrants

	mux       *http.ServeMux // the route table (routes.go)
	discovery []byte         // precomputed discovery document
	cors      *cors.Policy   // nil: no CORS beyond discovery and JWKS
	dpop      *dpop.Verifier // DPoP proofs (dpop.go)

	logoutSender *logout.Sender // back-channel logout deliveries (logout.go)
}

// New validates cfg and builds a Provider.
func New(cfg Config) (*Provider, error) {
	iss, err := url.Parse(cfg.Issuer)
	switch {
	case cfg.Issuer == "":
		return nil, fmt.Errorf("issuer: required")
	case err != nil:
		return nil, fmt.Errorf("issuer: %w", err)
	case iss.Scheme != "https" && iss.Scheme != "http", iss.Host == "":
		return nil, fmt.Errorf("issuer: %q must be an absolute https URL", cfg.Issuer)
	case iss.RawQuery != "" || iss.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/"):
		return nil, fmt.Errorf("issuer: %q must not have a query, a fragment or a trailing slash", cfg.Issuer)
	case strings.ContainsAny(iss.Path, "{} \t\n"):
		// The route table is a ServeMux below this path.
		return nil, fmt.Errorf("issuer: %q: the path must not contain spaces or braces", cfg.Issuer)
	}
	if cfg.Users == nil || cfg.Keys == nil || cfg.DB == nil {
		return nil, fmt.Errorf("provider: users, keys and storage are required")
	}
	if len(cfg.HMACSecret) < 32 || len(cfg.CookieSecret) < 32 {
		return nil, fmt.Errorf("provider: secrets must be at least 32 bytes")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.AccessTokenLifespan, time.Hour)
	setDefault(&cfg.AuthorizeCodeLifespan, time.Minute)
	setDefault(&cfg.IDTokenLifespan, time.Hour)
	setDefault(&cfg.RefreshTokenLifespan, 90*time.Minute)
	setDefault(&cfg.SessionLifespan, 12*time.Hour)
	setDefault(&cfg.PARContextLifespan, store.DefaultPARLifespan)
	if cfg.MinimumParameterEntropy == 0 {
		cfg.MinimumParameterEntropy = fosite.MinParameterEntropy
	}
	if cfg.PARContextLifespan < 0 {
		return nil, fmt.Errorf("par_context_lifespan: must not be negative")
	}
	if cfg.DeviceCodeLifespan < 0 || cfg.DevicePollInterval < 0 {
		return nil, fmt.Errorf("device_code_lifespan: must not be negative")
	}
	if cfg.MinimumParameterEntropy < 0 {
		return nil, fmt.Errorf("minimum_parameter_entropy: must not be negative")
	}
	if cfg.DPoPNonceLifespan < 0 {
		return nil, fmt.Errorf("dpop_nonce_lifespan: must not be negative")
	}
	switch cfg.EnforcePKCE {
	case "":
		cfg.EnforcePKCE = EnforcePKCEPublicClientsOnly
	case EnforcePKCENever, EnforcePKCEPublicClientsOnly, EnforcePKCEAlways:
	default:
		return nil, fmt.Errorf("enforce_pkce: %q is not one of never, public_clients_only, always", cfg.EnforcePKCE)
	}

	p := &Provider{
		issuer:     cfg.Issuer,
		origin:     iss.Scheme + "://" + iss.Host,
		base:       strings.TrimSuffix(iss.Path, "/"),
		users:      cfg.Users,
		keys:       cfg.Keys,
		db:         cfg.DB,
		log:        cfg.Logger,
		tel:        cfg.Telemetry.Or(),
		now:        cfg.Now,
		minEntropy: cfg.MinimumParameterEntropy,
		requirePAR: cfg.RequirePushedAuthorizationRequests,

		deviceLifespan: cfg.DeviceCodeLifespan,
		deviceInterval: cfg.DevicePollInterval,
		devices:        cfg.DB,
		fetchClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is a failed fetch
		}},
	}
	p.logoutSender = logout.NewSender(cfg.BackchannelLogout, cfg.Logger)
	if p.claims, err = claims.New(cfg.ClaimsPolicies, cfg.Scopes); err != nil {
		return nil, err
	}
	defPolicy := cfg.Authn.DefaultPolicy
	if defPolicy == "" {
		defPolicy = clients.PolicyOneFactor
	}
	if p.clients, err = clients.NewRegistry(context.Background(), cfg.Clients, clients.Env{
		Algorithms:     cfg.Keys.Algorithms(),
		KeyIDs:         cfg.Keys.ActiveKeyIDs(),
		AllowPlainPKCE: cfg.EnablePKCEPlainChallenge,
		HTTPIssuer:     iss.Scheme == "http",
		Lifespans:      cfg.Lifespans,
		Claims:         p.claims,
		Policies:       cfg.Authn.Policies,
		DefaultPolicy:  defPolicy,
	}); err != nil {
		return nil, err
	}
	var redirectURIs []string
	for _, c := range p.clients.All() {
		redirectURIs = append(redirectURIs, c.GetRedirectURIs()...)
	}
	if p.cors, err = cors.New(cfg.CORS, corsEndpoints, redirectURIs); err != nil {
		return nil, err
	}

	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenLifespan,
		AuthorizeCodeLifespan:          cfg.AuthorizeCodeLifespan,
		IDTokenLifespan:                cfg.IDTokenLifespan,
		RefreshTokenLifespan:           cfg.RefreshTokenLifespan,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + pathToken,
		SendDebugMessagesToClients:     cfg.EnableClientDebugMessages,
		EnforcePKCE:                    cfg.EnforcePKCE == EnforcePKCEAlways,
		EnforcePKCEForPublicClients:    cfg.EnforcePKCE != EnforcePKCENever,
		EnablePKCEPlainChallengeMethod: cfg.EnablePKCEPlainChallenge,
		MinParameterEntropy:            cfg.MinimumParameterEntropy,
		GlobalSecret:                   cfg.HMACSecret,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		RefreshTokenScopes:             []string{"offline_access", "offline"},
		AllowedPromptValues:            []string{"login", "none", "consent"},
		OmitRedirectScopeParam:         true,
		PushedAuthorizeContextLifespan: cfg.PARContextLifespan,
		IsPushedAuthorizeEnforced:      cfg.RequirePushedAuthorizationRequests,
	}
	// Every endpoint that authenticates clients through fosite (token,
	// revocation, PAR) uses our strategy; introspection authenticates
	// clients itself (see introspect.go).
	fc.FormPostHTMLTemplate = newFormPostTemplate(cfg.Issuer) // formpost.go
	fc.ResponseModeHandlerExtension = &jarmHandler{p: p}      // jarm.go
	p.fosite = fc
	storage := store.NewFosite(cfg.DB, p.clients.GetClient)
	p.storage = storage
	p.dpop = newDPoPVerifier(cfg, storage) // dpop.go
	p.clientAuth = clients.NewAuthenticator(p.clients, storage, p.issuer, p.base, p.url(pathToken), p.log, p.now)
	fc.ClientAuthenticationStrategy = p.clientAuth.Authenticate
	if p.pages, err = pages.New(pages.Config{
		Issuer:          cfg.Issuer,
		AuthorizePath:   p.base + pathAuthorize,
		CookieKey:       cfg.CookieSecret,
		SessionLifespan: cfg.SessionLifespan,
		Authn:           cfg.Authn,
		Users:           cfg.Users,
		Clients:         p.clients,
		Store:           cfg.DB,
		Authorize:       p.authorize, // the pages resume authorization requests
		Logger:          cfg.Logger,
		Telemetry:       cfg.Telemetry,
		Now:             cfg.Now,
		SessionsEnded:   p.sessionsEnded, // logout.go
	}); err != nil {
		return nil, err
	}
	signer := cfg.Keys.FositeSigner()
	// Opaque tokens keyed by time (orderedtokens.go), or JWT access tokens
	// for the clients that ask (accesstoken.go).
	tokens := &tokenStrategy{CoreStrategy: newOrderedTokens(compose.NewOAuth2HMACStrategy(fc), p.now), p: p}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               tokens,
		OpenIDConnectTokenStrategy: &encryptingIDTokens{OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: idTokenSigner{signer}, Config: fc}, p: p}, // encrypt.go
		Signer:                     signer,
	}
	// The password grant asks its storage to check passwords (grants.go).
	p.oauth2 = compose.Compose(fc, passwordStorage{FositeStorage: storage, p: p}, strategy,
		withClientLifespans(compose.OAuth2AuthorizeExplicitFactory),
		withFastSessionClone(compose.OAuth2RefreshTokenGrantFactory),
		compose.OAuth2AuthorizeImplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2ResourceOwnerPasswordCredentialsFactory, //nolint:staticcheck // SA1019: deprecated only to discourage ROPC; kept for Authelia compatibility (grant_types password), refused unless the client policy is one_factor (grants.go)
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OpenIDConnectImplicitFactory,
		withClientLifespans(compose.OpenIDConnectHybridFactory), // the code lifespan; before PKCE, which needs the code
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
		compose.PushedAuthorizeHandlerFactory,
		p.deviceGrantFactory, // device.go
	)
	fc.TokenEndpointHandlers = quietTokenHandlers(fc.TokenEndpointHandlers) // quiethandlers.go

	if p.discovery, err = p.buildDiscovery(cfg); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	p.mux = p.newMux()
	return p, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.issuer }

// url returns the absolute URL of an endpoint path.
func (p *Provider) url(path string) string { return p.issuer + path }

// randomToken returns 256 bits of randomness, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
