package pages

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// ServeLogin shows the login page (GET) or checks the credentials (POST) and
// continues the authorization request.
func (p *Pages) ServeLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost { // GET, HEAD
		returnTo := r.URL.Query().Get("return_to")
		if _, ok := p.resume(r, returnTo); !ok {
			returnTo = p.base + PathSettings
		}
		p.RenderLogin(w, r, http.StatusOK, nil, returnTo, "", "")
		return
	}
	if !p.formOK(w, r, "retry.sign_in") {
		return
	}
	returnTo := r.PostForm.Get("return_to")
	next, ok := p.resume(r, returnTo)
	if returnTo == p.base+PathSettings {
		ok = true
	}
	if returnTo != "" && !ok {
		p.RenderError(w, r, http.StatusBadRequest, "error.link_invalid", "error.login_form_invalid", "invalid_request")
		return
	}
	var client *clients.Client
	if next != nil {
		if id := next.URL.Query().Get("client_id"); id != "" {
			client = p.clients.Get(id)
		}
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	ctx, now, ip := r.Context(), p.now(), p.ClientIP(r)
	begin := time.Now()
	banned := p.regulator.Check(ctx, username, ip, now)
	// The password is checked even when banned, so that a ban looks and
	// takes exactly like a wrong password: usernames cannot be probed.
	start := time.Now()
	user, err := p.users.Authenticate(username, r.PostForm.Get("password"))
	p.tel.Metrics.DigestVerified(telemetry.DigestUserPassword, time.Since(start))
	if errors.Is(err, users.ErrUnavailable) {
		// Not a failed attempt: nothing is recorded, and the person is
		// told to come back rather than that the password was wrong.
		p.log.Warn("user directory unavailable", zap.Error(err))
		p.renderDirectoryUnavailable(w, r)
		return
	}
	if banned == nil && !errors.Is(err, users.ErrInvalidCredentials) && err != nil {
		p.log.Error("authenticating user", zap.Error(err))
	}
	if banned == nil {
		if regErr := p.regulator.Record(ctx, username, ip, "password", err == nil, now); regErr != nil {
			p.log.Error("recording attempt", zap.Error(regErr))
		}
	}
	if banned != nil || err != nil {
		if banned != nil {
			p.LogBan(banned, username, ip)
			p.reportSignIn(r, telemetry.MethodPassword, telemetry.ResultBanned, username, client)
		} else {
			p.log.Info("login failed", zap.String("username", username), zap.String("remote_ip", ip))
			p.reportSignIn(r, telemetry.MethodPassword, telemetry.ResultFailure, username, client)
		}
		p.PadFailure(begin, banned == nil)
		p.RenderLogin(w, r, http.StatusUnauthorized, client, returnTo, username, "login.error_credentials")
		return
	}
	login, err := p.startLogin(w, r, user.Username, []string{"pwd"}, r.PostForm.Get("remember_me") != "" && p.rememberMeTTL > 0)
	if err != nil {
		p.log.Error("creating login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.save_session")
		return
	}
	p.log.Info("login succeeded", zap.String("username", user.Username))
	p.reportSignIn(r, telemetry.MethodPassword, telemetry.ResultSuccess, user.Username, client)
	if next == nil { // to the settings, with the change a step-up was for (stepup.go)
		p.resumeSettings(w, r, pageForm{login: login, user: user, returnTo: p.base + PathSettings})
		return
	}
	p.authorize(w, next, Flow{Login: login, Fresh: true})
}

// resume rebuilds the authorization request a page form refers to. It accepts
// only our own authorization endpoint, so it cannot become an open redirect.
func (p *Pages) resume(r *http.Request, returnTo string) (*http.Request, bool) {
	u, err := url.Parse(returnTo)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != p.authorizePath || u.Fragment != "" {
		return nil, false
	}
	ar := r.Clone(r.Context())
	ar.Method = http.MethodGet
	ar.URL = &url.URL{Path: u.Path, RawQuery: u.RawQuery}
	ar.RequestURI = u.RequestURI()
	ar.Body = http.NoBody
	ar.ContentLength = 0
	ar.Header.Del("Content-Type")
	ar.Form, ar.PostForm, ar.MultipartForm = nil, nil, nil
	return ar, true
}
