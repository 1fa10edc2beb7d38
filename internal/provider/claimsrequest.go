package provider

import (
	"context"
	"slices"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/claims"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// applyClaimsRequest parses the authorization request's claims parameter
// (OpenID Connect Core 5.5; from the request object too) and adds to the
// requested scopes those that release its essential claims, among the
// client's scopes: the user consents to them like to any other scope, and
// once granted they release the claims. A malformed parameter is
// invalid_request.
func (p *Provider) applyClaimsRequest(ar fosite.AuthorizeRequester, c *clients.Client) (*claims.Request, error) {
	req, err := claims.ParseRequest(ar.GetRequestForm().Get("claims"))
	if err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The 'claims' parameter is malformed.").WithDebug(err.Error())
	}
	for _, s := range p.claims.EssentialScopes(req, c.GetScopes(), ar.GetRequestedScopes()) {
		ar.AppendRequestedScope(s)
	}
	// requested_audience_mode implicit: a request naming no audience asks
	// for every registered one (the user consents to them).
	if aud := c.ImplicitAudience(ar.GetRequestedAudience()); aud != nil {
		ar.SetRequestedAudience(aud)
	}
	return req, nil
}

// acrLevel raises the level the authorization policy requires to meet an
// essential acr request: "2" (two factors) steps up to two-factor
// authentication, "1" is met by any sign-in. Essential values the provider
// never issues cannot be met: access_denied (OpenID Connect Core 5.5.1.1).
func acrLevel(level authn.Level, req *claims.Request) (authn.Level, error) {
	values, essential := req.ACR()
	switch {
	case !essential || len(values) == 0 || slices.Contains(values, "1"):
		return level, nil
	case slices.Contains(values, "2"):
		return max(level, authn.TwoFactor), nil
	}
	return level, fosite.ErrAccessDenied.WithHint("The essential acr values requested cannot be met: this provider issues 1 (one factor) and 2 (two factors).")
}

// addRequestedClaims puts in the ID token the claims the claims parameter
// asks for there, that the granted scopes release, even when the client's
// claims policy leaves them out of ID tokens.
// Under id_token_audience_mode experimental-merged, the ID token's aud
// lists the granted audiences after the client.
func (p *Provider) addRequestedClaims(sess *openid.DefaultSession, c *clients.Client, u *users.User, ar fosite.Requester, req *claims.Request) {
	for k, v := range p.claims.RequestedIDToken(c.ClaimsPolicy(), u, ar.GetGrantedScopes(), req) {
		sess.Claims.Extra[k] = v
	}
	if c.ClaimsPolicy().MergedIDTokenAudience() {
		sess.Claims.Audience = append([]string{c.GetID()}, ar.GetGrantedAudience()...)
	}
}

// keepRequestedClaims carries into a refreshed ID token the user claims
// the previous one had beyond the claims policy (those the claims
// parameter asked for), with current values, when still released.
func (p *Provider) keepRequestedClaims(previous, extra map[string]any, c *clients.Client, u *users.User, scopes []string) {
	if len(previous) == 0 {
		return
	}
	released := p.claims.Released(c.ClaimsPolicy(), u, scopes)
	for k := range previous {
		if _, done := extra[k]; done {
			continue
		}
		if v, ok := released[k]; ok {
			extra[k] = v
		}
	}
}

// idTokenSigner signs ID tokens without fosite's rat (requested at)
// claim, which no specification defines and nobody asked for; fosite
// still uses the requested time for its max_age and prompt checks.
type idTokenSigner struct{ jwt.Signer }

// Generate implements jwt.Signer.
func (s idTokenSigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	delete(claims, "rat")
	return s.Signer.Generate(ctx, claims, header)
}
