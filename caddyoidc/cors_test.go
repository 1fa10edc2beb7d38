package caddyoidc_test

// CORS (Authelia's cors section) on a real Caddy (issue 6).

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// corsCall sends method to path with an Origin (none when ""), as a
// preflight when preflight is set.
func corsCall(t *testing.T, e *env, method, path, origin string, preflight bool, body url.Values, bearer string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, _ := http.NewRequest(method, e.issuer+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if preflight {
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	closeBody(resp)
	return resp
}

func corsHeaders(h http.Header) []string {
	var out []string
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out = append(out, k)
		}
	}
	return out
}

const corsClients = standardClients + `
		client local-app {
			client_secret s3cret-local
			redirect_uris http://localhost:3000/cb https://photos.example.com/auth/login
		}`

func TestCORS(t *testing.T) {
	e := newEnv(t, corsClients)
	const spa = "https://spa.example.com"
	e.extra = `
		cors {
			endpoints token userinfo revocation introspection
			allowed_origins ` + spa + ` http://127.0.0.1:5173
		}`
	e.start()
	l := newLeakCheck(t, e)
	b := newBrowser(t, e.issuer)
	tok := tokensFor(t, e, l, b, "alice")
	access := tok.str("access_token")

	t.Run("preflight from an allowed origin", func(t *testing.T) {
		for _, path := range []string{"/api/oidc/token", "/api/oidc/userinfo", "/api/oidc/revocation", "/api/oidc/introspection"} {
			resp := corsCall(t, e, http.MethodOptions, path, spa, true, nil, "")
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != spa {
				t.Fatalf("%s: %d, Allow-Origin %q", path, resp.StatusCode, h.Get("Access-Control-Allow-Origin"))
			}
			if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type, DPoP" || h.Get("Access-Control-Max-Age") == "" {
				t.Errorf("%s: preflight headers %v", path, h)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("%s: Vary %v", path, h.Values("Vary"))
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("%s: credentials allowed", path)
			}
		}
		if m := corsCall(t, e, http.MethodOptions, "/api/oidc/userinfo", spa, true, nil, "").Header.Get("Access-Control-Allow-Methods"); m != "GET, POST" {
			t.Errorf("userinfo methods %q", m)
		}
	})
	t.Run("requests from an allowed origin", func(t *testing.T) {
		resp := corsCall(t, e, http.MethodGet, "/api/oidc/userinfo", "http://127.0.0.1:5173", false, nil, access)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:5173" {
			t.Errorf("userinfo: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		// An error response is readable too, with its challenge.
		resp = corsCall(t, e, http.MethodPost, "/api/oidc/token", spa, false, url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}, "client_id": {"spa"}}, "")
		if resp.StatusCode < 400 || resp.Header.Get("Access-Control-Allow-Origin") != spa {
			t.Errorf("token error: %d, Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("other origins get no CORS headers", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example.com", "http://spa.example.com", "null"} {
			resp := corsCall(t, e, http.MethodOptions, "/api/oidc/token", origin, true, nil, "")
			if resp.StatusCode != http.StatusNoContent || len(corsHeaders(resp.Header)) > 0 {
				t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, corsHeaders(resp.Header))
			}
			resp = corsCall(t, e, http.MethodGet, "/api/oidc/userinfo", origin, false, nil, access)
			if resp.StatusCode != http.StatusOK || len(corsHeaders(resp.Header)) > 0 {
				t.Errorf("userinfo from %s: %d %v", origin, resp.StatusCode, corsHeaders(resp.Header))
			}
		}
	})
	t.Run("no Origin, no CORS headers", func(t *testing.T) {
		resp := corsCall(t, e, http.MethodGet, "/api/oidc/userinfo", "", false, nil, access)
		if resp.StatusCode != http.StatusOK || len(corsHeaders(resp.Header)) > 0 {
			t.Errorf("userinfo: %d %v", resp.StatusCode, corsHeaders(resp.Header))
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary %v: caches must not reuse this answer for a cross-origin request", resp.Header.Values("Vary"))
		}
	})
	t.Run("endpoints not listed", func(t *testing.T) {
		resp := corsCall(t, e, http.MethodOptions, "/api/oidc/authorization", spa, true, nil, "")
		if resp.StatusCode == http.StatusNoContent || len(corsHeaders(resp.Header)) > 0 {
			t.Errorf("authorization preflight: %d %v", resp.StatusCode, corsHeaders(resp.Header))
		}
	})
	t.Run("discovery and JWKS allow every origin", func(t *testing.T) {
		for _, path := range []string{"/.well-known/openid-configuration", "/jwks.json"} {
			if got := corsCall(t, e, http.MethodGet, path, "https://anyone.example", false, nil, "").Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("%s: Allow-Origin %q", path, got)
			}
		}
	})

	t.Run("origins from client redirect URIs", func(t *testing.T) {
		e.extra = `
		cors {
			endpoints userinfo
			allowed_origins_from_client_redirect_uris
		}`
		if err := reload(t, e); err != nil {
			t.Fatal(err)
		}
		for origin, allowed := range map[string]bool{
			"http://127.0.0.1:4180":      true, // rpCallback
			"https://photos.example.com": true,
			"http://localhost:3000":      false, // localhost is never added
			"https://spa.example.com":    false,
		} {
			got := corsCall(t, e, http.MethodGet, "/api/oidc/userinfo", origin, false, nil, access).Header.Get("Access-Control-Allow-Origin")
			if (got == origin) != allowed {
				t.Errorf("%s: Allow-Origin %q, allowed %v", origin, got, allowed)
			}
		}
	})
	t.Run("the lone *", func(t *testing.T) {
		e.extra = `
		cors {
			endpoints userinfo token
			allowed_origins *
		}`
		if err := reload(t, e); err != nil {
			t.Fatal(err)
		}
		if got := corsCall(t, e, http.MethodOptions, "/api/oidc/token", "https://anyone.example", true, nil, "").Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("Allow-Origin %q", got)
		}
		if got := corsHeaders(corsCall(t, e, http.MethodGet, "/api/oidc/userinfo", "", false, nil, access).Header); len(got) > 0 {
			t.Errorf("headers without Origin: %v", got)
		}
	})
}

