package pages

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/i18n"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/ui"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// Render writes a page in r's language (Localizer), logging template
// failures.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, page any) {
	if err := p.ui.Render(w, r, status, page); err != nil {
		p.log.Error("rendering page", zap.Error(err))
	}
}

// Localizer is the language of the pages answering r: the ui_locales of
// its authorization request, else Accept-Language, else English. Use it to
// translate texts put into a page (package i18n).
func (p *Pages) Localizer(r *http.Request) *i18n.Localizer { return p.ui.Localizer(r) }

// RenderError writes the readable error page. title and desc are message
// IDs (package i18n) or, when no catalogue has them, text shown as it is.
func (p *Pages) RenderError(w http.ResponseWriter, r *http.Request, status int, title, desc, code string) {
	loc := p.Localizer(r)
	p.Render(w, r, status, ui.ErrorPage{Title: loc.T(title), Description: loc.T(desc), Code: code})
}

// RenderFailure answers a request that failed on our side because of err:
// when the database is unavailable for now, 503 and a page that says to try
// again in a moment (with Retry-After); otherwise 500 with desc (a message
// ID, or text). Neither shows anything of err; the caller logs it.
func (p *Pages) RenderFailure(w http.ResponseWriter, r *http.Request, err error, desc string) {
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", retryAfter)
		p.RenderError(w, r, http.StatusServiceUnavailable, "error.unavailable", "error.unavailable_desc", "temporarily_unavailable")
		return
	}
	p.RenderError(w, r, http.StatusInternalServerError, "error.heading", desc, "server_error")
}

// retryAfter is the Retry-After (seconds) sent while the database is down;
// the text is the message error.unavailable_desc.
const retryAfter = "5"

// RenderLogin shows the login page for an authorization request; msg is a
// message ID (or text) shown as the error. A step-up the form being answered
// carried goes on (stepup.go).
func (p *Pages) RenderLogin(w http.ResponseWriter, r *http.Request, status int, c *clients.Client, returnTo, username, msg string) {
	p.renderLogin(w, r, status, c, returnTo, username, msg, p.stepUpFromForm(r))
}

// renderLogin is RenderLogin for the step-up su.
func (p *Pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, c *clients.Client, returnTo, username, msg string, su ui.StepUp) {
	page := ui.LoginPage{
		Action:    p.base + PathLogin,
		CSRFToken: p.CSRFToken(w, r),
		ReturnTo:  returnTo,
		Username:  username,
		Error:     p.Localizer(r).T(msg),

		RememberMe:     p.rememberMeTTL > 0,
		Passkeys:       p.passkeysEnrolled != nil,
		WebAuthnBase:   p.base + PathWebAuthn,
		ContinueAction: p.base + PathContinue,
		StepUp:         su,
	}
	if c != nil {
		page.ClientName = c.DisplayName()
	}
	p.Render(w, r, status, page)
}

// humanDuration writes a consent duration for people: "30 days", "12 hours".
func humanDuration(loc *i18n.Localizer, d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return loc.N("duration.days", int(d/(24*time.Hour)))
	case d >= time.Hour && d%time.Hour == 0:
		return loc.N("duration.hours", int(d/time.Hour))
	case d >= time.Minute:
		return loc.N("duration.minutes", int(d/time.Minute))
	}
	return loc.N("duration.seconds", int(d/time.Second))
}

// RenderConsent shows the consent page for the requested scopes; the form
// goes back to returnTo.
func (p *Pages) RenderConsent(w http.ResponseWriter, r *http.Request, c *clients.Client, u *users.User, scopes []string, returnTo string) {
	loc := p.Localizer(r)
	page := ui.ConsentPage{
		ClientName: c.DisplayName(),
		ClientID:   c.GetID(),
		UserName:   u.DisplayName(),
		Action:     p.base + PathConsent,
		CSRFToken:  p.CSRFToken(w, r),
		ReturnTo:   returnTo,
	}
	if c.ConsentMode() == "pre-configured" {
		page.RememberFor = humanDuration(loc, c.ConsentDuration())
	}
	for _, s := range scopes {
		desc := loc.T("scope.unknown", "Scope", s)
		if id, ok := scopeDescriptions[s]; ok {
			desc = loc.T(id)
		}
		page.Scopes = append(page.Scopes, ui.Scope{Name: s, Description: desc})
	}
	p.Render(w, r, http.StatusOK, page)
}

// scopeDescriptions are the message IDs of the scopes' descriptions on the
// consent page.
var scopeDescriptions = map[string]string{
	"openid":         "scope.openid",
	"profile":        "scope.profile",
	"email":          "scope.email",
	"groups":         "scope.groups",
	"phone":          "scope.phone",
	"address":        "scope.address",
	"offline_access": "scope.offline_access",
}
