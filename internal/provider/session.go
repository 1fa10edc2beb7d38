package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// newSession builds the fosite session behind a grant: the ID token claims,
// the header that picks the signing key, and the username for userinfo and
// refresh.
func (p *Provider) newSession(ctx context.Context, c *clients.Client, u *users.User, login *store.LoginSession, scopes []string, requestedAt time.Time) (*openid.DefaultSession, error) {
	sub, err := p.subject(ctx, c, u.Username)
	if err != nil {
		return nil, fmt.Errorf("subject for user: %w", err)
	}
	extra := p.claims.IDToken(c.ClaimsPolicy(), u, scopes)
	extra["azp"] = c.GetID()
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Issuer:                              p.issuer,
			Subject:                             sub,
			AuthTime:                            login.AuthTime,
			RequestedAt:                         requestedAt,
			AuthenticationMethodsReferences:     authn.WithMFA(login.AMR),
			AuthenticationContextClassReference: acr(login.AMR),
			Extra:                               extra,
		},
		Headers:  &jwt.Headers{Extra: map[string]any{"alg": c.IDTokenAlg()}},
		Subject:  sub,
		Username: u.Username,
	}, nil
}

// acr names the strength of the authentication: "2" for two factors (or a
// passkey with user verification), "1" for one. Clients that ask with
// acr_values can compare it; the amr claim lists the methods.
func acr(amr []string) string {
	if authn.IsTwoFactor(amr) {
		return "2"
	}
	return "1"
}

// emptySession is what fosite fills from storage.
func emptySession() *openid.DefaultSession {
	return &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}
}

// subject returns the sub of username for client c: pairwise within the
// client's sector, public without one (or without a client).
func (p *Provider) subject(ctx context.Context, c *clients.Client, username string) (string, error) {
	sector := ""
	if c != nil {
		sector = c.Sector()
	}
	return p.db.Subject(ctx, username, sector)
}
