package pages

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// freshWindow is how recent an authentication must be for a page to count it
// as part of the current flow (after a passkey ceremony, or to change second
// factors in the settings).
const freshWindow = 2 * time.Minute

// hasPasskeys reports whether the user registered WebAuthn credentials.
func (p *Pages) hasPasskeys(ctx context.Context, username string) bool {
	if p.passkeysEnrolled == nil {
		return false
	}
	ok, err := p.passkeysEnrolled(ctx, username)
	if err != nil {
		p.log.Error("checking passkeys", zap.String("username", username), zap.Error(err))
	}
	return ok
}

// SecondFactorStep shows what the user needs to complete two-factor
// authentication: the code or passkey prompt, or enrolment of an
// authenticator app when they have no second factor yet. A step-up the
// form being answered carried goes on (stepup.go).
func (p *Pages) SecondFactorStep(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, returnTo, msg string) {
	p.secondFactorStep(w, r, c, u, returnTo, msg, p.stepUpFromForm(r))
}

// secondFactorStep is SecondFactorStep for the step-up su.
func (p *Pages) secondFactorStep(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, returnTo, msg string, su ui.StepUp) {
	ctx := r.Context()
	enrolled, err := p.totp.Enrolled(ctx, u.Username)
	if err != nil {
		p.log.Error("checking authenticator enrolment", zap.String("username", u.Username), zap.Error(err))
		p.RenderFailure(w, r, err, "failure.check_factor")
		return
	}
	passkeys := p.hasPasskeys(ctx, u.Username)
	if !enrolled && !passkeys {
		p.renderTOTPEnroll(w, r, c, u, returnTo, msg)
		return
	}
	page := ui.SecondFactorPage{
		UserName:       u.DisplayName(),
		Action:         p.base + PathSecondFactor,
		CSRFToken:      p.CSRFToken(w, r),
		ReturnTo:       returnTo,
		TOTP:           enrolled,
		Passkeys:       passkeys,
		WebAuthnBase:   p.base + PathWebAuthn,
		ContinueAction: p.base + PathContinue,
		Error:          p.Localizer(r).T(msg),
		RecoveryAction: p.base + PathRecoveryCode,
		StepUp:         su,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	status := http.StatusOK
	if msg != "" {
		status = http.StatusUnauthorized
	}
	p.Render(w, r, status, page)
}

// renderTOTPEnroll creates a new (unconfirmed) authenticator secret and shows
// it once.
func (p *Pages) renderTOTPEnroll(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, returnTo, msg string) {
	e, err := p.totp.Enroll(r.Context(), u.Username)
	if err != nil {
		p.log.Error("starting authenticator enrolment", zap.String("username", u.Username), zap.Error(err))
		p.RenderFailure(w, r, err, "failure.totp_secret")
		return
	}
	page := ui.TOTPEnrollPage{
		UserName:  u.DisplayName(),
		QRCode:    template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		Secret:    e.Secret,
		Action:    p.base + PathTOTPEnroll,
		CSRFToken: p.CSRFToken(w, r),
		ReturnTo:  returnTo,
		Error:     p.Localizer(r).T(msg),
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	p.enrollExtras(&page, e) // totp_retry.go
	p.Render(w, r, http.StatusOK, page)
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
func (p *Pages) readPageForm(w http.ResponseWriter, r *http.Request) (pageForm, bool) {
	var f pageForm
	if !p.formOK(w, r, "retry.sign_in") {
		return f, false
	}
	f.returnTo = r.PostForm.Get("return_to")
	if f.returnTo != "" && f.returnTo != p.base+PathSettings {
		next, ok := p.resume(r, f.returnTo)
		if !ok {
			p.RenderError(w, r, http.StatusBadRequest, "error.link_invalid", "error.form_invalid", "invalid_request")
			return f, false
		}
		f.next = next
		f.client = p.clients.Get(next.URL.Query().Get("client_id"))
	}
	login, err := p.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.read_session")
		return f, false
	}
	if login == nil {
		p.RenderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "login.error_session_ended")
		return f, false
	}
	u, err := p.users.Lookup(login.Username)
	if errors.Is(err, users.ErrUnavailable) { // keep the session: the directory will be back
		p.renderDirectoryUnavailable(w, r)
		return f, false
	}
	if err != nil || u.Disabled {
		_ = p.EndLogin(w, r)
		p.RenderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "login.error_again")
		return f, false
	}
	f.login, f.user = login, u
	return f, true
}

