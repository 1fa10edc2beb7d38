package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-oidc/caddy-oidc/internal/logout"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// receiver is a client's back-channel logout endpoint: it records the
// logout tokens it gets.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		rc.mu.Lock()
		rc.tokens = append(rc.tokens, r.PostForm.Get("logout_token"))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.tokens...)
}

// closedURL is an http URL where nothing listens.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/logout"
	_ = l.Close()
	return u
}

// logoutProvider has three clients that want to be told: bc (back-channel
// to a live receiver), down (back-channel to nowhere) and fc (front-channel
// with the session), and quiet, which wants nothing.
func logoutProvider(t *testing.T) (*epProvider, *receiver, *observer.ObservedLogs) {
	rc := newReceiver(t)
	core, logs := observer.New(zap.InfoLevel)
	tp := newEndpointProvider(t, func(c *Config) {
		c.Logger = zap.New(core)
		c.BackchannelLogout = logout.SenderConfig{Attempts: 3, RetryDelay: 5 * time.Millisecond, Timeout: time.Second}
		c.Clients = append(c.Clients,
			ClientConfig{ID: "quiet", Secret: "quiet-secret", RedirectURIs: []string{"https://quiet.example/cb"}, ConsentMode: "implicit"},
			ClientConfig{ID: "bc", Secret: "bc-secret", RedirectURIs: []string{"https://bc.example/cb"}, ConsentMode: "implicit",
				BackchannelLogoutURI: rc.URL + "/logout", BackchannelLogoutSessionRequired: true},
			ClientConfig{ID: "down", Secret: "down-secret", RedirectURIs: []string{"https://down.example/cb"}, ConsentMode: "implicit",
				BackchannelLogoutURI: closedURL(t)},
			ClientConfig{ID: "fc", Secret: "fc-secret", RedirectURIs: []string{"https://fc.example/cb"}, ConsentMode: "implicit",
				FrontchannelLogoutURI: "https://fc.example/logout?app=1", FrontchannelLogoutSessionRequired: true,
				PostLogoutRedirectURIs: []string{"https://fc.example/bye"}},
		)
	})
	return tp, rc, logs
}

// authorizeAs runs an authorization request of client in the session and
// fails unless it yields a code.
func (tp *epProvider) authorizeAs(session *http.Cookie, client string) {
	tp.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {"https://" + client + ".example/cb"},
		"scope": {"openid"}, "state": {"state-123456"}, "nonce": {"nonce-123456"}}
	w := tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil, session)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code/100 != 3 || loc == nil || loc.Query().Get("code") == "" {
		tp.t.Fatalf("authorize %s: %d %q %s", client, w.Code, w.Header().Get("Location"), w.Body)
	}
}

func (tp *epProvider) sidOf(session *http.Cookie) string {
	tp.t.Helper()
	s, err := tp.db.GetLoginSession(context.Background(), session.Value, time.Now())
	if err != nil {
		tp.t.Fatal(err)
	}
	return s.SID
}

