package caddyoidc_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// twoFactorClients: a two_factor client, a client behind a group policy, and
// one that offers to remember consent.
const twoFactorClients = `
		authorization_policy photos {
			default_policy deny
			rule one_factor group:alice-group
		}
		client tf-app {
			client_secret tf-secret
			redirect_uris ` + rpCallback + `
			authorization_policy two_factor
			consent_mode implicit
		}
		client photos-app {
			client_name "Photos"
			client_secret photos-secret
			redirect_uris ` + rpCallback + `
			authorization_policy photos
			consent_mode implicit
		}
		client remember-app {
			client_secret remember-secret
			redirect_uris ` + rpCallback + `
			pre_configured_consent_duration 3s
		}`

var secretRE = regexp.MustCompile(`<code class="secret">([A-Z2-7]+)</code>`)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// postForm submits the page's form with extra fields.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	form := p.formFields()
	for k, v := range fields {
		form[k] = v
	}
	return b.post(p.formAction(b.issuer), form)
}

func TestTwoFactorTOTP(t *testing.T) {
	e := newEnv(t, twoFactorClients)
	e.start()
	r := newRP(t, e.issuer, "tf-app", "tf-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "profile"}

	// First sign-in: password, then enrolment of an authenticator app.
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `src="data:image/png;base64,`) {
		t.Fatalf("expected the enrolment page with a QR code and key, got %d: %.600s", p.status, p.body)
	}
	// A mistyped code keeps the key: the app already has it.
	p = b.submit(p, url.Values{"code": {"000000"}})
	m2 := secretRE.FindStringSubmatch(p.body)
	if m2 == nil || !strings.Contains(p.body, "not valid") || m2[1] != m[1] || !strings.Contains(p.body, "already has the right key") {
		t.Fatalf("a wrong code must show the same key and an error, got %d: %.600s", p.status, p.body)
	}
	// A form that did not show that key (no or another proof) gets a new
	// one: the pending key is shown only to the page that showed it.
	forged := b.submit(p, url.Values{"code": {"000000"}, "enrollment": {"AAAA"}})
	m3 := secretRE.FindStringSubmatch(forged.body)
	if m3 == nil || m3[1] == m[1] || !strings.Contains(forged.body, "scan it again") {
		t.Fatalf("a wrong code with a forged proof must show a new key, got %d: %.600s", forged.status, forged.body)
	}
	p = forged
	secret := m3[1]
	now := time.Now()
	p = b.submit(p, url.Values{"code": {totpCode(t, secret, now)}})
	p = b.pastRecoveryCodes(p) // recovery_test.go
	params := callbackParams(t, p, rpCallback)
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwtClaims(t, rawIDToken(t, tok))
	amr, _ := claims["amr"].([]any)
	if !slices.Contains(amr, any("pwd")) || !slices.Contains(amr, any("otp")) || claims["acr"] != "2" {
		t.Errorf("amr=%v acr=%v, want pwd+otp and 2", claims["amr"], claims["acr"])
	}

	// Second sign-in elsewhere: password, then a code. The enrolment's code
	// was consumed, so the next step's code is used (±1 step is accepted).
	b2 := newBrowser(t, e.issuer)
	p = b2.login(b2.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	if !strings.Contains(p.body, `autocomplete="one-time-code"`) || secretRE.MatchString(p.body) {
		t.Fatalf("expected the code prompt (no new key), got %.600s", p.body)
	}
	replayed := b2.submit(p, url.Values{"code": {totpCode(t, secret, now)}})
	if replayed.status != http.StatusUnauthorized || !strings.Contains(replayed.body, "not valid") {
		t.Fatalf("a code already used must be refused, got %d", replayed.status)
	}
	next := totpCode(t, secret, now.Add(30*time.Second))
	p = b2.submit(replayed, url.Values{"code": {next}})
	callbackParams(t, p, rpCallback)

	// The same code again, in a third browser: refused (a code is accepted once).
	b3 := newBrowser(t, e.issuer)
	p = b3.login(b3.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	p = b3.submit(p, url.Values{"code": {next}})
	if p.status != http.StatusUnauthorized {
		t.Fatalf("replayed code accepted: %d", p.status)
	}

	// A one-factor session is not enough for the two-factor client with prompt=none.
	u := r.config.AuthCodeURL(randString(t), oauth2.SetAuthURLParam("prompt", "none"))
	if got := callbackParams(t, b3.get(u), rpCallback).Get("error"); got != "login_required" {
		t.Errorf("prompt=none without the second factor: error=%q", got)
	}
	for _, s := range []string{secret, next} {
		if strings.Contains(e.logText(), s) {
			t.Errorf("the log contains a TOTP secret or code")
		}
	}
	for _, result := range []string{"success", "failure"} {
		if !hasAuditEvent(e.logText(), "second_factor", map[string]string{"user": "alice", "method": "totp", "result": result, "client_id": "tf-app"}) {
			t.Errorf("no second_factor %s event in the audit log", result)
		}
	}
}

func TestPolicyDeniesOutsideGroup(t *testing.T) {
	e := newEnv(t, twoFactorClients)
	e.start()
	r := newRP(t, e.issuer, "photos-app", "photos-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid"}

	b := newBrowser(t, e.issuer)
	callbackParams(t, b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword), rpCallback)

	state := randString(t)
	b2 := newBrowser(t, e.issuer)
	p := b2.login(b2.get(r.config.AuthCodeURL(state)), "bob", testPassword)
	if p.status != http.StatusForbidden || p.location != "" || !strings.Contains(p.body, "You can&#39;t use Photos") {
		t.Fatalf("bob must get a clear page, got %d %q: %.500s", p.status, p.location, p.body)
	}
	m := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(p.body, -1)
	var back string
	for _, x := range m {
		if strings.HasPrefix(html.UnescapeString(x[1]), rpCallback) {
			back = html.UnescapeString(x[1])
		}
	}
	u, _ := url.Parse(back)
	if back == "" || u.Query().Get("error") != "access_denied" || u.Query().Get("state") != state || u.Query().Get("iss") != e.issuer {
		t.Fatalf("the page must link back to the client with access_denied, state and iss: %q", back)
	}
}

func TestConsentRememberedThenExpires(t *testing.T) {
	e := newEnv(t, twoFactorClients)
	e.start()
	r := newRP(t, e.issuer, "remember-app", "remember-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid", "email"}
	b := newBrowser(t, e.issuer)

	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	if !strings.Contains(p.body, `name="remember"`) {
		t.Fatalf("consent page lacks the remember option: %.500s", p.body)
	}
	callbackParams(t, b.submit(p, url.Values{"decision": {"allow"}, "remember": {"1"}}), rpCallback)

	// Same scopes: no consent page.
	callbackParams(t, b.get(r.config.AuthCodeURL(randString(t))), rpCallback)
	// Other scopes: asked again.
	r.config.Scopes = []string{"openid", "email", "profile"}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("different scopes must ask again, got %d", p.status)
	}
	// The remembered consent is listed on the settings page, for this user only.
	if p := b.get(e.issuer + "/settings"); !strings.Contains(p.body, "remember-app") {
		t.Errorf("settings do not list the remembered consent: %.800s", p.body)
	}
	// After the duration (pre_configured_consent_duration 3s): asked again.
	r.config.Scopes = []string{"openid", "email"}
	advanceClock(t, 3*time.Second+time.Second)
	if p := b.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("an expired consent must ask again, got %d", p.status)
	}
}

