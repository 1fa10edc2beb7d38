package provider

// The token endpoint's side of the device authorization grant (RFC 8628
// 3.4, 3.5): the poll answers and the tokens of an approved grant, as a
// fosite handler beside the other grants. device.go has the endpoint and
// the user's page.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// The token endpoint's device grant errors (RFC 8628 3.5); fosite has none.
var (
	errAuthorizationPending = &fosite.RFC6749Error{ErrorField: "authorization_pending", CodeField: http.StatusBadRequest,
		DescriptionField: "The authorization request is still pending: the user has not yet finished on the verification page."}
	errSlowDown = &fosite.RFC6749Error{ErrorField: "slow_down", CodeField: http.StatusBadRequest,
		DescriptionField: "The client is polling too quickly; the interval is now 5 seconds longer."}
	// errDeviceDenied is access_denied with RFC 6749 5.2's status (fosite's
	// has 403, for the authorization endpoint's page).
	errDeviceDenied = &fosite.RFC6749Error{ErrorField: "access_denied", CodeField: http.StatusBadRequest,
		DescriptionField: "The user denied the request."}
	errExpiredToken = &fosite.RFC6749Error{ErrorField: "expired_token", CodeField: http.StatusBadRequest,
		DescriptionField: "The device code has expired; start a new device authorization request."}
)

// deviceGrantFactory composes the token endpoint's device grant handler.
func (p *Provider) deviceGrantFactory(config fosite.Configurator, _, strategy any) any {
	// compose.CommonStrategy implements both; a nil one would fail at the
	// first token request, as fosite's own factories do.
	tokens, _ := strategy.(oauth2.CoreStrategy)
	idTokens, _ := strategy.(openid.OpenIDConnectTokenStrategy)
	return &deviceGrantHandler{
		p:        p,
		config:   config,
		tokens:   tokens,
		idTokens: &openid.IDTokenHandleHelper{IDTokenStrategy: idTokens},
	}
}

// deviceGrantHandler is the token endpoint's device_code grant (RFC 8628
// 3.4, 3.5): authorization_pending until the user decides, slow_down (and
// a longer interval) when polled faster than the interval, access_denied,
// expired_token, and once approved the tokens, once.
type deviceGrantHandler struct {
	p        *Provider
	config   fosite.Configurator
	tokens   oauth2.CoreStrategy
	idTokens *openid.IDTokenHandleHelper
}

var _ fosite.TokenEndpointHandler = (*deviceGrantHandler)(nil)

// CanSkipClientAuth implements fosite.TokenEndpointHandler: the client
// authenticates (public clients by client_id).
func (h *deviceGrantHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

// CanHandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (h *deviceGrantHandler) CanHandleTokenEndpointRequest(_ context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(clients.GrantDeviceCode)
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler: it
// answers a poll, or fills the request with the approved grant.
func (h *deviceGrantHandler) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	p := h.p
	client, ok := ar.GetClient().(*clients.Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("device: unexpected client type")
	}
	if !client.GetGrantTypes().Has(clients.GrantDeviceCode) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant type '%s'.", clients.GrantDeviceCode)
	}
	form := ar.GetRequestForm()
	code := form.Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The 'device_code' parameter is missing.")
	}
	deviceHash := p.deviceHash("device_code", code)
	g, err := p.devices.GetDeviceGrant(ctx, deviceHash)
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The device code is not valid.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	if g.ClientID != client.GetID() {
		return fosite.ErrInvalidGrant.WithHint("The device code was issued to another client.")
	}
	now := p.now()
	switch {
	case g.Status == store.DeviceStatusUsed:
		return fosite.ErrInvalidGrant.WithHint("The device code has already been used.")
	case !now.Before(g.CodeExpiresAt):
		return errExpiredToken
	case g.Status == store.DeviceStatusDenied:
		return errDeviceDenied
	case g.Status == store.DeviceStatusPending:
		interval, result := g.Interval, error(errAuthorizationPending)
		if !g.LastPollAt.IsZero() && now.Sub(g.LastPollAt) < interval {
			interval += deviceSlowDownStep
			result = errSlowDown
		}
		if ok, err := p.devices.PollDeviceGrant(ctx, deviceHash, g.LastPollAt, now, interval); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		} else if !ok {
			// Another poll landed in between: this one came too fast.
			result = errSlowDown
		}
		return result
	}

	// Approved: this request takes it, or another one did.
	if ok, err := p.devices.UseDeviceGrant(ctx, deviceHash); err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	} else if !ok {
		return fosite.ErrInvalidGrant.WithHint("The device code has already been used.")
	}
	u, err := p.users.Lookup(g.Username)
	if errors.Is(err, users.ErrUserNotFound) || (err == nil && u.Disabled) {
		return fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	for _, s := range g.Scopes {
		ar.GrantScope(s)
	}
	for _, a := range g.Audience {
		ar.GrantAudience(a)
	}
	ar.SetRequestedScopes(g.Scopes)
	ar.SetRequestedAudience(g.Audience)
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("device: unexpected session type")
	}
	login := &store.LoginSession{Username: u.Username, AuthTime: g.AuthTime.UTC().Truncate(time.Second), AMR: g.AMR}
	full, err := p.newSession(ctx, client, u, login, ar.GetGrantedScopes(), g.RequestedAt.UTC().Truncate(time.Second))
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	sess.Claims, sess.Headers, sess.Subject, sess.Username = full.Claims, full.Headers, full.Subject, full.Username
	issued := time.Now().UTC() // fosite's own expiry checks read the system clock
	sess.SetExpiresAt(fosite.AccessToken, issued.Add(h.lifespan(ctx, client, fosite.AccessToken)).Round(time.Second))
	if h.issuesRefreshToken(ctx, ar) {
		sess.SetExpiresAt(fosite.RefreshToken, issued.Add(h.lifespan(ctx, client, fosite.RefreshToken)).Round(time.Second))
	}
	// The token request's own parameters mean nothing to the ID token of
	// this grant (no prompt, max_age or hint was asked on the device).
	for _, k := range []string{"prompt", "max_age", "id_token_hint", "acr_values", "nonce"} {
		form.Del(k)
	}
	p.log.Info("device grant redeemed", zap.String("client_id", client.GetID()), zap.String("username", u.Username))
	return nil
}

