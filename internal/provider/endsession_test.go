package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// idToken signs claims with the provider's RS256 key.
func (tp *epProvider) idToken(claims map[string]any) string {
	tp.t.Helper()
	tok, err := tp.keys.Sign(claims, keys.RS256, nil)
	if err != nil {
		tp.t.Fatal(err)
	}
	return tok
}

func TestParseEndSession(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	past := time.Now().Add(-48 * time.Hour).Unix()
	hint := tp.idToken(map[string]any{"iss": epIssuer, "sub": "s1", "aud": []string{"app"}, "azp": "app", "exp": past, "iat": past - 3600})
	multi := tp.idToken(map[string]any{"iss": epIssuer, "sub": "s1", "aud": []string{"app", "rs"}, "exp": past})
	single := tp.idToken(map[string]any{"iss": epIssuer, "sub": "s1", "aud": "app"})
	foreign := tp.idToken(map[string]any{"iss": "https://evil.example", "sub": "s1", "aud": "app"})
	parts := strings.Split(hint, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))

	cases := []struct {
		name     string
		form     url.Values
		ok       bool
		client   string
		redirect string
	}{
		{"nothing", url.Values{}, true, "", ""},
		{"expired hint names the client", url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s"}}, true, "app", "https://app.example/bye"},
		{"single aud string", url.Values{"id_token_hint": {single}, "post_logout_redirect_uri": {"https://app.example/out?x=1"}}, true, "app", "https://app.example/out?x=1"},
		{"several audiences, no azp: client_id picks", url.Values{"id_token_hint": {multi}, "client_id": {"rs"}}, true, "rs", ""},
		{"several audiences, no azp, no client_id", url.Values{"id_token_hint": {multi}}, true, "", ""},
		{"several audiences cannot redirect alone", url.Values{"id_token_hint": {multi}, "post_logout_redirect_uri": {"https://app.example/bye"}}, false, "", ""},
		{"client_id not an audience", url.Values{"id_token_hint": {hint}, "client_id": {"other"}}, false, "", ""},
		{"forged signature", url.Values{"id_token_hint": {forged}}, false, "", ""},
		{"not a JWT", url.Values{"id_token_hint": {"abc"}}, false, "", ""},
		{"another issuer", url.Values{"id_token_hint": {foreign}}, false, "", ""},
		{"client_id only", url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/bye"}}, true, "app", "https://app.example/bye"},
		{"unknown client", url.Values{"client_id": {"nobody"}}, false, "", ""},
		{"unregistered redirect", url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/byebye"}}, false, "", ""},
		{"login redirect is not a logout redirect", url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/cb"}}, false, "", ""},
		{"registered for another client", url.Values{"client_id": {"other"}, "post_logout_redirect_uri": {"https://app.example/bye"}}, false, "", ""},
		{"redirect without client", url.Values{"post_logout_redirect_uri": {"https://app.example/bye"}}, false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := tp.parseEndSession(tc.form)
			if !tc.ok {
				var ee *endSessionError
				if !errors.As(err, &ee) {
					t.Fatalf("err = %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.clientID() != tc.client || req.redirectURI != tc.redirect || req.state != tc.form.Get("state") {
				t.Errorf("client %q redirect %q state %q", req.clientID(), req.redirectURI, req.state)
			}
			if tc.form.Get("id_token_hint") != "" && req.hintSubject != "s1" {
				t.Errorf("hint subject %q", req.hintSubject)
			}
		})
	}
}

func TestEndSessionRedirectState(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	for _, tc := range []struct{ uri, state, want string }{
		{"https://app.example/bye", "", "https://app.example/bye"},
		{"https://app.example/bye", "a b&c", "https://app.example/bye?state=a+b%26c"},
		{"https://app.example/out?x=1", "s", "https://app.example/out?x=1&state=s"},
		{"app.example:///logout", "s", "app.example:///logout?state=s"},
	} {
		w := httptest.NewRecorder()
		tp.endSessionRedirect(w, httptest.NewRequest(http.MethodGet, epIssuer+pathEndSession, nil), &endSessionRequest{redirectURI: tc.uri, state: tc.state})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != tc.want {
			t.Errorf("%s %q: %d %q, want %q", tc.uri, tc.state, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
}

// sessionCookie is the name of the login session cookie (package pages).
const sessionCookie = "caddy_oidc_session"

// signIn creates a login session for username and returns its cookie, and
// the CSRF cookie and form token a page of that session carries.
func (tp *epProvider) signIn(username string) (session, csrf *http.Cookie, token string) {
	tp.t.Helper()
	now := time.Now()
	s := store.LoginSession{ID: randomToken(), Username: username, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	if err := tp.db.CreateLoginSession(context.Background(), s); err != nil {
		tp.t.Fatal(err)
	}
	session = &http.Cookie{Name: sessionCookie, Value: s.ID}
	w := tp.browse(http.MethodGet, epIssuer+pages.PathLogout, nil, session)
	for _, c := range w.Result().Cookies() {
		if c.Name == "caddy_oidc_csrf" {
			csrf = c
		}
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if csrf == nil || m == nil {
		tp.t.Fatalf("the sign-out page set no CSRF cookie or token: %d %s", w.Code, w.Body)
	}
	return session, csrf, m[1]
}

func (tp *epProvider) browse(method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	return w
}

func TestEndSessionConfirmation(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	sess, csrf, token := tp.signIn("alice")
	hint := tp.idToken(map[string]any{"iss": epIssuer, "sub": "someone-else", "aud": "app", "azp": "app"})
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"st"}}

	w := tp.browse(http.MethodGet, epIssuer+pathEndSession+"?"+q.Encode(), nil, sess, csrf)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `action="`+pathEndSession+`"`) || !strings.Contains(body, "Alice") || strings.Contains(body, hint) {
		t.Fatalf("confirmation page: %d %s", w.Code, body)
	}
	returnTo := pathEndSession + "?" + url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"st"}}.Encode()
	if !strings.Contains(body, strings.ReplaceAll(returnTo, "&", "&amp;")) {
		t.Errorf("return_to %q not in the page: %s", returnTo, body)
	}

	// A return_to pointing elsewhere is refused and ends nothing.
	for _, bad := range []string{pathAuthorize + "?client_id=app", "https://evil.example" + pathEndSession, pathEndSession + "?client_id=app&post_logout_redirect_uri=https://evil.example/"} {
		w = tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {token}, "return_to": {bad}}, sess, csrf)
		if w.Code != http.StatusBadRequest {
			t.Errorf("return_to %q: %d", bad, w.Code)
		}
	}
	// A wrong CSRF token neither.
	w = tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {"x" + token}, "return_to": {returnTo}}, sess, csrf)
	if w.Code != http.StatusForbidden {
		t.Errorf("bad csrf: %d", w.Code)
	}
	if _, err := tp.db.GetLoginSession(context.Background(), sess.Value, time.Now()); err != nil {
		t.Fatalf("the session ended before confirmation: %v", err)
	}

	w = tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {token}, "return_to": {returnTo}}, sess, csrf)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://app.example/bye?state=st" {
		t.Fatalf("confirm: %d %q", w.Code, w.Header().Get("Location"))
	}
	if _, err := tp.db.GetLoginSession(context.Background(), sess.Value, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the login session survived: %v", err)
	}
	if !strings.Contains(w.Header().Get("Set-Cookie"), sessionCookie+"=;") {
		t.Errorf("the session cookie was not cleared: %q", w.Header().Get("Set-Cookie"))
	}

	// Without a redirect: the "signed out" page.
	sess, csrf, token = tp.signIn("alice")
	w = tp.browse(http.MethodPost, epIssuer+pathEndSession, url.Values{"csrf_token": {token}, "return_to": {""}}, sess, csrf)
	if w.Code != 200 || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "signed out") {
		t.Errorf("no redirect: %d %q", w.Code, w.Header().Get("Location"))
	}

	// Other methods.
	w = tp.browse(http.MethodPut, epIssuer+pathEndSession, nil)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", w.Code)
	}
}