func TestRegulationBansAndExpires(t *testing.T) {
	e := newEnv(t, standardClients)
	e.extra = "regulation {\n max_retries 2\n find_time 1m\n ban_time 2s\n}"
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, e.issuer)
	start := b.get(r.config.AuthCodeURL(randString(t)))

	wrong := b.login(start, "alice", "wrong")
	wrong = b.login(wrong, "alice", "wrong")
	// Banned: even the right password gets exactly the wrong-password answer.
	banned := b.login(wrong, "alice", testPassword)
	if banned.status != wrong.status || !strings.Contains(banned.body, "Incorrect username or password.") {
		t.Fatalf("banned login: %d %.300s", banned.status, banned.body)
	}
	// An unknown user is regulated the same way (no probing by ban behaviour).
	ghost := b.login(b.login(b.login(start, "ghost", "x"), "ghost", "y"), "ghost", "z")
	if ghost.status != banned.status {
		t.Errorf("unknown user answers %d, known %d", ghost.status, banned.status)
	}
	advanceClock(t, 2*time.Second+time.Second) // ban_time 2s
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	if !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("after the ban the right password must work, got %d: %.300s", p.status, p.body)
	}
	if !strings.Contains(e.logText(), "authentication attempt while banned") {
		t.Error("the ban is not logged")
	}
}

