package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// freshWindow is how recent an authentication must be for a page to count it
// as part of the current flow (after a passkey ceremony, or to change second
// factors in the settings).
const freshWindow = 2 * time.Minute

// clientIP returns the client's address as Caddy determined it (honouring
// its trusted proxies), for regulation and logs.
func (p *Provider) clientIP(r *http.Request) string {
	if p.clientIPFunc != nil {
		if ip := p.clientIPFunc(r); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// hasPasskeys reports whether the user registered WebAuthn credentials.
func (p *Provider) hasPasskeys(ctx context.Context, username string) bool {
	if p.passkeysEnrolled == nil {
		return false
	}
	ok, err := p.passkeysEnrolled(ctx, username)
	if err != nil {
		p.log.Error("checking passkeys", zap.String("username", username), zap.Error(err))
	}
	return ok
}

// secondFactorStep shows what the user needs to complete two-factor
// authentication: the code or passkey prompt, or enrolment of an
// authenticator app when they have no second factor yet.
func (p *Provider) secondFactorStep(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, returnTo, msg string) {
	ctx := r.Context()
	enrolled, err := p.totp.Enrolled(ctx, u.Username)
	if err != nil {
		p.log.Error("checking authenticator enrolment", zap.String("username", u.Username), zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not check your second factor. Please try again.", "server_error")
		return
	}
	passkeys := p.hasPasskeys(ctx, u.Username)
	if !enrolled && !passkeys {
		p.renderTOTPEnroll(w, r, c, u, returnTo, msg)
		return
	}
	page := ui.SecondFactorPage{
		UserName:       u.DisplayName(),
		Action:         p.base + pathSecondFactor,
		CSRFToken:      p.csrfToken(w, r),
		ReturnTo:       returnTo,
		TOTP:           enrolled,
		Passkeys:       passkeys,
		WebAuthnBase:   p.base + pathWebAuthn,
		ContinueAction: p.base + pathContinue,
		Error:          msg,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	status := http.StatusOK
	if msg != "" {
		status = http.StatusUnauthorized
	}
	p.render(w, status, page)
}

// renderTOTPEnroll creates a new (unconfirmed) authenticator secret and shows
// it once.
func (p *Provider) renderTOTPEnroll(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, returnTo, msg string) {
	e, err := p.totp.Enroll(r.Context(), u.Username)
	if err != nil {
		p.log.Error("starting authenticator enrolment", zap.String("username", u.Username), zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not prepare an authenticator secret. Please try again.", "server_error")
		return
	}
	page := ui.TOTPEnrollPage{
		UserName:  u.DisplayName(),
		QRCode:    template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		Secret:    e.Secret,
		Action:    p.base + pathTOTPEnroll,
		CSRFToken: p.csrfToken(w, r),
		ReturnTo:  returnTo,
		Error:     msg,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	p.render(w, http.StatusOK, page)
}

// pageForm is a checked POST from one of our pages: CSRF verified, the
// signed-in user loaded, and where the flow goes next.
type pageForm struct {
	login    *store.LoginSession
	user     *users.User
	returnTo string
	next     *http.Request // the authorization request to resume, or nil for the settings page
	client   *clients.Client
}

// readPageForm validates a POST (the route table lets no other method
// through) from a page that needs a signed-in user.
// It writes the error page and returns false when the form is not usable.
func (p *Provider) readPageForm(w http.ResponseWriter, r *http.Request) (pageForm, bool) {
	var f pageForm
	if !p.formOK(w, r, "Go back to the application and sign in again.") {
		return f, false
	}
	f.returnTo = r.PostForm.Get("return_to")
	if f.returnTo != "" && f.returnTo != p.base+pathSettings {
		next, ok := p.resume(r, f.returnTo)
		if !ok {
			p.renderError(w, http.StatusBadRequest, "This sign-in link is not valid", "The form pointed somewhere it should not. Go back to the application and try again.", "invalid_request")
			return f, false
		}
		f.next = next
		f.client = p.clients.Get(next.URL.Query().Get("client_id"))
	}
	login, err := p.currentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not read your session. Please try again.", "server_error")
		return f, false
	}
	if login == nil {
		p.renderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "Your session ended. Please sign in again.")
		return f, false
	}
	u, err := p.users.Lookup(login.Username)
	if err != nil || u.Disabled {
		_ = p.endLogin(w, r)
		p.renderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "Please sign in again.")
		return f, false
	}
	f.login, f.user = login, u
	return f, true
}

// serveSecondFactor checks a TOTP code (POST from the second-factor page).
func (p *Provider) serveSecondFactor(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	ctx, now, ip := r.Context(), time.Now(), p.clientIP(r)
	if err := p.regulator.Check(ctx, f.user.Username, ip, now); err != nil {
		p.logBan(err, f.user.Username, ip)
		p.secondFactorStep(w, r, f.client, f.user, f.returnTo, "That code is not valid.")
		return
	}
	err := p.totp.Verify(ctx, f.user.Username, r.PostForm.Get("code"), now)
	if regErr := p.regulator.Record(ctx, f.user.Username, ip, "totp", err == nil, now); regErr != nil {
		p.log.Error("recording attempt", zap.Error(regErr))
	}
	if err != nil {
		if !errors.Is(err, authn.ErrInvalidCode) && !errors.Is(err, authn.ErrCodeUsed) && !errors.Is(err, authn.ErrNotEnrolled) {
			p.log.Error("verifying authenticator code", zap.String("username", f.user.Username), zap.Error(err))
		}
		p.log.Info("second factor failed", zap.String("username", f.user.Username), zap.String("remote_ip", ip))
		p.secondFactorStep(w, r, f.client, f.user, f.returnTo, "That code is not valid.")
		return
	}
	p.completeFactor(w, r, f, "otp")
}

// serveTOTPEnroll confirms a new authenticator app with a code.
func (p *Provider) serveTOTPEnroll(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	ctx, now, ip := r.Context(), time.Now(), p.clientIP(r)
	if enrolled, _ := p.totp.Enrolled(ctx, f.user.Username); enrolled && !authn.IsTwoFactor(f.login.AMR) {
		// Replacing a confirmed authenticator needs the old one (or a passkey) first.
		p.secondFactorStep(w, r, f.client, f.user, f.returnTo, "")
		return
	}
	if err := p.regulator.Check(ctx, f.user.Username, ip, now); err != nil {
		p.logBan(err, f.user.Username, ip)
		p.renderTOTPEnroll(w, r, f.client, f.user, f.returnTo, "That code is not valid. A new key is shown: scan it again.")
		return
	}
	err := p.totp.Confirm(ctx, f.user.Username, r.PostForm.Get("code"), now)
	if regErr := p.regulator.Record(ctx, f.user.Username, ip, "totp", err == nil, now); regErr != nil {
		p.log.Error("recording attempt", zap.Error(regErr))
	}
	if err != nil {
		// The secret was shown once; a failed confirmation starts over with a
		// new one rather than showing it again.
		p.renderTOTPEnroll(w, r, f.client, f.user, f.returnTo, "That code is not valid. A new key is shown: scan it again.")
		return
	}
	p.log.Info("authenticator app enrolled", zap.String("username", f.user.Username))
	p.completeFactor(w, r, f, "otp")
}

// completeFactor adds a second factor to the login session and continues.
func (p *Provider) completeFactor(w http.ResponseWriter, r *http.Request, f pageForm, method string) {
	s := withFactor(*f.login, method)
	if err := p.db.UpdateLoginSession(r.Context(), s); err != nil {
		p.log.Error("updating login session", zap.Error(err))
		p.renderError(w, http.StatusInternalServerError, "Something went wrong", "The sign-in service could not save your session. Please try again.", "server_error")
		return
	}
	p.log.Info("second factor succeeded", zap.String("username", s.Username), zap.String("method", method))
	p.continueAfterAuth(w, r, f, &s)
}

// withFactor returns the login session after a successful second factor:
// the method (and "mfa" once two factors are shown) in its amr, and the time
// of this authentication as its auth_time.
func withFactor(s store.LoginSession, method string) store.LoginSession {
	if !slices.Contains(s.AMR, method) {
		s.AMR = append(slices.Clone(s.AMR), method)
	}
	if authn.IsTwoFactor(s.AMR) && !slices.Contains(s.AMR, "mfa") {
		s.AMR = append(s.AMR, "mfa")
	}
	s.AuthTime = time.Now().UTC().Truncate(time.Second)
	return s
}

// continueAfterAuth resumes the authorization request, or shows the settings.
func (p *Provider) continueAfterAuth(w http.ResponseWriter, r *http.Request, f pageForm, login *store.LoginSession) {
	if f.next == nil {
		http.Redirect(w, r, p.base+pathSettings, http.StatusSeeOther)
		return
	}
	p.authorize(w, f.next, authFlow{login: login, fresh: true})
}

// serveContinue resumes the flow after a passkey ceremony done by the page's
// script (which already updated the login session).
func (p *Provider) serveContinue(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	if time.Since(f.login.AuthTime) > freshWindow {
		p.renderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "Please sign in again.")
		return
	}
	p.continueAfterAuth(w, r, f, f.login)
}

// denied tells the user they may not use the client, and the client that
// access was denied (the page links to the error redirect).
func (p *Provider) denied(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, c *clients.Client, u *users.User) {
	p.log.Info("authorization policy denied the user", zap.String("client_id", c.GetID()), zap.String("username", u.Username))
	rec := &redirectRecorder{header: http.Header{}}
	p.oauth2.WriteAuthorizeError(r.Context(), &issWriter{ResponseWriter: rec, issuer: p.issuer}, ar,
		fosite.ErrAccessDenied.WithHint("The user is not allowed to use this client."))
	page := ui.ErrorPage{
		Title:       "You can't use " + c.DisplayName(),
		Description: "Your account is not allowed to sign in to this application. If you think it should be, ask whoever runs this service.",
		Code:        "access_denied",
	}
	if loc := rec.header.Get("Location"); loc != "" && rec.status >= 300 && rec.status < 400 {
		page.ContinueURL = template.URL(loc) // our own redirect to a registered URI
	}
	p.render(w, http.StatusForbidden, page)
}

// redirectRecorder captures the redirect fosite would send.
type redirectRecorder struct {
	header http.Header
	status int
}

func (r *redirectRecorder) Header() http.Header         { return r.header }
func (r *redirectRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *redirectRecorder) WriteHeader(status int)      { r.status = status }

// logBan logs a regulation ban without telling the user anything different.
func (p *Provider) logBan(err error, username, ip string) {
	var ban *authn.BanError
	if errors.As(err, &ban) {
		p.log.Warn("authentication attempt while banned", zap.String("username", username), zap.String("remote_ip", ip),
			zap.String("reason", ban.Reason), zap.Time("until", ban.Until))
		return
	}
	p.log.Error("checking regulation", zap.Error(err))
}

// serveSettings shows (GET) and changes (POST) the user's second factors and
// remembered consents.
func (p *Provider) serveSettings(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		login, err := p.currentLogin(r)
		if err != nil || login == nil {
			p.renderLogin(w, r, http.StatusOK, nil, p.base+pathSettings, "", "")
			return
		}
		u, err := p.users.Lookup(login.Username)
		if err != nil || u.Disabled {
			p.renderLogin(w, r, http.StatusOK, nil, p.base+pathSettings, "", "")
			return
		}
		p.renderSettings(w, r, u, "", "")
		return
	}
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	f.returnTo, f.next = p.base+pathSettings, nil
	ctx := r.Context()
	enrolled, _ := p.totp.Enrolled(ctx, f.user.Username)
	// Changing second factors needs a second factor when one exists, and a
	// recent sign-in: a session left open must not be enough.
	needsStepUp := (enrolled || p.hasPasskeys(ctx, f.user.Username)) && !authn.IsTwoFactor(f.login.AMR)
	switch action := r.PostForm.Get("action"); action {
	case "totp-remove", "totp-enroll":
		if needsStepUp {
			p.secondFactorStep(w, r, nil, f.user, f.returnTo, "")
			return
		}
		if time.Since(f.login.AuthTime) > 10*time.Minute {
			_ = p.endLogin(w, r)
			p.renderLogin(w, r, http.StatusOK, nil, f.returnTo, f.user.Username, "Please sign in again to change your second factors.")
			return
		}
		if action == "totp-enroll" {
			p.renderTOTPEnroll(w, r, nil, f.user, f.returnTo, "")
			return
		}
		if err := p.totp.Remove(ctx, f.user.Username); err != nil {
			p.log.Error("removing authenticator", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "The authenticator app could not be removed.")
			return
		}
		p.log.Info("authenticator app removed", zap.String("username", f.user.Username))
		p.renderSettings(w, r, f.user, "The authenticator app was removed.", "")
	case "consent-revoke":
		clientID := r.PostForm.Get("client_id")
		if err := p.db.DeleteConsent(ctx, f.user.Username, clientID); err != nil {
			p.log.Error("revoking consent", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "The consent could not be revoked.")
			return
		}
		p.log.Info("consent revoked", zap.String("username", f.user.Username), zap.String("client_id", clientID))
		p.renderSettings(w, r, f.user, "The application will ask for your consent again.", "")
	default:
		p.renderSettings(w, r, f.user, "", "Unknown action.")
	}
}

func (p *Provider) renderSettings(w http.ResponseWriter, r *http.Request, u *users.User, msg, errMsg string) {
	ctx := r.Context()
	page := ui.SettingsPage{
		UserName:     u.DisplayName(),
		Message:      msg,
		Error:        errMsg,
		CSRFToken:    p.csrfToken(w, r),
		Action:       p.base + pathSettings,
		WebAuthnBase: p.base + pathWebAuthn,
	}
	page.TOTPEnrolled, _ = p.totp.Enrolled(ctx, u.Username)
	if p.listPasskeys != nil {
		if list, err := p.listPasskeys(ctx, u.Username); err == nil {
			page.Passkeys = list
		}
	}
	consents, err := p.db.ListConsents(ctx, u.Username, time.Now())
	if err != nil {
		p.log.Error("listing consents", zap.Error(err))
	}
	for _, c := range consents {
		item := ui.Consent{ClientID: c.ClientID, Scopes: strings.Join(c.Scopes, " "), Expires: c.ExpiresAt.Format("2006-01-02")}
		if cl := p.clients.Get(c.ClientID); cl != nil {
			item.ClientName = cl.DisplayName()
		}
		page.Consents = append(page.Consents, item)
	}
	p.render(w, http.StatusOK, page)
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
	// PasskeysEnrolled and ListPasskeys connect the WebAuthn support; nil
	// means no passkeys.
	PasskeysEnrolled func(ctx context.Context, username string) (bool, error)
	ListPasskeys     func(ctx context.Context, username string) ([]ui.Passkey, error)
}

// authnState is the Provider's authentication machinery.
type authnState struct {
	totp             *authn.TOTP
	regulator        *authn.Regulator
	clientIPFunc     func(*http.Request) string
	passkeysEnrolled func(ctx context.Context, username string) (bool, error)
	listPasskeys     func(ctx context.Context, username string) ([]ui.Passkey, error)
	inactivity       time.Duration
	rememberMeTTL    time.Duration
}

// setupAuthn builds the authentication machinery (the clients' policies
// are resolved by package clients).
func (p *Provider) setupAuthn(cfg AuthnConfig) error {
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
	reg := authn.DefaultRegulation()
	if cfg.Regulation != nil {
		reg = *cfg.Regulation
	}
	if err := reg.Validate(); err != nil {
		return fmt.Errorf("regulation: %w", err)
	}
	p.regulator = authn.NewRegulator(p.db, reg)
	p.clientIPFunc = cfg.ClientIP
	p.passkeysEnrolled, p.listPasskeys = cfg.PasskeysEnrolled, cfg.ListPasskeys
	if p.passkeysEnrolled == nil && p.listPasskeys == nil {
		p.passkeysEnrolled, p.listPasskeys = p.passkeyHooks() // nil for an IP-address issuer
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
		pages, err := ui.NewWithOverrides(p.base+pathAssets, cfg.TemplatesDir)
		if err != nil {
			return fmt.Errorf("templates_dir: %w", err)
		}
		p.pages = pages
	}
	return nil
}
