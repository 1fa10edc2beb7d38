package pages

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// ServeConsent takes the consent page's decision and finishes the request.
func (p *Pages) ServeConsent(w http.ResponseWriter, r *http.Request) {
	if !p.formOK(w, r, "retry.sign_in") {
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		p.RenderError(w, r, http.StatusBadRequest, "error.unknown_choice", "error.consent_form_incomplete", "invalid_request")
		return
	}
	ar, ok := p.resume(r, r.PostForm.Get("return_to"))
	if !ok {
		p.RenderError(w, r, http.StatusBadRequest, "error.link_invalid", "error.consent_form_invalid", "invalid_request")
		return
	}
	login, err := p.CurrentLogin(r)
	if err != nil {
		p.log.Error("loading login session", zap.Error(err))
		p.RenderFailure(w, r, err, "failure.read_session")
		return
	}
	p.authorize(w, ar, Flow{Login: login, Decision: decision, Remember: r.PostForm.Get("remember") != ""})
}

// Consented reports whether the client may skip the consent page: implicit
// consent, or a remembered consent of this user for exactly these scopes and
// audience.
func (p *Pages) Consented(ctx context.Context, c *clients.Client, username string, scopes, audience []string) bool {
	switch c.ConsentMode() {
	case "implicit":
		return true
	case "pre-configured":
		rc, err := p.db.GetConsent(ctx, username, c.GetID(), p.now())
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				p.log.Error("reading remembered consent", zap.Error(err))
			}
			return false
		}
		return sameSet(rc.Scopes, scopes) && sameSet(rc.Audience, audience)
	}
	return false
}

// sameSet compares two lists as sets.
func sameSet(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// RememberConsent keeps an allow decision the user asked to remember, for
// the client's pre-configured consent duration; other clients remember
// nothing.
func (p *Pages) RememberConsent(ctx context.Context, c *clients.Client, username string, scopes, audience []string) {
	if c.ConsentMode() != "pre-configured" {
		return
	}
	now := p.now()
	if err := p.db.PutConsent(ctx, store.Consent{
		Username: username, ClientID: c.GetID(), Scopes: scopes, Audience: audience,
		GrantedAt: now, ExpiresAt: now.Add(c.ConsentDuration()),
	}); err != nil {
		p.log.Error("remembering consent", zap.Error(err))
	}
}
