package logout

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestClaims(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := Claims("https://id.example", "app", "sub-1", "sid-1", now)
	if c["iss"] != "https://id.example" || c["aud"] != "app" || c["sub"] != "sub-1" || c["sid"] != "sid-1" ||
		c["iat"] != now.Unix() || c["exp"] != now.Add(TokenLifetime).Unix() || c["jti"] == "" {
		t.Errorf("claims %v", c)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token must not have a nonce")
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev[Event]; !ok || len(ev) != 1 {
		t.Errorf("events %v", c["events"])
	}
	if Claims("i", "a", "s", "x", now)["jti"] == Claims("i", "a", "s", "x", now)["jti"] {
		t.Error("jti repeats")
	}
	bare := Claims("i", "a", "", "", now)
	if _, ok := bare["sub"]; ok {
		t.Error("empty sub sent")
	}
	if _, ok := bare["sid"]; ok {
		t.Error("empty sid sent")
	}
}

func TestFrontchannelURL(t *testing.T) {
	for _, tc := range []struct {
		uri     string
		session bool
		want    string
	}{
		{"https://app.example/logout", false, "https://app.example/logout"},
		{"https://app.example/logout", true, "https://app.example/logout?iss=https%3A%2F%2Fid.example&sid=s+1"},
		{"https://app.example/logout?x=1", true, "https://app.example/logout?x=1&iss=https%3A%2F%2Fid.example&sid=s+1"},
	} {
		if got := FrontchannelURL(tc.uri, "https://id.example", "s 1", tc.session); got != tc.want {
			t.Errorf("FrontchannelURL(%q, %v) = %q, want %q", tc.uri, tc.session, got, tc.want)
		}
	}
}

// TestSender delivers to a receiver that fails, answers, refuses or is not
// there: retried only when it may help, at most Attempts times, the token
// never logged.
func TestSender(t *testing.T) {
	const token = "eyJ.secret.token"
	var hits, okHits, refused atomic.Int32
	failFirst := atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("%s %s", r.Method, r.Header.Get("Content-Type"))
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("logout_token") != token {
			t.Errorf("form %v %v", r.PostForm, err)
		}
		hits.Add(1)
		switch r.URL.Path {
		case "/flaky":
			if failFirst.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			okHits.Add(1)
		case "/down":
			w.WriteHeader(http.StatusBadGateway)
		case "/refuse":
			refused.Add(1)
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/gone"
	_ = l.Close()

	core, logs := observer.New(zap.DebugLevel)
	s := NewSender(SenderConfig{Attempts: 3, RetryDelay: 10 * time.Millisecond, Timeout: time.Second}, zap.New(core))
	s.Send(Notice{ClientID: "flaky", URI: srv.URL + "/flaky", Token: token})
	s.Send(Notice{ClientID: "down", URI: srv.URL + "/down", Token: token})
	s.Send(Notice{ClientID: "refuse", URI: srv.URL + "/refuse", Token: token})
	s.Send(Notice{ClientID: "gone", URI: closed, Token: token})
	s.Wait()

	if okHits.Load() != 1 || failFirst.Load() != 2 {
		t.Errorf("flaky receiver: %d attempts, %d delivered; want 2, 1", failFirst.Load(), okHits.Load())
	}
	if refused.Load() != 1 {
		t.Errorf("a refusal was tried %d times, want once", refused.Load())
	}
	if got := hits.Load(); got != 2+3+1 {
		t.Errorf("receiver hit %d times, want 6 (flaky 2, down 3, refuse 1)", got)
	}
	failed := map[string]bool{}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if f.String == token || (f.Interface != nil && f.Interface == token) {
				t.Errorf("the token was logged: %v", e)
			}
		}
		if e.Message == "back-channel logout failed; the application may still consider the user signed in" {
			id, _ := e.ContextMap()["client_id"].(string)
			failed[id] = true
			want := int64(3)
			if id == "refuse" {
				want = 1
			}
			if got, _ := e.ContextMap()["attempts"].(int64); got != want {
				t.Errorf("%s: logged %v attempts, want %d", id, e.ContextMap()["attempts"], want)
			}
		}
	}
	for _, c := range []string{"down", "refuse", "gone"} {
		if !failed[c] {
			t.Errorf("no failure logged for %s", c)
		}
	}
	if failed["flaky"] {
		t.Error("a delivery that succeeded on retry was logged as failed")
	}
	if _, err := url.Parse(closed); err != nil {
		t.Fatal(err)
	}
}
