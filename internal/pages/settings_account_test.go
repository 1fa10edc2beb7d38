package pages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// addPasskey stores a credential for username as a registration would.
func addPasskey(t *testing.T, db *store.DB, username, id, name string, created time.Time) {
	t.Helper()
	if err := db.CreateWebAuthnCredential(context.Background(), store.WebAuthnCredential{ID: id, Username: username, Name: name, Data: []byte("{}"), CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
}

// render serves h for a GET of path with the browser's cookies.
func (b *pkBrowser) render(h http.HandlerFunc, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	u, _ := url.Parse(b.e.server + "/")
	for _, c := range b.client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	return rec
}

// With webauthn disable the passkey endpoints answer 404
// passkeys_unavailable, no page offers passkeys, a user whose only second
// factor is a passkey has none (the second-factor step enrols an
// authenticator app, the settings offer no recovery codes), and the
// provision log says so once.
func TestPasskeysTurnedOff(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	e := newRecoveryEnv(t, func(c *Config) {
		c.Authn.Passkeys = PasskeyConfig{Disable: true}
		c.Logger = zap.New(core)
	})
	if n := logs.FilterMessageSnippet("passkeys are turned off").Len(); n != 1 {
		t.Errorf("%d log lines about passkeys being off, want 1", n)
	}
	ctx := context.Background()
	addPasskey(t, e.db, "alice", "alice-key", "Phone", time.Now())
	if err := e.db.ReplaceRecoveryCodes(ctx, "alice", []string{"h1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())

	for _, ep := range e.p.PasskeyEndpoints() {
		path := strings.TrimPrefix(ep.Path, PathWebAuthn)
		b.call(ep.Method, path, nil).expect(t, ep.Method+" "+ep.Path, http.StatusNotFound, "passkeys_unavailable")
	}

	login := b.render(e.p.ServeLogin, PathLogin).Body.String()
	if strings.Contains(login, `id="passkey-login"`) || strings.Contains(login, "webauthn.js") {
		t.Errorf("the login page offers passkeys:\n%s", login)
	}
	settings := e.get(b, PathSettings)
	for _, s := range []string{"passkeys-heading", "passkey-rename", "passkey-register", "webauthn.js", "recovery-heading"} {
		if strings.Contains(settings.body, s) {
			t.Errorf("settings show %q:\n%s", s, settings.body)
		}
	}
	if !strings.Contains(settings.body, `value="totp-enroll"`) {
		t.Errorf("settings without the authenticator app:\n%s", settings.body)
	}
	// The second-factor step: alice has no second factor that works here.
	u, _ := e.users.Lookup("alice")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, PathSecondFactor, nil)
	e.p.SecondFactorStep(rec, req, nil, u, PathSettings, "")
	if body := rec.Body.String(); strings.Contains(body, `id="passkey-2fa"`) || !strings.Contains(body, `name="enrollment"`) {
		t.Errorf("second-factor step with only a passkey, passkeys off: want the authenticator enrolment:\n%s", body)
	}
	// The rename form's action is refused too.
	r := e.post(b, PathSettings, url.Values{"action": {"passkey-rename"}, "passkey_id": {"alice-key"}, "passkey_name": {"Other"}})
	if c, err := e.db.WebAuthnCredential(ctx, "alice-key"); err != nil || c.Name != "Phone" || !strings.Contains(r.body, "Unknown action.") {
		t.Errorf("rename with passkeys off: %v %v\n%s", c, err, r.body)
	}
}

// The same user with passkeys on: the passkey counts (the contrast that
// makes TestPasskeysTurnedOff mean something).
func TestPasskeysOnCount(t *testing.T) {
	e := newRecoveryEnv(t)
	addPasskey(t, e.db, "alice", "alice-key", "Phone", time.Now())
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())
	settings := e.get(b, PathSettings)
	for _, s := range []string{"passkeys-heading", "passkey-rename", "webauthn.js", "recovery-heading"} {
		if !strings.Contains(settings.body, s) {
			t.Errorf("settings lack %q:\n%s", s, settings.body)
		}
	}
	u, _ := e.users.Lookup("alice")
	rec := httptest.NewRecorder()
	e.p.SecondFactorStep(rec, httptest.NewRequest(http.MethodGet, PathSecondFactor, nil), nil, u, PathSettings, "")
	if body := rec.Body.String(); !strings.Contains(body, `id="passkey-2fa"`) {
		t.Errorf("second-factor step with a passkey:\n%s", body)
	}
	if login := b.render(e.p.ServeLogin, PathLogin).Body.String(); !strings.Contains(login, `id="passkey-login"`) {
		t.Errorf("the login page offers no passkey:\n%s", login)
	}
}

func TestPasskeyDisplayName(t *testing.T) {
	for _, bad := range []string{" Sign-in", "Sign-in ", "   ", strings.Repeat("x", 65), "Sign\nin", "Sign\x00in", "\xff"} {
		_, err := New(Config{Issuer: "https://auth.example.com", CookieKey: []byte(strings.Repeat("c", 32)),
			Authn: AuthnConfig{Passkeys: PasskeyConfig{DisplayName: bad}}})
		if err == nil || !strings.Contains(err.Error(), "display_name") {
			t.Errorf("display_name %q: err = %v, want a display_name error", bad, err)
		}
	}
	// A good one is the relying party's name in the registration options.
	e := newPasskeyEnv(t, "localhost", func(c *Config) {
		c.Authn.Passkeys = PasskeyConfig{DisplayName: "Example Sign-in ✓ " + strings.Repeat("x", 46)}
	})
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())
	opts := b.call(http.MethodPost, "/register/options", nil)
	opts.expect(t, "register options", http.StatusOK, "")
	rp, _ := opts.json(t)["rp"].(map[string]any)
	if rp["name"] != "Example Sign-in ✓ "+strings.Repeat("x", 46) || rp["id"] != "localhost" {
		t.Errorf("rp = %v", rp)
	}
}

// Renaming a passkey: a plain form per passkey, the name trimmed and
// checked, only the user's own, with the session alone (no step-up).
func TestPasskeyRename(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	addPasskey(t, e.db, "alice", "alice-key", "Phone", time.Now())
	addPasskey(t, e.db, "bob", "bob-key", "Key", time.Now())
	b := e.browser()
	// Password only, 30 minutes ago: changing second factors would need
	// a step-up; a label does not.
	b.signIn("alice", []string{"pwd"}, e.clock.now().Add(-30*time.Minute))

	page := e.get(b, PathSettings)
	for _, s := range []string{
		`aria-label="Rename passkey Phone"`, `aria-label="Remove passkey Phone"`,
		`<label for="passkey-rename-alice-key">New name for passkey Phone</label>`,
		`name="passkey_id" value="alice-key"`,
	} {
		if !strings.Contains(page.body, s) {
			t.Errorf("settings lack %s:\n%s", s, page.body)
		}
	}
	name := func(id string) string {
		t.Helper()
		c, err := e.db.WebAuthnCredential(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Name
	}
	rename := func(id, to string) formResponse {
		t.Helper()
		return e.post(b, PathSettings, url.Values{"action": {"passkey-rename"}, "passkey_id": {id}, "passkey_name": {to}})
	}

	// A rename answers like every change: a redirect to the page saying so.
	renamed := func(r formResponse) bool {
		t.Helper()
		if r.status != http.StatusSeeOther || r.location != PathSettings+"?done=passkey_renamed" {
			t.Errorf("rename: %d to %q, want a redirect to %s?done=passkey_renamed:\n%s", r.status, r.location, PathSettings, r.body)
			return false
		}
		return true
	}
	if r := rename("alice-key", "  Work laptop  "); !renamed(r) || name("alice-key") != "Work laptop" {
		t.Fatalf("rename: name %q", name("alice-key"))
	}
	page = e.get(b, PathSettings+"?done=passkey_renamed")
	if !strings.Contains(page.body, "The passkey was renamed.") || !strings.Contains(page.body, `aria-label="Rename passkey Work laptop"`) {
		t.Errorf("the page after renaming:\n%s", page.body)
	}
	if r := rename("alice-key", strings.Repeat("é", 64)); !renamed(r) || name("alice-key") != strings.Repeat("é", 64) {
		t.Errorf("64 characters refused: name %q", name("alice-key"))
	}
	for _, bad := range []string{"", "   ", strings.Repeat("é", 65), "Work\x00key", "Work\tkey", "a\u0085b", "\xff\xfe"} {
		before := name("alice-key")
		if r := rename("alice-key", bad); !strings.Contains(r.body, "A passkey name needs 1 to 64 characters") || name("alice-key") != before {
			t.Errorf("rename to %q: name %q:\n%s", bad, name("alice-key"), r.body)
		}
	}
	// Another user's passkey is no passkey of hers.
	if r := rename("bob-key", "Mine"); !strings.Contains(r.body, "You have no such passkey.") || name("bob-key") != "Key" {
		t.Errorf("renaming bob's passkey: name %q:\n%s", name("bob-key"), r.body)
	}
	// Signed out: the login page, nothing renamed.
	anon := e.browser()
	if r := e.post(anon, PathSettings, url.Values{"action": {"passkey-rename"}, "passkey_id": {"bob-key"}, "passkey_name": {"X"}}); name("bob-key") != "Key" || !strings.Contains(r.body, `name="password"`) {
		t.Errorf("renaming signed out: name %q:\n%s", name("bob-key"), r.body)
	}
}

// Times show the date and the time, in the page's language, in a <time>
// element with the RFC 3339 value.
func TestSettingsTimes(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	created := time.Date(2026, 12, 1, 7, 5, 0, 0, time.UTC)
	expires := time.Date(2030, 6, 15, 14, 30, 0, 0, time.FixedZone("CET", 3600)) // 13:30 UTC
	addPasskey(t, e.db, "alice", "alice-key", "Phone", created)
	if err := e.db.UseWebAuthnCredential(ctx, "alice-key", []byte("{}"), []byte(`{"used":1}`), created.Add(26*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.db.PutConsent(ctx, store.Consent{Username: "alice", ClientID: "app", Scopes: []string{"openid"}, GrantedAt: e.clock.now(), ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())
	for lang, want := range map[string][]string{
		"en": {
			`Added <time datetime="2026-12-01T07:05:00Z">2026-12-01, 07:05 UTC</time>`,
			`last used <time datetime="2026-12-02T09:06:00Z">2026-12-02, 09:06 UTC</time>`,
			`until <time datetime="2030-06-15T13:30:00Z">2030-06-15, 13:30 UTC</time>`,
		},
		"de": {
			`Hinzugefügt am <time datetime="2026-12-01T07:05:00Z">01.12.2026, 07:05 Uhr UTC</time>`,
			`bis <time datetime="2030-06-15T13:30:00Z">15.06.2030, 13:30 Uhr UTC</time>`,
		},
	} {
		body := b.render(e.p.ServeSettings, PathSettings, "Accept-Language", lang).Body.String()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: settings lack %s:\n%s", lang, w, body)
			}
		}
	}
}

// The way back to the application: only a registered client's
// configured web origin, never anything from the request.
func TestSettingsBackToApp(t *testing.T) {
	reg, err := clients.NewRegistry(context.Background(), []clients.Config{
		{ID: "immich", Name: "Immich", Secret: "s3cret-s3cret-s3cret", RedirectURIs: []string{"https://photos.example.com:8443/auth/callback?x=1", "https://other.example.com/cb"}},
		{ID: "cli", Public: true, RedirectURIs: []string{"com.example.app:/callback"}},
		{ID: "mixed", Public: true, RedirectURIs: []string{"com.example.app:/callback", "http://localhost:8080/cb"}},
	}, clients.Env{Algorithms: []string{"RS256"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newRecoveryEnv(t, func(c *Config) { c.Clients = reg })
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())
	for query, want := range map[string]string{
		"?client_id=immich":  `<a href="https://photos.example.com:8443/">Back to Immich</a>`,
		"?client_id=mixed":   `<a href="http://localhost:8080/">Back to mixed</a>`,
		"?client_id=cli":     "",
		"?client_id=unknown": "",
		"?client_id=immich&redirect_uri=https://evil.test": `<a href="https://photos.example.com:8443/">Back to Immich</a>`,
		"": "",
	} {
		body := e.get(b, PathSettings+query).body
		if want == "" {
			if strings.Contains(body, "back-to-app") {
				t.Errorf("%q: a back link:\n%s", query, body)
			}
			continue
		}
		if !strings.Contains(body, want) || strings.Contains(body, "evil.test") {
			t.Errorf("%q: want %s:\n%s", query, want, body)
		}
		// The settings forms keep the application, so the link survives them.
		if !strings.Contains(body, `action="`+PathSettings+`?client_id=`) {
			t.Errorf("%q: forms drop the client:\n%s", query, body)
		}
	}
	// A destructive change's confirmation page, and the redirect after the
	// change, keep the application too.
	r := e.post(b, PathSettings+"?client_id=immich", url.Values{"action": {"consent-revoke"}, "client_id": {"other"}})
	if !strings.Contains(r.body, `action="`+PathSettings+`?client_id=immich"`) || !strings.Contains(r.body, `href="`+PathSettings+`?client_id=immich"`) {
		t.Errorf("the confirmation page drops the client:\n%s", r.body)
	}
	r = e.post(b, PathSettings+"?client_id=immich", url.Values{"action": {"consent-revoke"}, "client_id": {"other"}, "confirmed": {"1"}})
	if r.status != http.StatusSeeOther || r.location != PathSettings+"?client_id=immich&done=consent_revoked" {
		t.Fatalf("after the change: %d to %q", r.status, r.location)
	}
	if page := e.get(b, r.location); !strings.Contains(page.body, "Back to Immich") || !strings.Contains(page.body, "The application will ask for your consent again.") {
		t.Errorf("the page after the change: no back link or no result:\n%s", page.body)
	}
	// An unknown client named in the form's address is no way back after it either.
	r = e.post(b, PathSettings+"?client_id=nobody", url.Values{"action": {"consent-revoke"}, "client_id": {"other"}, "confirmed": {"1"}})
	if r.location != PathSettings+"?done=consent_revoked" {
		t.Errorf("after the change, from an unknown client: redirect to %q", r.location)
	}
}

// A user who removes their last second factor on the settings page (the
// authenticator app, or the last passkey through the passkey script's
// endpoint) loses their unused recovery codes with it, and the page stops
// offering them; removing one of two keeps them.
func TestSettingsLastFactorDropsRecoveryCodes(t *testing.T) {
	e := newRecoveryEnv(t)
	ctx := context.Background()
	count := func(user string) int {
		t.Helper()
		n, err := e.db.CountRecoveryCodes(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	now := e.clock.now()
	if err := e.db.PutTOTPSecret(ctx, store.TOTPSecret{Username: "alice", Sealed: "x", Confirmed: true, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.db.ReplaceRecoveryCodes(ctx, "alice", []string{"a1", "a2"}, now); err != nil {
		t.Fatal(err)
	}
	alice := e.browser()
	alice.signIn("alice", []string{"pwd", "otp", "mfa"}, now)
	if page := e.get(alice, PathSettings); !strings.Contains(page.body, "recovery-heading") {
		t.Fatalf("settings with an authenticator: no recovery section:\n%s", page.body)
	}
	r := e.post(alice, PathSettings, url.Values{"action": {"totp-remove"}, "confirmed": {"1"}})
	if r.status != http.StatusSeeOther || count("alice") != 0 {
		t.Errorf("after removing the authenticator: %d, %d codes left:\n%s", r.status, count("alice"), r.body)
	}
	if page := e.get(alice, PathSettings); strings.Contains(page.body, "recovery-heading") {
		t.Errorf("settings without second factors show recovery codes:\n%s", page.body)
	}

	// Bob: two passkeys, then none.
	bob := e.browser()
	bob.signIn("bob", []string{"pwd"}, now)
	first, _ := bob.register("One")
	bob = e.browser() // another device, signed in with the first passkey as step-up
	bob.signIn("bob", []string{"pwd", "hwk", "mfa"}, now)
	second, _ := bob.register("Two")
	if count("bob") == 0 {
		t.Fatal("bob got no recovery codes with his first passkey")
	}
	bob.call(http.MethodPost, "/credentials/delete", map[string]string{"id": first}).expect(t, "delete one of two", http.StatusOK, "")
	if count("bob") == 0 {
		t.Error("removing one of two passkeys dropped the recovery codes")
	}
	bob.call(http.MethodPost, "/credentials/delete", map[string]string{"id": second}).expect(t, "delete the last", http.StatusOK, "")
	if n := count("bob"); n != 0 {
		t.Errorf("after removing the last passkey: %d codes left", n)
	}
	if page := e.get(bob, PathSettings); strings.Contains(page.body, "recovery-heading") {
		t.Errorf("settings without second factors show recovery codes:\n%s", page.body)
	}
}

// An IP-address issuer cannot use passkeys: the settings page offers none,
// as with webauthn disable.
func TestSettingsOnIPIssuerOfferNoPasskeys(t *testing.T) {
	e := newPasskeyEnv(t, "127.0.0.1")
	b := e.browser()
	b.signIn("alice", []string{"pwd"}, e.clock.now())
	body := b.render(e.p.ServeSettings, PathSettings).Body.String()
	if !strings.Contains(body, `value="totp-enroll"`) || strings.Contains(body, "passkeys-heading") || strings.Contains(body, "webauthn.js") {
		t.Errorf("settings on an IP-address issuer:\n%s", body)
	}
}
