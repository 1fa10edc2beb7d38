package pages

import (
	"context"
	"errors"
	"net/http"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// Telemetry returns the sink the pages report to, for the provider's own
// reports (the password grant).
func (p *Pages) Telemetry() telemetry.Sink { return p.tel }

// clientID is the ID of c for reports, "" when there is none.
func clientID(c *clients.Client) string {
	if c == nil {
		return ""
	}
	return c.GetID()
}

// reportSignIn counts and audits a first-factor sign-in.
func (p *Pages) reportSignIn(r *http.Request, method, result, username string, c *clients.Client) {
	if result != telemetry.ResultBanned { // counted as a ban, by LogBan
		p.tel.Metrics.SignIn(method, result)
	}
	p.tel.Audit.Record(r.Context(), telemetry.Event{
		Action: telemetry.ActionSignIn, Result: result, User: username,
		Client: clientID(c), IP: p.ClientIP(r), Method: method,
	})
}

// reportSecondFactor counts and audits a second-factor attempt.
func (p *Pages) reportSecondFactor(r *http.Request, method, result, username string, c *clients.Client) {
	if result != telemetry.ResultBanned {
		p.tel.Metrics.SecondFactor(method, result)
	}
	p.tel.Audit.Record(r.Context(), telemetry.Event{
		Action: telemetry.ActionSecondFactor, Result: result, User: username,
		Client: clientID(c), IP: p.ClientIP(r), Method: method,
	})
}

// reportSignOut audits a sign-out; allDevices when every session of the
// user ended.
func (p *Pages) reportSignOut(ctx context.Context, username, ip, reason string) {
	p.tel.Audit.Record(ctx, telemetry.Event{Action: telemetry.ActionSignOut, User: username, IP: ip, Reason: reason, Actor: "user"})
}

// factorMethod names a second factor's AMR value for reports.
func factorMethod(amr string) string {
	if amr == "otp" {
		return telemetry.MethodTOTP
	}
	return telemetry.MethodWebAuthn
}

// reportPasskeyFailure counts a refused passkey sign-in or second factor;
// ceremonies that failed for other reasons (expired, malformed, server
// errors) are not attempts.
func (p *Pages) reportPasskeyFailure(r *http.Request, op, username string, err error) {
	if !errors.Is(err, authn.ErrPasskeyRefused) && !errors.Is(err, authn.ErrPasskeyCloned) {
		return
	}
	switch op {
	case "login":
		p.reportSignIn(r, telemetry.MethodPasskey, telemetry.ResultFailure, username, nil)
	case "2fa":
		p.reportSecondFactor(r, telemetry.MethodWebAuthn, telemetry.ResultFailure, username, nil)
	}
}
