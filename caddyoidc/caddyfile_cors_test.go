package caddyoidc_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

func TestUnmarshalCORS(t *testing.T) {
	var got caddyoidc.Handler
	err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`oidc_provider https://a {
		cors {
			endpoints authorization token
			endpoints userinfo
			allowed_origins https://a.example.com *
			allowed_origins_from_client_redirect_uris
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := &caddyoidc.CORS{
		Endpoints:                            []string{"authorization", "token", "userinfo"},
		AllowedOrigins:                       []string{"https://a.example.com", "*"},
		AllowedOriginsFromClientRedirectURIs: true,
	}
	if !reflect.DeepEqual(got.CORS, want) {
		t.Errorf("got %+v, want %+v", got.CORS, want)
	}
	for input, wantErr := range map[string]string{
		"oidc_provider https://a {\n cors x {\n }\n}":                   "wrong argument count",
		"oidc_provider https://a {\n cors {\n endpoints\n }\n}":         "wrong argument count",
		"oidc_provider https://a {\n cors {\n allowed_headers x\n }\n}": `cors: unrecognized option "allowed_headers"`,
	} {
		var h caddyoidc.Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: err = %v, want %q", input, err, wantErr)
		}
	}
}
