package provider

import (
	"fmt"
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

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/pages"
)

// deviceProvider is the endpoint tests' provider with device clients and a
// clock the test moves.
type deviceProvider struct {
	*epProvider
	mu  sync.Mutex
	now time.Time
}

func (dp *deviceProvider) advance(d time.Duration) {
	dp.mu.Lock()
	dp.now = dp.now.Add(d)
	dp.mu.Unlock()
}

func newDeviceProvider(t *testing.T, mutate func(*Config)) *deviceProvider {
	dp := &deviceProvider{now: time.Now()}
	dp.epProvider = newEndpointProvider(t, func(c *Config) {
		c.Now = func() time.Time { dp.mu.Lock(); defer dp.mu.Unlock(); return dp.now }
		c.Clients = append(c.Clients,
			ClientConfig{ID: "tv", Name: "Living Room TV", Public: true, GrantTypes: []string{clients.GrantDeviceCode, clients.GrantRefreshToken},
				Scopes: []string{"openid", "profile", "offline_access"}},
			ClientConfig{ID: "cli", Secret: "cli-secret", GrantTypes: []string{clients.GrantDeviceCode}, Scopes: []string{"openid"}},
		)
		if mutate != nil {
			mutate(c)
		}
	})
	return dp
}

// start begins a device grant for client (secret empty: a public client).
func (dp *deviceProvider) start(client, secret, scope string) (deviceCode, userCode string, m map[string]any) {
	dp.t.Helper()
	form := url.Values{"scope": {scope}}
	user := client
	if secret == "" {
		form.Set("client_id", client)
		user = ""
	}
	w := dp.post(pathDeviceAuthorization, form, user, secret)
	m = jsonBody(dp.t, w)
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-store" {
		dp.t.Fatalf("device authorization: %d %v", w.Code, m)
	}
	return mustBe[string](dp.t, m["device_code"]), mustBe[string](dp.t, m["user_code"]), m
}

// poll asks the token endpoint for the device code's tokens.
func (dp *deviceProvider) poll(client, secret, deviceCode string) (int, map[string]any) {
	dp.t.Helper()
	form := url.Values{"grant_type": {clients.GrantDeviceCode}, "device_code": {deviceCode}}
	user := client
	if secret == "" {
		form.Set("client_id", client)
		user = ""
	}
	w := dp.post(pathToken, form, user, secret)
	return w.Code, jsonBody(dp.t, w)
}

var returnToField = regexp.MustCompile(`name="return_to" value="([^"]+)"`)

// enter types a user code on the device page as a signed-in user and
// returns the response (the consent page, normally).
func (dp *deviceProvider) enter(userCode string, cookies []*http.Cookie, token string) *httptest.ResponseRecorder {
	return dp.browse(http.MethodPost, epIssuer+pages.PathDevice, url.Values{"csrf_token": {token}, "user_code": {userCode}}, cookies...)
}

// decide enters the user code as alice and answers the consent page.
func (dp *deviceProvider) decide(userCode, decision string) *httptest.ResponseRecorder {
	dp.t.Helper()
	sess, csrf, token := dp.signIn("alice")
	w := dp.enter(userCode, []*http.Cookie{sess, csrf}, token)
	m := returnToField.FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil || !strings.Contains(w.Body.String(), "Allow access") {
		dp.t.Fatalf("no consent page: %d %s", w.Code, w.Body)
	}
	returnTo := strings.ReplaceAll(m[1], "&amp;", "&")
	return dp.browse(http.MethodPost, epIssuer+pages.PathConsent, url.Values{"csrf_token": {token}, "return_to": {returnTo}, "decision": {decision}}, sess, csrf)
}