// checkLogoutToken verifies a logout token as Back-Channel Logout 1.0
// section 2.6 says a client must.
func (tp *epProvider) checkLogoutToken(token, client, sid string) {
	tp.t.Helper()
	claims, err := tp.keys.Verify(token)
	if err != nil {
		tp.t.Fatalf("logout token signature: %v", err)
	}
	if claims["iss"] != epIssuer || claims["aud"] != client || claims["sid"] != sid || claims["sub"] == "" || claims["sub"] == "alice" || claims["jti"] == "" {
		tp.t.Errorf("logout token claims %v", claims)
	}
	if _, ok := claims["nonce"]; ok {
		tp.t.Error("logout token has a nonce")
	}
	ev, _ := claims["events"].(map[string]any)
	if _, ok := ev[logout.Event]; !ok {
		tp.t.Errorf("events %v", claims["events"])
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if now := float64(time.Now().Unix()); iat > now+1 || exp <= now {
		tp.t.Errorf("iat %v exp %v", iat, exp)
	}
	hdr, _ := jwtHeaderOf(token)
	if hdr["typ"] != logout.TokenType {
		tp.t.Errorf("typ %v", hdr["typ"])
	}
}

// TestBackchannelLogoutOnEndSession: the clients that took part in the
// session, and only those, are told when the user confirms RP-initiated
// logout; a receiver that is down is retried a bounded number of times,
// logged, and does not keep the user signed in.
func TestBackchannelLogoutOnEndSession(t *testing.T) {
	tp, rc, logs := logoutProvider(t)
	sess, csrf, token := tp.signIn("alice")
	sid := tp.sidOf(sess)
	for _, c := range []string{"bc", "down", "quiet"} {
		tp.authorizeAs(sess, c)
	}
	clients, err := tp.db.SessionClients(context.Background(), sid)
	if err != nil || strings.Join(clients, ",") != "bc,down" {
		t.Fatalf("clients recorded in the session: %v, %v; want bc and down (quiet has no logout URI)", clients, err)
	}
	// Another session of alice's that only bc took part in is not ended.
	other, _, _ := tp.signIn("alice")
	tp.authorizeAs(other, "bc")

	w := tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {token}, "return_to": {""}}, sess, csrf)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "signed out") {
		t.Fatalf("end session: %d %s", w.Code, w.Body)
	}
	if _, err := tp.db.GetLoginSession(context.Background(), sess.Value, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session survived: %v", err)
	}
	tp.WaitLogouts()
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d logout tokens, want 1", len(got))
	}
	tp.checkLogoutToken(got[0], "bc", sid)

	failed := logs.FilterMessage("back-channel logout failed; the application may still consider the user signed in").All()
	if len(failed) != 1 || failed[0].ContextMap()["client_id"] != "down" {
		t.Errorf("failure logs: %v", failed)
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, got[0]) {
				t.Errorf("the logout token was logged: %v", e)
			}
		}
	}
	if _, err := tp.db.GetLoginSession(context.Background(), other.Value, time.Now()); err != nil {
		t.Errorf("the other session ended too: %v", err)
	}
}

// TestEndSessionsOfUser: what an operator revoking sessions (and the users
// backend disabling a user) calls: every session ends, every client of
// each is told with that session's sid.
func TestEndSessionsOfUser(t *testing.T) {
	tp, rc, _ := logoutProvider(t)
	a, _, _ := tp.signIn("alice")
	b, _, _ := tp.signIn("alice")
	tp.authorizeAs(a, "bc")
	tp.authorizeAs(b, "bc")
	sids := map[string]bool{tp.sidOf(a): true, tp.sidOf(b): true}
	n, err := tp.EndSessionsOfUser(context.Background(), "alice", ReasonUserDisabled)
	if err != nil || n != 2 {
		t.Fatalf("EndSessionsOfUser = %d, %v", n, err)
	}
	tp.WaitLogouts()
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("%d logout tokens, want 2", len(got))
	}
	for _, tok := range got {
		c, _ := tp.keys.Verify(tok)
		sid, _ := c["sid"].(string)
		if !sids[sid] {
			t.Errorf("logout token for sid %q", sid)
		}
		tp.checkLogoutToken(tok, "bc", sid)
		delete(sids, sid)
	}
	if n, err := tp.EndSessionsOfUser(context.Background(), "alice", ReasonAdmin); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
}

