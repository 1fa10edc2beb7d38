package provider

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// introspectionAuthMethods are the client authentication methods the
// introspection endpoint accepts: confidential clients only (RFC 7662 2.1
// requires authorization, to prevent token scanning).
var introspectionAuthMethods = []string{clients.AuthMethodBasic, clients.AuthMethodPost}

// serveIntrospection is the token introspection endpoint (RFC 7662).
//
// fosite's NewIntrospectionRequest does not use the configured client
// authentication strategy: it accepts HTTP Basic only, compares the secret
// with fosite's own hasher (our clients keep theirs in a go-crypt digest),
// and also accepts any valid access token as a bearer credential, so any
// user's token could introspect every other token. We authenticate the
// client with the clients.Authenticator instead, and use fosite only to look the
// token up (IntrospectToken).
//
// Policy, stricter than RFC 7662 requires (RFC 7662 4 allows it):
//   - only confidential clients may call it; a public client gets
//     invalid_client;
//   - a client learns about a token only when the token was issued to it or
//     names it in its granted audience (a resource server); any other token
//     reads as {"active": false}, so a client cannot probe other clients'
//     tokens;
//   - a token whose user was removed or disabled is inactive, as it is at
//     userinfo and refresh;
//   - the response carries sub, never the username, and none of the user
//     claims kept in the session.
func (p *Provider) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !p.parseEndpointForm(w, r, "introspection") {
		return
	}
	client, err := p.clientAuth.Authenticate(ctx, r, r.PostForm)
	if err != nil {
		p.endpointError(w, r, "introspection", err)
		return
	}
	if client.IsPublic() {
		p.endpointError(w, r, "introspection", fosite.ErrInvalidClient.WithHint("Public clients cannot authenticate, and the introspection endpoint requires client authentication."))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		p.endpointError(w, r, "introspection", fosite.ErrInvalidRequest.WithHint("The 'token' parameter is missing."))
		return
	}

	resp, err := p.introspect(r, client, token, fosite.TokenUse(r.PostForm.Get("token_type_hint")))
	if err != nil {
		p.endpointError(w, r, "introspection", err)
		return
	}
	p.log.Info("token introspected", zap.String("client_id", client.GetID()), zap.Any("active", resp["active"]), zap.Any("token_use", resp["token_use"]))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if c, ok := client.(*clients.Client); ok && (c.IntrospectionSignedResponseAlg() != "" || acceptsSignedIntrospection(r)) {
		p.writeSignedIntrospection(w, r, c, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectionJWT is the media type of a signed introspection response
// (RFC 9701).
const introspectionJWT = "application/token-introspection+jwt"

// acceptsSignedIntrospection reports whether the caller asked for a signed
// introspection response (RFC 9701 4).
func acceptsSignedIntrospection(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(strings.TrimSpace(mt), introspectionJWT) {
			return true
		}
	}
	return false
}

// writeSignedIntrospection answers with an RFC 9701 JWT: iss, aud (the
// caller), iat and the response as token_introspection, signed with the
// client's introspection_signed_response_alg (RS256 when it asked with
// Accept and registered none).
func (p *Provider) writeSignedIntrospection(w http.ResponseWriter, r *http.Request, c *clients.Client, resp map[string]any) {
	alg := cmp.Or(c.IntrospectionSignedResponseAlg(), keys.RS256)
	claims := map[string]any{
		"iss":                 p.issuer,
		"aud":                 c.GetID(),
		"iat":                 p.now().Unix(),
		"token_introspection": resp,
	}
	token, err := p.keys.Sign(claims, alg, map[string]any{"typ": "token-introspection+jwt"})
	if err != nil {
		p.endpointError(w, r, "introspection", fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	w.Header().Set("Content-Type", introspectionJWT)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(token))
}

// introspect looks a token up for caller and returns the RFC 7662 response.
// Only a server error is returned as an error; every other failure is
// {"active": false}.
func (p *Provider) introspect(r *http.Request, caller fosite.Client, token string, hint fosite.TokenUse) (map[string]any, error) {
	inactive := map[string]any{"active": false}
	tu, ar, err := p.oauth2.IntrospectToken(r.Context(), token, hint, emptySession())
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			return nil, err
		}
		return inactive, nil
	}
	if !mayIntrospect(caller.GetID(), ar) {
		p.log.Info("introspection of another client's token answered inactive", zap.String("client_id", caller.GetID()), zap.String("token_client_id", ar.GetClient().GetID()))
		return inactive, nil
	}
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return nil, fosite.ErrServerError.WithDebug("introspection: the token's session is unreadable")
	}
	if u, err := p.users.Lookup(sess.Username); !isClientToken(ar) && (err != nil || u.Disabled) { // grants.go
		if err != nil && !errors.Is(err, users.ErrUserNotFound) {
			return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		return inactive, nil
	}

	resp := map[string]any{
		"active":    true,
		"iss":       p.issuer,
		"client_id": ar.GetClient().GetID(),
		"token_use": string(tu),
	}
	if tu == fosite.AccessToken {
		resp["token_type"] = fosite.BearerAccessToken
	}
	introspectDPoP(resp, tu, ar) // cnf.jkt (dpop.go)
	if scopes := ar.GetGrantedScopes(); len(scopes) > 0 {
		resp["scope"] = strings.Join(scopes, " ")
	}
	if sub := sess.GetSubject(); sub != "" {
		resp["sub"] = sub
	}
	if exp := sess.GetExpiresAt(tu); !exp.IsZero() {
		resp["exp"] = exp.Unix()
	}
	if iat := ar.GetRequestedAt(); !iat.IsZero() {
		resp["iat"] = iat.Unix()
	}
	if aud := ar.GetGrantedAudience(); len(aud) > 0 {
		resp["aud"] = []string(aud)
	}
	return resp, nil
}

