package pages

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// passwordChanger is the user backend's password change, or nil when the
// backend offers none (or it is disabled).
func (p *Pages) passwordChanger() users.PasswordChanger {
	c, _ := p.users.(users.PasswordChanger)
	return c
}

// changePassword handles the settings page's password form: it asks for the
// current password, is regulated like a sign-in (a wrong current password
// counts as a failure, a ban refuses without trying), and answers a ban
// exactly like a wrong current password.
func (p *Pages) changePassword(w http.ResponseWriter, r *http.Request, f pageForm) {
	pc := p.passwordChanger()
	if pc == nil {
		p.renderSettings(w, r, f.user, "", "settings.password_unavailable")
		return
	}
	current := r.PostForm.Get("current_password")
	next := r.PostForm.Get("new_password")
	if next == "" || next != r.PostForm.Get("new_password_confirm") {
		p.renderSettings(w, r, f.user, "", "settings.password_mismatch")
		return
	}
	if next == current {
		p.renderSettings(w, r, f.user, "", "settings.password_same")
		return
	}
	username := f.user.Username
	ctx, now, ip := r.Context(), p.now(), p.ClientIP(r)
	begin := time.Now()
	const wrong = "settings.password_wrong"
	if banned := p.regulator.Check(ctx, username, ip, now); banned != nil {
		p.LogBan(banned, username, ip)
		p.PadFailure(begin, false)
		p.renderSettings(w, r, f.user, "", wrong)
		return
	}
	err := pc.ChangePassword(username, current, next)
	switch {
	case errors.Is(err, users.ErrUnavailable):
		p.log.Warn("user directory unavailable", zap.Error(err))
		p.renderDirectoryUnavailable(w, r)
	case errors.Is(err, users.ErrInvalidCredentials):
		if regErr := p.regulator.Record(ctx, username, ip, "password", false, now); regErr != nil {
			p.log.Error("recording attempt", zap.Error(regErr))
		}
		p.log.Info("password change refused: wrong current password", zap.String("username", username), zap.String("remote_ip", ip))
		p.PadFailure(begin, true)
		p.renderSettings(w, r, f.user, "", wrong)
	case errors.Is(err, users.ErrPasswordRejected):
		p.log.Info("password change refused by policy", zap.String("username", username), zap.Error(err))
		p.renderSettings(w, r, f.user, "", "settings.password_rejected")
	case err != nil:
		p.log.Error("changing password", zap.String("username", username), zap.Error(err))
		p.RenderFailure(w, r, err, "settings.password_failed")
	default:
		if regErr := p.regulator.Record(ctx, username, ip, "password", true, now); regErr != nil {
			p.log.Error("recording attempt", zap.Error(regErr))
		}
		p.log.Info("password changed", zap.String("username", username), zap.String("remote_ip", ip))
		p.settingsDone(w, r, "password_changed") // stepup.go
	}
}
