package pages

import (
	"context"
	"errors"
	"net"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/telemetry"
)

// ClientIP returns the client's address as Caddy determined it (honouring
// its trusted proxies), for regulation and logs.
func (p *Pages) ClientIP(r *http.Request) string {
	if p.clientIPFunc != nil {
		if ip := p.clientIPFunc(r); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LogBan logs a regulation ban without telling the user anything different.
func (p *Pages) LogBan(err error, username, ip string) {
	var ban *authn.BanError
	if errors.As(err, &ban) {
		p.log.Warn("authentication attempt while banned", zap.String("username", username), zap.String("remote_ip", ip),
			zap.String("reason", ban.Reason), zap.Time("until", ban.Until))
		p.tel.Metrics.Ban()
		p.tel.Audit.Record(context.Background(), telemetry.Event{Action: telemetry.ActionBan, User: username, IP: ip, Reason: ban.Reason})
		return
	}
	p.log.Error("checking regulation", zap.Error(err))
}
