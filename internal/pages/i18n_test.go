package pages

import (
	"net/http"
	"testing"
	"time"
)

// TestPasskeyAPILanguage: the passkey endpoints' error descriptions, which
// the script shows, follow the Accept-Language the script sends (the
// page's language).
func TestPasskeyAPILanguage(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	alice := e.browser()
	alice.signIn("alice", []string{"pwd"}, time.Now().Add(-time.Hour)) // too old to change passkeys
	cases := []struct{ lang, want string }{
		{"", "Please sign in again to change your passkeys."},
		{"de", "Bitte melden Sie sich erneut an, um Ihre Passkeys zu ändern."},
		{"fr", "Veuillez vous reconnecter pour modifier vos clés d’accès."},
		{"es", "Vuelve a iniciar sesión para cambiar tus llaves de acceso."},
	}
	for _, tc := range cases {
		r := alice.call(http.MethodPost, "/register/options", nil, func(r *http.Request) {
			if tc.lang != "" {
				r.Header.Set("Accept-Language", tc.lang)
			}
		})
		r.expect(t, "stale session "+tc.lang, http.StatusUnauthorized, "login_required")
		if got := r.json(t)["error_description"]; got != tc.want {
			t.Errorf("%q: error_description %q, want %q", tc.lang, got, tc.want)
		}
	}
	bad := alice.call(http.MethodPost, "/register/options", nil, func(r *http.Request) {
		r.Header.Set("Accept-Language", "fr")
		r.Header.Del("X-CSRF-Token")
	})
	bad.expect(t, "csrf", http.StatusForbidden, "invalid_csrf_token")
	if got := bad.json(t)["error_description"]; got != "La demande ne provenait pas d’une page de ce site, ou la page est périmée. Rechargez-la et réessayez." {
		t.Errorf("csrf in French: %q", got)
	}
}
