package provider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// One Origin and token check serves the page forms and the passkey
// scripts: no Origin or the issuer's passes; another origin and "null"
// (sandboxed frames, data: and file: documents) are cross-origin.
func TestCSRFOrigin(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{epIssuer, true},
		{"null", false},
		{"https://evil.example", false},
		{"http://op.example", false}, // another scheme is another origin
		{epIssuer + ":8443", false},
	} {
		t.Run("form "+tc.origin, func(t *testing.T) {
			sess, csrf, token := tp.signIn("alice")
			req := httptest.NewRequest(http.MethodPost, epIssuer+pathLogout, strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			req.AddCookie(sess)
			req.AddCookie(csrf)
			w := httptest.NewRecorder()
			tp.ServeHTTP(w, req)
			if ok := w.Code == http.StatusOK; ok != tc.ok {
				t.Errorf("sign-out form with Origin %q: %d, want accepted=%v", tc.origin, w.Code, tc.ok)
			}
		})
		t.Run("check "+tc.origin, func(t *testing.T) {
			_, csrf, token := tp.signIn("alice")
			req := httptest.NewRequest(http.MethodPost, epIssuer+"/api/webauthn/register/options", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			req.AddCookie(csrf)
			if got := tp.checkCSRF(req, token); got != tc.ok {
				t.Errorf("Origin %q: %v, want %v", tc.origin, got, tc.ok)
			}
		})
	}
	// The token must match the cookie.
	_, csrf, _ := tp.signIn("alice")
	req := httptest.NewRequest(http.MethodPost, epIssuer+pathSettings, nil)
	req.AddCookie(csrf)
	for _, bad := range []string{"", "x", tp.csrfFor(strings.Repeat("a", 43))} {
		if tp.checkCSRF(req, bad) {
			t.Errorf("token %q accepted", bad)
		}
	}
}