// Misconfigured cors sections fail at provision, naming the option.
func TestCORSProvisionErrors(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	cases := []struct {
		name, block string
		want        []string
	}{
		{"* with other origins", "endpoints token\n\t\t\tallowed_origins * https://a.example.com", []string{"cors: allowed_origins", "only origin"}},
		{"* with redirect URIs", "endpoints token\n\t\t\tallowed_origins *\n\t\t\tallowed_origins_from_client_redirect_uris", []string{"cors: allowed_origins", "allowed_origins_from_client_redirect_uris"}},
		{"origin with a path", "endpoints token\n\t\t\tallowed_origins https://a.example.com/app", []string{"cors: allowed_origins", "https://a.example.com/app"}},
		{"origin with a trailing slash", "endpoints token\n\t\t\tallowed_origins https://a.example.com/", []string{"cors: allowed_origins", "trailing slash"}},
		{"unknown endpoint", "endpoints token jwks", []string{"cors: endpoints", `"jwks"`}},
		{"origins without endpoints", "allowed_origins https://a.example.com", []string{"cors: endpoints"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.extra = "\t\tcors {\n\t\t\t" + tc.block + "\n\t\t}"
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	t.Run("unknown option", func(t *testing.T) {
		e.extra = "\t\tcors {\n\t\t\tallowed_methods GET\n\t\t}"
		if err := reload(t, e); err == nil || !strings.Contains(err.Error(), `cors: unrecognized option "allowed_methods"`) {
			t.Errorf("err = %v", err)
		}
	})
}
