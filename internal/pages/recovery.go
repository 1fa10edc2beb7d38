package pages

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// Recovery codes: a user who lost their authenticator app or passkey signs
// in with one of them on the second-factor page's "Lost your device?" form.
// A user gets codes when they enrol a second factor while holding no unused
// codes (so at the first enrolment), and new ones from the settings page;
// each set is shown once. A used code counts as a one-time password: amr
// "otp", like an authenticator code.

// recoveryDoneWindow is how long after the sign-in the codes page's
// Continue still counts as part of that sign-in (prompt=login, max_age).
const recoveryDoneWindow = 15 * time.Minute

// msgRecoveryCodeInvalid is the second-factor page's error for a wrong code.
const msgRecoveryCodeInvalid = "second_factor.error_recovery_code"

// recoveryKey derives the key recovery codes are hashed with from the TOTP
// sealing key: kept in Caddy's storage, so shared by every instance, and
// never used for two purposes.
func recoveryKey(sealKey []byte) []byte {
	m := hmac.New(sha256.New, sealKey)
	m.Write([]byte("recovery-codes"))
	return m.Sum(nil)
}

// hasSecondFactor reports whether the user has an authenticator app or a
// passkey.
func (p *Pages) hasSecondFactor(ctx context.Context, username string) bool {
	enrolled, _ := p.totp.Enrolled(ctx, username)
	return enrolled || p.hasPasskeys(ctx, username)
}

// ServeRecoveryCode checks a recovery code (POST from the second-factor
// page) and, when it is one of the user's unused codes, completes the
// second factor with it. Wrong codes are regulated like wrong TOTP codes.
func (p *Pages) ServeRecoveryCode(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	ctx, now, ip := r.Context(), p.now(), p.ClientIP(r)
	if !p.hasSecondFactor(ctx, f.user.Username) {
		// Nothing to recover from: the page sets up a second factor.
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, "")
		return
	}
	if err := p.regulator.Check(ctx, f.user.Username, ip, now); err != nil {
		p.LogBan(err, f.user.Username, ip)
		p.reportSecondFactor(r, telemetry.MethodRecoveryCode, telemetry.ResultBanned, f.user.Username, f.client)
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, msgRecoveryCodeInvalid)
		return
	}
	err := p.recovery.Use(ctx, f.user.Username, r.PostForm.Get("recovery_code"))
	if regErr := p.regulator.Record(ctx, f.user.Username, ip, "recovery_code", err == nil, now); regErr != nil {
		p.log.Error("recording attempt", zap.Error(regErr))
	}
	if err != nil {
		if !errors.Is(err, authn.ErrInvalidRecoveryCode) {
			p.log.Error("checking recovery code", zap.String("username", f.user.Username), zap.Error(err))
		}
		p.log.Info("second factor failed", zap.String("username", f.user.Username), zap.String("remote_ip", ip), zap.String("method", telemetry.MethodRecoveryCode))
		p.reportSecondFactor(r, telemetry.MethodRecoveryCode, telemetry.ResultFailure, f.user.Username, f.client)
		p.SecondFactorStep(w, r, f.client, f.user, f.returnTo, msgRecoveryCodeInvalid)
		return
	}
	s := withFactor(*f.login, "otp", now)
	if err := p.db.UpdateLoginSession(ctx, s); err != nil {
		p.log.Error("updating login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.save_session")
		return
	}
	left, _ := p.recovery.Remaining(ctx, s.Username)
	p.log.Info("second factor succeeded", zap.String("username", s.Username), zap.String("method", telemetry.MethodRecoveryCode), zap.Int("recovery_codes_left", left))
	p.reportSecondFactor(r, telemetry.MethodRecoveryCode, telemetry.ResultSuccess, s.Username, f.client)
	p.continueAfterAuth(w, r, f, &s)
}

// completeEnrolment completes the second factor the user just enrolled;
// when they hold no unused recovery codes it first shows new ones.
func (p *Pages) completeEnrolment(w http.ResponseWriter, r *http.Request, f pageForm, method string) {
	codes := p.codesForNewFactor(r.Context(), f.user.Username)
	if codes == nil {
		p.completeFactor(w, r, f, method)
		return
	}
	if s, ok := p.recordFactor(w, r, f, method); ok { // secondfactor.go
		p.renderRecoveryCodes(w, r, f, s, codes)
	}
}

