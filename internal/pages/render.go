package pages

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Render writes a page, logging template failures.
func (p *Pages) Render(w http.ResponseWriter, status int, page any) {
	if err := p.ui.Render(w, status, page); err != nil {
		p.log.Error("rendering page", zap.Error(err))
	}
}

// RenderError writes the readable error page.
func (p *Pages) RenderError(w http.ResponseWriter, status int, title, desc, code string) {
	p.Render(w, status, ui.ErrorPage{Title: title, Description: desc, Code: code})
}

// RenderFailure answers a request that failed on our side because of err:
// when the database is unavailable for now, 503 and a page that says to try
// again in a moment (with Retry-After); otherwise 500 with desc. Neither
// shows anything of err; the caller logs it.
func (p *Pages) RenderFailure(w http.ResponseWriter, err error, desc string) {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", retryAfter)
		p.RenderError(w, http.StatusServiceUnavailable, "Temporarily unavailable", unavailableText, "temporarily_unavailable")
		return
	}
	p.RenderError(w, http.StatusInternalServerError, "Something went wrong", desc, "server_error")
}

// What a person (or a passkey script) is told while the database is down.
const (
	unavailableText = "The sign-in service cannot reach its database right now. Please try again in a moment."
	retryAfter      = "5" // seconds
)

// RenderLogin shows the login page for an authorization request.
func (p *Pages) RenderLogin(w http.ResponseWriter, r *http.Request, status int, c *clients.Client, returnTo, username, msg string) {
	page := ui.LoginPage{
		Action:    p.base + PathLogin,
		CSRFToken: p.CSRFToken(w, r),
		ReturnTo:  returnTo,
		Username:  username,
		Error:     msg,

		RememberMe:     p.rememberMeTTL > 0,
		Passkeys:       p.passkeysEnrolled != nil,
		WebAuthnBase:   p.base + PathWebAuthn,
		ContinueAction: p.base + PathContinue,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	p.Render(w, status, page)
}

// humanDuration writes a consent duration for people: "30 days", "12 hours".
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return plural(int64(d/time.Minute), "minute")
	}
	return plural(int64(d/time.Second), "second")
}

// RenderConsent shows the consent page for the requested scopes; the form
// goes back to returnTo.
func (p *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, scopes []string, returnTo string) {
	page := ui.ConsentPage{
		ClientName: c.DisplayName(),
		ClientID:   c.GetID(),
		UserName:   u.DisplayName(),
		Action:     p.base + PathConsent,
		CSRFToken:  p.CSRFToken(w, r),
		ReturnTo:   returnTo,
	}
	if c.ConsentMode() == "pre-configured" {
		page.RememberFor = humanDuration(c.ConsentDuration())
	}
	for _, s := range scopes {
		desc, ok := scopeDescriptions[s]
		if !ok {
			desc = "Access to " + s
		}
		page.Scopes = append(page.Scopes, ui.Scope{Name: s, Description: desc})
	}
	p.Render(w, http.StatusOK, page)
}

// scopeDescriptions are shown on the consent page.
var scopeDescriptions = map[string]string{
	"openid":         "Sign you in with your account",
	"profile":        "Your name, username and profile details",
	"email":          "Your email address",
	"groups":         "The groups you belong to",
	"phone":          "Your phone number",
	"address":        "Your postal address",
	"offline_access": "Stay signed in to the application (refresh tokens)",
}
