package provider

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func TestClaimsPolicyAndCustomScopes(t *testing.T) {
	tp := newEndpointProvider(t, func(c *Config) {
		c.ClaimsPolicies = map[string]ClaimsPolicy{
			"hr":   {IDToken: []string{"name", "employee_id"}, CustomClaims: map[string]string{"employee_id": "", "team": "department", "nested": ""}},
			"none": {IDToken: []string{}},
		}
		c.Scopes = map[string]Scope{"hr": {Claims: []string{"employee_id", "team", "nested", "locale", "address"}}}
		c.Clients = append(c.Clients,
			ClientConfig{ID: "hr-app", Secret: "s", RedirectURIs: []string{"https://hr.example/cb"}, ClaimsPolicy: "hr"},
			ClientConfig{ID: "none-app", Secret: "s", RedirectURIs: []string{"https://none.example/cb"}, ClaimsPolicy: "none"},
		)
	})
	u := &users.User{
		Username: "alice", FullName: "Alice", Email: "alice@example.com", Locale: "de-CH",
		Address: &users.Address{Locality: "Bern", Country: "CH"},
		// As users.Lookup returns it: JSON-safe (the users package turns YAML's
		// map[any]any into map[string]any; tested there).
		Extra: map[string]any{"employee_id": 7, "department": "ops", "nested": map[string]any{"a": []any{1, map[string]any{"2": "b"}}}},
	}
	scopes := []string{"openid", "profile", "email", "hr"}
	js := func(m map[string]any) string { b, _ := json.Marshal(m); return string(b) }

	hr := tp.clients.Get("hr-app")
	if got, want := js(tp.claims.Released(hr.ClaimsPolicy(), u, scopes)), `{"address":{"country":"CH","locality":"Bern"},"email":"alice@example.com","email_verified":true,"employee_id":7,"locale":"de-CH","name":"Alice","nested":{"a":[1,{"2":"b"}]},"preferred_username":"alice","team":"ops"}`; got != want {
		t.Errorf("released to hr-app:\n got %s\nwant %s", got, want)
	}
	if got, want := js(tp.claims.IDToken(hr.ClaimsPolicy(), u, scopes)), `{"employee_id":7,"name":"Alice"}`; got != want {
		t.Errorf("hr-app ID token: %s, want %s", got, want)
	}
	if got := js(tp.claims.IDToken(tp.clients.Get("none-app").ClaimsPolicy(), u, scopes)); got != `{}` {
		t.Errorf("none-app ID token: %s", got)
	}
	// Without a policy: standard claims of the custom scope, no custom ones,
	// all in the ID token.
	if got, want := js(tp.claims.IDToken(tp.clients.Get("app").ClaimsPolicy(), u, scopes)), `{"address":{"country":"CH","locality":"Bern"},"email":"alice@example.com","email_verified":true,"locale":"de-CH","name":"Alice","preferred_username":"alice"}`; got != want {
		t.Errorf("app ID token:\n got %s\nwant %s", got, want)
	}
	if got := tp.claims.AccessToken(hr.ClaimsPolicy(), u, scopes); got != nil {
		t.Errorf("access token claims without an access_token list: %v", got)
	}
}

func TestClaimsConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"reserved custom claim", func(c *Config) {
			c.ClaimsPolicies = map[string]ClaimsPolicy{"p": {CustomClaims: map[string]string{"iss": ""}}}
		}, `claims_policies "p": custom_claims: "iss" is a protocol claim`},
		{"custom claim shadowing a standard one", func(c *Config) {
			c.ClaimsPolicies = map[string]ClaimsPolicy{"p": {CustomClaims: map[string]string{"email": "username"}}}
		}, `"email" is a standard claim`},
		{"unknown claim in access_token", func(c *Config) {
			c.ClaimsPolicies = map[string]ClaimsPolicy{"p": {AccessToken: []string{"shoe_size"}}}
		}, `claims_policies "p": access_token: "shoe_size"`},
		{"built-in scope", func(c *Config) { c.Scopes = map[string]Scope{"email": {Claims: []string{"locale"}}} }, `scopes "email": a built-in scope`},
		{"scope without claims", func(c *Config) { c.Scopes = map[string]Scope{"x": {}} }, `scopes "x": claims: at least one`},
		{"scope with a space", func(c *Config) { c.Scopes = map[string]Scope{"a b": {Claims: []string{"locale"}}} }, `"a b" is not a valid scope name`},
		{"unknown claims_policy", func(c *Config) { c.Clients[0].ClaimsPolicy = "nope" }, `client "app": claims_policy: "nope"`},
		{"unknown lifespan", func(c *Config) {
			c.Lifespans = map[string]Lifespans{"short": {AccessToken: 1}}
			c.Clients[0].Lifespan = "long"
		}, `client "app": lifespan: "long" is not one of the lifespans ("short")`},
		{"negative lifespan", func(c *Config) {
			c.Lifespans = map[string]Lifespans{"neg": {RefreshToken: -1}}
		}, `lifespans "neg": refresh_token: must not be negative`},
		{"bad access token alg", func(c *Config) { c.Clients[0].AccessTokenSignedResponseAlg = "HS256" }, `client "app": access_token_signed_response_alg: "HS256"`},
		{"bad userinfo alg", func(c *Config) { c.Clients[0].UserinfoSignedResponseAlg = "RS512" }, `client "app": userinfo_signed_response_alg: "RS512"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newProviderErr(t, tc.mutate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// newProviderErr builds the endpoint tests' provider with mutate applied
// and returns New's error.
func newProviderErr(t *testing.T, mutate func(*Config)) (p *Provider, err error) {
	t.Helper()
	var cfg Config
	newEndpointProvider(t, func(c *Config) { cfg = *c })
	cfg.Clients = append([]ClientConfig(nil), cfg.Clients...)
	mutate(&cfg)
	return New(cfg)
}