// ServeSecondFactor checks a TOTP code (POST from the second-factor page).
func (p *Pages) ServeSecondFactor(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	ctx, now, ip := r.Context(), p.now(), p.ClientIP(r)
	if err := p.regulator.Check(ctx, f.user.Username, ip, now); err != nil {
		p.LogBan(err, f.user.Username, ip)
		p.reportSecondFactor(r, telemetry.MethodTOTP, telemetry.ResultBanned, f.user.Username, f.client)
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, "second_factor.error_code")
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
		p.reportSecondFactor(r, telemetry.MethodTOTP, telemetry.ResultFailure, f.user.Username, f.client)
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, "second_factor.error_code")
		return
	}
	p.completeFactor(w, r, f, "otp")
}

// ServeTOTPEnroll confirms a new authenticator app with a code.
func (p *Pages) ServeTOTPEnroll(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	ctx, now, ip := r.Context(), p.now(), p.ClientIP(r)
	if enrolled, _ := p.totp.Enrolled(ctx, f.user.Username); enrolled && !authn.IsTwoFactor(f.login.AMR) {
		// Replacing a confirmed authenticator needs the old one (or a passkey) first.
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, "")
		return
	}
	if err := p.regulator.Check(ctx, f.user.Username, ip, now); err != nil {
		p.LogBan(err, f.user.Username, ip)
		p.reportSecondFactor(r, telemetry.MethodTOTP, telemetry.ResultBanned, f.user.Username, f.client)
		p.renderTOTPEnroll(w, r, f.client, f.user, f.returnTo, "totp_enroll.error_code")
		return
	}
	err := p.totp.Confirm(ctx, f.user.Username, r.PostForm.Get("code"), now)
	if regErr := p.regulator.Record(ctx, f.user.Username, ip, "totp", err == nil, now); regErr != nil {
		p.log.Error("recording attempt", zap.Error(regErr))
	}
	if err != nil {
		p.reportSecondFactor(r, telemetry.MethodTOTP, telemetry.ResultFailure, f.user.Username, f.client)
		// The same key again for the page that showed it (totp_retry.go).
		p.retryTOTPEnroll(w, r, f)
		return
	}
	p.log.Info("authenticator app enrolled", zap.String("username", f.user.Username))
	p.completeEnrolment(w, r, f, "otp") // recovery.go
}

// completeFactor adds a second factor to the login session and continues.
func (p *Pages) completeFactor(w http.ResponseWriter, r *http.Request, f pageForm, method string) {
	if s, ok := p.recordFactor(w, r, f, method); ok {
		p.continueAfterAuth(w, r, f, s)
	}
}

// recordFactor adds a successful second factor to the login session, logs
// and reports it. It reports false when it could not, having answered.
func (p *Pages) recordFactor(w http.ResponseWriter, r *http.Request, f pageForm, method string) (*store.LoginSession, bool) {
	s := withFactor(*f.login, method, p.now())
	if err := p.db.UpdateLoginSession(r.Context(), s); err != nil {
		p.log.Error("updating login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.save_session")
		return nil, false
	}
	p.log.Info("second factor succeeded", zap.String("username", s.Username), zap.String("method", method))
	p.reportSecondFactor(r, factorMethod(method), telemetry.ResultSuccess, s.Username, f.client)
	return &s, true
}

// withFactor returns the login session after a successful second factor:
// the method (and "mfa" once two factors are shown) in its amr, and the time
// of this authentication as its auth_time.
func withFactor(s store.LoginSession, method string, now time.Time) store.LoginSession {
	if !slices.Contains(s.AMR, method) {
		s.AMR = append(slices.Clone(s.AMR), method)
	}
	if authn.IsTwoFactor(s.AMR) && !slices.Contains(s.AMR, "mfa") {
		s.AMR = append(s.AMR, "mfa")
	}
	s.AuthTime = now.UTC().Truncate(time.Second)
	return s
}

// continueAfterAuth resumes the authorization request, or goes back to the
// settings with the change a step-up was for (stepup.go).
func (p *Pages) continueAfterAuth(w http.ResponseWriter, r *http.Request, f pageForm, login *store.LoginSession) {
	if f.next == nil {
		f.login = login
		p.resumeSettings(w, r, f)
		return
	}
	p.authorize(w, f.next, Flow{Login: login, Fresh: true})
}

// ServeContinue resumes the flow after a passkey ceremony done by the page's
// script (which already updated the login session).
func (p *Pages) ServeContinue(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	if p.now().Sub(f.login.AuthTime) > freshWindow {
		p.RenderLogin(w, r, http.StatusOK, f.client, f.returnTo, "", "login.error_again")
		return
	}
	p.continueAfterAuth(w, r, f, f.login)
}