// mayIntrospect reports whether the client caller may learn about a token of
// the grant ar: it was issued to caller, or names caller in its audience.
func mayIntrospect(caller string, ar fosite.Requester) bool {
	return ar.GetClient().GetID() == caller || slices.Contains(ar.GetGrantedAudience(), caller)
}

// parseEndpointForm parses the body of a back-channel request
// (introspection, revocation, PAR; the route table lets only POST through).
// On failure it has answered.
// Introspection and revocation read parameters from the body only: a token
// in a URL ends up in logs.
func (p *Provider) parseEndpointForm(w http.ResponseWriter, r *http.Request, endpoint string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseMultipartForm(1 << 20); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		p.endpointError(w, r, endpoint, fosite.ErrInvalidRequest.WithHint("Unable to parse the HTTP body; send a form (application/x-www-form-urlencoded)."))
		return false
	}
	return true
}

// endpointError writes an OAuth error as JSON for a back-channel endpoint
// and logs it. invalid_client gets 401, with a Basic challenge when the
// client used HTTP Basic (RFC 6749 5.2).
func (p *Provider) endpointError(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	rfc := fosite.ErrorToRFC6749Error(asUnavailable(err))
	fields := []zap.Field{zap.String("endpoint", endpoint), zap.String("error", rfc.ErrorField), zap.String("hint", rfc.HintField)}
	if rfc.CodeField >= 500 {
		p.log.Error("request failed", append(fields, zap.String("debug", rfc.DebugField), zap.Error(rfc.Cause()))...)
	} else {
		p.log.Info("request rejected", fields...)
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField {
		c := *rfc // fosite's errors are shared values: change a copy
		c.CodeField = http.StatusUnauthorized
		rfc = &c
		if _, _, basic := r.BasicAuth(); basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="`+endpoint+`", charset="UTF-8"`)
		}
	}
	p.oauth2.WriteAccessError(r.Context(), w, nil, rfc)
}
