package caddyoidc

import (
	"context"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// auditLoggerName is the name of the audit log's logger below the
// handler's: http.handlers.oidc_provider.audit, which Caddy's log options
// can include in (or exclude from) a log of its own.
const auditLoggerName = "audit"

// zapAudit writes audit events to a zap logger, one Info entry per event
// with the action as message. An Event has no field for a credential.
type zapAudit struct {
	log    *zap.Logger
	issuer string
}

func (a zapAudit) Record(_ context.Context, e telemetry.Event) {
	fields := make([]zap.Field, 0, 12)
	fields = append(fields, zap.String("issuer", a.issuer))
	add := func(key, val string) {
		if val != "" {
			fields = append(fields, zap.String(key, val))
		}
	}
	add("result", e.Result)
	add("user", e.User)
	add("client_id", e.Client)
	add("remote_ip", e.IP)
	add("method", e.Method)
	add("grant_type", e.GrantType)
	if len(e.Scopes) > 0 {
		fields = append(fields, zap.Strings("scopes", e.Scopes))
	}
	add("reason", e.Reason)
	add("actor", e.Actor)
	if e.Count != 0 {
		fields = append(fields, zap.Int64("count", e.Count))
	}
	a.log.Info(e.Action, fields...)
}

var _ telemetry.Audit = zapAudit{}
