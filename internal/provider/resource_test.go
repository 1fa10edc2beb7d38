package provider

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ory/fosite"
)

const (
	resAPI   = "https://api.example/v1"
	resFiles = "https://files.example/"
	resOther = "https://other.example/"
)

func resourceProvider(t *testing.T) *epProvider {
	return newEndpointProvider(t, func(c *Config) {
		c.Clients = append(c.Clients,
			ClientConfig{ID: "rapp", Secret: "rapp-secret", RedirectURIs: []string{"https://rapp.example/cb"}, Scopes: []string{"openid", "offline_access"},
				Audience: []string{resAPI, resFiles, resOther}},
			ClientConfig{ID: "rcc", Secret: "rcc-secret", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
				Audience: []string{resAPI}, AccessTokenSignedResponseAlg: "RS256"},
		)
	})
}

// An authorization request naming a resource the client may not request,
// or a malformed one, is answered with invalid_target at the redirect URI
// before any page.
func TestResourceAtAuthorize(t *testing.T) {
	tp := resourceProvider(t)
	for _, tc := range []struct {
		name      string
		resources []string
		wantErr   string
	}{
		{"not allowed", []string{resAPI, "https://evil.example/"}, "invalid_target"},
		{"relative", []string{"/v1"}, "invalid_target"},
		{"fragment", []string{resAPI + "#x"}, "invalid_target"},
		{"allowed", []string{resAPI, resFiles}, ""},
	} {
		q := url.Values{"client_id": {"rapp"}, "response_type": {"code"}, "redirect_uri": {"https://rapp.example/cb"}, "scope": {"openid"}, "state": {"state-123456"}, "resource": tc.resources}
		w := tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil)
		loc, _ := url.Parse(w.Header().Get("Location"))
		if tc.wantErr == "" {
			if w.Code != 200 || loc.String() != "" {
				t.Errorf("%s: %d %q, want the login page", tc.name, w.Code, loc)
			}
			continue
		}
		if w.Code/100 != 3 || loc.Query().Get("error") != tc.wantErr || loc.Query().Get("state") != "state-123456" || loc.Query().Get("iss") != epIssuer {
			t.Errorf("%s: %d %q, want a redirect with error=%s", tc.name, w.Code, loc, tc.wantErr)
		}
	}
}

// client_credentials with resource: the JWT access token's aud names it; a
// resource not allowed is invalid_target.
func TestResourceClientCredentials(t *testing.T) {
	tp := resourceProvider(t)
	w := tp.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": {resAPI}}, "rcc", "rcc-secret")
	m := jsonBody(t, w)
	if w.Code != 200 {
		t.Fatalf("%d %v", w.Code, m)
	}
	var claims struct {
		Aud []string `json:"aud"`
	}
	if err := json.Unmarshal([]byte(decodePayload(t, mustBe[string](t, m["access_token"]))), &claims); err != nil || !slices.Contains(claims.Aud, resAPI) {
		t.Errorf("aud = %q (%v), want it to contain %q", claims.Aud, err, resAPI)
	}
	for _, bad := range []string{resFiles, "urn:x", "api"} {
		w := tp.post(pathToken, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": {bad}}, "rcc", "rcc-secret")
		if w.Code != 400 || jsonBody(t, w)["error"] != "invalid_target" {
			t.Errorf("resource %q: %d %s, want 400 invalid_target", bad, w.Code, w.Body)
		}
	}
}

// A refresh with resource narrows the access token's audience to granted
// resources; a resource the grant does not hold is invalid_target.
func TestResourceRefresh(t *testing.T) {
	tp := resourceProvider(t)
	tp.scopes = fosite.Arguments{"openid", "offline_access"}
	g := tp.mint("rapp", "alice", resAPI, resFiles)
	refresh := func(rt string, resources ...string) (int, map[string]any) {
		w := tp.post(pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": resources}, "rapp", "rapp-secret")
		return w.Code, jsonBody(t, w)
	}
	if code, m := refresh(g.refresh, resOther); code != 400 || m["error"] != "invalid_target" {
		t.Errorf("a resource allowed but not granted: %d %v", code, m)
	}
	if code, m := refresh(g.refresh, "https://evil.example/"); code != 400 || m["error"] != "invalid_target" {
		t.Errorf("a resource not allowed: %d %v", code, m)
	}
	code, m := refresh(g.refresh, resAPI)
	if code != 200 {
		t.Fatalf("narrowing refresh: %d %v", code, m)
	}
	w := tp.post(pathIntrospection, url.Values{"token": {mustBe[string](t, m["access_token"])}}, "rapp", "rapp-secret")
	in := jsonBody(t, w)
	if aud, _ := json.Marshal(in["aud"]); string(aud) != `["`+resAPI+`"]` {
		t.Errorf("introspected aud = %s, want only %s: %v", aud, resAPI, in)
	}
	if !strings.Contains(w.Body.String(), `"active":true`) {
		t.Errorf("introspection: %s", w.Body)
	}
}
