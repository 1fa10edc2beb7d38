package provider

import (
	"context"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// clientLifespanConfig gives fosite's authorize handlers the client's
// authorization code lifespan: fosite v0.49 reads it from the configuration
// only, but puts the authorization request in the context it passes.
type clientLifespanConfig struct{ fosite.Configurator }

// GetAuthorizeCodeLifespan returns the lifespan of the code being issued.
func (c clientLifespanConfig) GetAuthorizeCodeLifespan(ctx context.Context) time.Duration {
	fallback := c.Configurator.GetAuthorizeCodeLifespan(ctx)
	if ar, ok := ctx.Value(fosite.AuthorizeRequestContextKey).(fosite.AuthorizeRequester); ok && ar != nil {
		if cl, ok := ar.GetClient().(*clients.Client); ok {
			return cl.GetEffectiveLifespan(fosite.GrantTypeAuthorizationCode, fosite.AuthorizeCode, fallback)
		}
	}
	return fallback
}

// withClientLifespans wraps a handler factory so that the handler sees the
// client's authorization code lifespan.
func withClientLifespans(f compose.Factory) compose.Factory {
	return func(config fosite.Configurator, storage, strategy any) any {
		return f(clientLifespanConfig{config}, storage, strategy)
	}
}