// lifespan returns the client's lifespan of a token type for this grant.
func (h *deviceGrantHandler) lifespan(ctx context.Context, c *clients.Client, tt fosite.TokenType) time.Duration {
	var fallback time.Duration
	switch tt {
	case fosite.AccessToken:
		fallback = h.config.GetAccessTokenLifespan(ctx)
	case fosite.RefreshToken:
		fallback = h.config.GetRefreshTokenLifespan(ctx)
	case fosite.IDToken:
		fallback = h.config.GetIDTokenLifespan(ctx)
	}
	return c.GetEffectiveLifespan(fosite.GrantType(clients.GrantDeviceCode), tt, fallback)
}

// issuesRefreshToken: with offline_access (or offline) granted, to a client
// allowed the refresh_token grant.
func (h *deviceGrantHandler) issuesRefreshToken(ctx context.Context, ar fosite.AccessRequester) bool {
	return ar.GetClient().GetGrantTypes().Has(clients.GrantRefreshToken) &&
		ar.GetGrantedScopes().HasOneOf(h.config.GetRefreshTokenScopes(ctx)...)
}

// PopulateTokenEndpointResponse implements fosite.TokenEndpointHandler: the
// access token, the refresh token (with offline_access) in one transaction,
// and the ID token (with openid).
func (h *deviceGrantHandler) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	if !h.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	client, ok := ar.GetClient().(*clients.Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("device: unexpected client type")
	}
	access, accessSig, err := h.tokens.GenerateAccessToken(ctx, ar)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	var refresh, refreshSig string
	if h.issuesRefreshToken(ctx, ar) {
		if refresh, refreshSig, err = h.tokens.GenerateRefreshToken(ctx, ar); err != nil {
			return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	st := h.p.storage
	txCtx, err := st.BeginTX(ctx)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	err = st.CreateAccessTokenSession(txCtx, accessSig, ar.Sanitize([]string{}))
	if err == nil && refreshSig != "" {
		err = st.CreateRefreshTokenSession(txCtx, refreshSig, accessSig, ar.Sanitize([]string{}))
	}
	if err == nil {
		err = st.Commit(txCtx)
	}
	if err != nil {
		_ = st.Rollback(txCtx)
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(time.Until(ar.GetSession().GetExpiresAt(fosite.AccessToken)).Round(time.Second))
	resp.SetScopes(ar.GetGrantedScopes())
	if refresh != "" {
		resp.SetExtra("refresh_token", refresh)
	}
	if ar.GetGrantedScopes().Has("openid") {
		sess, ok := ar.GetSession().(openid.Session)
		if !ok {
			return fosite.ErrServerError.WithDebug("device: unexpected session type")
		}
		sess.IDTokenClaims().AccessTokenHash = h.idTokens.GetAccessTokenHash(ctx, ar, resp)
		if err := h.idTokens.IssueExplicitIDToken(ctx, h.lifespan(ctx, client, fosite.IDToken), ar, resp); err != nil {
			return err
		}
	}
	return nil
}
