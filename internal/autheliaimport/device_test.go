package autheliaimport

import (
	"strings"
	"testing"
)

// A device client carries over: the grant type as is, the device lifespan,
// and device_authorization_endpoint_auth_method only as a note where it
// differs from the token endpoint's method.
func TestDeviceClient(t *testing.T) {
	const cfg = `
identity_providers:
  oidc:
    lifespans:
      device_code: 15m
    clients:
      - client_id: tv
        public: true
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code']
        scopes: [openid]
        token_endpoint_auth_method: none
        device_authorization_endpoint_auth_method: none
      - client_id: cli
        client_secret: '$plaintext$x'
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code']
        scopes: [openid]
        token_endpoint_auth_method: client_secret_post
        device_authorization_endpoint_auth_method: client_secret_basic
`
	res, err := Translate([]byte(cfg), Options{Issuer: "https://auth.example.com", UsersFile: "/u.yml"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"device_code_lifespan 15m", "grant_types urn:ietf:params:oauth:grant-type:device_code"} {
		if !strings.Contains(res.Caddyfile, want) {
			t.Errorf("no %q in:\n%s", want, res.Caddyfile)
		}
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, `client "cli": device_authorization_endpoint_auth_method "client_secret_basic" differs`) {
		t.Errorf("no note for the differing method: %s", notes)
	}
	if strings.Contains(notes, `client "tv"`) {
		t.Errorf("a note for the matching method: %s", notes)
	}
}
