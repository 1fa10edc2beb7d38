package pages

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
)

// recoveryEnv serves the pages' forms (as the provider's route table does)
// beside the passkey endpoints of a pkEnv.
type recoveryEnv struct {
	*pkEnv
	forms string // base URL of the form routes
}

func newRecoveryEnv(t *testing.T, options ...func(*Config)) *recoveryEnv {
	e := newPasskeyEnv(t, "localhost", options...)
	mux := http.NewServeMux()
	for path, h := range map[string]http.HandlerFunc{
		PathSecondFactor: e.p.ServeSecondFactor,
		PathTOTPEnroll:   e.p.ServeTOTPEnroll,
		PathRecoveryCode: e.p.ServeRecoveryCode,
		PathRecoveryDone: e.p.ServeRecoveryDone,
		PathSettings:     e.p.ServeSettings,
		PathLogin:        e.p.ServeLogin,
		PathContinue:     e.p.ServeContinue,
	} {
		mux.HandleFunc(path, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &recoveryEnv{pkEnv: e, forms: srv.URL}
}

type formResponse struct {
	status   int
	body     string
	location string
}

// post submits a page's form as the browser would (same cookies, the
// issuer's Origin, the CSRF token), without following redirects.
func (e *recoveryEnv) post(b *pkBrowser, path string, form url.Values) formResponse {
	e.t.Helper()
	form.Set("csrf_token", b.csrf)
	req, _ := http.NewRequest(http.MethodPost, e.forms+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.issuer)
	return e.do(b, req)
}

func (e *recoveryEnv) get(b *pkBrowser, path string) formResponse {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.forms+path, nil)
	return e.do(b, req)
}

func (e *recoveryEnv) do(b *pkBrowser, req *http.Request) formResponse {
	e.t.Helper()
	c := &http.Client{Jar: b.client.Jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return formResponse{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location")}
}

var shownCode = regexp.MustCompile(`<code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code>`)

func shownCodes(body string) []string {
	var out []string
	for _, m := range shownCode.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func (e *recoveryEnv) useCode(b *pkBrowser, code string) formResponse {
	e.t.Helper()
	return e.post(b, PathRecoveryCode, url.Values{"return_to": {PathSettings}, "recovery_code": {code}})
}

// A user who enrols a first second factor gets recovery codes, shown once
// and stored only hashed; each signs in once in place of the second factor
// (amr otp, mfa); wrong codes are regulated; new codes from the settings
// replace the old ones.
func TestRecoveryCodes(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()

	// Enrolment of an authenticator app (first second factor) from the settings.
	enrolling := e.browser()
	enrolling.signIn("alice", []string{"pwd"}, e.clock.now())
	en, err := e.p.totp.Enroll(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(en.Secret, e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	r := e.post(enrolling, PathTOTPEnroll, url.Values{"return_to": {PathSettings}, "code": {code}})
	codes := shownCodes(r.body)
	if r.status != http.StatusOK || len(codes) != authn.RecoveryCodeCount || !strings.Contains(r.body, `action="`+PathRecoveryDone+`"`) {
		t.Fatalf("after enrolment: %d, %d codes:\n%s", r.status, len(codes), r.body)
	}
	if s := enrolling.session(); !slices.Contains(s.AMR, "otp") || !slices.Contains(s.AMR, "mfa") {
		t.Fatalf("session amr after enrolment: %v", s.AMR)
	}
	if r := e.post(enrolling, PathRecoveryDone, url.Values{"return_to": {PathSettings}}); r.status != http.StatusSeeOther || r.location != PathSettings {
		t.Fatalf("continue: %d %q", r.status, r.location)
	}

	// Stored hashed: no row holds a code in any form.
	for _, c := range codes {
		var n int
		if err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_code WHERE code_hash = ? OR code_hash = ?`, c, strings.ReplaceAll(c, "-", "")).Scan(&n); err != nil || n != 0 {
			t.Fatalf("code %s found in the table (%d, %v)", c, n, err)
		}
	}
	var rows int
	if err := e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_code WHERE username = ?`, "alice").Scan(&rows); err != nil || rows != authn.RecoveryCodeCount {
		t.Fatalf("%d rows, %v", rows, err)
	}

	// Shown once: the settings page counts them and shows none.
	settings := e.get(enrolling, PathSettings)
	if settings.status != http.StatusOK || len(shownCodes(settings.body)) != 0 || !strings.Contains(settings.body, `value="recovery-generate"`) ||
		!strings.Contains(settings.body, "Unused recovery codes: 10.") {
		t.Fatalf("settings: %d\n%s", settings.status, settings.body)
	}
	for _, c := range codes {
		if strings.Contains(settings.body, c) {
			t.Fatalf("settings page shows code %s again", c)
		}
	}

	// The second-factor page says what to do after losing the device.
	lost := e.browser()
	lost.signIn("alice", []string{"pwd"}, e.clock.now())
	r = e.post(lost, PathSecondFactor, url.Values{"return_to": {PathSettings}, "code": {"000000"}})
	if !strings.Contains(r.body, `id="lost-device"`) || !strings.Contains(r.body, `action="`+PathRecoveryCode+`"`) || !strings.Contains(r.body, "administrator") {
		t.Fatalf("second-factor page has no lost-device path:\n%s", r.body)
	}

	// A wrong code is refused with a readable message; a right one, typed
	// loosely, completes the second factor; it never works again.
	r = e.useCode(lost, "zzzz-zzzz-zzzz")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "That recovery code is not valid") {
		t.Fatalf("wrong code: %d\n%s", r.status, r.body)
	}
	if s := lost.session(); slices.Contains(s.AMR, "otp") {
		t.Fatalf("wrong code changed amr: %v", s.AMR)
	}
	r = e.useCode(lost, strings.ToUpper(strings.ReplaceAll(codes[0], "-", " ")))
	if r.status != http.StatusSeeOther || r.location != PathSettings {
		t.Fatalf("right code: %d %q\n%s", r.status, r.location, r.body)
	}
	if s := lost.session(); !slices.Equal(s.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr after a recovery code: %v, want [pwd otp mfa]", s.AMR)
	}
	again := e.browser()
	again.signIn("alice", []string{"pwd"}, e.clock.now())
	if r := e.useCode(again, codes[0]); r.status != http.StatusUnauthorized {
		t.Fatalf("used code accepted again: %d", r.status)
	}
	if !strings.Contains(e.get(lost, PathSettings).body, "Unused recovery codes: 9.") {
		t.Fatal("settings do not count the used code")
	}

	// New codes from the settings (a two-factor session): shown once,
	// the old ones stop working, the new ones work.
	r = e.post(lost, PathSettings, url.Values{"action": {"recovery-generate"}})
	if r.status != http.StatusOK || len(shownCodes(r.body)) != 0 || !strings.Contains(r.body, "Create new recovery codes?") {
		t.Fatalf("regenerate without confirmation: %d\n%s", r.status, r.body)
	}
	r = e.post(lost, PathSettings, url.Values{"action": {"recovery-generate"}, "confirmed": {"1"}})
	fresh := shownCodes(r.body)
	if r.status != http.StatusOK || len(fresh) != authn.RecoveryCodeCount {
		t.Fatalf("regenerate: %d, %d codes\n%s", r.status, len(fresh), r.body)
	}
	if slices.ContainsFunc(fresh, func(c string) bool { return slices.Contains(codes, c) }) {
		t.Fatal("a new code equals an old one")
	}
	if r := e.post(lost, PathRecoveryDone, url.Values{"return_to": {PathSettings}}); r.status != http.StatusSeeOther || r.location != PathSettings {
		t.Fatalf("continue after regeneration: %d %q", r.status, r.location)
	}
	e.clock.advance(10 * time.Minute) // past the earlier failures' find_time
	old := e.browser()
	old.signIn("alice", []string{"pwd"}, e.clock.now())
	if r := e.useCode(old, codes[1]); r.status != http.StatusUnauthorized {
		t.Fatalf("old code after regeneration: %d", r.status)
	}
	if r := e.useCode(old, fresh[0]); r.status != http.StatusSeeOther {
		t.Fatalf("new code: %d\n%s", r.status, r.body)
	}

	// A session without the second factor must step up first: it gets the
	// second-factor page, not codes.
	weak := e.browser()
	weak.signIn("alice", []string{"pwd"}, e.clock.now())
	if r := e.post(weak, PathSettings, url.Values{"action": {"recovery-generate"}, "confirmed": {"1"}}); len(shownCodes(r.body)) != 0 || !strings.Contains(r.body, `id="lost-device"`) {
		t.Fatalf("regeneration without step-up: %d\n%s", r.status, r.body)
	}
}

// Wrong recovery codes count toward the user's ban like wrong TOTP codes;
// while banned even a right code is refused, and stays unused.
func TestRecoveryCodeRegulation(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	if _, err := e.p.totp.Enroll(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	en, _ := e.p.totp.Enroll(ctx, "bob")
	c, _ := totp.GenerateCodeCustom(en.Secret, e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err := e.p.totp.Confirm(ctx, "bob", c, e.clock.now()); err != nil {
		t.Fatal(err)
	}
	codes, err := e.p.recovery.Generate(ctx, "bob", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("bob", []string{"pwd"}, e.clock.now())
	for i := range 3 { // Authelia's default: 3 failures in 2m ban for 5m
		if r := e.useCode(b, "zzzz-zzzz-zzz"+string(rune('a'+i))); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, r.status)
		}
	}
	if r := e.useCode(b, codes[0]); r.status != http.StatusUnauthorized {
		t.Fatalf("right code while banned: %d %q", r.status, r.location)
	}
	if n, _ := e.p.recovery.Remaining(ctx, "bob"); n != authn.RecoveryCodeCount {
		t.Fatalf("a code was used while banned: %d left", n)
	}
	e.clock.advance(6 * time.Minute)
	b.signIn("bob", []string{"pwd"}, e.clock.now())
	if r := e.useCode(b, codes[0]); r.status != http.StatusSeeOther {
		t.Fatalf("right code after the ban: %d\n%s", r.status, r.body)
	}
}

// A first passkey comes with recovery codes in the registration's answer
// (the settings page's script shows them once); a second one does not.
func TestRecoveryCodesWithFirstPasskey(t *testing.T) {
	e := newRecoveryEnv(t)
	b := e.browser()
	b.signIn("carol", []string{"pwd"}, e.clock.now())
	registerCodes := func(b *pkBrowser, name string) []any {
		t.Helper()
		opts := b.call(http.MethodPost, "/register/options", nil)
		opts.expect(t, "register options", http.StatusOK, "")
		resp, _, err := b.auth.Create(opts.body)
		if err != nil {
			t.Fatal(err)
		}
		fin := b.call(http.MethodPost, "/register/finish", map[string]any{"name": name, "credential": json.RawMessage(resp)})
		fin.expect(t, "register finish", http.StatusOK, "")
		codes, _ := fin.json(t)["recovery_codes"].([]any)
		return codes
	}
	codes := registerCodes(b, "Laptop")
	if len(codes) != authn.RecoveryCodeCount {
		t.Fatalf("first passkey: %d recovery codes", len(codes))
	}
	phone := e.browser() // another authenticator; adding it needs the first passkey
	phone.signIn("carol", []string{"pwd", "hwk", "mfa"}, e.clock.now())
	if more := registerCodes(phone, "Phone"); more != nil {
		t.Fatalf("second passkey came with codes: %v", more)
	}
	// They are the user's codes: one completes the second factor.
	other := e.browser()
	other.signIn("carol", []string{"pwd"}, e.clock.now())
	code, _ := codes[3].(string)
	if r := e.useCode(other, code); r.status != http.StatusSeeOther {
		t.Fatalf("code from the passkey registration: %d\n%s", r.status, r.body)
	}
	if s := other.session(); !slices.Contains(s.AMR, "mfa") {
		t.Fatalf("amr %v", s.AMR)
	}
}
