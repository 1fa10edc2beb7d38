package clients

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// The package's one test fixture: an environment, a registry built from
// client configurations, and an authenticator over it.

const testIssuer = "https://auth.example.com"

// testEnv is the provider-wide environment of the tests.
func testEnv() Env { return Env{Algorithms: []string{"RS256", "ES256"}} }

// newTestAuth returns the authenticator of a registry of cfgs, on clock now
// (nil: time.Now).
func newTestAuth(tb testing.TB, now func() time.Time, cfgs ...Config) *Authenticator {
	tb.Helper()
	reg, err := NewRegistry(context.Background(), cfgs, testEnv())
	if err != nil {
		tb.Fatal(err)
	}
	return NewAuthenticator(reg, &memJTIs{m: map[string]time.Time{}}, testIssuer, "", testIssuer+"/api/oidc/token", nil, now)
}

// memJTIs is a JTIStore in memory.
type memJTIs struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *memJTIs) SetClientAssertionJWT(_ context.Context, jti string, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[jti]; ok {
		return fosite.ErrJTIKnown
	}
	s.m[jti] = exp
	return nil
}

// clearVerified empties the cache of verified secrets.
func clearVerified() {
	verified.mu.Lock()
	clear(verified.m)
	verified.mu.Unlock()
}

func basicRequest(id, secret string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, testIssuer+"/api/oidc/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	_ = r.ParseForm()
	return r
}

// pbkdf2Digest is Authelia's documentation digest of "insecure_secret":
// pbkdf2-sha512 with 310000 rounds, the cost Authelia recommends.
const pbkdf2Digest = "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"

// digestAuth authenticates a client whose secret is pbkdf2Digest.
func digestAuth(tb testing.TB) *Authenticator {
	return newTestAuth(tb, nil, Config{ID: "digest-app", Secret: pbkdf2Digest, Scopes: []string{"openid"}, GrantTypes: []string{"client_credentials"}})
}

var _ JTIStore = (*memJTIs)(nil)
