// Package pages is what people see and click at the sign-in service: the
// login, consent, second-factor, settings and logout pages, the passkey
// (WebAuthn) ceremonies their scripts run, the login session cookie and
// the CSRF check. It speaks no OAuth: once a page is done it hands the
// authorization request back through the AuthorizeFunc the provider gives
// it.
package pages

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Paths of the pages, below the issuer.
const (
	PathLogin        = "/login"
	PathConsent      = "/consent"
	PathLogout       = "/logout"
	PathSecondFactor = "/login/2fa"
	PathTOTPEnroll   = "/login/totp"
	PathContinue     = "/login/continue"
	PathSettings     = "/settings"
	PathAssets       = "/assets"
	PathWebAuthn     = "/api/webauthn"
	// PathRecoveryCode takes a recovery code instead of a second factor;
	// PathRecoveryDone continues after new codes were shown (recovery.go).
	PathRecoveryCode = "/login/recovery"
	PathRecoveryDone = "/login/recovery/done"
)

// Flow is what the pages add to an authorization request on its way
// through login and consent.
type Flow struct {
	Login    *store.LoginSession // the signed-in user, nil if none
	Fresh    bool                // the user authenticated within this flow
	Decision string              // "allow" or "deny" from the consent page, "" before it
	Remember bool                // the user asked to remember an allow decision
}

// AuthorizeFunc runs the authorization request r (rebuilt from a page's
// return_to) to its end with what the pages learnt: the provider's
// authorization endpoint.
type AuthorizeFunc func(w http.ResponseWriter, r *http.Request, f Flow)

// LoginSessions stores the login sessions behind the session cookie.
type LoginSessions interface {
	CreateLoginSession(ctx context.Context, s store.LoginSession) error
	GetLoginSession(ctx context.Context, id string, now time.Time) (*store.LoginSession, error)
	TouchLoginSession(ctx context.Context, id string, now time.Time) error
	UpdateLoginSession(ctx context.Context, s store.LoginSession) error
	DeleteLoginSession(ctx context.Context, id string) error
	DeleteLoginSessionsOfUser(ctx context.Context, username string) error
	// EndLoginSession and EndLoginSessions delete sessions and return
	// them with the clients to tell (signout.go).
	EndLoginSession(ctx context.Context, id string) (*store.EndedSession, error)
	EndLoginSessions(ctx context.Context, username, handle string) ([]store.EndedSession, error)
}

// Consents stores remembered consent decisions.
type Consents interface {
	PutConsent(ctx context.Context, c store.Consent) error
	GetConsent(ctx context.Context, username, clientID string, now time.Time) (*store.Consent, error)
	ListConsents(ctx context.Context, username string, now time.Time) ([]store.Consent, error)
	DeleteConsent(ctx context.Context, username, clientID string) error
}

// Store is the storage of the pages: their own, and that of the second
// factors and regulation they run (package authn). *store.DB satisfies it.
type Store interface {
	LoginSessions
	Consents
	authn.TOTPStore
	authn.AttemptStore
	authn.PasskeyStore
	authn.RecoveryStore
	// WebAuthnUserHasSecondFactor reports whether the user has a passkey
	// or a confirmed authenticator app.
	WebAuthnUserHasSecondFactor(ctx context.Context, username string) (bool, error)
}

// AuthnConfig is how users authenticate: policies, second factors,
// regulation and session lifetimes.
type AuthnConfig struct {
	// DefaultPolicy is the policy of clients that set none: one_factor
	// (default), two_factor, or a name from Policies.
	DefaultPolicy string
	// Policies are named authorization policies clients can refer to.
	Policies authn.Policies
	// TOTPKey (32 bytes) seals authenticator secrets at rest. Default: a key
	// derived from the cookie secret (Caddy passes a key of its own, which
	// the totp CLI shares).
	TOTPKey []byte
	// TOTPIssuer is the name authenticator apps show (default: the issuer's host).
	TOTPIssuer string
	// Regulation bans users and addresses after repeated failures; the zero
	// value uses Authelia's defaults (3 tries in 2m ban for 5m).
	Regulation *authn.RegulationConfig
	// SessionInactivity ends a login session unused for this long (default
	// 1h; negative disables). Remember-me sessions have no inactivity timeout.
	SessionInactivity time.Duration
	// RememberMeLifespan is the lifetime of a "keep me signed in" session
	// (default 30 days; negative hides the checkbox).
	RememberMeLifespan time.Duration
	// ClientIP returns the client's address as the server determined it.
	ClientIP func(*http.Request) string
	// TemplatesDir overrides page templates for branding.
	TemplatesDir string
	// Passkeys turns WebAuthn off or names the relying party (passkeys.go).
	Passkeys PasskeyConfig
	// PasskeysEnrolled and ListPasskeys connect the WebAuthn support; nil
	// means no passkeys.
	PasskeysEnrolled func(ctx context.Context, username string) (bool, error)
	ListPasskeys     func(ctx context.Context, username string) ([]ui.Passkey, error)
}

