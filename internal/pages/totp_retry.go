package pages

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// What the enrolment page says after a wrong code (message IDs).
const (
	msgTOTPRetrySameKey = "totp_enroll.error_same_key"
	msgTOTPRetryNewKey  = "totp_enroll.error_code"
)

// enrollExtras fills what renderTOTPEnroll's page needs besides the key:
// the proof that lets a retry show the same key, and, for an enrolment the
// user chose on the settings page, a Cancel link back there.
func (p *Pages) enrollExtras(page *ui.TOTPEnrollPage, e authn.Enrollment) {
	page.Enrollment = e.Proof
	if page.ClientName == "" && page.ReturnTo == p.base+PathSettings {
		page.CancelURL = p.base + PathSettings
	}
}

// retryTOTPEnroll answers a wrong confirmation code: the same key again when
// the form proves it showed that key (a mistyped code must not make the user
// scan again), else a new one, as before.
func (p *Pages) retryTOTPEnroll(w http.ResponseWriter, r *http.Request, f pageForm) {
	e, ok, err := p.totp.PendingEnrollment(r.Context(), f.user.Username, r.PostForm.Get("enrollment"))
	if err != nil {
		p.log.Error("reading the pending authenticator secret", zap.String("username", f.user.Username), zap.Error(err))
	}
	if !ok {
		p.renderTOTPEnroll(w, r, f.client, f.user, f.returnTo, msgTOTPRetryNewKey)
		return
	}
	page := ui.TOTPEnrollPage{
		UserName:  f.user.DisplayName(),
		QRCode:    template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
		Secret:    e.Secret,
		Action:    p.base + PathTOTPEnroll,
		CSRFToken: p.CSRFToken(w, r),
		ReturnTo:  f.returnTo,
		Error:     p.Localizer(r).T(msgTOTPRetrySameKey),
	}
	if f.client != nil {
		page.ClientName = f.client.DisplayName()
	}
	p.enrollExtras(&page, e)
	p.Render(w, r, http.StatusOK, page)
}
