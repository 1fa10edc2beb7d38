package provider

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDiscoveryListsEndpoints(t *testing.T) {
	for _, require := range []bool{false, true} {
		tp := newEndpointProvider(t, func(c *Config) { c.RequirePushedAuthorizationRequests = require })
		w := httptest.NewRecorder()
		tp.ServeHTTP(w, httptest.NewRequest(http.MethodGet, epIssuer+pathDiscovery, nil))
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"introspection_endpoint":                        epIssuer + "/api/oidc/introspection",
			"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"},
			"revocation_endpoint":                           epIssuer + "/api/oidc/revocation",
			"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "none", "client_secret_jwt", "private_key_jwt"},
			"end_session_endpoint":                          epIssuer + "/api/oidc/end-session",
			"pushed_authorization_request_endpoint":         epIssuer + "/api/oidc/pushed-authorization-request",
			"require_pushed_authorization_requests":         require,
			"request_uri_parameter_supported":               true,
			"request_parameter_supported":                   true,
			"require_request_uri_registration":              true,
		}
		for k, v := range want {
			if mustJSON(doc[k]) != mustJSON(v) {
				t.Errorf("%s = %v, want %v", k, doc[k], v)
			}
		}
		// Every advertised endpoint is served.
		for _, k := range []string{"introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "pushed_authorization_request_endpoint"} {
			r := httptest.NewRequest(http.MethodGet, mustBe[string](t, doc[k]), nil)
			if !tp.Handles(r) {
				t.Errorf("%s %v is not routed", k, doc[k])
			}
		}
	}
}