func TestSessionInactivityAndRememberMe(t *testing.T) {
	e := newEnv(t, standardClients)
	e.extra = "session_inactivity 2s"
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)

	plain := newBrowser(t, e.issuer)
	p := plain.login(plain.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	plain.consent(p, "allow")

	remembered := newBrowser(t, e.issuer)
	p = remembered.get(r.config.AuthCodeURL(randString(t)))
	form := p.formFields()
	form.Set("username", "alice")
	form.Set("password", testPassword)
	form.Set("remember_me", "1")
	req, _ := http.NewRequest(http.MethodPost, p.formAction(e.issuer), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := remembered.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	closeBody(resp)
	var persistent bool
	for _, c := range resp.Cookies() {
		if c.Name == "caddy_oidc_session" && !c.Expires.IsZero() && c.Expires.After(time.Now().Add(24*time.Hour)) {
			persistent = true
		}
	}
	if !persistent {
		t.Error("remember me must set a persistent session cookie")
	}

	advanceClock(t, 2*time.Second+time.Second) // session_inactivity 2s
	if p := plain.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="password"`) {
		t.Errorf("an idle session must end: got %d %.1500s", p.status, p.body)
	}
	if p := remembered.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="decision"`) {
		t.Errorf("a remembered session has no inactivity timeout: got %d %.300s", p.status, p.body)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	var browsers []*browser
	for range 2 {
		b := newBrowser(t, e.issuer)
		b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
		browsers = append(browsers, b)
	}
	p := browsers[0].get(e.issuer + "/logout")
	if p := browsers[0].submit(p, url.Values{"all_devices": {"1"}}); !strings.Contains(p.body, "signed out") {
		t.Fatalf("logout: %d %.300s", p.status, p.body)
	}
	if p := browsers[1].get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="password"`) {
		t.Error("signing out on all devices must end the other browser's session")
	}
}

// TestSettingsSignIn signs in from the settings page itself (no client).
func TestSettingsSignIn(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	b := newBrowser(t, e.issuer)
	p := b.get(e.issuer + "/settings")
	if got := p.formFields().Get("return_to"); got != "/settings" {
		t.Fatalf("settings without a session must show the login page returning to /settings, got return_to=%q", got)
	}
	p = b.login(p, "alice", testPassword) // the 303 to /settings is followed
	if p.status != http.StatusOK || !strings.Contains(p.body, "Security settings") || !strings.Contains(p.body, "Alice Example") {
		t.Fatalf("settings page: %d %.300s", p.status, p.body)
	}
	if !strings.Contains(p.body, `value="totp-enroll"`) {
		t.Error("a user without an authenticator is offered to set one up")
	}
}

// TestConsentRevokedFromSettings: a remembered consent the user revokes on
// the settings page is asked for again.
func TestConsentRevokedFromSettings(t *testing.T) {
	e := newEnv(t, strings.Replace(twoFactorClients, "pre_configured_consent_duration 3s", "pre_configured_consent_duration 1h", 1))
	e.start()
	r := newRP(t, e.issuer, "remember-app", "remember-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid"}
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	callbackParams(t, b.submit(p, url.Values{"decision": {"allow"}, "remember": {"1"}}), rpCallback)
	callbackParams(t, b.get(r.config.AuthCodeURL(randString(t))), rpCallback) // remembered

	settings := b.get(e.issuer + "/settings")
	m := regexp.MustCompile(`(?s)<form method="post" action="([^"]+)">\s*<input type="hidden" name="csrf_token" value="([^"]+)">\s*<input type="hidden" name="client_id" value="remember-app">`).FindStringSubmatch(settings.body)
	if m == nil {
		t.Fatalf("no revoke form for remember-app on the settings page: %.1200s", settings.body)
	}
	p = b.post(e.issuer+html.UnescapeString(m[1]), url.Values{"csrf_token": {html.UnescapeString(m[2])}, "client_id": {"remember-app"}, "action": {"consent-revoke"}})
	// First a confirmation that names the application; confirming revokes.
	if p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Revoke consent for ") || !strings.Contains(p.body, `name="confirmed" value="1"`) {
		t.Fatalf("revoking: want the confirmation page, got %d: %.1200s", p.status, p.body)
	}
	p = b.submit(p, nil)
	if p.status != http.StatusOK || strings.Contains(p.body, `value="remember-app"`) || !strings.Contains(p.body, "will ask for your consent again") {
		t.Fatalf("after revoking: %d, the consent is still listed: %.1200s", p.status, p.body)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); !strings.Contains(p.body, `name="decision"`) {
		t.Fatalf("a revoked consent must be asked again, got %d", p.status)
	}
}
