package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// userClaims are the claims about the user that the granted scopes release.
// They go into the ID token and into userinfo alike: several real clients
// read only one of the two.
func userClaims(u *users.User, scopes []string) map[string]any {
	claims := map[string]any{}
	if slices.Contains(scopes, "profile") {
		claims["name"] = u.DisplayName()
		claims["preferred_username"] = u.Username
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = true // the administrator wrote it in the users file
	}
	if slices.Contains(scopes, "groups") {
		groups := u.Groups
		if groups == nil {
			groups = []string{}
		}
		claims["groups"] = groups
	}
	return claims
}

// newSession builds the fosite session behind a grant: the ID token claims,
// the header that picks the signing key, and the username for userinfo and
// refresh.
func (p *Provider) newSession(ctx context.Context, c *Client, u *users.User, login *store.LoginSession, scopes []string, requestedAt time.Time) (*openid.DefaultSession, error) {
	sub, err := p.subject(ctx, c, u.Username)
	if err != nil {
		return nil, fmt.Errorf("subject for user: %w", err)
	}
	extra := p.idTokenClaims(c, u, scopes)
	extra["azp"] = c.ID
	return &openid.DefaultSession{
		Claims: &jwt.IDTokenClaims{
			Issuer:                              p.issuer,
			Subject:                             sub,
			AuthTime:                            login.AuthTime,
			RequestedAt:                         requestedAt,
			AuthenticationMethodsReferences:     login.AMR,
			AuthenticationContextClassReference: acr(login.AMR),
			Extra:                               extra,
		},
		Headers:  &jwt.Headers{Extra: map[string]any{"alg": c.IDTokenAlg}},
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
