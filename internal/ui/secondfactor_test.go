package ui

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecondFactorPagesAndScripts(t *testing.T) {
	p, err := New("/idp/assets")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		page      any
		contains  []string
		absent    []string
		scriptCSP bool
	}{
		{"totp only", SecondFactorPage{UserName: "Alice", Action: "/login/2fa", CSRFToken: "tok", ReturnTo: "/r", TOTP: true},
			[]string{`name="code"`, `autocomplete="one-time-code"`, `for="code"`, `value="tok"`}, []string{"passkey-2fa", "<script"}, false},
		{"passkeys", SecondFactorPage{Action: "/a", CSRFToken: "tok", TOTP: true, Passkeys: true, WebAuthnBase: "/idp/api/webauthn", ContinueAction: "/idp/login/continue"},
			[]string{`id="passkey-2fa"`, `id="passkey-continue"`, `<script src="/idp/assets/webauthn.js?v=`, `name="csrf-token" content="tok"`, `name="webauthn-base" content="/idp/api/webauthn"`}, nil, true},
		{"enroll", TOTPEnrollPage{QRCode: "data:image/png;base64,iVBORw0KGgo=", Secret: "JBSWY3DPEHPK3PXP", Action: "/e", CSRFToken: "tok"},
			[]string{`src="data:image/png;base64,iVBORw0KGgo="`, "JBSWY3DPEHPK3PXP", `name="code"`}, []string{"ZgotmplZ"}, false},
		{"settings", SettingsPage{UserName: "Alice", CSRFToken: "tok", Action: "/settings", TOTPEnrolled: true,
			Passkeys: []Passkey{{ID: "cred1", Name: "Phone", Created: "2026-11-25"}}, Consents: []Consent{{ClientID: "immich", Scopes: "openid email", Expires: "2026-12-25"}}, WebAuthnBase: "/api/webauthn"},
			[]string{`value="totp-remove"`, `name="passkey_id" value="cred1"`, `value="passkey-remove"`, `value="consent-revoke"`, `value="immich"`, `id="passkey-register"`},
			[]string{`id="passkey-ready"`, `id="passkey-stepup"`}, true},
		{"settings ready to add a passkey", SettingsPage{UserName: "Alice", CSRFToken: "tok", Action: "/settings", WebAuthnBase: "/api/webauthn", PasskeyReady: true, StepUpAction: "/settings"},
			[]string{`id="passkey-ready" role="status"`, "You can add your passkey now.", `id="passkey-register" class="primary" autofocus`,
				`<form id="passkey-stepup" method="post" action="/settings" hidden>`, `name="action" value="passkey-add"`}, nil, true},
		{"step-up second factor", SecondFactorPage{Action: "/login/2fa", CSRFToken: "tok", ReturnTo: "/settings", TOTP: true, Passkeys: true, WebAuthnBase: "/api/webauthn",
			ContinueAction: "/login/continue", RecoveryAction: "/login/recovery", StepUp: StepUp{Reason: "To remove your authenticator app, confirm it's you.", Pending: "p.sig", CancelURL: "/settings"}},
			[]string{`id="stepup-reason">To remove your authenticator app, confirm it&#39;s you.</p>`, `<a class="button secondary" href="/settings">Cancel</a>`}, nil, true},
		{"step-up login", LoginPage{Action: "/login", CSRFToken: "tok", ReturnTo: "/settings", Username: "alice", Passkeys: true, WebAuthnBase: "/api/webauthn", ContinueAction: "/login/continue",
			StepUp: StepUp{Reason: "To add a passkey, confirm it's you.", Pending: "p.sig", CancelURL: "/settings"}},
			[]string{`id="stepup-reason">To add a passkey, confirm it&#39;s you.</p>`, `<a class="button secondary" href="/settings">Cancel</a>`}, nil, true},
		{"confirm", ConfirmPage{Question: "Remove passkey “<b>Key</b>”?", Explain: "Gone.", Button: "Remove passkey", Action: "/settings", CSRFToken: "tok",
			Do: "passkey-remove", ArgName: "passkey_id", ArgValue: "cred1", CancelURL: "/settings"},
			[]string{"<title>Please confirm</title>", "<h1>Remove passkey “&lt;b&gt;Key&lt;/b&gt;”?</h1>", `name="action" value="passkey-remove"`, `name="confirmed" value="1"`,
				`name="passkey_id" value="cred1"`, `<button type="submit" class="primary danger">Remove passkey</button>`, `<a class="button secondary" href="/settings">Cancel</a>`},
			[]string{"all_devices", "<script"}, false},
		{"confirm sign-out everywhere", ConfirmPage{Question: "Sign out everywhere?", Button: "Sign out everywhere", Action: "/logout", CSRFToken: "tok", AllDevices: true, CancelURL: "/settings"},
			[]string{`action="/logout"`, `name="all_devices" value="1"`}, []string{`name="action"`, `name="confirmed"`}, false},
		{"login with passkey and remember", LoginPage{Action: "/login", CSRFToken: "tok", RememberMe: true, Passkeys: true, WebAuthnBase: "/api/webauthn", ContinueAction: "/login/continue"},
			[]string{`name="remember_me"`, `for="remember_me"`, `id="passkey-login"`, `action="/login/continue"`}, nil, true},
		{"consent remember", ConsentPage{ClientName: "Immich", RememberFor: "30 days"}, []string{`name="remember"`, "Remember my choice for 30 days"}, nil, false},
		{"denied with continue link", ErrorPage{Title: "Not allowed", ContinueURL: "app.immich:///oauth-callback?error=access_denied"},
			[]string{`href="app.immich:///oauth-callback?error=access_denied"`}, []string{"ZgotmplZ"}, false},
		{"logout all devices", LogoutPage{UserName: "Alice", Action: "/logout"}, []string{`name="all_devices"`}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := p.Render(rec, nil, 200, tc.page); err != nil {
				t.Fatal(err)
			}
			body := rec.Body.String()
			for _, s := range tc.contains {
				if !strings.Contains(body, s) {
					t.Errorf("missing %q", s)
				}
			}
			for _, s := range tc.absent {
				if strings.Contains(body, s) {
					t.Errorf("unexpected %q", s)
				}
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if got := strings.Contains(csp, "script-src 'self'"); got != tc.scriptCSP {
				t.Errorf("CSP %q: script-src allowed = %v, want %v", csp, got, tc.scriptCSP)
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(body, "<script>") {
				t.Error("inline script")
			}
		})
	}
}

func TestTemplateOverrides(t *testing.T) {
	dir := t.TempDir()
	custom := `{{define "content"}}<h1>Welcome to ACME</h1><form action="{{.Action}}"></form>{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "login.html"), []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := NewWithOverrides("/assets", dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	_ = p.Render(rec, nil, 200, LoginPage{Action: "/login"})
	if !strings.Contains(rec.Body.String(), "Welcome to ACME") || !strings.Contains(rec.Body.String(), `<link rel="stylesheet"`) {
		t.Errorf("override not used inside the embedded layout: %s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	_ = p.Render(rec, nil, 200, ConsentPage{ClientName: "X"})
	if !strings.Contains(rec.Body.String(), "Allow access?") {
		t.Error("pages without an override must keep the embedded template")
	}
	if err := os.WriteFile(filepath.Join(dir, "consent.html"), []byte(`{{define "content"}}{{.Nope}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewWithOverrides("/assets", dir); err == nil || !strings.Contains(err.Error(), "consent") {
		t.Errorf("a broken override must fail at load, naming the page: %v", err)
	}
}