func TestDeviceGrantFlow(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	dp := newDeviceProvider(t, func(c *Config) { c.Logger = zap.New(core) })
	deviceCode, userCode, m := dp.start("tv", "", "openid profile offline_access")
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(userCode) {
		t.Errorf("user code %q is not XXXX-XXXX of the unambiguous alphabet", userCode)
	}
	if m["verification_uri"] != epIssuer+pages.PathDevice || m["verification_uri_complete"] != epIssuer+pages.PathDevice+"?user_code="+userCode ||
		m["expires_in"] != float64(600) || m["interval"] != float64(5) {
		t.Errorf("response: %v", m)
	}

	// Pending, then polled too fast: slow_down, and the interval grows.
	if code, m := dp.poll("tv", "", deviceCode); code != 400 || m["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", code, m)
	}
	dp.advance(2 * time.Second)
	if code, m := dp.poll("tv", "", deviceCode); code != 400 || m["error"] != "slow_down" {
		t.Fatalf("poll after 2s: %d %v", code, m)
	}
	dp.advance(6 * time.Second) // over the first interval, under the new one
	if code, m := dp.poll("tv", "", deviceCode); m["error"] != "slow_down" {
		t.Errorf("poll 6s later, interval now 10s: %d %v", code, m)
	}
	dp.advance(16 * time.Second)
	if code, m := dp.poll("tv", "", deviceCode); m["error"] != "authorization_pending" {
		t.Errorf("poll after the longer interval: %d %v", code, m)
	}

	// The device page: GET prefills the code from verification_uri_complete.
	w := dp.browse(http.MethodGet, epIssuer+pages.PathDevice+"?user_code="+userCode, nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `value="`+userCode+`"`) || !strings.Contains(w.Body.String(), `name="csrf_token"`) {
		t.Fatalf("device page: %d %s", w.Code, w.Body)
	}
	// Not signed in: the code leads to the login page, which resumes it.
	_, csrf, token := dp.signIn("alice")
	w = dp.enter(strings.ToLower(strings.ReplaceAll(userCode, "-", " ")), []*http.Cookie{csrf}, token)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `name="password"`) || !strings.Contains(w.Body.String(), "Living Room TV") {
		t.Fatalf("login page: %d %s", w.Code, w.Body)
	}
	// Another client cannot redeem the code.
	if code, m := dp.poll("cli", "cli-secret", deviceCode); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong client: %d %v", code, m)
	}

	w = dp.decide(userCode, "allow")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `id="device-done"`) {
		t.Fatalf("after allow: %d %s", w.Code, w.Body)
	}
	code, tok := dp.poll("tv", "", deviceCode)
	if code != 200 || tok["access_token"] == nil || tok["refresh_token"] == nil || tok["id_token"] == nil || tok["token_type"] != "bearer" {
		t.Fatalf("tokens: %d %v", code, tok)
	}
	claims, err := dp.keys.Verify(str(t, tok, "id_token"))
	if err != nil || claims["aud"] == nil || claims["azp"] != "tv" || claims["name"] != "Alice" || claims["at_hash"] == nil {
		t.Errorf("ID token: %v %v", claims, err)
	}
	if !dp.active(str(t, tok, "access_token")) {
		t.Error("the access token is not active")
	}
	// The refresh token works like any other.
	w = dp.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {str(t, tok, "refresh_token")}, "client_id": {"tv"}}, "", "")
	if w.Code != 200 {
		t.Errorf("refresh: %d %s", w.Code, w.Body)
	}

	// Reused: the device code once, the user code not at all.
	if code, m := dp.poll("tv", "", deviceCode); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("device code reused: %d %v", code, m)
	}
	sess, csrf, token := dp.signIn("alice")
	w = dp.enter(userCode, []*http.Cookie{sess, csrf}, token)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "already been used") {
		t.Errorf("user code reused: %d %s", w.Code, w.Body)
	}

	// Neither code, nor any token, reached the logs.
	if logs.Len() < 5 {
		t.Fatalf("only %d log entries: is the logger the provider's?", logs.Len())
	}
	secrets := []string{deviceCode, userCode, strings.ReplaceAll(userCode, "-", ""), str(t, tok, "access_token"), str(t, tok, "refresh_token")}
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log entry %q carries a secret", line)
			}
		}
	}
}

func TestDeviceGrantDenied(t *testing.T) {
	dp := newDeviceProvider(t, nil)
	deviceCode, userCode, _ := dp.start("cli", "cli-secret", "openid")
	w := dp.decide(userCode, "deny")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `id="device-denied"`) {
		t.Fatalf("after deny: %d %s", w.Code, w.Body)
	}
	if code, m := dp.poll("cli", "cli-secret", deviceCode); code != 400 || m["error"] != "access_denied" {
		t.Errorf("denied: %d %v", code, m)
	}
}

