package clients

import (
	"strings"
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

// TestGrantLifespans: Authelia's precedence, the grant's lifespan of the
// token, then the named lifespan's, then the provider's.
func TestGrantLifespans(t *testing.T) {
	l := Lifespans{AccessToken: 5 * time.Minute, IDToken: 20 * time.Minute, Grants: map[string]Lifespans{
		"client_credentials": {AccessToken: 30 * time.Second},
		"refresh_token":      {AccessToken: 2 * time.Minute, RefreshToken: 3 * time.Hour},
		"authorize_code":     {IDToken: 7 * time.Minute, AuthorizeCode: 15 * time.Second},
		"device_code":        {AccessToken: 8 * time.Hour},
	}}
	if err := l.validate(); err != nil {
		t.Fatal(err)
	}
	c := &Client{lifespans: &l}
	for _, tc := range []struct {
		gt   fosite.GrantType
		tt   fosite.TokenType
		want time.Duration
	}{
		{fosite.GrantTypeClientCredentials, fosite.AccessToken, 30 * time.Second},
		{fosite.GrantTypeAuthorizationCode, fosite.AccessToken, 5 * time.Minute}, // grant without access_token: the named lifespan
		{fosite.GrantTypeAuthorizationCode, fosite.IDToken, 7 * time.Minute},
		{fosite.GrantTypeAuthorizationCode, fosite.AuthorizeCode, 15 * time.Second},
		{fosite.GrantTypeRefreshToken, fosite.AccessToken, 2 * time.Minute},
		{fosite.GrantTypeRefreshToken, fosite.RefreshToken, 3 * time.Hour},
		{fosite.GrantTypeRefreshToken, fosite.IDToken, 20 * time.Minute},
		{fosite.GrantTypeImplicit, fosite.AccessToken, 5 * time.Minute}, // no grants entry
		{fosite.GrantTypePassword, fosite.RefreshToken, time.Minute},    // nothing set: the provider's
		{"urn:ietf:params:oauth:grant-type:device_code", fosite.AccessToken, 8 * time.Hour},
	} {
		if got := fosite.GetEffectiveLifespan(c, tc.gt, tc.tt, time.Minute); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.gt, tc.tt, got, tc.want)
		}
	}
	for _, tc := range []struct {
		l    Lifespans
		want string
	}{
		{Lifespans{Grants: map[string]Lifespans{"password": {AccessToken: time.Minute}}}, `grants: "password" is not one of`},
		{Lifespans{Grants: map[string]Lifespans{"implicit": {IDToken: -time.Minute}}}, `grants "implicit": id_token: must not be negative`},
		{Lifespans{Grants: map[string]Lifespans{"implicit": {Grants: map[string]Lifespans{"implicit": {}}}}}, `grants "implicit": grants cannot be nested`},
	} {
		if err := tc.l.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate = %v, want %q", err, tc.want)
		}
	}
}
