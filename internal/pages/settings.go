package pages

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// ServeSettings shows (GET) and changes (POST) the user's second factors and
// remembered consents. A destructive change is confirmed first, a change of
// second factors asks for the step-up it needs in place (stepup.go), and a
// change made redirects to GET /settings?done=<result>.
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
		p.renderSettings(w, r, u, doneMessages[r.URL.Query().Get("done")], "") // stepup.go
		return
	}
	f, ok := p.readPageForm(w, r)
	if !ok {
		return
	}
	// Whatever return_to said, the settings page resumes no authorization
	// request: its forms come back here.
	f.returnTo = p.base + PathSettings
	action := r.PostForm.Get("action")
	spec, known := settingsActions[action]
	if !known {
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
		return
	}
	a := pendingAction{Action: action}
	if spec.arg != "" {
		a.Arg = r.PostForm.Get(spec.arg)
	}
	if spec.confirm && r.PostForm.Get("confirmed") != "1" {
		p.renderConfirm(w, r, f, a) // stepup.go
		return
	}
	p.runSettingsAction(w, r, f, a)
}

// settingsAction is one action of the settings page's forms.
type settingsAction struct {
	confirm bool   // destructive: a confirmation page comes first (renderConfirm)
	stepUp  string // why it needs a recent sign-in with the second factor (a message ID); "" when it does not
	arg     string // the form field that names the item it changes
}

// settingsActions are the settings page's actions (the forms' "action").
// Changing second factors needs a second factor when the user has one, and
// a recent sign-in: a session left open must not be enough (stepup.go).
var settingsActions = map[string]settingsAction{
	"totp-enroll":        {stepUp: "stepup.reason_totp_enroll"},
	"totp-remove":        {confirm: true, stepUp: "stepup.reason_totp_remove"},
	"recovery-generate":  {confirm: true, stepUp: "stepup.reason_recovery_generate"},
	"passkey-add":        {stepUp: "stepup.reason_passkey_add"},
	"passkey-remove":     {confirm: true, stepUp: "stepup.reason_passkey_remove", arg: "passkey_id"},
	"consent-revoke":     {confirm: true, arg: "client_id"},
	"signout-everywhere": {confirm: true},
	"password-change":    {},
	"passkey-rename":     {arg: "passkey_id"}, // a label: no step-up (settings_account.go)
}

// runSettingsAction makes a confirmed change, after the step-up it needs.
func (p *Pages) runSettingsAction(w http.ResponseWriter, r *http.Request, f pageForm, a pendingAction) {
	if settingsActions[a.Action].stepUp != "" && !p.steppedUp(w, r, f, a) { // stepup.go
		return
	}
	ctx := r.Context()
	switch a.Action {
	case "totp-enroll":
		p.renderTOTPEnroll(w, r, nil, f.user, f.returnTo, "")
	case "totp-remove":
		if err := p.totp.Remove(ctx, f.user.Username); err != nil {
			p.log.Error("removing authenticator", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "settings.totp_remove_failed")
			return
		}
		p.log.Info("authenticator app removed", zap.String("username", f.user.Username))
		p.settingsDone(w, r, "totp_removed")
	case "passkey-rename":
		p.renamePasskey(w, r, f, a.Arg) // settings_account.go
	case "recovery-generate":
		p.settingsRecoveryCodes(w, r, f) // recovery.go
	case "passkey-add":
		// The ceremony is the browser's: the page offers it, ready.
		http.Redirect(w, r, p.settingsURL(r, "ready", "passkey"), http.StatusSeeOther)
	case "passkey-remove":
		p.removePasskey(w, r, f, a.Arg) // stepup.go
	case "password-change":
		p.changePassword(w, r, f) // password.go
	case "consent-revoke":
		if err := p.db.DeleteConsent(ctx, f.user.Username, a.Arg); err != nil {
			p.log.Error("revoking consent", zap.Error(err))
			p.renderSettings(w, r, f.user, "", "settings.consent_revoke_failed")
			return
		}
		p.log.Info("consent revoked", zap.String("username", f.user.Username), zap.String("client_id", a.Arg))
		p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionConsentRevoked, User: f.user.Username, Client: a.Arg, IP: p.ClientIP(r), Actor: "user"})
		p.settingsDone(w, r, "consent_revoked")
	default: // signing out everywhere is the logout endpoint's, after its confirmation
		p.renderConfirm(w, r, f, a)
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
	page.StepUpAction = p.base + PathSettings
	page.PasskeyReady = r.Method != http.MethodPost && r.URL.Query().Get("ready") == "passkey"
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
