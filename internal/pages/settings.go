package pages

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// ServeSettings shows (GET) and changes (POST) the user's second factors and
// remembered consents.
func (p *Pages) ServeSettings(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		login, err := p.CurrentLogin(r)
		if err != nil || login == nil {
			p.RenderLogin(w, r, http.StatusOK, nil, p.base+PathSettings, "", "")
			return
		}
		u, err := p.users.Lookup(login.Username)
		if errors.Is(err, users.ErrUnavailable) {
			p.renderDirectoryUnavailable(w, r)
			return
		}
		if err != nil || u.Disabled {
			p.RenderLogin(w, r, http.StatusOK, nil, p.base+PathSettings, "", "")
			return
		}
		p.renderSettings(w, r, u, "", "")
		return
	}
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	// Whatever return_to said, the settings page resumes no authorization
	// request: its forms come back here.
	f.returnTo = p.base + PathSettings
	ctx := r.Context()
	enrolled, _ := p.totp.Enrolled(ctx, f.user.Username)
	// Changing second factors needs a second factor when one exists, and a
	// recent sign-in: a session left open must not be enough.
	needsStepUp := (enrolled || p.hasPasskeys(ctx, f.user.Username)) && !authn.IsTwoFactor(f.login.AMR)
	switch action := r.PostForm.Get("action"); action {
	case "totp-remove", "totp-enroll":
		if !p.recentStrongSignIn(w, r, f, needsStepUp) {
			return
		}
		if action == "totp-enroll" {
			p.renderTOTPEnroll(w, r, nil, f.user, f.returnTo, "")
			return
		}
		if err := p.totp.Remove(ctx, f.user.Username); err != nil {
			p.log.Error("removing authenticator", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "settings.totp_remove_failed")
			return
		}
		p.log.Info("authenticator app removed", zap.String("username", f.user.Username))
		p.renderSettings(w, r, f.user, "settings.totp_removed", "")
	case "passkey-rename":
		p.renamePasskey(w, r, f) // settings_account.go
	case "recovery-generate":
		p.settingsRecoveryCodes(w, r, f, needsStepUp) // recovery.go
	case "password-change":
		p.changePassword(w, r, f) // password.go
	case "consent-revoke":
		clientID := r.PostForm.Get("client_id")
		if err := p.db.DeleteConsent(ctx, f.user.Username, clientID); err != nil {
			p.log.Error("revoking consent", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "settings.consent_revoke_failed")
			return
		}
		p.log.Info("consent revoked", zap.String("username", f.user.Username), zap.String("client_id", clientID))
		p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentRevoked, User: f.user.Username, Client: clientID, IP: p.ClientIP(r), Actor: "user"})
		p.renderSettings(w, r, f.user, "settings.consent_revoked", "")
	default:
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
	}
}

func (p *Pages) renderSettings(w http.ResponseWriter, r *http.Request, u *users.User, msg, errMsg string) {
	ctx, loc := r.Context(), p.Localizer(r)
	page := ui.SettingsPage{
		UserName:  u.DisplayName(),
		Message:   loc.T(msg),
		Error:     loc.T(errMsg),
		CSRFToken: p.CSRFToken(w, r),
		Action:    p.base + PathSettings,
	}
	page.LogoutAction = p.base + PathLogout
	page.PasswordChange = p.passwordChanger() != nil
	page.TOTPEnrolled, _ = p.totp.Enrolled(ctx, u.Username)
	p.settingsRecoveryExtras(r, &page, u.Username) // recovery.go
	if p.listPasskeys != nil {                     // nil: passkeys turned off or unavailable
		page.WebAuthnBase = p.base + PathWebAuthn
		if list, err := p.listPasskeys(ctx, u.Username); err == nil {
			page.Passkeys = list
		}
	}
	consents, err := p.db.ListConsents(ctx, u.Username, p.now())
	if err != nil {
		p.log.Error("listing consents", zap.Error(err))
	}
	for _, c := range consents {
		page.Consents = append(page.Consents, p.settingsConsent(loc, c)) // settings_account.go
	}
	p.settingsExtras(r, &page)
	p.Render(w, r, http.StatusOK, page)
}

// recentStrongSignIn reports whether the session may change second factors:
// signed in with a second factor when the user has one (needsStepUp says
// they have one and the session lacks it), and within the last ten minutes.
// When not, it has answered with the second-factor step or a new sign-in.
func (p *Pages) recentStrongSignIn(w http.ResponseWriter, r *http.Request, f pageForm, needsStepUp bool) bool {
	if needsStepUp {
		p.SecondFactorStep(w, r, nil, f.user, f.returnTo, "")
		return false
	}
	if p.now().Sub(f.login.AuthTime) > 10*time.Minute {
		_ = p.EndLogin(w, r)
		p.RenderLogin(w, r, http.StatusOK, nil, f.returnTo, f.user.Username, "login.error_reauth")
		return false
	}
	return true
}
