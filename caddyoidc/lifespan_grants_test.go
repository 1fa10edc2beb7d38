package caddyoidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestGrantLifespans: a named lifespan's grant blocks override its token
// lifespans for the tokens one grant issues, as Authelia's
// lifespans.custom.<name>.grants.<grant>.
func TestGrantLifespans(t *testing.T) {
	e := newEnv(t, `
		client graded {
			client_secret "graded-secret"
			redirect_uris `+rpCallback+`
			scopes openid profile offline_access
			grant_types authorization_code refresh_token client_credentials
			lifespan graded
		}`)
	e.extra = `
		lifespan graded {
			access_token 5m
			id_token 10m
			grant client_credentials {
				access_token 30s
			}
			grant refresh_token {
				access_token 2m
				id_token 3m
			}
		}`
	e.start()

	expiresIn := func(body map[string]any) time.Duration {
		return time.Duration(as[float64](t, body["expires_in"])) * time.Second
	}
	idLife := func(body map[string]any) time.Duration {
		c := jwtClaims(t, as[string](t, body["id_token"]))
		return time.Duration(as[float64](t, c["exp"])-as[float64](t, c["iat"])) * time.Second
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if got < want-5*time.Second || got > want+time.Second {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}

	// client_credentials: the grant's access token lifespan.
	status, body := postToken(t, e.issuer, url.Values{"grant_type": {"client_credentials"}}, "graded", "graded-secret")
	if status != 200 {
		t.Fatalf("client_credentials: %d %v", status, body)
	}
	near("client_credentials access token", expiresIn(body), 30*time.Second)

	// authorization_code: no grant block, the lifespan's own values.
	r := newRP(t, e.issuer, "graded", "graded-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
	params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
	status, body = postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}, "graded", "graded-secret")
	if status != 200 {
		t.Fatalf("code: %d %v", status, body)
	}
	near("authorization_code access token", expiresIn(body), 5*time.Minute)
	near("authorization_code ID token", idLife(body), 10*time.Minute)

	// refresh_token: the grant's access and ID token lifespans.
	status, body = postToken(t, e.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {as[string](t, body["refresh_token"])}}, "graded", "graded-secret")
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	near("refresh_token access token", expiresIn(body), 2*time.Minute)
	near("refresh_token ID token", idLife(body), 3*time.Minute)

	// An unknown grant name fails the load and names it.
	e.extra = "lifespan bad {\n\t\t\tgrant password {\n\t\t\t\taccess_token 1m\n\t\t\t}\n\t\t}"
	if err := e.load(); err == nil || !strings.Contains(err.Error(), `lifespans "bad": grants: "password"`) {
		t.Errorf("unknown grant: %v", err)
	}
}

// TestDeviceCodeGrantLifespan: grant device_code tunes the tokens of the
// device authorization grant (RFC 8628).
func TestDeviceCodeGrantLifespan(t *testing.T) {
	e := newEnv(t, `
		client tv {
			public
			grant_types urn:ietf:params:oauth:grant-type:device_code
			scopes openid profile
			lifespan tv
		}`)
	e.extra = `
		lifespan tv {
			access_token 5m
			grant device_code {
				access_token 7m
				id_token 4m
			}
		}`
	e.start()
	resp, err := http.PostForm(e.issuer+"/api/oidc/device-authorization", url.Values{"client_id": {"tv"}, "scope": {"openid profile"}})
	if err != nil {
		t.Fatal(err)
	}
	var da map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&da); err != nil || resp.StatusCode != 200 {
		t.Fatalf("device authorization: %d %v %v", resp.StatusCode, da, err)
	}
	closeBody(resp)
	b := newBrowser(t, e.issuer)
	p := b.login(b.submit(b.get(as[string](t, da["verification_uri_complete"])), nil), "alice", testPassword)
	if p = b.submit(p, url.Values{"decision": {"allow"}}); !strings.Contains(p.body, `id="device-done"`) {
		t.Fatalf("after allow: %d %.400s", p.status, p.body)
	}
	status, body := postToken(t, e.issuer, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {as[string](t, da["device_code"])}, "client_id": {"tv"}}, "", "")
	if status != 200 {
		t.Fatalf("device token: %d %v", status, body)
	}
	if in := time.Duration(as[float64](t, body["expires_in"])) * time.Second; in < 7*time.Minute-5*time.Second || in > 7*time.Minute {
		t.Errorf("device_code access token: expires_in %v, want 7m", in)
	}
	c := jwtClaims(t, as[string](t, body["id_token"]))
	if life := time.Duration(as[float64](t, c["exp"])-as[float64](t, c["iat"])) * time.Second; life < 4*time.Minute-2*time.Second || life > 4*time.Minute+2*time.Second {
		t.Errorf("device_code ID token lives %v, want 4m", life)
	}
}
