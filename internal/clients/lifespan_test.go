package clients

import (
	"testing"
	"time"

	"github.com/ory/fosite"
)

func TestGetEffectiveLifespan(t *testing.T) {
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
}
