package provider

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
)

// The authorization code lifespan reaches fosite's authorize handlers
// through the configuration wrapper (clients test GetEffectiveLifespan).
func TestClientLifespanConfig(t *testing.T) {
	reg, err := clients.NewRegistry(context.Background(), []ClientConfig{
		{ID: "short", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}, Lifespan: "short"},
		{ID: "plain", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}},
	}, clients.Env{Algorithms: []string{"RS256"}, Lifespans: map[string]Lifespans{"short": {AuthorizeCode: 10 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	c, plain := reg.Get("short"), reg.Get("plain")
	cfg := clientLifespanConfig{&fosite.Config{AuthorizeCodeLifespan: time.Minute}}
	ar := fosite.NewAuthorizeRequest()
	ar.Client = c
	ctx := context.WithValue(context.Background(), fosite.AuthorizeRequestContextKey, fosite.AuthorizeRequester(ar))
	if got := cfg.GetAuthorizeCodeLifespan(ctx); got != 10*time.Second {
		t.Errorf("code lifespan of the client: %v", got)
	}
	ar.Client = plain
	if got := cfg.GetAuthorizeCodeLifespan(ctx); got != time.Minute {
		t.Errorf("code lifespan of a client without one: %v", got)
	}
	if got := cfg.GetAuthorizeCodeLifespan(context.Background()); got != time.Minute {
		t.Errorf("code lifespan without a request: %v", got)
	}
}