func TestDeviceGrantExpired(t *testing.T) {
	dp := newDeviceProvider(t, func(c *Config) { c.DeviceCodeLifespan = 2 * time.Minute })
	deviceCode, userCode, m := dp.start("cli", "cli-secret", "openid")
	if m["expires_in"] != float64(120) {
		t.Errorf("expires_in: %v", m["expires_in"])
	}
	dp.advance(2*time.Minute + time.Second)
	sess, csrf, token := dp.signIn("alice")
	if w := dp.enter(userCode, []*http.Cookie{sess, csrf}, token); w.Code != 400 || !strings.Contains(w.Body.String(), "expired") {
		t.Errorf("expired user code: %d %s", w.Code, w.Body)
	}
	if code, m := dp.poll("cli", "cli-secret", deviceCode); code != 400 || m["error"] != "expired_token" {
		t.Errorf("expired device code: %d %v", code, m)
	}

	// Expired while the consent page was open: allowing it does nothing.
	deviceCode, userCode, _ = dp.start("cli", "cli-secret", "openid")
	w := dp.enter(userCode, []*http.Cookie{sess, csrf}, token)
	m2 := returnToField.FindStringSubmatch(w.Body.String())
	if m2 == nil {
		t.Fatalf("no consent page: %d %s", w.Code, w.Body)
	}
	dp.advance(3 * time.Minute)
	w = dp.browse(http.MethodPost, epIssuer+pages.PathConsent, url.Values{"csrf_token": {token}, "return_to": {strings.ReplaceAll(m2[1], "&amp;", "&")}, "decision": {"allow"}}, sess, csrf)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "expired") || strings.Contains(w.Body.String(), "device-done") {
		t.Errorf("allowed after expiry: %d %s", w.Code, w.Body)
	}
	if code, m := dp.poll("cli", "cli-secret", deviceCode); m["error"] != "expired_token" {
		t.Errorf("device code after a late allow: %d %v", code, m)
	}
}

