package provider

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/authn"
)

func grantsProvider(t *testing.T) *epProvider {
	return newEndpointProvider(t, func(cfg *Config) {
		cfg.Clients = append(cfg.Clients,
			ClientConfig{ID: "m2m", Secret: "m2m-secret", GrantTypes: []string{"client_credentials"}, Scopes: []string{"openid", "offline_access", "api:read", "api:write"}, Audience: []string{"rs"}},
			ClientConfig{ID: "legacy", Secret: "legacy-secret", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"openid", "profile", "offline_access"}},
		)
		cfg.Authn.Regulation = &authn.RegulationConfig{MaxRetries: 3, FindTime: 120e9, BanTime: 300e9}
	})
}

func TestClientCredentialsGrant(t *testing.T) {
	tp := grantsProvider(t)
	w := tp.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read openid offline_access"}, "audience": {"rs"}}, "m2m", "m2m-secret")
	body := jsonBody(t, w)
	if w.Code != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("%d %v", w.Code, body)
	}
	if body["scope"] != "api:read" || body["refresh_token"] != nil || body["id_token"] != nil {
		t.Errorf("scope %v, refresh %v, id_token %v: want api:read only, no refresh or ID token", body["scope"], body["refresh_token"], body["id_token"])
	}
	at := mustBe[string](t, body["access_token"])

	// Introspection: active, the client is the subject.
	w = tp.post(pathIntrospection, url.Values{"token": {at}}, "m2m", "m2m-secret")
	if got := jsonBody(t, w); got["active"] != true || got["sub"] != "m2m" || got["client_id"] != "m2m" || got["scope"] != "api:read" {
		t.Errorf("introspection: %v", got)
	}
	// Userinfo: no user behind the token.
	req := httptest.NewRequest(http.MethodGet, epIssuer+pathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	rec := httptest.NewRecorder()
	tp.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden && rec.Code != http.StatusUnauthorized {
		t.Errorf("userinfo with a client_credentials token: %d %s", rec.Code, rec.Body.String())
	}

	for name, tc := range map[string]struct {
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		"scope the client may not request": {url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, "m2m", "m2m-secret", 400, "invalid_scope"},
		"wrong secret":                     {url.Values{"grant_type": {"client_credentials"}}, "m2m", "nope", 401, "invalid_client"},
		"client without the grant":         {url.Values{"grant_type": {"client_credentials"}}, "app", "app-secret", 400, "unauthorized_client"},
		"public client":                    {url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, "", "", 400, ""},
	} {
		t.Run(name, func(t *testing.T) {
			w := tp.post(pathToken, tc.form, tc.user, tc.pass)
			body := jsonBody(t, w)
			if w.Code != tc.status || (tc.code != "" && body["error"] != tc.code) || body["access_token"] != nil {
				t.Errorf("%d %v, want %d %s", w.Code, body, tc.status, tc.code)
			}
		})
	}
}

func TestPasswordGrant(t *testing.T) {
	tp := grantsProvider(t)
	pw := func(user, pass, ip string) (int, map[string]any) {
		form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid profile offline_access"}}
		req := httptest.NewRequest(http.MethodPost, epIssuer+pathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("legacy", "legacy-secret")
		req.RemoteAddr = ip + ":5555"
		w := httptest.NewRecorder()
		tp.ServeHTTP(w, req)
		return w.Code, jsonBody(t, w)
	}
	status, body := pw("alice", "pw", "192.0.2.1")
	if status != http.StatusOK || body["access_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("%d %v", status, body)
	}
	at := mustBe[string](t, body["access_token"])
	req := httptest.NewRequest(http.MethodGet, epIssuer+pathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	rec := httptest.NewRecorder()
	tp.ServeHTTP(rec, req)
	info := jsonBody(t, rec)
	if rec.Code != 200 || info["preferred_username"] != "alice" || info["sub"] == "" || info["sub"] == "alice" {
		t.Errorf("userinfo: %d %v", rec.Code, info)
	}
	// The refresh token works and yields an ID token for the same subject.
	w := tp.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {mustBe[string](t, body["refresh_token"])}}, "legacy", "legacy-secret")
	refreshed := jsonBody(t, w)
	if w.Code != 200 || refreshed["id_token"] == nil {
		t.Fatalf("refresh: %d %v", w.Code, refreshed)
	}

	if status, body := pw("carol", "pw", "192.0.2.1"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("disabled user: %d %v", status, body)
	}
	if status, body := pw("nobody", "pw", "192.0.2.1"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("unknown user: %d %v", status, body)
	}
	// Regulation: three wrong passwords ban alice; the right one then fails
	// exactly like a wrong one.
	for i := 0; i < 3; i++ {
		if status, body := pw("alice", "wrong", "192.0.2.2"); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("wrong password: %d %v", status, body)
		}
	}
	if status, body := pw("alice", "pw", "192.0.2.3"); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("banned user with the right password: %d %v", status, body)
	}
	// A client without the grant type.
	w = tp.post(pathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}}, "app", "app-secret")
	if got := jsonBody(t, w); w.Code != 400 || got["error"] != "unauthorized_client" {
		t.Errorf("client without the password grant: %d %v", w.Code, got)
	}
}
