package pages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// One Origin and token check serves the page forms and the passkey
// scripts: no Origin or the issuer's passes; another origin and "null"
// (sandboxed frames, data: and file: documents) are cross-origin.
func TestCSRFOrigin(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	signIn := func() (session, csrf *http.Cookie, token string) {
		now := time.Now()
		s := store.LoginSession{ID: randomToken(), Username: "alice", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
		if err := e.db.CreateLoginSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		c := randomToken()
		return &http.Cookie{Name: sessionCookie, Value: s.ID}, &http.Cookie{Name: csrfCookie, Value: c}, e.p.csrfFor(c)
	}
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{e.issuer, true},
		{"null", false},
		{"https://evil.example", false},
		{strings.Replace(e.issuer, "http:", "https:", 1), false}, // another scheme is another origin
		{e.issuer + "1", false},                                  // another port
	} {
		sess, csrf, token := signIn()
		req := httptest.NewRequest(http.MethodPost, e.issuer+PathLogout, strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		req.AddCookie(sess)
		req.AddCookie(csrf)
		w := httptest.NewRecorder()
		e.p.ServeLogout(w, req)
		if ok := w.Code == http.StatusOK; ok != tc.ok {
			t.Errorf("sign-out form with Origin %q: %d, want accepted=%v", tc.origin, w.Code, tc.ok)
		}

		req = httptest.NewRequest(http.MethodPost, e.issuer+PathWebAuthn+"/register/options", nil)
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		req.AddCookie(csrf)
		if got := e.p.CheckCSRF(req, token); got != tc.ok {
			t.Errorf("script with Origin %q: %v, want %v", tc.origin, got, tc.ok)
		}
	}
	// The token must match the cookie.
	_, csrf, _ := signIn()
	req := httptest.NewRequest(http.MethodPost, e.issuer+PathSettings, nil)
	req.AddCookie(csrf)
	for _, bad := range []string{"", "x", e.p.csrfFor(strings.Repeat("a", 43))} {
		if e.p.CheckCSRF(req, bad) {
			t.Errorf("token %q accepted", bad)
		}
	}
}

// testClock is real time shifted by what a test adds.
type testClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.shift += d
	c.mu.Unlock()
}

// Login sessions end after the inactivity timeout (default 1h) or their
// lifetime (12h here), remember-me sessions only with theirs (default 30
// days). The clock moves, nothing sleeps.
func TestLoginSessionExpiry(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	start := func(rememberMe bool) *http.Request {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, e.issuer+PathLogin, nil)
		if _, err := e.p.startLogin(w, r, "alice", []string{"pwd"}, rememberMe); err != nil {
			t.Fatal(err)
		}
		next := httptest.NewRequest(http.MethodGet, e.issuer+PathSettings, nil)
		for _, c := range w.Result().Cookies() {
			next.AddCookie(c)
		}
		return next
	}
	alive := func(r *http.Request) bool {
		s, err := e.p.CurrentLogin(r)
		if err != nil {
			t.Fatal(err)
		}
		return s != nil
	}
	plain, kept := start(false), start(true)
	for _, step := range []struct {
		advance     time.Duration
		plain, kept bool
	}{
		{0, true, true},
		{59 * time.Minute, true, true},              // within the default hour of inactivity (and touched now)
		{59 * time.Minute, true, true},              // touched a minute ago: idle for 59 minutes
		{61 * time.Minute, false, true},             // idle past the hour: the plain session ends
		{30*24*time.Hour + time.Hour, false, false}, // past the remember-me lifetime
	} {
		e.clock.advance(step.advance)
		if got := alive(plain); got != step.plain {
			t.Errorf("after +%v: plain session alive = %v, want %v", step.advance, got, step.plain)
		}
		if got := alive(kept); got != step.kept {
			t.Errorf("after +%v: remember-me session alive = %v, want %v", step.advance, got, step.kept)
		}
	}
}
