package pages

import (
	"context"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

var pendingField = regexp.MustCompile(`name="pending" value="([^"]+)"`)

// pending returns the step-up page's hidden "pending" field, checking that
// every form of the page carries the same one.
func pending(t *testing.T, r formResponse) string {
	t.Helper()
	all := pendingField.FindAllStringSubmatch(r.body, -1)
	if len(all) == 0 {
		t.Fatalf("no pending change on the page: %d\n%s", r.status, r.body)
	}
	for _, m := range all {
		if m[1] != all[0][1] {
			t.Fatalf("the forms carry different pending changes:\n%s", r.body)
		}
	}
	return html.UnescapeString(all[0][1])
}

// enrolTOTP gives username a confirmed authenticator app and returns its
// secret.
func (e *recoveryEnv) enrolTOTP(username string) string {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.p.totp.Enroll(ctx, username)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.p.totp.Confirm(ctx, username, e.totpCode(en.Secret), e.clock.now()); err != nil {
		e.t.Fatal(err)
	}
	return en.Secret
}

// totpCode is the authenticator's code for a new time step (a code is
// accepted once).
func (e *recoveryEnv) totpCode(secret string) string {
	e.t.Helper()
	e.clock.advance(31 * time.Second)
	c, err := totp.GenerateCodeCustom(secret, e.clock.now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *recoveryEnv) totpEnrolled(username string) bool {
	ok, err := e.p.totp.Enrolled(context.Background(), username)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// wantStepUp checks a step-up page: it says why, has a Cancel back to the
// settings, carries the pending change in its forms.
func wantStepUp(t *testing.T, r formResponse, what, reason string) string {
	t.Helper()
	if r.status != http.StatusOK || !strings.Contains(html.UnescapeString(r.body), reason) ||
		!strings.Contains(r.body, `<a class="button secondary" href="`+PathSettings+`">Cancel</a>`) {
		t.Fatalf("%s: want a step-up page saying %q with Cancel, got %d\n%s", what, reason, r.status, r.body)
	}
	return pending(t, r)
}

// Every settings change that needs a second factor asks for it in place,
// says why, and is made once the factor is given (with an authenticator
// code, a recovery code or a passkey), without asking again.
func TestStepUpResumesSettingsChange(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	secret := e.enrolTOTP("alice")
	codes, err := e.p.recovery.Generate(ctx, "alice", e.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	// A passkey to remove, added in a two-factor session.
	strong := e.browser()
	strong.signIn("alice", []string{"pwd", "otp", "mfa"}, e.clock.now())
	keyID, _ := strong.register("Laptop")

	byTOTP := func(b *pkBrowser, token string) formResponse {
		return e.post(b, PathSecondFactor, url.Values{"return_to": {PathSettings}, "code": {e.totpCode(secret)}, "pending": {token}})
	}
	byPasskey := func(b *pkBrowser, token string) formResponse {
		b.auth = strong.auth // the device that holds Laptop
		b.assert("/2fa").expect(t, "2fa finish", http.StatusOK, "")
		return e.post(b, PathContinue, url.Values{"return_to": {PathSettings}, "pending": {token}})
	}
	tests := []struct {
		name, action, arg, reason, confirm string
		factor                             func(b *pkBrowser, token string) formResponse
		check                              func(t *testing.T, b *pkBrowser, r formResponse)
	}{
		{name: "remove authenticator app", action: "totp-remove", confirm: "Remove your authenticator app?",
			reason: "To remove your authenticator app, confirm it's you.", factor: byTOTP,
			check: func(t *testing.T, b *pkBrowser, r formResponse) {
				if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=totp_removed" || e.totpEnrolled("alice") {
					t.Fatalf("after the step-up: %d %q, enrolled %v", r.status, r.location, e.totpEnrolled("alice"))
				}
				if s := e.get(b, r.location); !strings.Contains(s.body, "The authenticator app was removed.") || !strings.Contains(s.body, `value="totp-enroll"`) {
					t.Fatalf("settings after removal:\n%s", s.body)
				}
			}},
		{name: "set up authenticator app, with a passkey", action: "totp-enroll", reason: "To set up an authenticator app, confirm it's you.", factor: byPasskey,
			check: func(t *testing.T, _ *pkBrowser, r formResponse) {
				if r.status != http.StatusOK || !strings.Contains(r.body, `src="data:image/png;base64,`) {
					t.Fatalf("after the step-up: %d\n%s", r.status, r.body)
				}
				secret = e.enrolTOTP("alice") // for the next cases
			}},
		{name: "new recovery codes with a recovery code", action: "recovery-generate", confirm: "Create new recovery codes?",
			reason: "To create new recovery codes, confirm it's you.",
			factor: func(b *pkBrowser, token string) formResponse {
				return e.post(b, PathRecoveryCode, url.Values{"return_to": {PathSettings}, "recovery_code": {codes[0]}, "pending": {token}})
			},
			check: func(t *testing.T, _ *pkBrowser, r formResponse) {
				if r.status != http.StatusOK || len(shownCodes(r.body)) != authn.RecoveryCodeCount {
					t.Fatalf("after the step-up: %d, %d codes\n%s", r.status, len(shownCodes(r.body)), r.body)
				}
			}},
		{name: "add a passkey, with a passkey", action: "passkey-add", reason: "To add a passkey, confirm it's you.",
			factor: byPasskey,
			check: func(t *testing.T, b *pkBrowser, r formResponse) {
				if r.status != http.StatusSeeOther || r.location != PathSettings+"?ready=passkey" {
					t.Fatalf("after the step-up: %d %q", r.status, r.location)
				}
				s := e.get(b, r.location)
				if !strings.Contains(s.body, "You can add your passkey now.") || !strings.Contains(s.body, `id="passkey-register" class="primary" autofocus`) {
					t.Fatalf("settings ready for the passkey:\n%s", s.body)
				}
				b.call(http.MethodPost, "/register/options", nil).expect(t, "register options after the step-up", http.StatusOK, "")
			}},
		{name: "remove a passkey", action: "passkey-remove", arg: keyID, confirm: "Remove passkey “Laptop”?",
			reason: "To remove a passkey, confirm it's you.", factor: byTOTP,
			check: func(t *testing.T, b *pkBrowser, r formResponse) {
				if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=passkey_removed" {
					t.Fatalf("after the step-up: %d %q\n%s", r.status, r.location, r.body)
				}
				if list, _ := e.p.listPasskeys(ctx, "alice"); len(list) != 0 {
					t.Fatalf("passkeys left: %v", list)
				}
				if s := e.get(b, r.location); !strings.Contains(s.body, "The passkey was removed.") {
					t.Fatalf("settings after removal:\n%s", s.body)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.signIn("alice", []string{"pwd"}, e.clock.now())
			form := url.Values{"action": {tc.action}, "passkey_id": {tc.arg}}
			r := e.post(b, PathSettings, form)
			if tc.confirm != "" {
				// Confirmation first, naming the item; nothing changed yet.
				if r.status != http.StatusOK || !strings.Contains(r.body, "<h1>"+tc.confirm+"</h1>") || !strings.Contains(r.body, `class="primary danger"`) ||
					!strings.Contains(r.body, `name="confirmed" value="1"`) || strings.Contains(r.body, `name="pending"`) {
					t.Fatalf("confirmation: %d\n%s", r.status, r.body)
				}
				form.Set("confirmed", "1")
				r = e.post(b, PathSettings, form)
			}
			token := wantStepUp(t, r, "step-up", tc.reason)
			if !strings.Contains(r.body, `id="lost-device"`) {
				t.Errorf("the step-up page offers no recovery code:\n%s", r.body)
			}
			tc.check(t, b, tc.factor(b, token))
		})
	}
}

// A sign-in older than ten minutes signs in again (with the password, or a
// passkey), then gives the second factor when the user has one and the new
// sign-in lacks it; the change is made after both.
func TestStepUpAfterOldSignIn(t *testing.T) {
	e := newRecoveryEnv(t)
	secret := e.enrolTOTP("alice")
	b := e.browser()
	b.signIn("alice", []string{"pwd", "otp", "mfa"}, e.clock.now())
	e.clock.advance(11 * time.Minute)

	r := e.post(b, PathSettings, url.Values{"action": {"totp-remove"}, "confirmed": {"1"}})
	token := wantStepUp(t, r, "old sign-in", "To remove your authenticator app, confirm it's you.")
	if !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, `name="username" type="text" dir="auto" value="alice"`) {
		t.Fatalf("an old sign-in must sign in again:\n%s", r.body)
	}
	// A wrong password shows the page again, still carrying the change.
	r = e.post(b, PathLogin, url.Values{"return_to": {PathSettings}, "username": {"alice"}, "password": {"nope"}, "pending": {token}})
	if r.status != http.StatusUnauthorized || pending(t, r) != token {
		t.Fatalf("wrong password: %d\n%s", r.status, r.body)
	}
	r = e.post(b, PathLogin, url.Values{"return_to": {PathSettings}, "username": {"alice"}, "password": {"pw"}, "pending": {token}})
	token = wantStepUp(t, r, "after the password", "To remove your authenticator app, confirm it's you.")
	if !strings.Contains(r.body, `name="code"`) || !e.totpEnrolled("alice") {
		t.Fatalf("after the password: want the second factor, nothing removed yet:\n%s", r.body)
	}
	r = e.post(b, PathSecondFactor, url.Values{"return_to": {PathSettings}, "code": {e.totpCode(secret)}, "pending": {token}})
	if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=totp_removed" || e.totpEnrolled("alice") {
		t.Fatalf("after the second factor: %d %q, enrolled %v", r.status, r.location, e.totpEnrolled("alice"))
	}

	// A user without a second factor: the password alone resumes.
	bob := e.browser()
	bob.signIn("bob", []string{"pwd"}, e.clock.now())
	e.clock.advance(11 * time.Minute)
	r = e.post(bob, PathSettings, url.Values{"action": {"passkey-add"}})
	token = wantStepUp(t, r, "bob's old sign-in", "To add a passkey, confirm it's you.")
	r = e.post(bob, PathLogin, url.Values{"return_to": {PathSettings}, "username": {"bob"}, "password": {"pw"}, "pending": {token}})
	if r.status != http.StatusSeeOther || r.location != PathSettings+"?ready=passkey" {
		t.Fatalf("bob after the password: %d %q\n%s", r.status, r.location, r.body)
	}

	// Signing in again with a passkey instead (two factors at once).
	carol := e.browser()
	carol.signIn("carol", []string{"pwd"}, e.clock.now())
	keyID, _ := carol.register("Phone")
	e.clock.advance(11 * time.Minute)
	r = e.post(carol, PathSettings, url.Values{"action": {"passkey-remove"}, "passkey_id": {keyID}, "confirmed": {"1"}})
	token = wantStepUp(t, r, "carol's old sign-in", "To remove a passkey, confirm it's you.")
	if !strings.Contains(r.body, `id="passkey-login"`) {
		t.Fatalf("the step-up sign-in offers no passkey:\n%s", r.body)
	}
	carol.assert("/login").expect(t, "passwordless sign-in", http.StatusOK, "")
	r = e.post(carol, PathContinue, url.Values{"return_to": {PathSettings}, "pending": {token}})
	if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=passkey_removed" {
		t.Fatalf("carol after the passkey: %d %q\n%s", r.status, r.location, r.body)
	}
	if list, _ := e.p.listPasskeys(context.Background(), "carol"); len(list) != 0 {
		t.Fatalf("carol's passkeys: %v", list)
	}
}

