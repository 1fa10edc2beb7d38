package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// jwtAccessTokenType is the typ header of RFC 9068 access tokens.
const jwtAccessTokenType = "at+jwt"

// tokenStrategy is fosite's CoreStrategy with access tokens chosen per
// client: opaque HMAC tokens (the default), or RFC 9068 JWTs signed with our
// keys for clients with access_token_signed_response_alg. Refresh tokens and
// codes are always HMAC tokens. A JWT access token is stored under its JWS
// signature like any other token, so revocation, introspection and userinfo
// work the same for both kinds; validation tells them apart by their shape
// (a JWT has two dots, an HMAC token one).
type tokenStrategy struct {
	oauth2.CoreStrategy // the HMAC strategy
	p                   *Provider
}

func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// AccessTokenSignature implements oauth2.AccessTokenStrategy.
func (s *tokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return token[strings.LastIndexByte(token, '.')+1:]
	}
	return s.CoreStrategy.AccessTokenSignature(ctx, token)
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s *tokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	c, ok := r.GetClient().(*clients.Client)
	if !ok || c.AccessTokenAlg() == "" {
		return s.CoreStrategy.GenerateAccessToken(ctx, r)
	}
	token, err := s.p.jwtAccessToken(ctx, c, r)
	if err != nil {
		return "", "", fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return token, s.AccessTokenSignature(ctx, token), nil
}

// ValidateAccessToken implements oauth2.AccessTokenStrategy. r is the stored
// request the token's signature named.
func (s *tokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if !isJWT(token) {
		return s.CoreStrategy.ValidateAccessToken(ctx, r, token)
	}
	claims, err := s.p.keys.Verify(token)
	if err != nil {
		return fosite.ErrTokenSignatureMismatch.WithWrap(err).WithDebug(err.Error())
	}
	if typ, _ := jwtHeaderValue(token, "typ").(string); !strings.EqualFold(typ, jwtAccessTokenType) && !strings.EqualFold(typ, "application/"+jwtAccessTokenType) {
		return fosite.ErrInvalidTokenFormat.WithHint("The token is not a JWT access token.")
	}
	now := s.p.now().UTC()
	exp, _ := claims["exp"].(float64)
	if exp == 0 || time.Unix(int64(exp), 0).Before(now) {
		return fosite.ErrTokenExpired.WithHint("The access token expired.")
	}
	if e := r.GetSession().GetExpiresAt(fosite.AccessToken); !e.IsZero() && e.Before(now) {
		return fosite.ErrTokenExpired.WithHintf("Access token expired at '%s'.", e)
	}
	return nil
}

// jwtAccessToken builds and signs an RFC 9068 access token: iss, sub, aud
// (the client and the granted audience), client_id, exp, iat, jti, scope,
// and auth_time, acr, amr when a user signed in, plus the claims the
// client's claims policy adds. On refresh the session keeps the original
// sign-in, so auth_time stays that of the sign-in while iat is the new
// token's.
func (p *Provider) jwtAccessToken(ctx context.Context, c *clients.Client, r fosite.Requester) (string, error) {
	now := p.now().UTC()
	sess := r.GetSession()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(c.GetEffectiveLifespan(fosite.GrantTypeAuthorizationCode, fosite.AccessToken, p.fosite.GetAccessTokenLifespan(ctx)))
	}
	aud := []string{c.GetID()}
	for _, a := range r.GetGrantedAudience() {
		if !slices.Contains(aud, a) {
			aud = append(aud, a)
		}
	}
	claims := map[string]any{}
	username := ""
	if os, ok := sess.(*openid.DefaultSession); ok {
		username = os.Username
		if username != "" && c.ClaimsPolicy() != nil && len(c.ClaimsPolicy().AccessToken) > 0 {
			if u, err := p.users.Lookup(username); err == nil {
				for k, v := range p.claims.AccessToken(c.ClaimsPolicy(), u, r.GetGrantedScopes()) {
					claims[k] = v
				}
			}
		}
		if ic := os.Claims; ic != nil && username != "" {
			if !ic.AuthTime.IsZero() {
				claims["auth_time"] = ic.AuthTime.Unix()
			}
			if ic.AuthenticationContextClassReference != "" {
				claims["acr"] = ic.AuthenticationContextClassReference
			}
			if len(ic.AuthenticationMethodsReferences) > 0 {
				claims["amr"] = ic.AuthenticationMethodsReferences
			}
		}
	}
	sub := sess.GetSubject()
	if sub == "" {
		sub = c.GetID() // RFC 9068 2.2: no resource owner, the client is the subject
	}
	claims["iss"] = p.issuer
	claims["sub"] = sub
	claims["aud"] = aud
	claims["client_id"] = c.GetID()
	claims["exp"] = exp.Unix()
	claims["iat"] = now.Unix()
	claims["jti"] = randomToken()
	addConfirmation(claims, sess) // cnf.jkt (dpop.go)
	if scopes := r.GetGrantedScopes(); len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	return p.keys.Sign(claims, c.AccessTokenAlg(), map[string]any{"typ": jwtAccessTokenType})
}

// jwtHeaderValue reads one member of a compact JWT's header, unverified.
func jwtHeaderValue(token, name string) any {
	part, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil
	}
	var h map[string]any
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	return h[name]
}

var _ oauth2.CoreStrategy = (*tokenStrategy)(nil)
