package provider

import (
	"context"
	"testing"
	"time"

	"github.com/ory/fosite"
)

func TestClientLifespans(t *testing.T) {
	c := &Client{lifespans: &Lifespans{AccessToken: 5 * time.Minute, AuthorizeCode: 10 * time.Second, RefreshToken: 2 * time.Hour}}
	plain := &Client{}
	for _, tc := range []struct {
		c    *Client
		gt   fosite.GrantType
		tt   fosite.TokenType
		want time.Duration
	}{
		{c, fosite.GrantTypeAuthorizationCode, fosite.AccessToken, 5 * time.Minute},
		{c, fosite.GrantTypeRefreshToken, fosite.AccessToken, 5 * time.Minute},
		{c, fosite.GrantTypeRefreshToken, fosite.RefreshToken, 2 * time.Hour},
		{c, fosite.GrantTypeAuthorizationCode, fosite.IDToken, time.Minute}, // unset: the fallback
		{plain, fosite.GrantTypeAuthorizationCode, fosite.AccessToken, time.Minute},
	} {
		if got := fosite.GetEffectiveLifespan(tc.c, tc.gt, tc.tt, time.Minute); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.gt, tc.tt, got, tc.want)
		}
	}

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
