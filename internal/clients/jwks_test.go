package clients

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer serves body (or fails with status) and counts requests.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int32
	mu     sync.Mutex
	body   []byte
	status int
	stall  bool // answer only once the client gave up (or after 10s)
}

func newJWKSServer(t *testing.T, set jose.JSONWebKeySet) *jwksServer {
	s := &jwksServer{status: http.StatusOK}
	s.body, _ = json.Marshal(set)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, stall := s.body, s.status, s.stall
		s.mu.Unlock()
		if stall {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

func ecJWK(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"}
}

func TestJWKSFetcherCache(t *testing.T) {
	ctx := context.Background()
	srv := newJWKSServer(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecJWK(t, "a")}})
	now := time.Unix(1_900_000_000, 0)
	f := newJWKSFetcher()
	f.now = func() time.Time { return now }
	get := func(refresh bool) *jose.JSONWebKeySet {
		t.Helper()
		set, err := f.get(ctx, srv.URL, refresh)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	get(false)
	get(false)
	get(true) // refresh asked for, but the set is only just fetched
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	// The client rotates its key: a refresh after jwksMinRefresh sees it.
	rotated, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ecJWK(t, "b")}})
	srv.set(rotated, http.StatusOK)
	now = now.Add(jwksMinRefresh)
	if set := get(true); len(set.Key("b")) != 1 || srv.hits.Load() != 2 {
		t.Fatalf("after a refresh: %d fetches, keys %v", srv.hits.Load(), set.Keys)
	}
	// Expired after the TTL.
	now = now.Add(jwksTTL)
	get(false)
	if n := srv.hits.Load(); n != 3 {
		t.Fatalf("%d fetches after the TTL, want 3", n)
	}
	// The client's server fails: the cached set keeps serving, and the
	// failure is not retried before jwksMinRefresh.
	srv.set(nil, http.StatusInternalServerError)
	now = now.Add(jwksTTL)
	if set := get(false); len(set.Key("b")) != 1 {
		t.Fatal("stale set not served")
	}
	get(true)
	if n := srv.hits.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (no retry within jwksMinRefresh)", n)
	}
	// Too stale: the error comes through.
	now = now.Add(jwksStaleFor)
	if _, err := f.get(ctx, srv.URL, false); err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("err = %v", err)
	}
}

func TestJWKSFetcherRefuses(t *testing.T) {
	ctx := context.Background()
	big := `{"keys":[` + strings.Repeat(" ", jwksMaxBytes) + `]}`
	oct, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte(strings.Repeat("k", 32)), KeyID: "hmac", Algorithm: "HS256"}}})
	cases := []struct {
		name, body, want string
		status           int
		stall            bool
	}{
		{"too large", big, "larger than", 200, false},
		{"not found", "{}", "status 404", 404, false},
		{"not JSON", "<html>", "not a JWK Set", 200, false},
		{"symmetric key only", string(oct), "no usable key", 200, false},
		{"slow", `{"keys":[]}`, "Client.Timeout", 200, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jose.JSONWebKeySet{})
			srv.set([]byte(tc.body), tc.status)
			srv.mu.Lock()
			srv.stall = tc.stall
			srv.mu.Unlock()
			f := newJWKSFetcher()
			f.client.Timeout = 100 * time.Millisecond
			_, err := f.get(ctx, srv.URL, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckJWKSURI(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://rp.example/jwks.json":    true,
		"http://127.0.0.1:8080/jwks":      true,
		"http://[::1]/jwks":               true,
		"http://localhost/jwks":           true,
		"http://rp.example/jwks":          false,
		"ftp://rp.example/jwks":           false,
		"/jwks":                           false,
		"https://user:pw@rp.example/jwks": false,
		"https://rp.example/jwks#frag":    false,
	} {
		if err := checkJWKSURI(uri); (err == nil) != ok {
			t.Errorf("%s: err = %v", uri, err)
		}
	}
}
