package provider

import (
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/claims"
)

func TestACRLevel(t *testing.T) {
	for _, tc := range []struct {
		claims string
		level  authn.Level
		want   authn.Level
		denied bool
	}{
		{``, authn.OneFactor, authn.OneFactor, false},
		{`{"id_token":{"acr":{"values":["2"]}}}`, authn.OneFactor, authn.OneFactor, false}, // voluntary
		{`{"id_token":{"acr":{"essential":true,"values":["2"]}}}`, authn.OneFactor, authn.TwoFactor, false},
		{`{"userinfo":{"acr":{"essential":true,"value":"2"}}}`, authn.OneFactor, authn.TwoFactor, false},
		{`{"id_token":{"acr":{"essential":true,"values":["1","2"]}}}`, authn.OneFactor, authn.OneFactor, false},
		{`{"id_token":{"acr":{"essential":true,"values":["1"]}}}`, authn.TwoFactor, authn.TwoFactor, false}, // never lowers the policy
		{`{"id_token":{"acr":{"essential":true,"values":["urn:x","2"]}}}`, authn.OneFactor, authn.TwoFactor, false},
		{`{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}`, authn.OneFactor, authn.OneFactor, true},
		{`{"id_token":{"acr":{"essential":true}}}`, authn.OneFactor, authn.OneFactor, false}, // any acr
	} {
		req, err := claims.ParseRequest(tc.claims)
		if err != nil {
			t.Fatal(err)
		}
		got, err := acrLevel(tc.level, req)
		if got != tc.want || (err != nil) != tc.denied {
			t.Errorf("%s at %v: %v, %v; want %v, denied %v", tc.claims, tc.level, got, err, tc.want, tc.denied)
		}
	}
}
