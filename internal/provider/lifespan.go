package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
)

// Lifespans are the token lifespans of a named lifespan (Authelia's
// lifespans.custom.<name>), which clients select with their lifespan option.
// A zero value keeps the provider-wide lifespan of that token.
type Lifespans struct {
	AccessToken   time.Duration
	AuthorizeCode time.Duration
	IDToken       time.Duration
	RefreshToken  time.Duration
}

// validate refuses negative lifespans. Errors name the field.
func (l Lifespans) validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"access_token", l.AccessToken},
		{"authorize_code", l.AuthorizeCode},
		{"id_token", l.IDToken},
		{"refresh_token", l.RefreshToken},
	} {
		if f.d < 0 {
			return fmt.Errorf("%s: must not be negative", f.name)
		}
	}
	return nil
}

// GetEffectiveLifespan implements fosite.ClientWithCustomTokenLifespans:
// the client's named lifespan for the token, whatever the grant, or the
// provider-wide fallback. fosite asks it for access, refresh and ID tokens;
// authorization codes go through clientLifespanConfig.
func (c *Client) GetEffectiveLifespan(_ fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if c.lifespans == nil {
		return fallback
	}
	var d time.Duration
	switch tt {
	case fosite.AccessToken:
		d = c.lifespans.AccessToken
	case fosite.RefreshToken:
		d = c.lifespans.RefreshToken
	case fosite.IDToken:
		d = c.lifespans.IDToken
	case fosite.AuthorizeCode:
		d = c.lifespans.AuthorizeCode
	}
	if d <= 0 {
		return fallback
	}
	return d
}

// clientLifespanConfig gives fosite's authorize handlers the client's
// authorization code lifespan: fosite v0.49 reads it from the configuration
// only, but puts the authorization request in the context it passes.
type clientLifespanConfig struct{ fosite.Configurator }

// GetAuthorizeCodeLifespan returns the lifespan of the code being issued.
func (c clientLifespanConfig) GetAuthorizeCodeLifespan(ctx context.Context) time.Duration {
	fallback := c.Configurator.GetAuthorizeCodeLifespan(ctx)
	if ar, ok := ctx.Value(fosite.AuthorizeRequestContextKey).(fosite.AuthorizeRequester); ok && ar != nil {
		if cl, ok := ar.GetClient().(*Client); ok {
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

var _ fosite.ClientWithCustomTokenLifespans = (*Client)(nil)
