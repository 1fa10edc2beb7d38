package clients

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
)

func TestNormalizeResponseType(t *testing.T) {
	for raw, want := range map[string]string{
		"code":                "code",
		"id_token":            "id_token",
		"token":               "token",
		"id_token code":       "code id_token",
		"token code":          "code token",
		"token id_token code": "code id_token token",
		"  token   id_token ": "id_token token",
		"code code":           "",
		"code id_token none":  "",
		"none":                "",
		"":                    "",
		"Code":                "",
	} {
		got, ok := normalizeResponseType(raw)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeResponseType(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
}

func TestSetFlows(t *testing.T) {
	const cb = "https://app.example/cb"
	type want struct {
		grants, types, modes []string
	}
	cases := []struct {
		name string
		cfg  Config
		want want
		err  string // substring of the error; "" = valid
	}{
		{"defaults", Config{}, want{
			[]string{"authorization_code", "refresh_token"}, []string{"code"}, []string{"form_post", "query", "form_post.jwt", "query.jwt", "jwt", ""}}, ""},
		{"all six of Authelia's response types", Config{
			GrantTypes:    []string{"authorization_code", "implicit"},
			ResponseTypes: []string{"code", "code id_token", "id_token", "token id_token", "token", "token id_token code"},
		}, want{
			[]string{"authorization_code", "implicit"},
			[]string{"code", "code id_token", "id_token", "id_token token", "token", "code id_token token"},
			[]string{"form_post", "query", "fragment", "form_post.jwt", "query.jwt", "fragment.jwt", "jwt", ""}}, ""},
		{"implicit only: fragment and form_post", Config{
			GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token", "id_token token"},
		}, want{[]string{"implicit"}, []string{"id_token", "id_token token"}, []string{"form_post", "fragment", "form_post.jwt", "fragment.jwt", "jwt", ""}}, ""},
		{"explicit modes kept", Config{
			GrantTypes: []string{"authorization_code", "implicit"}, ResponseTypes: []string{"code id_token"}, ResponseModes: []string{"form_post"},
		}, want{[]string{"authorization_code", "implicit"}, []string{"code id_token"}, []string{"form_post", ""}}, ""},
		{"fragment for code is allowed when asked", Config{ResponseModes: []string{"fragment", "query"}},
			want{[]string{"authorization_code", "refresh_token"}, []string{"code"}, []string{"fragment", "query", ""}}, ""},
		{"client_credentials alone needs no response type", Config{GrantTypes: []string{"client_credentials"}},
			want{[]string{"client_credentials"}, nil, []string{""}}, ""},
		{"password and refresh", Config{GrantTypes: []string{"password", "refresh_token"}},
			want{[]string{"password", "refresh_token"}, nil, []string{""}}, ""},
		{"duplicates collapse", Config{GrantTypes: []string{"authorization_code", "authorization_code"}, ResponseTypes: []string{"code", "code"}, ResponseModes: []string{"query", "query"}},
			want{[]string{"authorization_code"}, []string{"code"}, []string{"query", ""}}, ""},

		{"unknown grant type", Config{GrantTypes: []string{"urn:ietf:params:oauth:grant-type:jwt-bearer"}}, want{}, `grant_types: "urn:ietf:params:oauth:grant-type:jwt-bearer" is not one of`},
		{"device grant: no authorization endpoint, no response types", Config{GrantTypes: []string{GrantDeviceCode, GrantRefreshToken}},
			want{[]string{GrantDeviceCode, GrantRefreshToken}, nil, []string{""}}, ""},
		{"public client_credentials", Config{Public: true, GrantTypes: []string{"client_credentials"}}, want{}, "grant_types: client_credentials is only for confidential clients"},
		{"id_token without implicit", Config{ResponseTypes: []string{"code", "code id_token"}}, want{}, `response_types: "code id_token" needs the implicit grant type`},
		{"token without implicit", Config{ResponseTypes: []string{"token"}}, want{}, `response_types: "token" needs the implicit grant type`},
		{"code without authorization_code", Config{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"code"}}, want{}, `response_types: "code" needs the authorization_code grant type`},
		{"hybrid without authorization_code", Config{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token code"}}, want{}, `response_types: "id_token code" needs the authorization_code grant type`},
		{"implicit without response types", Config{GrantTypes: []string{"implicit"}}, want{}, "response_types: required with the implicit grant type"},
		{"unknown response type", Config{ResponseTypes: []string{"code none"}}, want{}, `response_types: "code none" is not one of`},
		{"query with token response types", Config{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token token"}, ResponseModes: []string{"query"}}, want{}, "response_modes: query cannot carry the tokens"},
		{"query with hybrid only", Config{GrantTypes: []string{"authorization_code", "implicit"}, ResponseTypes: []string{"code id_token"}, ResponseModes: []string{"form_post", "query"}}, want{}, "response_modes: query cannot carry the tokens"},
		{"unknown response mode", Config{ResponseModes: []string{"web_message"}}, want{}, `response_modes: "web_message" is not one of query, fragment, form_post`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ID = "app"
			if !cfg.Public {
				cfg.Secret = "app-secret"
			}
			cfg.RedirectURIs = []string{cb}
			c, err := newBase(cfg, []string{"RS256", "ES256"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var modes []string
			for _, m := range c.responseModes {
				modes = append(modes, string(m))
			}
			if !slices.Equal(c.grantTypes, tc.want.grants) || !slices.Equal(c.responseTypes, tc.want.types) || !slices.Equal(modes, tc.want.modes) {
				t.Errorf("grants %q types %q modes %q, want %q %q %q", c.grantTypes, c.responseTypes, modes, tc.want.grants, tc.want.types, tc.want.modes)
			}
			if !slices.Equal([]string(c.GetResponseTypes()), tc.want.types) {
				t.Errorf("GetResponseTypes = %q, want exactly %q", c.GetResponseTypes(), tc.want.types)
			}
		})
	}
}

func TestRedirectURIsOnlyForTheAuthorizationEndpoint(t *testing.T) {
	for _, tc := range []struct {
		grants []string
		need   bool
	}{
		{nil, true},
		{[]string{"authorization_code"}, true},
		{[]string{"implicit"}, true},
		{[]string{"client_credentials"}, false},
		{[]string{"password", "refresh_token"}, false},
	} {
		_, err := newBase(Config{ID: "m2m", Secret: "s", GrantTypes: tc.grants}, []string{"RS256"})
		if tc.need != (err != nil && strings.Contains(err.Error(), "redirect_uris")) {
			t.Errorf("grant types %q without redirect URIs: err = %v", tc.grants, err)
		}
	}
}

func TestPasswordGrantNeedsOneFactor(t *testing.T) {
	password := Config{ID: "legacy", Secret: "legacy-secret", GrantTypes: []string{"password"}}
	cases := []struct {
		name   string
		policy string
		def    string
		named  authn.Policies
		err    string
	}{
		{"one_factor", "one_factor", "", nil, ""},
		{"default one_factor", "", "", nil, ""},
		{"two_factor", "two_factor", "", nil, `client "legacy": grant_types: password is only allowed with authorization_policy one_factor (and no rules), not two_factor`},
		{"default two_factor", "", "two_factor", nil, `client "legacy": grant_types: password`},
		{"named one_factor without rules", "plain", "", authn.Policies{"plain": {Default: authn.OneFactor}}, ""},
		{"named with rules", "staff", "", authn.Policies{"staff": {Default: authn.OneFactor, Rules: []authn.Rule{{Level: authn.Deny, Subjects: [][]string{{"user:bob"}}}}}}, `not staff`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := password
			c.AuthorizationPolicy = tc.policy
			env := testEnv()
			env.DefaultPolicy, env.Policies = tc.def, tc.named
			_, err := NewRegistry(context.Background(), []Config{c}, env)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// NewRegistry checks the options that name provider-wide definitions;
// errors name the client and the option.
func TestRegistryErrors(t *testing.T) {
	app := Config{ID: "app", Secret: "app-secret", RedirectURIs: []string{"https://app.example/cb"}}
	for _, tc := range []struct {
		name   string
		mutate func(*Config, *Env)
		want   string
	}{
		{"unknown claims_policy", func(c *Config, _ *Env) { c.ClaimsPolicy = "nope" }, `client "app": claims_policy: "nope"`},
		{"unknown lifespan", func(c *Config, e *Env) {
			e.Lifespans = map[string]Lifespans{"short": {AccessToken: 1}}
			c.Lifespan = "long"
		}, `client "app": lifespan: "long" is not one of the lifespans ("short")`},
		{"negative lifespan", func(_ *Config, e *Env) {
			e.Lifespans = map[string]Lifespans{"neg": {RefreshToken: -1}}
		}, `lifespans "neg": refresh_token: must not be negative`},
		{"bad access token alg", func(c *Config, _ *Env) { c.AccessTokenSignedResponseAlg = "HS256" }, `client "app": access_token_signed_response_alg: "HS256"`},
		{"bad userinfo alg", func(c *Config, _ *Env) { c.UserinfoSignedResponseAlg = "RS512" }, `client "app": userinfo_signed_response_alg: "RS512"`},
		{"plain PKCE not enabled", func(c *Config, _ *Env) { c.PKCEChallengeMethod = "plain" }, `client "app": pkce_challenge_method: plain needs enable_pkce_plain_challenge`},
		{"registered twice", func(c *Config, _ *Env) {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, env := app, testEnv()
			tc.mutate(&c, &env)
			cfgs := []Config{c}
			want := tc.want
			if want == "" {
				cfgs, want = []Config{c, c}, `client "app": client_id: registered twice`
			}
			_, err := NewRegistry(context.Background(), cfgs, env)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want %q", err, want)
			}
		})
	}
}