// A pending change that was altered, expired, or belongs to another user
// or browser is refused with a readable page, and nothing changes; without
// one, a step-up just goes back to the settings.
func TestStepUpPendingRefused(t *testing.T) {
	e := newRecoveryEnv(t)
	secret := e.enrolTOTP("alice")
	e.enrolTOTP("bob")
	start := func(b *pkBrowser) string {
		t.Helper()
		r := e.post(b, PathSettings, url.Values{"action": {"totp-remove"}, "confirmed": {"1"}})
		return wantStepUp(t, r, "start", "To remove your authenticator app, confirm it's you.")
	}
	signedIn := func(user string) *pkBrowser {
		b := e.browser()
		b.signIn(user, []string{"pwd"}, e.clock.now())
		return b
	}
	a := signedIn("alice")
	good := start(a)
	_, sig, _ := strings.Cut(good, ".")
	other := signedIn("alice")
	tests := []struct {
		name  string
		b     *pkBrowser
		token func() string
	}{
		{"altered", signedIn("alice"), func() string {
			return base64.RawURLEncoding.EncodeToString([]byte("totp-enroll\x00\x009999999999")) + "." + sig
		}},
		{"garbage", signedIn("alice"), func() string { return "x" }},
		{"another browser", other, func() string { return good }},
		{"expired", a, func() string { e.clock.advance(stepUpWindow + time.Second); return good }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token()
			r := e.post(tc.b, PathSecondFactor, url.Values{"return_to": {PathSettings}, "code": {e.totpCode(secret)}, "pending": {token}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, "This confirmation is no longer valid") || !strings.Contains(r.body, "security settings") {
				t.Fatalf("%d\n%s", r.status, r.body)
			}
			if !e.totpEnrolled("alice") {
				t.Fatal("the authenticator app was removed")
			}
		})
	}
	// Another user's session cannot use alice's change.
	a = signedIn("alice")
	bob := signedIn("bob") // in the same browser: the CSRF cookie is alice's
	bob.setCookie(&http.Cookie{Name: csrfCookie, Value: a.cookie(csrfCookie)})
	bob.csrf = a.csrf
	if r := e.post(bob, PathLogin, url.Values{"return_to": {PathSettings}, "username": {"bob"}, "password": {"pw"}, "pending": {start(a)}}); r.status != http.StatusBadRequest {
		t.Fatalf("bob with alice's change: %d\n%s", r.status, r.body)
	}
	if !e.totpEnrolled("alice") || !e.totpEnrolled("bob") {
		t.Fatal("an authenticator app was removed")
	}
	// No pending change: the second factor leads back to the settings.
	plain := signedIn("alice")
	if r := e.post(plain, PathSecondFactor, url.Values{"return_to": {PathSettings}, "code": {e.totpCode(secret)}}); r.status != http.StatusSeeOther || r.location != PathSettings {
		t.Fatalf("without a pending change: %d %q", r.status, r.location)
	}
}

