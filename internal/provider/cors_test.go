package provider

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	type want struct {
		status int    // 0: the endpoint answered (not 204 from CORS)
		acao   string // Access-Control-Allow-Origin
	}
	cases := []struct {
		name   string
		cfg    CORSConfig
		method string
		path   string
		origin string
		want   want
	}{
		{"listed origin", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "POST", pathToken, "https://spa.example", want{0, "https://spa.example"}},
		{"listed origin, preflight", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "OPTIONS", pathToken, "https://spa.example", want{204, "https://spa.example"}},
		{"other origin", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "POST", pathToken, "https://evil.example", want{0, ""}},
		{"other origin, preflight", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "OPTIONS", pathToken, "https://evil.example", want{204, ""}},
		{"endpoint not listed", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "GET", pathUserinfo, "https://spa.example", want{0, ""}},
		{"no Origin", CORSConfig{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://spa.example"}}, "POST", pathToken, "", want{0, ""}},
		{"*", CORSConfig{Endpoints: []string{"userinfo"}, AllowedOrigins: []string{"*"}}, "GET", pathUserinfo, "http://anything.example:8080", want{0, "*"}},
		{"* and null", CORSConfig{Endpoints: []string{"userinfo"}, AllowedOrigins: []string{"*"}}, "GET", pathUserinfo, "null", want{0, ""}},
		{"default: https origins", CORSConfig{Endpoints: []string{"userinfo"}}, "GET", pathUserinfo, "https://any.example", want{0, "https://any.example"}},
		{"default: not http", CORSConfig{Endpoints: []string{"userinfo"}}, "GET", pathUserinfo, "http://any.example", want{0, ""}},
		{"from redirect URIs", CORSConfig{Endpoints: []string{"introspection"}, AllowedOriginsFromClientRedirectURIs: true}, "POST", pathIntrospection, "https://app.example", want{0, "https://app.example"}},
		{"from redirect URIs, not others", CORSConfig{Endpoints: []string{"introspection"}, AllowedOriginsFromClientRedirectURIs: true}, "POST", pathIntrospection, "https://any.example", want{0, ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newEndpointProvider(t, func(c *Config) { c.CORS = tc.cfg })
			r := httptest.NewRequest(tc.method, epIssuer+tc.path, nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if tc.method == http.MethodOptions {
				r.Header.Set("Access-Control-Request-Method", "POST")
				r.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			w := httptest.NewRecorder()
			p.ServeHTTP(w, r)
			h := w.Header()
			if got := h.Get("Access-Control-Allow-Origin"); got != tc.want.acao {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.want.acao)
			}
			if tc.want.status == 204 && w.Code != 204 {
				t.Errorf("status %d, want 204", w.Code)
			}
			if tc.want.status == 0 && w.Code == 204 {
				t.Errorf("CORS answered a request meant for the endpoint")
			}
			preflightOK := tc.want.status == 204 && tc.want.acao != ""
			if got := h.Get("Access-Control-Allow-Methods"); (got != "") != preflightOK {
				t.Errorf("Access-Control-Allow-Methods %q", got)
			}
			if preflightOK && (h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, DPoP" || h.Get("Access-Control-Max-Age") == "") {
				t.Errorf("preflight headers %v", h)
			}
			if tc.want.acao == "" {
				for k := range h {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Errorf("CORS header %s sent", k)
					}
				}
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed")
			}
			listed := tc.path != pathUserinfo || tc.cfg.Endpoints[0] == "userinfo"
			if vary := strings.Join(h.Values("Vary"), ","); listed && !strings.Contains(vary, "Origin") {
				t.Errorf("Vary %q lacks Origin", vary)
			}
		})
	}
}
