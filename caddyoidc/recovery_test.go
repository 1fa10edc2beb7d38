package caddyoidc_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

var recoveryCodeRE = regexp.MustCompile(`<code>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</code>`)

// pastRecoveryCodes checks that p is the page showing new recovery codes
// (after enrolling a first second factor) and continues past it.
func (b *browser) pastRecoveryCodes(p page) page {
	b.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="recovery-codes"`) || len(recoveryCodeRE.FindAllString(p.body, -1)) != 10 {
		b.t.Fatalf("expected the recovery codes page, got %d: %.600s", p.status, p.body)
	}
	return b.submit(p, nil)
}

// A recovery code from the first enrolment signs in once in place of the
// authenticator app, through a real Caddy; the ID token says pwd, otp and
// mfa with acr 2.
func TestRecoveryCodeSignIn(t *testing.T) {
	e := newEnv(t, twoFactorClients)
	e.start()
	r := newRP(t, e.issuer, "tf-app", "tf-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{"openid"}

	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("expected the enrolment page, got %d: %.600s", p.status, p.body)
	}
	p = b.submit(p, url.Values{"code": {totpCode(t, m[1], time.Now())}})
	var codes []string
	for _, c := range recoveryCodeRE.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, c[1])
	}
	callbackParams(t, b.pastRecoveryCodes(p), rpCallback)

	useCode := func(code string) page {
		t.Helper()
		b := newBrowser(t, e.issuer)
		p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", testPassword)
		if !strings.Contains(p.body, `id="lost-device"`) || !strings.Contains(p.body, "Lost your device?") {
			t.Fatalf("second-factor page without the lost-device path: %.900s", p.body)
		}
		f := p.formFields()
		return b.post(e.issuer+"/login/recovery", url.Values{"csrf_token": {f.Get("csrf_token")}, "return_to": {f.Get("return_to")}, "recovery_code": {code}})
	}
	p = useCode(codes[0])
	tok, err := r.config.Exchange(ctx(t), callbackParams(t, p, rpCallback).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwtClaims(t, rawIDToken(t, tok))
	amr, _ := claims["amr"].([]any)
	if !slices.Equal(amr, []any{"pwd", "otp", "mfa"}) || claims["acr"] != "2" {
		t.Errorf("amr=%v acr=%v, want [pwd otp mfa] and 2", claims["amr"], claims["acr"])
	}
	if p := useCode(codes[0]); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That recovery code is not valid") {
		t.Fatalf("a used recovery code: %d %.600s", p.status, p.body)
	}
}
