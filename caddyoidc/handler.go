// Package caddyoidc holds the Caddy modules of caddy-oidc: the
// http.handlers.oidc_provider handler that turns a site into an OpenID
// Connect Provider, and its guest modules for users (oidc.users.*) and
// storage (oidc.storage.*). It adapts Caddy (config, logger, storage,
// placeholders, reloads) to the engine in internal/provider.
package caddyoidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/provider"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler is an OpenID Connect 1.0 Provider. It serves discovery, JWKS, the
// authorization, token and userinfo endpoints and the login, consent and
// logout pages under its issuer, and passes every other request to the next
// handler, so it can share a site with other routes.
//
// Options use Authelia's names, so an existing identity_providers.oidc
// configuration carries over. Secrets may be given as {env.NAME} or
// {file./path} placeholders, which are resolved when the config loads and
// never appear in `caddy adapt` output.
type Handler struct {
	// Issuer is the issuer identifier: the https URL clients discover the
	// provider at, optionally with a path (https://example.com/idp). It
	// appears byte for byte in discovery and in every token. Required; the
	// Caddyfile takes it as the directive's argument or the issuer option.
	Issuer string `json:"issuer,omitempty"`

	// Users is the user database, a module in the oidc.users namespace, e.g.
	// {"backend": "file", "path": "/etc/caddy/users.yml"}. Required.
	UsersRaw json.RawMessage `json:"users,omitempty" caddy:"namespace=oidc.users inline_key=backend"`

	// Storage keeps grants, tokens, login sessions and subjects; a module in
	// the oidc.storage namespace. Default: SQLite in Caddy's data directory
	// ({"backend": "sqlite"}).
	StorageRaw json.RawMessage `json:"storage,omitempty" caddy:"namespace=oidc.storage inline_key=backend"`

	// Clients are the registered relying parties.
	Clients []Client `json:"clients,omitempty"`

	// HMACSecret signs opaque tokens and authorization codes (it is hashed
	// with SHA-256 first, as in Authelia). Optional: when absent a random
	// secret is generated once and kept in Caddy's storage, so every
	// instance sharing that storage uses the same one. Use a placeholder.
	HMACSecret string `json:"hmac_secret,omitempty"`

	// JWKS are signing keys from the configuration. The first key of each
	// algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
	// ES512, EdDSA) signs, instead of the key generated for that algorithm
	// (RS256 and ES256 always, the others when a client first names them); the others are published and verify. A key that signed
	// before and is replaced or removed stays published, and keeps
	// verifying ID token hints and JWT access tokens, until the last token
	// it signed has expired (the longer of id_token_lifespan and
	// access_token_lifespan), then drops out. Default: generated keys kept
	// in Caddy's storage.
	JWKS []JWK `json:"jwks,omitempty"`
	// IssuerPrivateKey is Authelia's older single signing key: a PEM RSA
	// private key, RS256, kid = its RFC 7638 thumbprint. Not with jwks.
	IssuerPrivateKey string `json:"issuer_private_key,omitempty"`
	// KeyRotationPeriod rotates the generated signing keys: each signs for
	// this long, then the next one takes over. The next key is published
	// in the JWKS a lead before it signs (a quarter of the period, at most
	// 24h, at least two key_refresh_intervals); the old one stays published
	// until the last token it signed has expired. Configured keys (jwks,
	// issuer_private_key) are never rotated. Default 0: no automatic
	// rotation. At least 4 times key_refresh_interval.
	KeyRotationPeriod caddy.Duration `json:"key_rotation_period,omitempty"`
	// KeyRefreshInterval is how often the signing keys kept in Caddy's
	// storage are read again, so that a key rotated by another instance
	// sharing the storage is published and used without a reload; rotation
	// is checked at the same time. Default 1m; at least 1s.
	KeyRefreshInterval caddy.Duration `json:"key_refresh_interval,omitempty"`

	// CORS lets browser apps on other origins call the authorization,
	// token, revocation, introspection and userinfo endpoints (Authelia's
	// cors). Default: none (discovery and the JWKS allow every origin).
	CORS *CORS `json:"cors,omitempty"`

	// AccessTokenLifespan is how long access tokens live. Default 1h.
	AccessTokenLifespan caddy.Duration `json:"access_token_lifespan,omitempty"`
	// AuthorizeCodeLifespan is how long authorization codes live. Default 1m.
	AuthorizeCodeLifespan caddy.Duration `json:"authorize_code_lifespan,omitempty"`
	// IDTokenLifespan is how long ID tokens live. Default 1h.
	IDTokenLifespan caddy.Duration `json:"id_token_lifespan,omitempty"`
	// RefreshTokenLifespan is how long refresh tokens live. Default 90m.
	RefreshTokenLifespan caddy.Duration `json:"refresh_token_lifespan,omitempty"`
	// DeviceCodeLifespan is how long the device code and user code of a
	// device authorization grant (RFC 8628) work. Default 10m (Authelia's
	// lifespans.device_code).
	DeviceCodeLifespan caddy.Duration `json:"device_code_lifespan,omitempty"`
	// SessionLifespan is how long a login session (the provider's own
	// cookie) lasts before the user must sign in again. Default 12h.
	SessionLifespan caddy.Duration `json:"session_lifespan,omitempty"`

	// EnforcePKCE is the PKCE policy: never, public_clients_only (default)
	// or always.
	EnforcePKCE string `json:"enforce_pkce,omitempty"`
	// EnablePKCEPlainChallenge allows the plain PKCE method (discouraged).
	EnablePKCEPlainChallenge bool `json:"enable_pkce_plain_challenge,omitempty"`
	// MinimumParameterEntropy is the minimum length of state and nonce.
	// Default 8.
	MinimumParameterEntropy int `json:"minimum_parameter_entropy,omitempty"`
	// EnableClientDebugMessages adds debug details to errors sent to clients.
	EnableClientDebugMessages bool `json:"enable_client_debug_messages,omitempty"`

	// RequirePushedAuthorizationRequests makes every client push its
	// authorization requests to the pushed_authorization_request_endpoint
	// (RFC 9126) first; a client can also require it for itself.
	// Default false.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests,omitempty"`
	// PARContextLifespan is how long the request_uri of a pushed
	// authorization request stays usable; each is also usable once only.
	// Default 5m (Authelia's pushed_authorizations.context_lifespan).
	PARContextLifespan caddy.Duration `json:"par_context_lifespan,omitempty"`

	// DPoPNonceRequired makes every DPoP proof (RFC 9449) carry a nonce
	// the provider hands out in the DPoP-Nonce header, at the token
	// endpoint and at userinfo. Default false.
	DPoPNonceRequired bool `json:"dpop_nonce_required,omitempty"`
	// DPoPNonceLifespan is how often that nonce changes; a nonce stays
	// valid for one more lifespan. Default 5m.
	DPoPNonceLifespan caddy.Duration `json:"dpop_nonce_lifespan,omitempty"`

	// DefaultAuthorizationPolicy applies to clients that set no
	// authorization_policy: one_factor (default), two_factor, or the name
	// of one of AuthorizationPolicies.
	DefaultAuthorizationPolicy string `json:"default_authorization_policy,omitempty"`
	// AuthorizationPolicies are named policies with rules by user and
	// group, which clients name in authorization_policy (Authelia's
	// authorization_policies).
	AuthorizationPolicies map[string]AuthorizationPolicy `json:"authorization_policies,omitempty"`
	// Regulation bans users and addresses after repeated failures.
	// Default: 3 failures in 2m ban for 5m.
	Regulation *Regulation `json:"regulation,omitempty"`
	// SessionInactivity signs a user out after this long without using the
	// provider. Default 1h; a negative value disables it. Remember-me
	// sessions have no inactivity timeout.
	SessionInactivity caddy.Duration `json:"session_inactivity,omitempty"`
	// RememberMeLifespan is how long a "Keep me signed in" session lasts.
	// Default 30 days (720h); a negative value hides the checkbox.
	RememberMeLifespan caddy.Duration `json:"remember_me_lifespan,omitempty"`
	// TemplatesDir holds page templates that replace the embedded ones
	// (layout.html, login.html, consent.html, …) for branding, and message
	// catalogues (locales/<lang>.toml) that add or override languages.
	TemplatesDir string `json:"templates_dir,omitempty"`
	// WebAuthn turns passkeys off or sets the name authenticators show
	// beside them. Default: passkeys on, named after the issuer's host.
	WebAuthn *WebAuthn `json:"webauthn,omitempty"`

	// Lifespans are named token lifespans (Authelia's
	// lifespans.custom.<name>) that clients select with their lifespan
	// option.
	Lifespans map[string]Lifespan `json:"lifespans,omitempty"`
	// ClaimsPolicies are named claims policies that clients select with
	// their claims_policy option.
	ClaimsPolicies map[string]ClaimsPolicy `json:"claims_policies,omitempty"`
	// Scopes are custom scopes, by name, and the claims they release.
	// Clients that may request one list it in their scopes.
	Scopes map[string]Scope `json:"scopes,omitempty"`

	users    UserSource // the loaded UsersRaw (LoadModule clears UsersRaw)
	provider *provider.Provider
	logger   *zap.Logger
	poolKey  string
	state    *issuerState // from the pool, while poolKey is set

	// For the admin API and the metrics (admin.go, metrics.go).
	issuer  string          // resolved
	clients []string        // the configured client IDs
	db      *store.DB       // the storage module's database
	audit   telemetry.Audit // the audit log
	seq     uint64          // provisioning order: the newest handler of an issuer serves the admin API
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.oidc_provider",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision loads the users and storage modules, the shared keys and secrets,
// and builds the provider. It runs Validate first, so that a config Validate
// refuses opens no database and generates no key (Caddy runs Validate again
// after Provision; it is cheap).
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.Validate(); err != nil {
		return err
	}
	repl := caddy.NewReplacer()
	cfg, err := h.engineConfig(repl) // engine.go: every option, no I/O
	if err != nil {
		return err
	}
	issuer := cfg.Issuer
	if issuer == "" {
		return fmt.Errorf("issuer: the placeholder resolved to an empty value")
	}

	mod, err := ctx.LoadModule(h, "UsersRaw")
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	var ok bool
	if h.users, ok = mod.(UserSource); !ok {
		return fmt.Errorf("users: module %T is not a user source", mod)
	}

	h.StorageRaw = storageConfig(h.StorageRaw, issuer) // the totp command opens the same database
	mod, err = ctx.LoadModule(h, "StorageRaw")
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	storage, ok := mod.(StorageSource)
	if !ok {
		return fmt.Errorf("storage: module %T is not a storage backend", mod)
	}

	// Keys and secrets outlive reloads: keep them in the pool, keyed by
	// issuer and the key options (other keys, retention or rotation need a
	// new key manager).
	keyOpts, err := h.keyOptions(repl)
	if err != nil {
		return err
	}
	fp, err := keysFingerprint(keyOpts)
	if err != nil {
		return err
	}
	h.poolKey = issuer
	if fp != "" {
		h.poolKey += "#keys=" + fp
	}
	val, _, err := issuers.LoadOrNew(h.poolKey, func() (caddy.Destructor, error) {
		return loadIssuerState(ctx, issuer, keyOpts)
	})
	if err != nil {
		h.poolKey = "" // nothing to release in Cleanup
		return fmt.Errorf("keys: %w", err)
	}
	state, ok := val.(*issuerState)
	if !ok { // cannot happen: only loadIssuerState fills the pool
		_, err := issuers.Delete(h.poolKey)
		h.poolKey = "" // released here: Cleanup would detach from a nil state
		return errors.Join(fmt.Errorf("keys: pooled issuer state is a %T", val), err)
	}
	h.state = state
	state.attach(h, ctx.Storage(), h.logger.Named("keys"))
	if err := state.keys.Ensure(ctx, keyOpts.Algorithms); err != nil { // a reload's new client algorithms
		return fmt.Errorf("keys: %w", err)
	}

	// What the config does not say: the modules' and the pool's parts.
	cfg.Users = h.users.Users()
	cfg.DB = storage.DB()
	cfg.Keys = state.keys
	if cfg.HMACSecret == nil {
		cfg.HMACSecret = state.hmacSecret
	}
	cfg.CookieSecret = state.cookieSecret
	cfg.Authn.TOTPKey = state.totpKey
	cfg.Authn.ClientIP = clientIP
	cfg.Logger = h.logger
	cfg.Now = now
	if err := registerMetrics(ctx); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	h.issuer, h.db, h.seq, h.clients = issuer, cfg.DB, provisioned.Add(1), clientIDs(cfg.Clients)
	h.audit = zapAudit{log: h.logger.Named(auditLoggerName), issuer: issuer}
	cfg.Telemetry = telemetry.Sink{Metrics: newPromMetrics(issuer, h.clients), Audit: h.audit}
	if h.provider, err = provider.New(cfg); err != nil {
		return err
	}
	watchRemovedUsers(cfg.Users, h.provider) // logout.go
	wireUserGone(h.users, h.provider)        // users_gone.go
	for _, c := range cfg.Clients {
		for _, w := range clients.Warnings(c) {
			h.logger.Warn("client option: "+w, zap.String("client_id", c.ID))
		}
	}
	if strings.HasPrefix(issuer, "http://") {
		h.logger.Warn("issuer is not https: cookies are sent without the Secure flag; use this only for local testing", zap.String("issuer", issuer))
	}
	h.logger.Info("OpenID Connect provider ready", zap.String("issuer", issuer), zap.Int("clients", len(cfg.Clients)))
	return nil
}

