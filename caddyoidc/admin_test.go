package caddyoidc_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"golang.org/x/oauth2"
)

// adminClients are the standard clients and one that remembers consent.
const adminClients = standardClients + `
		client remember-app {
			client_secret remember-secret
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			pre_configured_consent_duration 1h
		}`

// startWithAdmin starts Caddy with its admin endpoint on a free port.
func startWithAdmin(t *testing.T, clients string) *env {
	t.Helper()
	e := newEnv(t, clients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.start()
	return e
}

// adminCall sends a request to the admin endpoint and decodes its JSON.
func (e *env) adminCall(method, path string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, "http://"+e.admin+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer closeBody(resp)
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		e.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, body
}

// mustAdmin is adminCall that expects 200.
func (e *env) mustAdmin(method, path string) map[string]any {
	e.t.Helper()
	status, body := e.adminCall(method, path)
	if status != http.StatusOK {
		e.t.Fatalf("%s %s: %d %v", method, path, status, body)
	}
	return body
}

// cloneBrowser is another user agent holding the same cookies: a stolen
// session cookie.
func cloneBrowser(t *testing.T, b *browser) *browser {
	t.Helper()
	thief := newBrowser(t, b.issuer)
	u, _ := url.Parse(b.issuer + "/")
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, b.client.Jar.Cookies(u))
	thief.client.Jar = jar
	return thief
}

func isLoginPage(p page) bool   { return strings.Contains(p.body, `name="password"`) }
func isConsentPage(p page) bool { return strings.Contains(p.body, `name="decision"`) }

// A session revoked through the admin API stops working at once, for its
// owner and for whoever stole its cookie, without a restart.
func TestAdminRevokeStolenSession(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "alice")
	other := newBrowser(t, e.issuer) // alice on another device
	loginFlow(t, other, r.config.AuthCodeURL(randString(t)), "alice")
	bob := newBrowser(t, e.issuer)
	loginFlow(t, bob, r.config.AuthCodeURL(randString(t)), "bob")

	thief := cloneBrowser(t, b)
	if p := thief.get(r.config.AuthCodeURL(randString(t))); !isConsentPage(p) {
		t.Fatalf("the stolen cookie does not work before the revocation: %d %.300s", p.status, p.body)
	}

	list := e.mustAdmin("GET", "/oidc/sessions?user=alice")
	sessions := as[[]any](t, list["sessions"])
	if len(sessions) != 2 || list["issuer"] != e.issuer || list["user"] != "alice" {
		t.Fatalf("sessions of alice: %v", list)
	}
	first := as[map[string]any](t, sessions[0])
	if amr := as[[]any](t, first["amr"]); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr = %v", first["amr"])
	}
	handle := as[string](t, first["handle"]) // the oldest: b's, the stolen one
	for _, c := range b.client.Jar.Cookies(&url.URL{Scheme: "http", Host: strings.TrimPrefix(e.issuer, "http://"), Path: "/"}) {
		if c.Value == handle {
			t.Fatal("the handle is the session cookie")
		}
	}

	got := e.mustAdmin("DELETE", "/oidc/sessions?user=alice&handle="+url.QueryEscape(handle))
	if got["revoked"] != 1.0 {
		t.Fatalf("revoke: %v", got)
	}
	if p := thief.get(r.config.AuthCodeURL(randString(t))); !isLoginPage(p) {
		t.Errorf("the stolen cookie still works after the revocation: %d %.300s", p.status, p.body)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !isLoginPage(p) {
		t.Errorf("the revoked session still works for its owner: %d", p.status)
	}
	if p := other.get(r.config.AuthCodeURL(randString(t))); !isConsentPage(p) {
		t.Errorf("alice's other session was ended too: %d", p.status)
	}

	// All of alice's sessions; bob keeps his.
	if got := e.mustAdmin("DELETE", "/oidc/sessions?user=alice"); got["revoked"] != 1.0 {
		t.Fatalf("revoke all: %v", got)
	}
	if p := other.get(r.config.AuthCodeURL(randString(t))); !isLoginPage(p) {
		t.Errorf("alice's other session survived revoking all: %d", p.status)
	}
	if p := bob.get(r.config.AuthCodeURL(randString(t))); !isConsentPage(p) {
		t.Errorf("bob's session was ended: %d", p.status)
	}
	if list := e.mustAdmin("GET", "/oidc/sessions?user=alice"); len(as[[]any](t, list["sessions"])) != 0 {
		t.Errorf("sessions left: %v", list)
	}
}