func TestDeviceAuthorizationErrors(t *testing.T) {
	dp := newDeviceProvider(t, nil)
	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		err        string
	}{
		{"client without the device grant", url.Values{"scope": {"openid"}}, "app", "app-secret", 400, "unauthorized_client"},
		{"wrong secret", url.Values{"scope": {"openid"}}, "cli", "nope", 401, "invalid_client"},
		{"unknown client", url.Values{"client_id": {"nobody"}}, "", "", 401, "invalid_client"},
		{"scope not allowed", url.Values{"scope": {"openid profile"}}, "cli", "cli-secret", 400, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := dp.post(pathDeviceAuthorization, tc.form, tc.user, tc.pass)
			if m := jsonBody(t, w); w.Code != tc.status || m["error"] != tc.err {
				t.Errorf("%d %v, want %d %s", w.Code, m, tc.status, tc.err)
			}
		})
	}
	if w := dp.browse(http.MethodGet, epIssuer+pathDeviceAuthorization, nil); w.Code != 405 || jsonBody(t, w)["error"] != "invalid_request" {
		t.Errorf("GET: %d %s", w.Code, w.Body)
	}
	// Token endpoint: a client without the grant, a missing or unknown code.
	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		err        string
	}{
		{"client without the device grant", url.Values{"device_code": {"x"}}, "app", "app-secret", "unauthorized_client"},
		{"no device code", url.Values{}, "cli", "cli-secret", "invalid_request"},
		{"unknown device code", url.Values{"device_code": {"made-up"}}, "cli", "cli-secret", "invalid_grant"},
	} {
		t.Run("token: "+tc.name, func(t *testing.T) {
			tc.form.Set("grant_type", clients.GrantDeviceCode)
			w := dp.post(pathToken, tc.form, tc.user, tc.pass)
			if m := jsonBody(t, w); w.Code != 400 || m["error"] != tc.err {
				t.Errorf("%d %v, want %s", w.Code, m, tc.err)
			}
		})
	}
	// Discovery lists the endpoint and the grant.
	d := jsonBody(t, dp.browse(http.MethodGet, epIssuer+pathDiscovery, nil))
	if d["device_authorization_endpoint"] != epIssuer+pathDeviceAuthorization || !strings.Contains(strings.Join(toStrings(d["grant_types_supported"]), " "), clients.GrantDeviceCode) {
		t.Errorf("discovery: %v %v", d["device_authorization_endpoint"], d["grant_types_supported"])
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range mustBeSlice(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func mustBeSlice(v any) []any { a, _ := v.([]any); return a }

// Wrong user codes count against the client's address: after the
// regulation limit even a right code is refused, until the ban ends.
func TestDeviceUserCodeBruteForce(t *testing.T) {
	dp := newDeviceProvider(t, func(c *Config) {
		c.Authn.Regulation = &authn.RegulationConfig{MaxRetries: 2, FindTime: time.Minute, BanTime: 5 * time.Minute}
	})
	_, userCode, _ := dp.start("cli", "cli-secret", "openid")
	sess, csrf, token := dp.signIn("alice")
	cookies := []*http.Cookie{sess, csrf}
	for i := range 10 { // the IP limit is 5 × max_retries
		if w := dp.enter("BCDF-GHJ"+string(userCodeAlphabet[i]), cookies, token); w.Code != 400 {
			t.Fatalf("wrong code %d: %d", i, w.Code)
		}
	}
	if w := dp.enter(userCode, cookies, token); w.Code != http.StatusTooManyRequests || strings.Contains(w.Body.String(), "Allow access") {
		t.Fatalf("right code while banned: %d %s", w.Code, w.Body)
	}
	dp.advance(6 * time.Minute)
	if w := dp.enter(userCode, cookies, token); w.Code != 200 || !strings.Contains(w.Body.String(), "Allow access") {
		t.Errorf("right code after the ban: %d %s", w.Code, w.Body)
	}
	// Typos that cannot be a code at all are refused too, without a lookup.
	if w := dp.enter("0O1I-!!!!", cookies, token); w.Code != 400 || !strings.Contains(w.Body.String(), "not a valid code") {
		t.Errorf("malformed code: %d %s", w.Code, w.Body)
	}
}

// The device page refuses a form without the CSRF token.
func TestDevicePageCSRF(t *testing.T) {
	dp := newDeviceProvider(t, nil)
	_, userCode, _ := dp.start("cli", "cli-secret", "openid")
	sess, csrf, _ := dp.signIn("alice")
	if w := dp.enter(userCode, []*http.Cookie{sess, csrf}, "forged"); w.Code != http.StatusForbidden {
		t.Errorf("forged form: %d %s", w.Code, w.Body)
	}
}

func TestUserCodes(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c := newUserCode()
		if n, ok := normalizeUserCode(formatUserCode(c)); !ok || n != c {
			t.Fatalf("%q does not round-trip: %q %v", c, n, ok)
		}
		seen[c] = true
	}
	if len(seen) < 199 {
		t.Errorf("only %d distinct codes of 200", len(seen))
	}
	for in, want := range map[string]string{"bcdf-ghjk": "BCDFGHJK", " BCDF GHJK ": "BCDFGHJK", "BCDFGHJ": "", "BCDF-GHJA": "", "BCDF-GHJ0": ""} {
		got, ok := normalizeUserCode(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalize(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

// The client's authorization policy applies as in a browser flow: a second
// factor is asked of a user signed in with a password only, and a user the
// policy denies is told so while the device hears access_denied.
func TestDeviceGrantPolicy(t *testing.T) {
	dp := newDeviceProvider(t, func(c *Config) {
		c.Authn.Policies = authn.Policies{"nobody": {Default: authn.Deny}}
		c.Clients = append(c.Clients,
			ClientConfig{ID: "tv-2fa", Public: true, GrantTypes: []string{clients.GrantDeviceCode}, Scopes: []string{"openid"}, AuthorizationPolicy: "two_factor"},
			ClientConfig{ID: "tv-closed", Public: true, GrantTypes: []string{clients.GrantDeviceCode}, Scopes: []string{"openid"}, AuthorizationPolicy: "nobody"},
		)
	})
	sess, csrf, token := dp.signIn("alice")
	cookies := []*http.Cookie{sess, csrf}

	deviceCode, userCode, _ := dp.start("tv-2fa", "", "openid")
	w := dp.enter(userCode, cookies, token)
	if w.Code != 200 || strings.Contains(w.Body.String(), "Allow access") || !strings.Contains(w.Body.String(), pages.PathTOTPEnroll) && !strings.Contains(w.Body.String(), pages.PathSecondFactor) {
		t.Fatalf("two_factor client, password only: %d %s", w.Code, w.Body)
	}
	if code, m := dp.poll("tv-2fa", "", deviceCode); m["error"] != "authorization_pending" {
		t.Errorf("still pending during the second factor: %d %v", code, m)
	}

	deviceCode, userCode, _ = dp.start("tv-closed", "", "openid")
	w = dp.enter(userCode, cookies, token)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "access_denied") {
		t.Fatalf("denied by policy: %d %s", w.Code, w.Body)
	}
	if code, m := dp.poll("tv-closed", "", deviceCode); code != 400 || m["error"] != "access_denied" {
		t.Errorf("device of a denied user: %d %v", code, m)
	}
}