// Cancel goes back to the settings, where nothing changed; the
// confirmation pages name what they remove and change nothing until
// confirmed; only known ?done= keys say anything.
func TestConfirmAndCancel(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	e.enrolTOTP("alice")
	b := e.browser()
	b.signIn("alice", []string{"pwd", "otp", "mfa"}, e.clock.now())
	if err := e.db.PutConsent(ctx, store.Consent{Username: "alice", ClientID: "photos", Scopes: []string{"openid"},
		GrantedAt: e.clock.now(), ExpiresAt: e.clock.now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	consents := func() int {
		list, err := e.db.ListConsents(ctx, "alice", e.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	for _, tc := range []struct {
		action, question string
		want             []string
	}{
		{"consent-revoke", "Revoke consent for photos?", []string{`name="client_id" value="photos"`, `action="` + PathSettings + `"`}},
		{"signout-everywhere", "Sign out everywhere?", []string{`name="all_devices" value="1"`, `action="` + PathLogout + `"`}},
		{"totp-remove", "Remove your authenticator app?", nil},
	} {
		r := e.post(b, PathSettings, url.Values{"action": {tc.action}, "client_id": {"photos"}})
		if r.status != http.StatusOK || !strings.Contains(r.body, "<h1>"+tc.question+"</h1>") || !strings.Contains(r.body, `<a class="button secondary" href="`+PathSettings+`">Cancel</a>`) {
			t.Fatalf("%s: %d\n%s", tc.action, r.status, r.body)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s: confirmation lacks %s", tc.action, w)
			}
		}
	}
	if consents() != 1 || !e.totpEnrolled("alice") || b.session() == nil {
		t.Fatal("a confirmation page changed something")
	}
	// Cancel: the settings, unchanged.
	if s := e.get(b, PathSettings); s.status != http.StatusOK || !strings.Contains(s.body, `value="totp-remove"`) || !strings.Contains(s.body, `value="photos"`) {
		t.Fatalf("settings after Cancel: %d\n%s", s.status, s.body)
	}
	// Confirmed: made, and answered with a redirect that reloads safely.
	r := e.post(b, PathSettings, url.Values{"action": {"consent-revoke"}, "client_id": {"photos"}, "confirmed": {"1"}})
	if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=consent_revoked" || consents() != 0 {
		t.Fatalf("revoke: %d %q, %d consents", r.status, r.location, consents())
	}
	if s := e.get(b, r.location); !strings.Contains(s.body, "The application will ask for your consent again.") {
		t.Fatalf("settings after revoking:\n%s", s.body)
	}
	if s := e.get(b, PathSettings+"?done=%3Cscript%3E"); strings.Contains(s.body, `role="status"`) {
		t.Fatalf("an unknown done key says something:\n%s", s.body)
	}
	// A passkey that is not the user's has nothing to confirm.
	if r := e.post(b, PathSettings, url.Values{"action": {"passkey-remove"}, "passkey_id": {"nope"}}); !strings.Contains(r.body, `role="alert"`) || strings.Contains(r.body, "confirmed") {
		t.Fatalf("unknown passkey: %d\n%s", r.status, r.body)
	}
}
