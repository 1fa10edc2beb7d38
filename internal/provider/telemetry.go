package provider

import (
	"context"
	"net/http"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// requestClientID is the client of a request for reports: fosite only
// loads registered clients, so this is a configured ID or "".
func requestClientID(ar fosite.Requester) string {
	if ar == nil || ar.GetClient() == nil {
		return ""
	}
	return ar.GetClient().GetID()
}

// knownClientID returns id if it names a configured client, else "", so that
// what a request says cannot grow the metrics' label values.
func (p *Provider) knownClientID(id string) string {
	if id == "" || p.clients.Get(id) == nil {
		return ""
	}
	return id
}

// sessionUser is the username behind a token request, "" for a client's own.
func sessionUser(ar fosite.Requester) string {
	if ar == nil {
		return ""
	}
	if s, ok := ar.GetSession().(*openid.DefaultSession); ok {
		return s.Username
	}
	return ""
}

// reportToken counts and audits the tokens issued for ar.
func (p *Provider) reportToken(ctx context.Context, r *http.Request, ar fosite.AccessRequester) {
	client := requestClientID(ar)
	action := telemetry.ActionTokenIssued
	for _, gt := range ar.GetGrantTypes() {
		p.tel.Metrics.TokenIssued(client, telemetry.GrantType(gt))
		if gt == "refresh_token" {
			action = telemetry.ActionTokenRefreshed
		}
	}
	p.tel.Audit.Record(ctx, telemetry.Event{
		Action: action, User: sessionUser(ar), Client: client, IP: p.pages.ClientIP(r),
		GrantType: firstOrEmpty(ar.GetGrantTypes()), Scopes: ar.GetGrantedScopes(),
	})
}

// reportTokenError counts a token endpoint error.
func (p *Provider) reportTokenError(ar fosite.AccessRequester, rfc *fosite.RFC6749Error) {
	p.tel.Metrics.TokenError(requestClientID(ar), telemetry.ErrorCode(rfc.ErrorField))
}

// reportRevocation audits a revocation by a client.
func (p *Provider) reportRevocation(r *http.Request) {
	p.tel.Audit.Record(r.Context(), telemetry.Event{
		Action: telemetry.ActionTokenRevoked, Client: p.knownClientID(p.requestClientID(r)), IP: p.pages.ClientIP(r), Actor: "client",
	})
}

func firstOrEmpty(a fosite.Arguments) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// reportPasswordGrant counts and audits a sign-in by the password grant.
func (p *Provider) reportPasswordGrant(ctx context.Context, result, username, ip string) {
	client := ""
	if ar, ok := ctx.Value(fosite.AccessRequestContextKey).(fosite.AccessRequester); ok {
		client = requestClientID(ar)
	}
	if result != telemetry.ResultBanned {
		p.tel.Metrics.SignIn(telemetry.MethodPasswordGrant, result)
	}
	p.tel.Audit.Record(ctx, telemetry.Event{
		Action: telemetry.ActionSignIn, Result: result, User: username, Client: client, IP: ip, Method: telemetry.MethodPasswordGrant,
	})
}
