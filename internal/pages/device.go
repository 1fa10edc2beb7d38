package pages

import (
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// PathDevice is the device sign-in page (RFC 8628's verification URI,
// Authelia's path): the user types the code their TV or command-line tool
// shows, or arrives with it filled in from verification_uri_complete.
const PathDevice = "/consent/openid/device-authorization"

// ServeDevice shows the user-code form (GET, the code prefilled from the
// user_code parameter) or takes it (POST) and hands it to the provider as a
// resumed request carrying the user code: the provider then runs sign-in,
// second factor, policy and consent as for a browser flow. The form always
// needs a click, so a link alone approves nothing.
func (p *Pages) ServeDevice(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost { // GET, HEAD
		p.RenderDevice(w, r, http.StatusOK, r.URL.Query().Get("user_code"), "")
		return
	}
	if !p.formOK(w, r, "retry.device") {
		return
	}
	next, _ := p.resume(r, p.authorizePath+"?"+url.Values{"user_code": {r.PostForm.Get("user_code")}}.Encode())
	login, err := p.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.read_session")
		return
	}
	p.authorize(w, next, Flow{Login: login})
}

// RenderDevice shows the user-code form with a code and a message (msg, a
// message ID; empty: none).
func (p *Pages) RenderDevice(w http.ResponseWriter, r *http.Request, status int, userCode, msg string) {
	if len(userCode) > 32 {
		userCode = "" // not one of ours; do not echo a long string
	}
	p.Render(w, r, status, ui.DevicePage{
		Action:    p.base + PathDevice,
		CSRFToken: p.CSRFToken(w, r),
		UserCode:  userCode,
		Error:     p.Localizer(r).T(msg),
	})
}

// RenderDeviceDone tells the user their decision reached the device.
func (p *Pages) RenderDeviceDone(w http.ResponseWriter, r *http.Request, c *clients.Client, approved bool) {
	p.Render(w, r, http.StatusOK, ui.DevicePage{Done: true, Approved: approved, ClientName: c.DisplayName()})
}
