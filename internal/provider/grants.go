package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// The token endpoint's grants without a browser: client_credentials (a
// client acting for itself) and password (resource owner password
// credentials, RFC 6749 4.3; discouraged, and left out of OAuth 2.1: the
// client sees the user's password and no second factor can be asked).

// clientOnlyScopes are never granted to a client acting for itself: there is
// no user to identify (openid) and no refresh token (offline access).
var clientOnlyScopes = []string{"openid", "offline_access", "offline"}

// grantClientCredentials grants a client_credentials request the scopes and
// audience it asked for; fosite has already checked that the client may
// request them and that it is confidential. The token's subject is the
// client (as RFC 9068 2.2 puts it), and it has no user: no ID token, no
// refresh token, no userinfo.
func grantClientCredentials(ar fosite.AccessRequester) error {
	for _, s := range ar.GetRequestedScopes() {
		if !slices.Contains(clientOnlyScopes, s) {
			ar.GrantScope(s)
		}
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	if c, ok := ar.GetClient().(*clients.Client); ok {
		for _, a := range c.ImplicitAudience(ar.GetRequestedAudience()) { // requested_audience_mode implicit
			ar.GrantAudience(a)
		}
	}
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return fosite.ErrServerError.WithDebug("client_credentials: unexpected session type")
	}
	sess.Subject = ar.GetClient().GetID()
	sess.Username = ""
	return nil
}

// passwordStorage adds to the store what fosite's password grant handler
// asks of its storage: checking the user's password. It checks it as the
// login page does, under regulation.
type passwordStorage struct {
	FositeStorage
	p *Provider
}

// Authenticate implements oauth2.ResourceOwnerPasswordCredentialsGrantStorage.
// A wrong password, an unknown or disabled user and a ban all return
// fosite.ErrNotFound, which fosite answers with invalid_grant; a ban looks
// and takes exactly like a wrong password. It records the username in the
// request's session for passwordGrant.
func (s passwordStorage) Authenticate(ctx context.Context, name, secret string) (string, error) {
	p := s.p
	username := strings.TrimSpace(name)
	ip := ""
	if r, ok := ctx.Value(fosite.RequestContextKey).(*http.Request); ok {
		ip = p.pages.ClientIP(r)
	}
	now := p.now()
	begin := time.Now()
	banned := p.pages.Regulator().Check(ctx, username, ip, now)
	start := time.Now()
	user, err := p.users.Authenticate(username, secret)
	p.tel.Metrics.DigestVerified(telemetry.DigestUserPassword, time.Since(start))
	if err != nil && !errors.Is(err, users.ErrInvalidCredentials) {
		p.log.Error("authenticating user (password grant)", zap.Error(err))
		return "", err // server_error
	}
	if banned == nil {
		if regErr := p.pages.Regulator().Record(ctx, username, ip, "password", err == nil, now); regErr != nil {
			p.log.Error("recording attempt", zap.Error(regErr))
		}
	}
	if banned != nil {
		p.pages.LogBan(banned, username, ip)
		p.reportPasswordGrant(ctx, telemetry.ResultBanned, username, ip)
		p.pages.PadFailure(begin, false)
		return "", fosite.ErrNotFound
	}
	if err != nil {
		p.log.Info("login failed (password grant)", zap.String("username", username), zap.String("remote_ip", ip))
		p.reportPasswordGrant(ctx, telemetry.ResultFailure, username, ip)
		p.pages.PadFailure(begin, true)
		return "", fosite.ErrNotFound
	}
	p.reportPasswordGrant(ctx, telemetry.ResultSuccess, user.Username, ip)
	ar, ok := ctx.Value(fosite.AccessRequestContextKey).(fosite.AccessRequester)
	if !ok {
		return "", errors.New("password grant: no access request in the context")
	}
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok {
		return "", errors.New("password grant: unexpected session type")
	}
	sess.Username = user.Username
	// The subject passwordGrant sets from the client and user replaces this.
	return p.db.Subject(ctx, user.Username, "")
}

// passwordGrant completes a password grant that fosite authenticated: it
// grants the requested scopes and audience (fosite checked the client may
// request them) and fills the session as a sign-in with a password would.
func (p *Provider) passwordGrant(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	if !ok || sess.Username == "" {
		return fosite.ErrServerError.WithDebug("password grant: the session has no username")
	}
	client, ok := ar.GetClient().(*clients.Client)
	if !ok {
		return fosite.ErrServerError.WithDebug("password grant: unexpected client type")
	}
	u, err := p.users.Lookup(sess.Username)
	if errors.Is(err, users.ErrUserNotFound) || (err == nil && u.Disabled) {
		return fosite.ErrInvalidGrant.WithHint("Unable to authenticate the provided username and password credentials.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	// New refuses the grant unless the policy is one_factor for everyone;
	// check again rather than issue tokens a policy would refuse.
	subject := authn.Subject{Username: u.Username, Groups: u.Groups}
	if r, ok := ctx.Value(fosite.RequestContextKey).(*http.Request); ok {
		subject.IP = authn.ParseIP(p.pages.ClientIP(r)) // network rules
	}
	if client.Policy().Evaluate(subject) != authn.OneFactor {
		return fosite.ErrAccessDenied.WithHint("The client's authorization policy does not allow the password grant for this user.")
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	now := p.now().UTC().Truncate(time.Second)
	login := &store.LoginSession{Username: u.Username, AuthTime: now, AMR: []string{"pwd"}}
	full, err := p.newSession(ctx, client, u, login, ar.GetGrantedScopes(), now)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	// Keep the expiry times fosite's handler set on the session.
	sess.Claims, sess.Headers, sess.Subject, sess.Username = full.Claims, full.Headers, full.Subject, full.Username
	p.log.Info("password grant", zap.String("client_id", client.GetID()), zap.String("username", u.Username))
	return nil
}

// isClientToken reports whether a grant is a client's own
// (client_credentials): no user stands behind it, so there is no user to
// check at introspection.
func isClientToken(ar fosite.Requester) bool {
	sess, ok := ar.GetSession().(*openid.DefaultSession)
	return ok && sess.Username == "" && sess.Subject != "" && sess.Subject == ar.GetClient().GetID()
}
