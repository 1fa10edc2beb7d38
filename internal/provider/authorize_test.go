package provider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestDiscoveryListsConfiguredFlows(t *testing.T) {
	meta := func(tp *epProvider) map[string][]string {
		var doc map[string]any
		if err := json.Unmarshal(tp.discovery, &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, k := range []string{"grant_types_supported", "response_types_supported", "response_modes_supported"} {
			for _, v := range mustBe[[]any](t, doc[k]) {
				out[k] = append(out[k], mustBe[string](t, v))
			}
		}
		return out
	}
	plain := meta(newEndpointProvider(t, nil))
	if want := []string{"authorization_code", "refresh_token"}; !slices.Equal(plain["grant_types_supported"], want) {
		t.Errorf("code clients only: grant types %q, want %q", plain["grant_types_supported"], want)
	}
	if !slices.Equal(plain["response_types_supported"], []string{"code"}) || !slices.Equal(plain["response_modes_supported"], []string{"query", "form_post", "query.jwt", "form_post.jwt", "jwt"}) {
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
	if want := []string{"query", "fragment", "form_post", "query.jwt", "form_post.jwt", "jwt"}; !slices.Equal(all["response_modes_supported"], want) {
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