// Revoking a remembered consent brings the consent page back.
func TestAdminRevokeConsent(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	r := newRP(t, e.issuer, "remember-app", "remember-secret", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	callbackParams(t, b.submit(p, url.Values{"decision": {"allow"}, "remember": {"1"}}), rpCallback)
	if p := b.get(r.config.AuthCodeURL(randString(t))); isConsentPage(p) {
		t.Fatal("the remembered consent was not remembered")
	}

	list := e.mustAdmin("GET", "/oidc/consents?user=alice")
	consents := as[[]any](t, list["consents"])
	if len(consents) != 1 || as[map[string]any](t, consents[0])["client_id"] != "remember-app" {
		t.Fatalf("consents of alice: %v", list)
	}
	if other := e.mustAdmin("GET", "/oidc/consents?user=alice&client_id=basic-app"); len(as[[]any](t, other["consents"])) != 0 {
		t.Errorf("filter by client: %v", other)
	}
	if got := e.mustAdmin("DELETE", "/oidc/consents?user=alice&client_id=remember-app"); got["revoked"] != 1.0 {
		t.Fatalf("revoke: %v", got)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !isConsentPage(p) {
		t.Errorf("no consent page after the consent was revoked: %d %.300s", p.status, p.body)
	}
}

// Revoking a client's grants makes its refresh tokens fail; another
// client's keep working.
func TestAdminRevokeClientGrants(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	basic := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	other := newRP(t, e.issuer, "any-method-app", "plain-any", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	tok, err := basic.config.Exchange(ctx(t), loginFlow(t, b, basic.config.AuthCodeURL(randString(t)), "alice").Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := other.config.Exchange(ctx(t), callbackParams(t, b.consent(b.get(other.config.AuthCodeURL(randString(t))), "allow"), rpCallback).Get("code"))
	if err != nil {
		t.Fatal(err)
	}

	got := e.mustAdmin("DELETE", "/oidc/grants?client_id=basic-app")
	grants := as[map[string]any](t, got["grants"])
	if grants["refresh_tokens"] != 1.0 || grants["access_tokens"] != 1.0 {
		t.Errorf("revoked grants: %v", got)
	}
	status, body := postToken(t, e.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "basic-app", "s3cret-basic")
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after the revocation: %d %v; want 400 invalid_grant", status, body)
	}
	if _, err := basic.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok)); err == nil {
		t.Error("the revoked access token still works at userinfo")
	}
	if _, err := other.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: otherTok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err != nil {
		t.Errorf("another client's refresh token: %v", err)
	}
	if status, body := e.adminCall("DELETE", "/oidc/grants?client_id=no-such-app"); status != http.StatusNotFound || !strings.Contains(fmt.Sprint(body["error"]), "no-such-app") {
		t.Errorf("unknown client: %d %v", status, body)
	}
}

// Rotating the keys through the admin API publishes and signs with new
// keys at once; the old ones stay published.
func TestAdminRotateKeys(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	before, _ := jwksKeys(t, e)
	got := e.mustAdmin("POST", "/oidc/keys/rotate")
	kids := as[[]any](t, got["signing_kids"])
	if len(kids) != 2 {
		t.Fatalf("rotate: %v", got)
	}
	after, _ := jwksKeys(t, e)
	for kid := range before {
		if _, ok := after[kid]; !ok {
			t.Errorf("old key %s no longer published", kid)
		}
	}
	for _, k := range kids {
		if _, ok := before[as[string](t, k)]; ok {
			t.Errorf("signing key %s is not new", k)
		}
		if _, ok := after[as[string](t, k)]; !ok {
			t.Errorf("new key %s not published", k)
		}
	}
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	tok, err := r.config.Exchange(ctx(t), loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "alice").Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if kid := jwtHeader(t, rawIDToken(t, tok))["kid"]; !slices.Contains(kids, kid) {
		t.Errorf("the ID token is signed by %v, not one of the new keys %v", kid, kids)
	}
	if _, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok)); err != nil {
		t.Errorf("the new ID token does not verify: %v", err)
	}
}

