package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// pushFor pushes a code request for client and returns its request_uri.
func (tp *epProvider) pushFor(client, secret, redirect string, extra url.Values) string {
	tp.t.Helper()
	form := url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {redirect},
		"scope": {"openid"}, "state": {"pushed-state"}, "nonce": {"pushed-nonce"},
	}
	for k, v := range extra {
		form[k] = v
	}
	w := tp.post(pathPAR, form, client, secret)
	m := jsonBody(tp.t, w)
	uri, _ := m["request_uri"].(string)
	if w.Code != http.StatusCreated || !tp.isPushedURI(uri) {
		tp.t.Fatalf("push: %d %v", w.Code, m)
	}
	return uri
}

func TestPushedRequestOnly(t *testing.T) {
	tp := newEndpointProvider(t, nil)
	uri := tp.parPrefix() + "abc"
	cases := []struct {
		name   string
		query  url.Values
		goOn   bool
		result url.Values // the form fosite then sees; nil = untouched
	}{
		{"pushed: only client_id and request_uri remain",
			url.Values{"client_id": {"app"}, "request_uri": {uri}, "nonce": {"injected"}, "prompt": {"none"}, "state": {"x"}},
			true, url.Values{"client_id": {"app"}, "request_uri": {uri}}},
		{"ordinary request", url.Values{"client_id": {"app"}, "state": {"x"}}, true, nil},
		{"client that must push", url.Values{"client_id": {"par-app"}, "state": {"x"}}, false, nil},
		{"request object by reference is left to checkAuthorizeRequest", url.Values{"client_id": {"par-app"}, "request_uri": {"https://x/req"}}, true, nil},
		{"unknown client is left to fosite", url.Values{"client_id": {"nobody"}}, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, epIssuer+pathAuthorize+"?"+tc.query.Encode(), nil)
			w := httptest.NewRecorder()
			if got := tp.pushedRequestOnly(w, r); got != tc.goOn {
				t.Fatalf("go on = %v", got)
			}
			if !tc.goOn {
				if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "pushed authorization request") {
					t.Errorf("%d %q %s", w.Code, w.Header().Get("Location"), w.Body)
				}
				return
			}
			want := tc.result
			if want == nil {
				want = tc.query
			}
			if r.Form.Encode() != want.Encode() {
				t.Errorf("form = %v, want %v", r.Form, want)
			}
		})
	}

	// Provider-wide: every known client must push.
	tp = newEndpointProvider(t, func(c *Config) { c.RequirePushedAuthorizationRequests = true })
	r := httptest.NewRequest(http.MethodGet, epIssuer+pathAuthorize+"?client_id=app", nil)
	if tp.pushedRequestOnly(httptest.NewRecorder(), r) {
		t.Error("provider-wide requirement not applied")
	}
}

func TestPAREndpoint(t *testing.T) {
	tp := newEndpointProvider(t, func(c *Config) { c.PARContextLifespan = 90 * time.Second })
	w := tp.post(pathPAR, url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}, "state": {"abcdefgh"}, "client_secret": {"app-secret"}}, "", "")
	m := jsonBody(t, w)
	if w.Code != http.StatusCreated || m["expires_in"] != float64(90) || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("push: %d %v", w.Code, m)
	}
	ar, err := tp.storage.GetPARSession(context.Background(), mustBe[string](t, m["request_uri"]))
	if err != nil {
		t.Fatal(err)
	}
	if ar.GetRequestForm().Get("client_secret") != "" {
		t.Error("the client secret was stored with the pushed request")
	}
	if exp := ar.GetSession().GetExpiresAt(fosite.PushedAuthorizeRequestContext); time.Until(exp) > 91*time.Second || time.Until(exp) < 80*time.Second {
		t.Errorf("expires at %v", exp)
	}

	base := func(kv ...string) url.Values {
		f := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"}, "scope": {"openid"}, "state": {"abcdefgh"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for name, tc := range map[string]struct {
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		"empty":                 {url.Values{}, "app", "app-secret", 400, "unsupported_response_type"},
		"wrong secret":          {base(), "app", "x", 401, "invalid_client"},
		"unregistered redirect": {base("redirect_uri", "https://evil.example/cb"), "app", "app-secret", 400, "invalid_request"},
		"request_uri inside":    {base("request_uri", tp.parPrefix()+"x"), "app", "app-secret", 400, "invalid_request"},
		"short state":           {base("state", "abc"), "app", "app-secret", 400, "invalid_state"},
		"short nonce":           {base("nonce", "abc"), "app", "app-secret", 400, "insufficient_entropy"},
		"scope not allowed":     {base("scope", "openid email"), "app", "app-secret", 400, "invalid_scope"},
		"request object":        {base("request", "eyJ.x.y"), "app", "app-secret", 400, ""},
	} {
		w := tp.post(pathPAR, tc.form, tc.user, tc.pass)
		m := jsonBody(t, w)
		if w.Code != tc.status || (tc.code != "" && m["error"] != tc.code) {
			t.Errorf("%s: %d %v", name, w.Code, m)
		}
	}
	req := httptest.NewRequest(http.MethodGet, epIssuer+pathPAR, nil)
	w = httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}

func TestPushedContinuation(t *testing.T) {
	tp := newEndpointProvider(t, func(c *Config) { c.PARContextLifespan = time.Second })
	uri := tp.pushFor("par-app", "par-secret", "https://par.example/cb", nil)

	// The authorization endpoint shows the login page; its return_to holds
	// a fresh request_uri, not the parameters and not the used one.
	w := tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+url.Values{"client_id": {"par-app"}, "request_uri": {uri}}.Encode(), nil)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `name="password"`) {
		t.Fatalf("login page: %d %s", w.Code, body)
	}
	if strings.Contains(body, "pushed-nonce") || strings.Contains(body, url.QueryEscape(uri)) {
		t.Errorf("the page carries the pushed parameters or the used request_uri: %s", body)
	}
	i := strings.Index(body, url.QueryEscape(tp.parPrefix()))
	if i < 0 {
		t.Fatalf("no continuation request_uri in the page: %s", body)
	}
	rest := body[i:]
	next, err := url.QueryUnescape(rest[:strings.IndexAny(rest, `"&`)])
	if err != nil {
		t.Fatal(err)
	}
	ar, err := tp.storage.GetPARSession(context.Background(), next)
	if err != nil {
		t.Fatalf("continuation: %v", err)
	}
	if ar.GetRequestForm().Get("request_uri") != "" || ar.GetRequestForm().Get("nonce") != "pushed-nonce" || ar.GetState() != "pushed-state" {
		t.Errorf("continuation form %v state %q", ar.GetRequestForm(), ar.GetState())
	}
	if exp := ar.GetSession().GetExpiresAt(fosite.PushedAuthorizeRequestContext); time.Until(exp) < pushedInteractionLifespan-time.Minute {
		t.Errorf("continuation expires at %v", exp)
	}
	// The original is gone.
	if _, err := tp.storage.GetPARSession(context.Background(), uri); err == nil {
		t.Error("the used request_uri is still stored")
	}
}
