package caddyoidc_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

func TestUnmarshalSigningKeys(t *testing.T) {
	tests := []struct {
		name, input string
		want        caddyoidc.Handler
		wantErr     string
	}{
		{
			name: "jwk, repeatable",
			input: `oidc_provider https://a {
				jwk main-2026 {
					algorithm RS256
					use sig
					key {file./etc/caddy/oidc.pem}
					certificate_chain {file./etc/caddy/oidc.crt}
				}
				jwk {
					key_id ec
					key {env.EC_KEY}
				}
			}`,
			want: caddyoidc.Handler{Issuer: "https://a", JWKS: []caddyoidc.JWK{
				{KeyID: "main-2026", Algorithm: "RS256", Use: "sig", Key: "{file./etc/caddy/oidc.pem}", CertificateChain: "{file./etc/caddy/oidc.crt}"},
				{KeyID: "ec", Key: "{env.EC_KEY}"},
			}},
		},
		{
			name:  "issuer_private_key",
			input: "oidc_provider https://a {\n issuer_private_key {file./etc/caddy/issuer.pem}\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", IssuerPrivateKey: "{file./etc/caddy/issuer.pem}"},
		},
		{
			name: "client assertion options",
			input: `oidc_provider https://a {
				client rp {
					token_endpoint_auth_method private_key_jwt
					token_endpoint_auth_signing_alg PS256
					jwks_uri https://rp.example/jwks.json
					jwk rp-1 {
						algorithm PS256
						key {file./etc/caddy/rp.pub}
					}
				}
			}`,
			want: caddyoidc.Handler{Issuer: "https://a", Clients: []caddyoidc.Client{{
				ClientID: "rp", TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthSigningAlg: "PS256",
				JWKSURI: "https://rp.example/jwks.json",
				JWKS:    []caddyoidc.JWK{{KeyID: "rp-1", Algorithm: "PS256", Key: "{file./etc/caddy/rp.pub}"}},
			}}},
		},
		{
			name:  "rotation",
			input: "oidc_provider https://a {\n key_rotation_period 720h\n key_refresh_interval 30s\n}",
			want: caddyoidc.Handler{Issuer: "https://a",
				KeyRotationPeriod: caddy.Duration(720 * time.Hour), KeyRefreshInterval: caddy.Duration(30 * time.Second)},
		},
		{
			name:  "rotation in days",
			input: "oidc_provider https://a {\n key_rotation_period 90d\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", KeyRotationPeriod: caddy.Duration(90 * 24 * time.Hour)},
		},
		{name: "rotation without a duration", input: "oidc_provider https://a {\n key_rotation_period\n}", wantErr: "wrong argument count"},
		{name: "rotation, bad duration", input: "oidc_provider https://a {\n key_rotation_period soon\n}", wantErr: "soon"},
		{name: "refresh, two durations", input: "oidc_provider https://a {\n key_refresh_interval 1m 2m\n}", wantErr: "wrong argument count"},
		{name: "jwk without key", input: "oidc_provider https://a {\n jwk k {\n algorithm RS256\n }\n}", wantErr: `jwk "k": key is required`},
		{name: "jwk unknown option", input: "oidc_provider https://a {\n jwk k {\n colour blue\n }\n}", wantErr: `jwk "k": unrecognized option "colour"`},
		{name: "jwk two ids", input: "oidc_provider https://a {\n jwk a b {\n key x\n }\n}", wantErr: "wrong argument count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got caddyoidc.Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) { //nolint:govet // deepequalerrors: the only errors in a Handler are inside its unexported runtime state (provider), nil until Provision
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