// Re-reading the users through the admin API picks up a new user, and
// refuses a broken file while the old users stay.
func TestAdminReloadUsers(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	e.writeUsers(map[string]string{"alice": "", "bob": "", "carol": "disabled", "dave": ""})
	if got := e.mustAdmin("POST", "/oidc/users/reload"); got["users"] != 4.0 {
		t.Fatalf("reload: %v", got)
	}
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "dave")

	e.writeRaw("users.yml", "users: {}\n")
	status, body := e.adminCall("POST", "/oidc/users/reload")
	if status != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(body["error"]), "no users") {
		t.Errorf("reload of a file without users: %d %v", status, body)
	}
	loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "dave")
}

// The admin API's errors are Caddy's JSON errors with fitting statuses.
func TestAdminAPIErrors(t *testing.T) {
	e := startWithAdmin(t, adminClients)
	for _, tc := range []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/oidc/sessions", 400, "user parameter is required"},
		{"POST", "/oidc/sessions?user=alice", 405, "method not allowed"},
		{"GET", "/oidc/nothing", 404, "not found"},
		{"GET", "/oidc/sessions?user=alice&issuer=https://other.example", 404, "no running oidc_provider"},
		{"DELETE", "/oidc/grants", 400, "client_id parameter is required"},
	} {
		status, body := e.adminCall(tc.method, tc.path)
		if status != tc.status || !strings.Contains(fmt.Sprint(body["error"]), tc.want) {
			t.Errorf("%s %s = %d %v; want %d with %q", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	if got := e.mustAdmin("GET", "/oidc/issuers"); !slices.Contains(as[[]any](t, got["issuers"]), any(e.issuer)) {
		t.Errorf("issuers: %v", got)
	}
	if got := e.mustAdmin("GET", "/oidc/sessions?user=alice&issuer="+url.QueryEscape(e.issuer)); got["issuer"] != e.issuer {
		t.Errorf("with issuer=: %v", got)
	}
}

// writeRaw replaces a file of the data directory, with a modification time
// that a change check notices.
func (e *env) writeRaw(name, content string) {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path+".tmp", []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		e.t.Fatal(err)
	}
	future := time.Now().Add(3 * time.Second)
	_ = os.Chtimes(path, future, future)
}

// With two issuers in one Caddy, each admin request names its issuer, and
// acts on that issuer's database only.
func TestAdminSeveralIssuers(t *testing.T) {
	e := newEnv(t, adminClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	port2, sock2 := listenSocket(t)
	issuer2 := fmt.Sprintf("http://127.0.0.1:%d", port2)
	// The second site: the first one's Caddyfile with another port, issuer
	// and database.
	second := strings.NewReplacer(
		fmt.Sprintf("http://%s:%d {", e.host, e.port), fmt.Sprintf("http://127.0.0.1:%d {", port2),
		fmt.Sprintf("bind fd/%d", e.sockFD), fmt.Sprintf("bind fd/%d", sock2.Fd()),
		"oidc_provider "+e.issuer, "oidc_provider "+issuer2,
		"oidc.db", "oidc2.db",
	).Replace(e.caddyfile()[strings.Index(e.caddyfile(), "http://"):])
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(e.caddyfile()+second), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	e.waitReady()

	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")

	if status, body := e.adminCall("GET", "/oidc/sessions?user=alice"); status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error"]), issuer2) {
		t.Errorf("without issuer=: %d %v; want 400 naming the issuers", status, body)
	}
	one := e.mustAdmin("GET", "/oidc/sessions?user=alice&issuer="+url.QueryEscape(e.issuer))
	two := e.mustAdmin("GET", "/oidc/sessions?user=alice&issuer="+url.QueryEscape(issuer2))
	if len(as[[]any](t, one["sessions"])) != 1 || len(as[[]any](t, two["sessions"])) != 0 {
		t.Errorf("sessions by issuer: %v and %v", one, two)
	}
	if got := e.mustAdmin("GET", "/oidc/issuers"); len(as[[]any](t, got["issuers"])) != 2 {
		t.Errorf("issuers: %v", got)
	}
}
