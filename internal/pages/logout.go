package pages

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/ui"
)

// ServeLogout shows the sign-out confirmation (GET) and signs out (POST).
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
		if r.PostForm.Get("all_devices") != "" {
			if login, err := p.CurrentLogin(r); err == nil && login != nil {
				if err := p.db.DeleteLoginSessionsOfUser(r.Context(), login.Username); err != nil {
					p.log.Error("ending every login session of the user", zap.Error(err))
				}
				p.log.Info("signed out on all devices", zap.String("username", login.Username))
				p.reportSignOut(r.Context(), login.Username, p.ClientIP(r), "all_devices")
			}
		} else if login, err := p.CurrentLogin(r); err == nil && login != nil {
			p.reportSignOut(r.Context(), login.Username, p.ClientIP(r), "")
		}
		if err := p.EndLogin(w, r); err != nil {
			p.log.Error("ending login session", zap.Error(err))
		}
		p.Render(w, r, http.StatusOK, ui.LogoutPage{Action: p.base + PathLogout, Done: true})
	}
}