// Validate checks what the config says on its own, without I/O: required
// options, options given under both their names, the authorization
// policies. Errors name the option (and the client). The engine checks the
// rest (redirect URIs, grant and response types, ...) in Provision.
func (h *Handler) Validate() error {
	if h.Issuer == "" {
		return fmt.Errorf("issuer: required")
	}
	if h.UsersRaw == nil && h.users == nil {
		return fmt.Errorf("users: required (e.g. users_file in the Caddyfile)")
	}
	if h.IssuerPrivateKey != "" && len(h.JWKS) > 0 {
		return fmt.Errorf("issuer_private_key: set either jwks or its older form issuer_private_key, not both")
	}
	if _, err := policies(h.AuthorizationPolicies); err != nil {
		return err
	}
	for i, c := range h.Clients {
		if err := c.validate(); err != nil {
			if id := c.id(); id != "" {
				return fmt.Errorf("client %q: %w", id, err)
			}
			return fmt.Errorf("clients[%d]: %w", i, err)
		}
	}
	return nil
}

// ServeHTTP serves the provider's endpoints and passes other requests on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !h.provider.Handles(r) {
		return next.ServeHTTP(w, r)
	}
	h.provider.ServeHTTP(w, r)
	return nil
}

// Cleanup releases the shared state this instance took from the pool. Caddy
// calls it even after a failed Provision.
func (h *Handler) Cleanup() error {
	if h.poolKey != "" {
		h.state.detach(h)
		_, err := issuers.Delete(h.poolKey)
		return err
	}
	return nil
}

