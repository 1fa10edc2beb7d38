package pages

import (
	"crypto/hmac"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// Step-up in place: a change in the settings that needs a fresher or
// stronger sign-in than the session has (settingsAction.stepUp) asks for it
// on the spot — the login page when the sign-in is older than stepUpWindow,
// else the second-factor page — saying why, with a Cancel back to the
// settings. The change travels through those pages as the hidden field
// "pending", signed for the user and the browser's CSRF cookie and valid for
// stepUpWindow; once the sign-in is done, the change is made.

// stepUpWindow is how recent a sign-in must be to change second factors,
// and how long a pending change stays valid.
const stepUpWindow = 10 * time.Minute

// pendingAction is a settings change waiting for a step-up.
type pendingAction struct {
	Action string // a key of settingsActions
	Arg    string // the item it changes (a passkey ID); may be empty
}

var (
	errPendingInvalid = errors.New("pending change: malformed or not signed for this user and browser")
	errPendingExpired = errors.New("pending change: expired")
)

// pendingMAC signs a pending change's payload for the user and the CSRF
// cookie of the browser that asked for it.
func (p *Pages) pendingMAC(r *http.Request, username, payload string) []byte {
	browser := ""
	if c, err := r.Cookie(csrfCookie); err == nil {
		browser = c.Value
	}
	return p.cookieMAC("step-up", username, browser, payload)
}

// signPending returns the hidden "pending" field for a: valid for
// stepUpWindow, for this user in this browser.
func (p *Pages) signPending(r *http.Request, username string, a pendingAction) string {
	exp := strconv.FormatInt(p.now().Add(stepUpWindow).Unix(), 10)
	payload := base64.RawURLEncoding.EncodeToString([]byte(a.Action + "\x00" + a.Arg + "\x00" + exp))
	return payload + "." + base64.RawURLEncoding.EncodeToString(p.pendingMAC(r, username, payload))
}

// decodePending reads a "pending" field without checking its signature
// (readPending does).
func decodePending(token string) (a pendingAction, expires time.Time, payload string, mac []byte, ok bool) {
	payload, sig, found := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if !found || err != nil {
		return a, expires, "", nil, false
	}
	if mac, err = base64.RawURLEncoding.DecodeString(sig); err != nil {
		return a, expires, "", nil, false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return a, expires, "", nil, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return a, expires, "", nil, false
	}
	return pendingAction{Action: parts[0], Arg: parts[1]}, time.Unix(exp, 0), payload, mac, true
}

// readPending checks a "pending" field: signed for this user and browser,
// not expired, a settings action that has a step-up.
func (p *Pages) readPending(r *http.Request, username, token string) (pendingAction, error) {
	a, expires, payload, mac, ok := decodePending(token)
	if !ok || !hmac.Equal(mac, p.pendingMAC(r, username, payload)) || settingsActions[a.Action].stepUp == "" {
		return pendingAction{}, errPendingInvalid
	}
	if p.now().After(expires) {
		return pendingAction{}, errPendingExpired
	}
	return a, nil
}

// stepUpFromForm is what a login or second-factor page shown again (after
// a wrong password or code, an ended session) carries on: the pending
// change of the form it answers, and why it was asked for. The signature
// is checked when the change is made.
func (p *Pages) stepUpFromForm(r *http.Request) ui.StepUp {
	token := r.PostForm.Get("pending")
	a, _, _, _, ok := decodePending(token)
	if !ok || settingsActions[a.Action].stepUp == "" {
		return ui.StepUp{}
	}
	return p.stepUpPage(r, a, token)
}

// stepUpPage is what the login and second-factor pages show for a step-up.
func (p *Pages) stepUpPage(r *http.Request, a pendingAction, token string) ui.StepUp {
	return ui.StepUp{
		Reason:    p.Localizer(r).T(settingsActions[a.Action].stepUp),
		Pending:   token,
		CancelURL: p.base + PathSettings,
	}
}

// steppedUp reports whether the session may make change a: a sign-in within
// stepUpWindow, with the second factor when the user has one. When not, it
// has asked for what is missing (a new sign-in first, then the second
// factor), carrying a, and reports false.
func (p *Pages) steppedUp(w http.ResponseWriter, r *http.Request, f pageForm, a pendingAction) bool {
	fresh := p.now().Sub(f.login.AuthTime) <= stepUpWindow
	strong := authn.IsTwoFactor(f.login.AMR) || !p.hasSecondFactor(r.Context(), f.user.Username)
	if fresh && strong {
		return true
	}
	su := p.stepUpPage(r, a, p.signPending(r, f.user.Username, a))
	if !fresh {
		p.renderLogin(w, r, http.StatusOK, nil, p.base+PathSettings, f.user.Username, "", su)
		return false
	}
	p.secondFactorStep(w, r, nil, f.user, p.base+PathSettings, "", su)
	return false
}

// resumeSettings carries on after a sign-in or second factor on the way
// back to the settings: with the change the form's "pending" field asks
// for, else to the settings page.
func (p *Pages) resumeSettings(w http.ResponseWriter, r *http.Request, f pageForm) {
	token := r.PostForm.Get("pending")
	if token == "" {
		http.Redirect(w, r, p.base+PathSettings, http.StatusSeeOther)
		return
	}
	a, err := p.readPending(r, f.user.Username, token)
	if err != nil {
		p.log.Info("pending settings change refused", zap.String("username", f.user.Username), zap.Error(err))
		p.RenderError(w, r, http.StatusBadRequest, "stepup.invalid", "stepup.invalid_desc", "")
		return
	}
	f.returnTo = p.base + PathSettings
	p.runSettingsAction(w, r, f, a)
}

// settingsDone answers a change made: back to the settings page, which
// says done (a known key of doneMessages), so that reloading it sends
// nothing again.
func (p *Pages) settingsDone(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, p.settingsURL(r, "done", done), http.StatusSeeOther) // settings_account.go
}

