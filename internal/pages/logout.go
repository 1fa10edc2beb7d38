package pages

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// ServeLogout shows the sign-out confirmation (GET) and signs out (POST):
// this browser's session, or with all_devices every session of the user.
// The signed-out page loads the front-channel logout URLs of the clients
// that took part in the ended sessions; the back-channel ones are told in
// the background.
func (p *Pages) ServeLogout(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		page := ui.LogoutPage{Action: p.base + PathLogout, CSRFToken: p.CSRFToken(w, r)}
		if login, err := p.CurrentLogin(r); err == nil && login != nil {
			page.UserName = login.Username
			if u, err := p.users.Lookup(login.Username); err == nil {
				page.UserName = u.DisplayName()
			}
		}
		p.Render(w, r, http.StatusOK, page)
	case http.MethodPost:
		if !p.formOK(w, r, "retry.reload") {
			return
		}
		allDevices := r.PostForm.Get("all_devices") != ""
		login, _ := p.CurrentLogin(r)
		ended, err := p.SignOut(w, r, allDevices)
		if err != nil {
			p.log.Error("ending login session", zap.Error(err))
		}
		if login != nil {
			reason := ""
			if allDevices {
				reason = ReasonAllDevices
				p.log.Info("signed out on all devices", zap.String("username", login.Username), zap.Int("sessions", len(ended)))
			}
			p.reportSignOut(r.Context(), login.Username, p.ClientIP(r), reason)
		}
		page := ui.LogoutPage{Action: p.base + PathLogout, Done: true}
		page.FrontchannelURLs, page.FrameOrigins = p.FrontchannelFrames(ended)
		p.Render(w, r, http.StatusOK, page)
	}
}
