package provider

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/bufpool"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/sessionjson"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// serveToken is the token endpoint: authorization_code, refresh_token,
// client_credentials and password.
//
// A code exchange commits once: deleting the code's PKCE and OpenID Connect
// records rides on the transaction that invalidates the code and stores the
// tokens (store.WithDeferredDeletes). What that transaction did not take
// runs before the answer whatever the outcome, so a wrong code_verifier
// still burns the code's PKCE record.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	ctx := store.WithDeferredDeletes(r.Context())
	p.setDPoPNonce(w) // dpop.go
	ar, resp, err := p.issueToken(ctx, r)
	if ferr := p.storage.FlushDeferred(ctx); ferr != nil {
		if err == nil {
			err = ferr
		} else {
			p.log.Error("token request: cleaning up the code's records", zap.Error(ferr))
		}
	}
	if err != nil {
		p.tokenError(w, r, ar, err)
		return
	}
	p.log.Info("token issued", zap.String("client_id", ar.GetClient().GetID()), zap.Strings("grant_type", ar.GetGrantTypes()))
	p.reportToken(ctx, r, ar)
	p.writeAccessResponse(ctx, w, ar, resp)
}

// writeAccessResponse writes a token response as fosite's
// WriteAccessResponse does, the same headers and the same JSON bytes, with
// sessionjson's encoder instead of encoding/json's reflection (which cost
// about 30 000 instructions and 3 KB of garbage a response).
func (p *Provider) writeAccessResponse(ctx context.Context, w http.ResponseWriter, ar fosite.AccessRequester, resp fosite.AccessResponder) {
	buf := bufpool.Get()
	defer bufpool.Put(buf)
	var err error
	if *buf, err = sessionjson.AppendObject(*buf, resp.ToMap()); err != nil {
		p.oauth2.WriteAccessResponse(ctx, w, ar, resp) // fosite's answer to what cannot be encoded
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*buf) // which must not keep it (io.Writer)
}

// issueToken validates a token request and stores and returns its tokens;
// ar is nil when the request could not be parsed.
func (p *Provider) issueToken(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	proof, err := p.tokenProof(ctx, r) // DPoP (dpop.go)
	if err != nil {
		return nil, nil, err
	}
	sess := emptySession()
	ar, err := p.oauth2.NewAccessRequest(ctx, r, sess)
	if err != nil {
		return ar, nil, err
	}
	if err := p.bindDPoP(ar, proof); err != nil {
		return ar, nil, err
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		if err := p.refreshClaims(ar); err != nil {
			p.revokeOfGoneUser(ctx, ar, err) // usergone.go
			return ar, nil, err
		}
	}
	if ar.GetGrantTypes().ExactOne("authorization_code") {
		// The code grant's transaction takes the code's ID token request
		// too, if it has one (fosite grants the scopes only later).
		store.TakeOpenIDConnectSession(ctx, ar.GetRequestForm().Get("code"))
	}
	// fosite grants nothing itself to the grants without a browser (grants.go).
	switch gt := ar.GetGrantTypes(); {
	case gt.ExactOne(clients.GrantClientCredentials):
		ar.SetID(newRequestID())
		err = grantClientCredentials(ar)
	case gt.ExactOne(clients.GrantPassword):
		err = p.passwordGrant(ctx, ar)
	}
	if err != nil {
		return ar, nil, err
	}
	if err := tokenResources(ar); err != nil { // RFC 8707 (resource.go)
		return ar, nil, err
	}
	resp, err := p.oauth2.NewAccessResponse(ctx, ar)
	if err != nil {
		if lostRace(err) {
			err = p.revokeRaced(ctx, ar, err)
		}
		return ar, nil, err
	}
	dpopTokenResponse(ar, resp)
	return ar, resp, nil
}

// lostRace reports whether a code or refresh token exchange failed because
// another request (on this instance or another one sharing the database)
// redeemed the same code or refresh token between fosite's read and our
// write: the store refuses the second invalidation.
func lostRace(err error) bool {
	return errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) || errors.Is(err, fosite.ErrSerializationFailure)
}

// revokeRaced answers the loser of such a race as a replay: the same code or
// refresh token used twice means one of the two users may be an attacker
// (RFC 6749 4.1.2, RFC 9700 4.14.2), so the whole grant is revoked (every
// token the winner just received too) and the loser gets invalid_grant. The
// winner committed before our write was refused, so its tokens are there to
// revoke.
func (p *Provider) revokeRaced(ctx context.Context, ar fosite.AccessRequester, err error) error {
	what := "authorization code"
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		what = "refresh token"
	}
	fields := []zap.Field{zap.String("client_id", ar.GetClient().GetID()), zap.String("grant_type", what)}
	if rerr := p.storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
		p.log.Error("revoking a grant after concurrent use", append(fields, zap.Error(rerr))...)
		return asUnavailable(rerr)
	}
	if rerr := p.storage.RevokeAccessToken(ctx, ar.GetID()); rerr != nil {
		p.log.Error("revoking a grant after concurrent use", append(fields, zap.Error(rerr))...)
		return asUnavailable(rerr)
	}
	p.log.Warn("the same "+what+" was used twice at once: grant revoked", fields...)
	return fosite.ErrInvalidGrant.WithHintf("The %s has already been used.", what).WithWrap(err)
}

// refreshClaims re-reads the user on refresh: a removed or disabled user gets
// no new tokens, and the new ID token carries current claims.
func (p *Provider) refreshClaims(ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok || sess.Username == "" {
		return fosite.ErrServerError.WithDebug("refresh: the stored session has no username")
	}
	u, err := p.users.Lookup(sess.Username)
	if errors.Is(err, users.ErrUserNotFound) || (err == nil && u.Disabled) {
		return fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	c, _ := ar.GetClient().(*clients.Client)
	extra := p.claims.IDToken(c.ClaimsPolicy(), u, ar.GetGrantedScopes())
	extra["azp"] = ar.GetClient().GetID()
	if jkt, ok := sess.Claims.Extra[sessionJKTKey]; ok {
		extra[sessionJKTKey] = jkt // the DPoP binding (dpop.go)
	}
	if sid, ok := sess.Claims.Extra["sid"]; ok {
		extra["sid"] = sid // the login session of the grant (logout.go)
	}
	p.keepRequestedClaims(sess.Claims.Extra, extra, c, u, ar.GetGrantedScopes()) // claimsrequest.go
	sess.Claims.Extra = extra
	return nil
}

// tokenError writes the OAuth error JSON and logs the outcome without secrets.
func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	err = asUnavailable(err)
	rfc := fosite.ErrorToRFC6749Error(err)
	fields := []zap.Field{zap.String("error", rfc.ErrorField), zap.String("hint", rfc.HintField)}
	if ar != nil && ar.GetClient() != nil {
		fields = append(fields, zap.String("client_id", ar.GetClient().GetID()))
	}
	p.reportTokenError(ar, rfc)
	if rfc.CodeField >= 500 {
		p.log.Error("token request failed", append(fields, zap.String("debug", rfc.DebugField), zap.Error(rfc.Cause()))...)
	} else {
		p.log.Info("token request rejected", fields...)
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField && clients.HasBasicAuth(r) {
		// RFC 6749 5.2: a client that authenticated with the Authorization
		// header gets 401 and a challenge of the scheme it used; fosite
		// sends the status but no challenge.
		w.Header().Set("WWW-Authenticate", `Basic realm="token", charset="UTF-8"`)
	}
	p.oauth2.WriteAccessError(r.Context(), w, ar, err)
}