// doneMessages are the settings page's ?done= values and what it says.
var doneMessages = map[string]string{
	"totp_removed":     "settings.totp_removed",
	"passkey_removed":  "stepup.passkey_removed",
	"consent_revoked":  "settings.consent_revoked",
	"password_changed": "settings.password_changed",
	"passkey_renamed":  "account.passkey_renamed",
}

// renderConfirm asks the user to confirm a destructive change, naming what
// it removes; the form comes back with confirmed=1.
func (p *Pages) renderConfirm(w http.ResponseWriter, r *http.Request, f pageForm, a pendingAction) {
	loc := p.Localizer(r)
	page := ui.ConfirmPage{
		Action: p.settingsPath(r), CSRFToken: p.CSRFToken(w, r), Do: a.Action,
		CancelURL: p.settingsPath(r), // settings_account.go
	}
	switch a.Action {
	case "totp-remove":
		page.Question, page.Explain, page.Button = loc.T("stepup.confirm_totp_remove"), loc.T("stepup.explain_totp_remove"), loc.T("settings.totp_remove")
	case "recovery-generate":
		page.Question, page.Explain, page.Button = loc.T("stepup.confirm_recovery_generate"), loc.T("stepup.explain_recovery_generate"), loc.T("settings.recovery_generate")
	case "passkey-remove":
		name, ok := p.passkeyName(r, f.user.Username, a.Arg)
		if !ok {
			p.renderSettings(w, r, f.user, "", "passkey_api.no_such")
			return
		}
		page.Question, page.Explain, page.Button = loc.T("stepup.confirm_passkey_remove", "Name", name), loc.T("stepup.explain_passkey_remove"), loc.T("stepup.button_passkey_remove")
		page.ArgName, page.ArgValue = settingsActions[a.Action].arg, a.Arg
	case "consent-revoke":
		name := a.Arg
		if c := p.clients.Get(a.Arg); c != nil {
			name = c.DisplayName()
		}
		page.Question, page.Explain, page.Button = loc.T("stepup.confirm_consent_revoke", "Client", name), loc.T("stepup.explain_consent_revoke"), loc.T("stepup.button_consent_revoke")
		page.ArgName, page.ArgValue = settingsActions[a.Action].arg, a.Arg
	case "signout-everywhere":
		// The sign-out itself is the logout endpoint's.
		page.Action, page.Do, page.AllDevices = p.base+PathLogout, "", true
		page.Question, page.Explain, page.Button = loc.T("stepup.confirm_signout_everywhere"), loc.T("stepup.explain_signout_everywhere"), loc.T("settings.signout_everywhere")
	default:
		p.renderSettings(w, r, f.user, "", "settings.unknown_action")
		return
	}
	p.Render(w, r, http.StatusOK, page)
}

// passkeyName is the name of the user's passkey id, for the confirmation.
func (p *Pages) passkeyName(r *http.Request, username, id string) (string, bool) {
	if p.listPasskeys == nil || id == "" {
		return "", false
	}
	list, err := p.listPasskeys(r.Context(), username)
	if err != nil {
		p.log.Error("listing passkeys", zap.String("username", username), zap.Error(err))
		return "", false
	}
	for _, k := range list {
		if k.ID == id {
			return k.Name, true
		}
	}
	return "", false
}

// removePasskey removes one of the user's passkeys (the settings page's
// form; the JSON endpoint does the same for scripts).
func (p *Pages) removePasskey(w http.ResponseWriter, r *http.Request, f pageForm, id string) {
	p.changePasskey(w, r, f, id, passkeyChange{verb: "removed", failed: "stepup.passkey_remove_failed", done: "passkey_removed"},
		func(keys *authn.Passkeys) error { return keys.Delete(r.Context(), f.user.Username, id) })
}
