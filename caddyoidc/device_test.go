package caddyoidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeviceGrantSecondFactor: a device client whose policy is two_factor,
// through a real Caddy: the user enters the code, signs in with a password,
// enrols an authenticator app, consents, and the device's tokens say so
// (amr pwd+otp, acr 2). The consent page is shown even though the client's
// consent is implicit.
func TestDeviceGrantSecondFactor(t *testing.T) {
	e := newEnv(t, `
		client tf-tv {
			public
			grant_types urn:ietf:params:oauth:grant-type:device_code
			scopes openid profile
			authorization_policy two_factor
			consent_mode implicit
		}`)
	e.start()
	token := func(form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := http.PostForm(e.issuer+"/api/oidc/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	resp, err := http.PostForm(e.issuer+"/api/oidc/device-authorization", url.Values{"client_id": {"tf-tv"}, "scope": {"openid profile"}})
	if err != nil {
		t.Fatal(err)
	}
	var da map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&da); err != nil || resp.StatusCode != 200 {
		t.Fatalf("device authorization: %d %v %v", resp.StatusCode, da, err)
	}
	_ = resp.Body.Close()
	poll := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {str(da, "device_code")}, "client_id": {"tf-tv"}}
	if code, m := token(poll); code != 400 || m["error"] != "authorization_pending" {
		t.Fatalf("first poll: %d %v", code, m)
	}

	b := newBrowser(t, e.issuer)
	p := b.get(str(da, "verification_uri_complete"))
	if !strings.Contains(p.body, `value="`+str(da, "user_code")+`"`) {
		t.Fatalf("device page: %d %.600s", p.status, p.body)
	}
	p = b.login(b.submit(p, nil), "alice", testPassword)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("expected the authenticator enrolment, got %d: %.600s", p.status, p.body)
	}
	p = b.submit(p, url.Values{"code": {totpCode(t, m[1], time.Now())}})
	p = b.pastRecoveryCodes(p) // recovery_test.go
	if !strings.Contains(p.body, "Allow access") {
		t.Fatalf("expected the consent page (always, for a device), got %d: %.600s", p.status, p.body)
	}
	p = b.submit(p, url.Values{"decision": {"allow"}})
	if p.status != 200 || !strings.Contains(p.body, `id="device-done"`) {
		t.Fatalf("after allow: %d %.600s", p.status, p.body)
	}
	code, tok := token(poll)
	if code != 200 || tok["id_token"] == nil {
		t.Fatalf("tokens: %d %v", code, tok)
	}
	claims := jwtClaims(t, str(tok, "id_token"))
	amr, _ := claims["amr"].([]any)
	if !slices.Contains(amr, any("pwd")) || !slices.Contains(amr, any("otp")) || claims["acr"] != "2" || claims["aud"] == nil {
		t.Errorf("ID token: amr=%v acr=%v", claims["amr"], claims["acr"])
	}
	if strings.Contains(e.logText(), str(da, "device_code")) {
		t.Error("the device code is in the log")
	}
}