// TestFrontchannelLogout: the signed-out page of a confirmed RP-initiated
// logout loads the front-channel URL with iss and sid in a hidden iframe,
// allows exactly its origin as a frame source, and continues to the
// post_logout_redirect_uri by itself.
func TestFrontchannelLogout(t *testing.T) {
	tp, _, _ := logoutProvider(t)
	sess, csrf, token := tp.signIn("alice")
	sid := tp.sidOf(sess)
	tp.authorizeAs(sess, "fc")
	returnTo := pathEndSession + "?" + url.Values{"client_id": {"fc"}, "post_logout_redirect_uri": {"https://fc.example/bye"}, "state": {"st"}}.Encode()
	w := tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {token}, "return_to": {returnTo}}, sess, csrf)
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, body)
	}
	frame := "https://fc.example/logout?app=1&iss=" + url.QueryEscape(epIssuer) + "&sid=" + url.QueryEscape(sid)
	m := regexp.MustCompile(`<iframe src="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 || strings.ReplaceAll(m[0][1], "&amp;", "&") != frame {
		t.Errorf("iframes %q, want one of %q", m, frame)
	}
	if !strings.Contains(body, `http-equiv="refresh" content="0;url=https://fc.example/bye?state=st"`) {
		t.Errorf("no refresh to the post-logout redirect: %s", body)
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "; frame-src https://fc.example") || strings.Count(csp, "frame-src") != 1 {
		t.Errorf("CSP %q", csp)
	}

	// The logout page (settings' sign-out) too; other pages frame nothing.
	sess, csrf, token = tp.signIn("alice")
	tp.authorizeAs(sess, "fc")
	w = tp.browse(http.MethodPost, epIssuer+pages.PathLogout, url.Values{"csrf_token": {token}, "all_devices": {"1"}}, sess, csrf)
	if !strings.Contains(w.Body.String(), "<iframe") || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-src https://fc.example") {
		t.Errorf("logout page: %s %q", w.Body, w.Header().Get("Content-Security-Policy"))
	}
	w = tp.browse(http.MethodGet, epIssuer+pages.PathLogout, nil)
	if strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-src") {
		t.Errorf("the confirmation page allows frames: %q", w.Header().Get("Content-Security-Policy"))
	}
}

// TestDiscoveryLogout: the four flags and sid in claims_supported.
func TestDiscoveryLogout(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	w := tp.browse(http.MethodGet, epIssuer+"/.well-known/openid-configuration", nil)
	for _, k := range []string{`"backchannel_logout_supported":true`, `"backchannel_logout_session_supported":true`, `"frontchannel_logout_supported":true`, `"frontchannel_logout_session_supported":true`, `"sid"`} {
		if !strings.Contains(w.Body.String(), k) {
			t.Errorf("discovery lacks %s", k)
		}
	}
}

// jwtHeaderOf decodes a compact JWS's protected header.
func jwtHeaderOf(token string) (map[string]any, error) {
	part, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil, err
	}
	var h map[string]any
	return h, json.Unmarshal(b, &h)
}

// loginAgain signs in at the login page in the browser holding session,
// and returns the new session cookie.
func (tp *epProvider) loginAgain(session *http.Cookie, username string) *http.Cookie {
	tp.t.Helper()
	w := tp.browse(http.MethodGet, epIssuer+pages.PathLogin, nil, session)
	var csrf *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == "caddy_oidc_csrf" {
			csrf = c
		}
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if csrf == nil || m == nil {
		tp.t.Fatalf("login page: %d %s", w.Code, w.Body)
	}
	w = tp.browse(http.MethodPost, epIssuer+pages.PathLogin, url.Values{"csrf_token": {m[1]}, "return_to": {pages.PathSettings},
		"username": {username}, "password": {"pw"}}, session, csrf)
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			return c
		}
	}
	tp.t.Fatalf("login: no session cookie: %d %s", w.Code, w.Body)
	return nil
}

// TestReloginKeepsSession: signing in again as the same user (prompt=login,
// max_age) keeps the sid and its clients and tells nobody; another user
// signing in in the same browser ends the previous user's session, and its
// clients are told.
func TestReloginKeepsSession(t *testing.T) {
	tp, rc, _ := logoutProvider(t)
	sess, _, _ := tp.signIn("alice")
	sid := tp.sidOf(sess)
	tp.authorizeAs(sess, "bc")

	again := tp.loginAgain(sess, "alice")
	if again.Value == sess.Value || tp.sidOf(again) != sid {
		t.Errorf("re-login: cookie renewed %v, sid %q -> %q", again.Value != sess.Value, sid, tp.sidOf(again))
	}
	if c, err := tp.db.SessionClients(context.Background(), sid); err != nil || len(c) != 1 {
		t.Errorf("clients after a re-login: %v, %v", c, err)
	}
	tp.WaitLogouts()
	if n := len(rc.got()); n != 0 {
		t.Errorf("a re-login of the same user sent %d logout tokens", n)
	}

	us, ok := tp.users.(epUsers)
	if !ok {
		t.Fatalf("users backend %T", tp.users)
	}
	us["bob"] = &users.User{Username: "bob"}
	bob := tp.loginAgain(again, "bob")
	if tp.sidOf(bob) == sid {
		t.Error("another user's session took over the sid")
	}
	tp.WaitLogouts()
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("another user signing in sent %d logout tokens, want 1", len(got))
	}
	tp.checkLogoutToken(got[0], "bc", sid)
}