// codesForNewFactor makes recovery codes for a user who enrolled a second
// factor and holds no unused codes; nil when they need none (or making them
// failed: the enrolment still completes, and the settings page offers
// codes).
func (p *Pages) codesForNewFactor(ctx context.Context, username string) []string {
	n, err := p.recovery.Remaining(ctx, username)
	if err != nil || n > 0 {
		if err != nil {
			p.log.Error("counting recovery codes", zap.String("username", username), zap.Error(err))
		}
		return nil
	}
	codes, err := p.recovery.Generate(ctx, username, p.now())
	if err != nil {
		p.log.Error("generating recovery codes", zap.String("username", username), zap.Error(err))
		return nil
	}
	p.log.Info("recovery codes generated", zap.String("username", username))
	return codes
}

// renderRecoveryCodes shows new codes once; its Continue carries a proof
// that this login session saw them (ServeRecoveryDone).
func (p *Pages) renderRecoveryCodes(w http.ResponseWriter, r *http.Request, f pageForm, s *store.LoginSession, codes []string) {
	page := ui.RecoveryCodesPage{
		UserName:  f.user.DisplayName(),
		Codes:     codes,
		Action:    p.base + PathRecoveryDone,
		CSRFToken: p.CSRFToken(w, r),
		ReturnTo:  f.returnTo,
		Proof:     p.recoveryProof(s),
	}
	if f.client != nil {
		page.ClientName = f.client.DisplayName()
	}
	p.Render(w, r, http.StatusOK, page)
}

// recoveryProof binds the codes page's Continue to the login session and
// the sign-in it followed.
func (p *Pages) recoveryProof(s *store.LoginSession) string {
	return base64.RawURLEncoding.EncodeToString(p.cookieMAC("recovery-done", s.ID, strconv.FormatInt(s.AuthTime.Unix(), 10)))
}

// ServeRecoveryDone continues after the codes page: back to the settings,
// or on with the authorization request. The sign-in counts as part of this
// flow only when the form is the one shown right after it.
func (p *Pages) ServeRecoveryDone(w http.ResponseWriter, r *http.Request) {
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	if f.next == nil {
		http.Redirect(w, r, p.base+PathSettings, http.StatusSeeOther)
		return
	}
	proof := r.PostForm.Get("proof")
	fresh := hmac.Equal([]byte(proof), []byte(p.recoveryProof(f.login))) && p.now().Sub(f.login.AuthTime) <= recoveryDoneWindow
	p.authorize(w, f.next, Flow{Login: f.login, Fresh: fresh})
}

// settingsRecoveryCodes makes new recovery codes from the settings page
// (the old ones stop working) and shows them once. Like changing a second
// factor, it needs a recent sign-in with the second factor, which
// runSettingsAction asked for.
func (p *Pages) settingsRecoveryCodes(w http.ResponseWriter, r *http.Request, f pageForm) {
	ctx := r.Context()
	if !p.hasSecondFactor(ctx, f.user.Username) {
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
		return
	}
	codes, err := p.recovery.Generate(ctx, f.user.Username, p.now())
	if err != nil {
		p.log.Error("generating recovery codes", zap.String("username", f.user.Username), zap.Error(err))
		p.renderSettings(w, r, f.user, "", "settings.recovery_failed")
		return
	}
	p.log.Info("recovery codes generated", zap.String("username", f.user.Username))
	p.renderRecoveryCodes(w, r, f, f.login, codes)
}

// settingsRecoveryExtras fills the settings page's recovery-code section.
func (p *Pages) settingsRecoveryExtras(r *http.Request, page *ui.SettingsPage, username string) {
	ctx := r.Context()
	if !page.TOTPEnrolled && !p.hasPasskeys(ctx, username) {
		return
	}
	page.RecoveryCodes = true
	n, err := p.recovery.Remaining(ctx, username)
	if err != nil {
		p.log.Error("counting recovery codes", zap.String("username", username), zap.Error(err))
	}
	page.RecoveryRemaining = n
}
