package provider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ory/fosite"

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
		cfg  ClientConfig
		want want
		err  string // substring of the error; "" = valid
	}{
		{"defaults", ClientConfig{}, want{
			[]string{"authorization_code", "refresh_token"}, []string{"code"}, []string{"form_post", "query", ""}}, ""},
		{"all six of Authelia's response types", ClientConfig{
			GrantTypes:    []string{"authorization_code", "implicit"},
			ResponseTypes: []string{"code", "code id_token", "id_token", "token id_token", "token", "token id_token code"},
		}, want{
			[]string{"authorization_code", "implicit"},
			[]string{"code", "code id_token", "id_token", "id_token token", "token", "code id_token token"},
			[]string{"form_post", "query", "fragment", ""}}, ""},
		{"implicit only: fragment and form_post", ClientConfig{
			GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token", "id_token token"},
		}, want{[]string{"implicit"}, []string{"id_token", "id_token token"}, []string{"form_post", "fragment", ""}}, ""},
		{"explicit modes kept", ClientConfig{
			GrantTypes: []string{"authorization_code", "implicit"}, ResponseTypes: []string{"code id_token"}, ResponseModes: []string{"form_post"},
		}, want{[]string{"authorization_code", "implicit"}, []string{"code id_token"}, []string{"form_post", ""}}, ""},
		{"fragment for code is allowed when asked", ClientConfig{ResponseModes: []string{"fragment", "query"}},
			want{[]string{"authorization_code", "refresh_token"}, []string{"code"}, []string{"fragment", "query", ""}}, ""},
		{"client_credentials alone needs no response type", ClientConfig{GrantTypes: []string{"client_credentials"}},
			want{[]string{"client_credentials"}, nil, []string{""}}, ""},
		{"password and refresh", ClientConfig{GrantTypes: []string{"password", "refresh_token"}},
			want{[]string{"password", "refresh_token"}, nil, []string{""}}, ""},
		{"duplicates collapse", ClientConfig{GrantTypes: []string{"authorization_code", "authorization_code"}, ResponseTypes: []string{"code", "code"}, ResponseModes: []string{"query", "query"}},
			want{[]string{"authorization_code"}, []string{"code"}, []string{"query", ""}}, ""},

		{"unknown grant type", ClientConfig{GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code"}}, want{}, `grant_types: "urn:ietf:params:oauth:grant-type:device_code" is not one of`},
		{"public client_credentials", ClientConfig{Public: true, GrantTypes: []string{"client_credentials"}}, want{}, "grant_types: client_credentials is only for confidential clients"},
		{"id_token without implicit", ClientConfig{ResponseTypes: []string{"code", "code id_token"}}, want{}, `response_types: "code id_token" needs the implicit grant type`},
		{"token without implicit", ClientConfig{ResponseTypes: []string{"token"}}, want{}, `response_types: "token" needs the implicit grant type`},
		{"code without authorization_code", ClientConfig{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"code"}}, want{}, `response_types: "code" needs the authorization_code grant type`},
		{"hybrid without authorization_code", ClientConfig{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token code"}}, want{}, `response_types: "id_token code" needs the authorization_code grant type`},
		{"implicit without response types", ClientConfig{GrantTypes: []string{"implicit"}}, want{}, "response_types: required with the implicit grant type"},
		{"unknown response type", ClientConfig{ResponseTypes: []string{"code none"}}, want{}, `response_types: "code none" is not one of`},
		{"query with token response types", ClientConfig{GrantTypes: []string{"implicit"}, ResponseTypes: []string{"id_token token"}, ResponseModes: []string{"query"}}, want{}, "response_modes: query cannot carry the tokens"},
		{"query with hybrid only", ClientConfig{GrantTypes: []string{"authorization_code", "implicit"}, ResponseTypes: []string{"code id_token"}, ResponseModes: []string{"form_post", "query"}}, want{}, "response_modes: query cannot carry the tokens"},
		{"unknown response mode", ClientConfig{ResponseModes: []string{"web_message"}}, want{}, `response_modes: "web_message" is not one of query, fragment, form_post`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ID = "app"
			if !cfg.Public {
				cfg.Secret = "app-secret"
			}
			cfg.RedirectURIs = []string{cb}
			c, err := newClient(cfg, []string{"RS256", "ES256"})
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
			for _, m := range c.ResponseModes {
				modes = append(modes, string(m))
			}
			if !slices.Equal(c.GrantTypes, tc.want.grants) || !slices.Equal(c.ResponseTypes, tc.want.types) || !slices.Equal(modes, tc.want.modes) {
				t.Errorf("grants %q types %q modes %q, want %q %q %q", c.GrantTypes, c.ResponseTypes, modes, tc.want.grants, tc.want.types, tc.want.modes)
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
		_, err := newClient(ClientConfig{ID: "m2m", Secret: "s", GrantTypes: tc.grants}, []string{"RS256"})
		if tc.need != (err != nil && strings.Contains(err.Error(), "redirect_uris")) {
			t.Errorf("grant types %q without redirect URIs: err = %v", tc.grants, err)
		}
	}
}

func TestPasswordGrantNeedsOneFactor(t *testing.T) {
	password := ClientConfig{ID: "legacy", Secret: "legacy-secret", GrantTypes: []string{"password"}}
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
			_, err := flowsProviderErr(t, func(cfg *Config) {
				c := password
				c.AuthorizationPolicy = tc.policy
				cfg.Clients = append(cfg.Clients, c)
				cfg.Authn.DefaultPolicy = tc.def
				cfg.Authn.Policies = tc.named
			})
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// flowsProviderErr returns New's answer to the endpoint tests' configuration
// changed by mutate (newEndpointProvider builds it, without the change).
func flowsProviderErr(t *testing.T, mutate func(*Config)) (*Provider, error) {
	t.Helper()
	var cfg Config
	newEndpointProvider(t, func(c *Config) {
		cfg = *c
		cfg.Clients = slices.Clone(c.Clients)
		mutate(&cfg)
	})
	return New(cfg)
}

func TestDiscoveryListsConfiguredFlows(t *testing.T) {
	meta := func(tp *epProvider) map[string][]string {
		var doc map[string]any
		if err := json.Unmarshal(tp.discovery, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, k := range []string{"grant_types_supported", "response_types_supported", "response_modes_supported"} {
			for _, v := range doc[k].([]any) {
				out[k] = append(out[k], v.(string))
			}
		}
		return out
	}
	plain := meta(newEndpointProvider(t, nil))
	if want := []string{"authorization_code", "refresh_token"}; !slices.Equal(plain["grant_types_supported"], want) {
		t.Errorf("code clients only: grant types %q, want %q", plain["grant_types_supported"], want)
	}
	if !slices.Equal(plain["response_types_supported"], []string{"code"}) || !slices.Equal(plain["response_modes_supported"], []string{"query", "form_post"}) {
		t.Errorf("code clients only: %q", plain)
	}
	all := meta(newEndpointProvider(t, func(cfg *Config) {
		cfg.Clients = append(cfg.Clients,
			ClientConfig{ID: "hybrid", Secret: "s", RedirectURIs: []string{"https://h.example/cb"}, GrantTypes: []string{"authorization_code", "implicit"},
				ResponseTypes: []string{"token id_token code", "id_token"}, ResponseModes: []string{"form_post"}},
			ClientConfig{ID: "m2m", Secret: "s", GrantTypes: []string{"client_credentials"}},
			ClientConfig{ID: "legacy", Secret: "s", GrantTypes: []string{"password"}},
		)
	}))
	if want := []string{"authorization_code", "refresh_token", "implicit", "client_credentials", "password"}; !slices.Equal(all["grant_types_supported"], want) {
		t.Errorf("grant types %q, want %q", all["grant_types_supported"], want)
	}
	if want := []string{"code", "code id_token token", "id_token"}; !slices.Equal(all["response_types_supported"], want) {
		t.Errorf("response types %q, want %q", all["response_types_supported"], want)
	}
	// fragment: the hybrid client's default mode, though it lists form_post only.
	if want := []string{"query", "fragment", "form_post"}; !slices.Equal(all["response_modes_supported"], want) {
		t.Errorf("response modes %q, want %q", all["response_modes_supported"], want)
	}
}

// TestEarlyResponseTypeChecks: what fosite would refuse only after the
// login and consent pages is refused before them, at the redirect URI, in
// the right response mode and with iss.
func TestEarlyResponseTypeChecks(t *testing.T) {
	tp := newEndpointProvider(t, func(cfg *Config) {
		cfg.Clients = append(cfg.Clients,
			ClientConfig{ID: "imp", Secret: "s", RedirectURIs: []string{"https://imp.example/cb", "app.native:/cb"}, GrantTypes: []string{"authorization_code", "implicit"},
				ResponseTypes: []string{"code", "id_token", "id_token token", "code id_token", "token"}, ResponseModes: []string{"query", "fragment", "form_post"}},
		)
	})
	base := url.Values{"client_id": {"imp"}, "redirect_uri": {"https://imp.example/cb"}, "scope": {"openid"}, "state": {"state-123456"}, "nonce": {"nonce-123456"}}
	cases := []struct {
		name    string
		set     url.Values
		del     string
		mode    string // where the error is: query, fragment or form_post
		errCode string // "" = the login page
	}{
		{"implicit is fine", url.Values{"response_type": {"id_token token"}}, "", "", ""},
		{"hybrid is fine", url.Values{"response_type": {"code id_token"}}, "", "", ""},
		{"tokens in the query", url.Values{"response_type": {"id_token token"}, "response_mode": {"query"}}, "", "query", "unsupported_response_mode"},
		{"id_token without nonce", url.Values{"response_type": {"id_token"}}, "nonce", "fragment", "invalid_request"},
		{"hybrid without nonce", url.Values{"response_type": {"code id_token"}}, "nonce", "fragment", "invalid_request"},
		{"hybrid without nonce in form_post", url.Values{"response_type": {"code id_token"}, "response_mode": {"form_post"}}, "nonce", "form_post", "invalid_request"},
		{"id_token without openid", url.Values{"response_type": {"id_token"}, "scope": {"profile"}}, "", "fragment", "invalid_scope"},
		{"implicit scope error before fosite's default mode", url.Values{"response_type": {"token"}, "scope": {"openid admin"}}, "", "fragment", "invalid_scope"},
		{"form_post to a custom scheme", url.Values{"response_type": {"code"}, "response_mode": {"form_post"}, "redirect_uri": {"app.native:/cb"}}, "", "query", "unsupported_response_mode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = v
			}
			for k, v := range tc.set {
				q[k] = v
			}
			q.Del(tc.del)
			req := httptest.NewRequest(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil)
			w := httptest.NewRecorder()
			tp.ServeHTTP(w, req)
			if tc.errCode == "" {
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="password"`) {
					t.Fatalf("want the login page, got %d %s %.300s", w.Code, w.Header().Get("Location"), w.Body.String())
				}
				return
			}
			params := authorizeResponseParams(t, w, tc.mode)
			if params.Get("error") != tc.errCode || params.Get("iss") != epIssuer || params.Get("state") != "state-123456" {
				t.Errorf("params %v, want error %s with iss and state", params, tc.errCode)
			}
		})
	}
}

// authorizeResponseParams reads an authorization response in the mode.
func authorizeResponseParams(t *testing.T, w *httptest.ResponseRecorder, mode string) url.Values {
	t.Helper()
	switch mode {
	case "form_post":
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("want the form_post page, got %d %q", w.Code, w.Header().Get("Location"))
		}
		return formPostFields(t, w.Body.String())
	case "query", "fragment":
		if w.Code != http.StatusSeeOther {
			t.Fatalf("want a redirect, got %d %.300s", w.Code, w.Body.String())
		}
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		if mode == "query" {
			if u.Fragment != "" {
				t.Errorf("fragment %q in a query response", u.Fragment)
			}
			return u.Query()
		}
		if u.RawQuery != "" {
			t.Errorf("query %q in a fragment response", u.RawQuery)
		}
		v, err := url.ParseQuery(u.EscapedFragment())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Fatalf("unknown mode %q", mode)
	return nil
}

var _ fosite.ResponseModeClient = (*Client)(nil)
