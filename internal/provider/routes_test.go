package provider

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Handles claims exactly the route table's paths, below the issuer's path.
func TestHandles(t *testing.T) {
	root := newEndpointProvider(t, nil)
	sub := newEndpointProvider(t, func(c *Config) { c.Issuer = epIssuer + "/idp" })
	for _, tc := range []struct {
		p      *epProvider
		method string
		path   string
		want   bool
	}{
		{root, "GET", "/.well-known/openid-configuration", true},
		{root, "PUT", "/.well-known/openid-configuration", true}, // ours, answered 405
		{root, "GET", "/jwks.json", true},
		{root, "POST", "/api/oidc/token", true},
		{root, "GET", "/api/oidc/token", true},
		{root, "GET", "/login", true},
		{root, "POST", "/login/2fa", true},
		{root, "GET", "/settings", true},
		{root, "GET", "/assets/style.css", true},
		{root, "GET", "/api/webauthn/login/options", true},
		{root, "GET", "/api/webauthn/nope", true}, // JSON 404
		{root, "GET", "/", false},
		{root, "GET", "/assets", false}, // the mux would redirect: not ours
		{root, "GET", "/login/", false},
		{root, "GET", "/x/../login", false},
		{root, "GET", "//login", false},
		{root, "GET", "/app/login", false},
		{sub, "GET", "/idp/.well-known/openid-configuration", true},
		{sub, "GET", "/.well-known/oauth-authorization-server/idp", true}, // RFC 8414 3
		{sub, "GET", "/idp/.well-known/oauth-authorization-server", true},
		{sub, "GET", "/.well-known/openid-configuration", false},
		{sub, "GET", "/login", false},
		{sub, "GET", "/idp", false},
		{sub, "GET", "/idpx/login", false},
	} {
		r := httptest.NewRequest(tc.method, "http://op.example/", nil)
		r.URL.Path = tc.path
		if got := tc.p.Handles(r); got != tc.want {
			t.Errorf("%s %s (issuer %s): Handles = %v, want %v", tc.method, tc.path, tc.p.issuer, got, tc.want)
		}
	}
}

// A method a path does not answer gets 405 with Allow, in the form the
// endpoint's callers read: a page, an OAuth error, a bearer error, JSON.
func TestRoutesRefuseMethods(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	for _, tc := range []struct {
		method, path, allow, contentType string
	}{
		{"POST", "/jwks.json", "GET, HEAD", "text/plain; charset=utf-8"},
		{"DELETE", "/.well-known/openid-configuration", "GET, HEAD", "text/plain; charset=utf-8"},
		{"GET", "/api/oidc/token", "POST", "application/json;charset=UTF-8"},
		{"GET", "/api/oidc/revocation", "POST", "application/json;charset=UTF-8"},
		{"DELETE", "/api/oidc/userinfo", "GET, POST", "application/json; charset=utf-8"},
		{"PUT", "/api/oidc/authorization", "GET, POST", "text/html; charset=utf-8"},
		{"DELETE", "/consent", "POST", "text/html; charset=utf-8"},
		{"PUT", "/login", "GET, POST", "text/html; charset=utf-8"},
		{"PUT", "/login/continue", "POST", "text/html; charset=utf-8"},
		{"PUT", "/login/2fa", "POST", "text/html; charset=utf-8"},
		{"DELETE", "/settings", "GET, POST", "text/html; charset=utf-8"},
		{"GET", "/api/webauthn/login/options", "POST", "application/json; charset=utf-8"},
		{"POST", "/api/webauthn/credentials", "GET", "application/json; charset=utf-8"},
	} {
		w := httptest.NewRecorder()
		tp.ServeHTTP(w, httptest.NewRequest(tc.method, epIssuer+tc.path, nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != tc.allow || w.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: %d, Allow %q, Content-Type %q; want 405, %q, %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), w.Header().Get("Content-Type"), tc.allow, tc.contentType)
		}
	}
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, httptest.NewRequest(http.MethodPost, epIssuer+"/assets/style.css", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("POST to an asset: %d, want 404", w.Code)
	}
}

// A GET of a form-only path (from the browser's history) goes to the
// settings page, which offers the way on, instead of a 405.
func TestRoutesFormOnlyGET(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	for _, path := range []string{"/login/2fa", "/login/totp", "/login/continue", "/consent"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			w := httptest.NewRecorder()
			tp.ServeHTTP(w, httptest.NewRequest(method, epIssuer+path, nil))
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/settings" || w.Header().Get("Allow") != "" {
				t.Errorf("%s %s: %d Location %q Allow %q; want 303 to /settings", method, path, w.Code, w.Header().Get("Location"), w.Header().Get("Allow"))
			}
		}
	}
}