// Config is what the pages need.
type Config struct {
	// Issuer is the issuer identifier: its path prefixes every page, its
	// scheme decides the cookies' Secure flag, its origin is the only one
	// forms may come from.
	Issuer string
	// AuthorizePath is the absolute path of the authorization endpoint,
	// the only place a page's return_to may lead.
	AuthorizePath string
	// CookieKey (at least 32 bytes) derives CSRF tokens and, by default,
	// the TOTP sealing key.
	CookieKey []byte
	// SessionLifespan is how long a login session lasts.
	SessionLifespan time.Duration
	Authn           AuthnConfig
	Users           users.Backend
	Clients         *clients.Registry
	Store           Store
	Authorize       AuthorizeFunc
	Logger          *zap.Logger
	// Telemetry receives metrics and audit events (default: none).
	Telemetry telemetry.Sink
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SessionsEnded is told of the login sessions that end (signout.go).
	SessionsEnded SessionsEndedFunc
}

// Pages serves the pages and passkey endpoints.
type Pages struct {
	failTiming    failureTiming // failuretiming.go
	issuer, base  string
	origin        string // scheme://host of the issuer
	authorizePath string
	secure        bool
	cookieKey     []byte
	sessionTTL    time.Duration
	users         users.Backend
	clients       *clients.Registry
	db            Store
	authorize     AuthorizeFunc
	log           *zap.Logger
	tel           telemetry.Sink
	now           func() time.Time
	ui            *ui.Pages
	assets        http.Handler

	totp             *authn.TOTP
	regulator        *authn.Regulator
	clientIPFunc     func(*http.Request) string
	passkeyCfg       PasskeyConfig // passkeys.go
	passkeysEnrolled func(ctx context.Context, username string) (bool, error)
	listPasskeys     func(ctx context.Context, username string) ([]ui.Passkey, error)
	inactivity       time.Duration
	rememberMeTTL    time.Duration

	onSessionsEnded SessionsEndedFunc // signout.go

	recovery *authn.RecoveryCodes // recovery.go
}

// New builds the pages: templates, second factors, regulation.
func New(cfg Config) (*Pages, error) {
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("pages: issuer %q is not an absolute URL", cfg.Issuer)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	p := &Pages{
		issuer:        cfg.Issuer,
		base:          trimSlash(iss.Path),
		origin:        iss.Scheme + "://" + iss.Host,
		authorizePath: cfg.AuthorizePath,
		secure:        iss.Scheme == "https",
		cookieKey:     cfg.CookieKey,
		sessionTTL:    cfg.SessionLifespan,
		users:         cfg.Users,
		clients:       cfg.Clients,
		db:            cfg.Store,
		authorize:     cfg.Authorize,
		log:           cfg.Logger,
		tel:           cfg.Telemetry.Or(),
		now:           cfg.Now,
	}
	p.onSessionsEnded = cfg.SessionsEnded
	if p.ui, err = ui.New(p.base + PathAssets); err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	if err := p.setupAuthn(cfg.Authn); err != nil {
		return nil, err
	}
	p.assets = http.StripPrefix(p.base+PathAssets, p.ui.AssetHandler())
	return p, nil
}

// ServeAssets serves the pages' stylesheet, icons and script.
func (p *Pages) ServeAssets(w http.ResponseWriter, r *http.Request) { p.assets.ServeHTTP(w, r) }

// Regulator is the brute-force protection the login form uses, for the
// password grant.
func (p *Pages) Regulator() *authn.Regulator { return p.regulator }

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// setupAuthn builds the authentication machinery (the clients' policies
// are resolved by package clients).
func (p *Pages) setupAuthn(cfg AuthnConfig) error {
	key := cfg.TOTPKey
	if key == nil {
		m := hmac.New(sha256.New, p.cookieKey)
		m.Write([]byte("totp-seal"))
		key = m.Sum(nil)
	}
	if len(key) != authn.SealKeySize {
		return fmt.Errorf("provider: the TOTP sealing key must be %d bytes", authn.SealKeySize)
	}
	sealer, err := authn.NewSealer(key)
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = authn.TOTPIssuerName(p.issuer) // as the CLI labels accounts
	}
	p.totp = authn.NewTOTP(p.db, sealer, cfg.TOTPIssuer)
	p.recovery = authn.NewRecoveryCodes(p.db, recoveryKey(key))
	reg := authn.DefaultRegulation()
	if cfg.Regulation != nil {
		reg = *cfg.Regulation
	}
	if err := reg.Validate(); err != nil {
		return fmt.Errorf("regulation: %w", err)
	}
	p.regulator = authn.NewRegulator(p.db, reg)
	p.clientIPFunc = cfg.ClientIP
	if err := p.setupPasskeys(cfg); err != nil { // passkeys.go
		return err
	}
	p.inactivity = cfg.SessionInactivity
	if p.inactivity == 0 {
		p.inactivity = time.Hour
	}
	p.rememberMeTTL = cfg.RememberMeLifespan
	if p.rememberMeTTL == 0 {
		p.rememberMeTTL = 30 * 24 * time.Hour
	}
	if cfg.TemplatesDir != "" {
		pages, err := ui.NewWithOverrides(p.base+PathAssets, cfg.TemplatesDir)
		if err != nil {
			return fmt.Errorf("templates_dir: %w", err)
		}
		p.ui = pages
	}
	return nil
}
