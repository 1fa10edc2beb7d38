package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// pbkdf2Digest is Authelia's documentation digest of "insecure_secret":
// pbkdf2-sha512 with 310000 rounds, the cost Authelia recommends.
const pbkdf2Digest = "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"

// digestProvider is a provider with a client whose secret is pbkdf2Digest
// and which may use client_credentials.
func digestProvider(tb testing.TB) *Provider {
	tb.Helper()
	km, err := keys.LoadOrCreate(context.Background(), &certmagic.FileStorage{Path: tb.TempDir()}, "test")
	if err != nil {
		tb.Fatal(err)
	}
	db, err := store.OpenSQLite(filepath.Join(tb.TempDir(), "oidc.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	p, err := New(Config{
		Issuer: epIssuer, Users: epUsers{}, Keys: km, DB: db,
		HMACSecret: []byte(strings.Repeat("h", 32)), CookieSecret: []byte(strings.Repeat("c", 32)),
		Clients: []ClientConfig{{
			ID: "digest-app", Secret: pbkdf2Digest, Scopes: []string{"openid"},
			GrantTypes: []string{"client_credentials"},
		}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func basicRequest(id, secret string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, epIssuer+pathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	_ = r.ParseForm()
	return r
}

// BenchmarkTokenClientSecretDigest is the cost of a whole client_credentials
// token request of a client whose secret is a pbkdf2-sha512 digest of 310000
// rounds, once the secret is cached (package clients measures the
// authentication alone, cold and cached).
func BenchmarkTokenClientSecretDigest(b *testing.B) {
	p := digestProvider(b)
	token := func(b *testing.B) {
		form := url.Values{"grant_type": {"client_credentials"}}
		p.ServeHTTP(httptest.NewRecorder(), basicRequest("digest-app", "insecure_secret", form)) // warm (untimed)
		for b.Loop() {
			w := httptest.NewRecorder()
			p.ServeHTTP(w, basicRequest("digest-app", "insecure_secret", form))
			if w.Code != http.StatusOK {
				b.Fatalf("token: %d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("token/cached", token)
}

// An authorization stores its code's PKCE and OpenID Connect records in the
// code's own row (store.WithCodeBundle), a code exchange deletes nothing
// and leaves no record in the tables fosite would use for them (what it
// would delete rides on the code's transaction: store.WithDeferredDeletes),
// the code cannot be used twice, and a wrong code_verifier still burns the
// code's PKCE record, and retires the code with it.
func TestCodeExchangeCleanup(t *testing.T) {
	bp := newBenchProvider(t)
	rows := func(table string) int {
		t.Helper()
		var n int
		if err := bp.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	exchange := func(code, verifier string) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {bnRedirect}, "code_verifier": {verifier}}
		r := basicRequest("bench-rs", bnSecret, form)
		w := httptest.NewRecorder()
		bp.ServeHTTP(w, r)
		return w
	}

	// bundled counts the codes whose row carries a PKCE and an OpenID
	// Connect record.
	bundled := func() (pkce, oidc int) {
		t.Helper()
		if err := bp.db.QueryRowContext(context.Background(),
			"SELECT COUNT(pkce_form), COUNT(oidc_key) FROM oauth2_code").Scan(&pkce, &oidc); err != nil {
			t.Fatal(err)
		}
		return pkce, oidc
	}

	code := bp.code(t, "bench-rs", "openid offline_access")
	if pkce, oidc := rows("oauth2_pkce"), rows("oauth2_oidc"); pkce != 0 || oidc != 0 {
		t.Fatalf("after authorize: %d PKCE and %d OpenID Connect records in their tables, want none", pkce, oidc)
	}
	if pkce, oidc := bundled(); pkce != 1 || oidc != 1 {
		t.Fatalf("after authorize: %d PKCE and %d OpenID Connect records in the code's row, want 1 and 1", pkce, oidc)
	}
	if w := exchange(code, bnVerifier); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"id_token"`) {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	if pkce, oidc := rows("oauth2_pkce"), rows("oauth2_oidc"); pkce != 0 || oidc != 0 {
		t.Errorf("after the exchange: %d PKCE and %d OpenID Connect records, want none", pkce, oidc)
	}
	if w := exchange(code, bnVerifier); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Errorf("second exchange: %d %s, want invalid_grant", w.Code, w.Body)
	}

	code = bp.code(t, "bench-rs", "openid offline_access")
	if w := exchange(code, strings.Repeat("w", 43)); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Fatalf("wrong verifier: %d %s, want invalid_grant", w.Code, w.Body)
	}
	if pkce, _ := bundled(); rows("oauth2_pkce") != 0 || pkce != 1 {
		t.Errorf("after a wrong verifier: %d PKCE records, want one, the used code's (the new code is burnt)", pkce)
	}
	var active bool
	if err := bp.db.QueryRowContext(context.Background(), "SELECT active FROM oauth2_code WHERE pkce_form IS NULL").Scan(&active); err != nil || active {
		t.Errorf("after a wrong verifier: the code active %v (%v), want it retired", active, err)
	}
	// Without a verifier the PKCE check has nothing to compare (this
	// client need not use PKCE): only the retired code stops it.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {bnRedirect}}
	w := httptest.NewRecorder()
	bp.ServeHTTP(w, basicRequest("bench-rs", bnSecret, form))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Errorf("no verifier after a wrong one: %d %s, want invalid_grant", w.Code, w.Body)
	}
	if w := exchange(code, bnVerifier); w.Code != http.StatusBadRequest {
		t.Errorf("right verifier after a wrong one: %d %s, want 400", w.Code, w.Body)
	}

	// A missing verifier for a code with a challenge retires it just the same.
	code = bp.code(t, "bench-rs", "openid offline_access")
	form.Set("code", code)
	w = httptest.NewRecorder()
	bp.ServeHTTP(w, basicRequest("bench-rs", bnSecret, form))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "invalid_grant") {
		t.Fatalf("no verifier for a code with a challenge: %d %s, want invalid_grant", w.Code, w.Body)
	}
	if w := exchange(code, bnVerifier); w.Code != http.StatusBadRequest {
		t.Errorf("right verifier after a missing one: %d %s, want 400", w.Code, w.Body)
	}
}
