package provider

import (
	"strings"
	"testing"
)

// New reports the errors of the packages it composes as they word them
// (package claims and clients test each option).
func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"claims policy", func(c *Config) {
			c.ClaimsPolicies = map[string]ClaimsPolicy{"p": {CustomClaims: map[string]string{"iss": ""}}}
		}, `claims_policies "p": custom_claims: "iss" is a protocol claim`},
		{"client's claims_policy", func(c *Config) { c.Clients[0].ClaimsPolicy = "nope" }, `client "app": claims_policy: "nope"`},
		{"client's lifespan", func(c *Config) { c.Clients[0].Lifespan = "long" }, `client "app": lifespan: "long"`},
		{"authorization policy", func(c *Config) { c.Authn.DefaultPolicy = "nope" }, `default_authorization_policy`},
		{"issuer path a ServeMux cannot hold", func(c *Config) { c.Issuer = epIssuer + "/{x}" }, `must not contain spaces or braces`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			newEndpointProvider(t, func(c *Config) { cfg = *c })
			cfg.Clients = append([]ClientConfig(nil), cfg.Clients...)
			tc.mutate(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
