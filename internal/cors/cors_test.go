package cors

import (
	"strings"
	"testing"
)

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com":     "https://app.example.com",
		"https://app.example.com:443": "https://app.example.com",
		"http://app.example.com:80":   "http://app.example.com",
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
		"https://[::1]:8443":          "https://[::1]:8443",
		"https://app.example.com/":    "",
		"https://app.example.com/x":   "",
		"https://app.example.com?":    "",
		"app.example.com":             "",
		"ftp://app.example.com":       "",
		"null":                        "",
		"https://u@app.example.com":   "",
	} {
		got, ok := normalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestCORSConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown endpoint", Config{Endpoints: []string{"token", "jwks"}}, `cors: endpoints: "jwks" is not one of`},
		{"origins without endpoints", Config{AllowedOrigins: []string{"https://a.example"}}, "cors: endpoints:"},
		{"* with others", Config{Endpoints: []string{"token"}, AllowedOrigins: []string{"*", "https://a.example"}}, "* must be the only origin"},
		{"* with redirect URIs", Config{Endpoints: []string{"token"}, AllowedOrigins: []string{"*"}, AllowedOriginsFromClientRedirectURIs: true}, "cannot be combined"},
		{"origin with a path", Config{Endpoints: []string{"token"}, AllowedOrigins: []string{"https://a.example/"}}, `"https://a.example/" is not an origin`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, map[string]Endpoint{"token": {"/api/oidc/token", "POST"}, "userinfo": {"/api/oidc/userinfo", "GET, POST"}}, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