// provisioned numbers the handlers in the order they were provisioned.
var provisioned atomic.Uint64

// clientIDs lists the configured client IDs, the only values of the
// metrics' client label.
func clientIDs(cs []provider.ClientConfig) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

// now is the clock of the engine and the key manager (login sessions,
// consents, regulation, key rotation and retention). Tests shift it
// (export_test.go) instead of sleeping until an expiry.
var now = time.Now

// issuers holds the per-issuer keys and secrets across config reloads, like
// modules/caddypki/acmeserver does with its database.
var issuers = caddy.NewUsagePool()

// issuerState is what must survive a reload for one issuer.
type issuerState struct {
	issuer       string
	keys         *keys.Manager // its refresher runs until Destruct
	hmacSecret   []byte
	cookieSecret []byte
	totpKey      []byte

	mu    sync.Mutex
	users []keysUser // the handlers sharing keys, oldest first (keys.go)
}

// Destruct implements caddy.Destructor: it stops the key refresher.
func (s *issuerState) Destruct() error { return s.keys.Close() }

func loadIssuerState(ctx caddy.Context, issuer string, keyOpts keys.Options) (*issuerState, error) {
	st := ctx.Storage()
	prefix := storagePrefix(issuer)
	km, err := keys.Load(ctx, st, prefix, keyOpts)
	if err != nil {
		return nil, err
	}
	hmacSecret, err := keys.LoadOrCreateSecret(ctx, st, prefix+"/hmac_secret", 32)
	if err != nil {
		return nil, fmt.Errorf("hmac secret: %w", err)
	}
	cookieSecret, err := keys.LoadOrCreateSecret(ctx, st, prefix+"/cookie_secret", 32)
	if err != nil {
		return nil, fmt.Errorf("cookie secret: %w", err)
	}
	totpKey, err := keys.LoadOrCreateSecret(ctx, st, totpKeyName(issuer), authn.SealKeySize) // the CLI uses the same key
	if err != nil {
		return nil, fmt.Errorf("totp key: %w", err)
	}
	km.Start() // follow rotations by other instances sharing the storage
	return &issuerState{issuer: issuer, keys: km, hmacSecret: hmacSecret, cookieSecret: cookieSecret, totpKey: totpKey}, nil
}

// UserSource is implemented by modules in the oidc.users namespace.
type UserSource interface {
	Users() users.Backend
}

// StorageSource is implemented by modules in the oidc.storage namespace.
type StorageSource interface {
	DB() *store.DB
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
