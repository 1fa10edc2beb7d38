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

func TestUnmarshalHandler(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    caddyoidc.Handler
		wantErr string
	}{
		{
			name: "full",
			input: `oidc_provider https://auth.example.com {
				users_file /etc/caddy/users.yml
				storage sqlite /var/lib/oidc.db
				hmac_secret {env.HMAC}
				access_token_lifespan 30m
				authorize_code_lifespan 90s
				id_token_lifespan 1h
				refresh_token_lifespan 2h
				device_code_lifespan 15m
				session_lifespan 1d
				enforce_pkce always
				enable_pkce_plain_challenge
				minimum_parameter_entropy 12
				enable_client_debug_messages false
				client immich {
					client_name Immich
					client_secret {env.IMMICH}
					public false
					redirect_uris https://photos.example.com/auth/login https://photos.example.com/user-settings
					redirect_uri app.immich:///oauth-callback
					scopes openid profile email
					audience https://api.example.com
					grant_types authorization_code
					response_types code
					response_modes query
					token_endpoint_auth_method client_secret_post
					require_pkce false
					pkce_challenge_method ""
					id_token_signed_response_alg ES256
					authorization_policy one_factor
					consent_mode implicit
				}
				client old {
					description "Old names"
					secret plain
					redirect_uris https://old.example.com/cb
				}
			}`,
			want: caddyoidc.Handler{
				Issuer:                   "https://auth.example.com",
				UsersRaw:                 []byte(`{"backend":"file","path":"/etc/caddy/users.yml"}`),
				StorageRaw:               []byte(`{"backend":"sqlite","path":"/var/lib/oidc.db"}`),
				HMACSecret:               "{env.HMAC}",
				AccessTokenLifespan:      caddy.Duration(30 * 60e9),
				AuthorizeCodeLifespan:    caddy.Duration(90e9),
				IDTokenLifespan:          caddy.Duration(3600e9),
				RefreshTokenLifespan:     caddy.Duration(7200e9),
				DeviceCodeLifespan:       caddy.Duration(900e9),
				SessionLifespan:          caddy.Duration(24 * 3600e9),
				EnforcePKCE:              "always",
				EnablePKCEPlainChallenge: true,
				MinimumParameterEntropy:  12,
				Clients: []caddyoidc.Client{{
					ClientID:                 "immich",
					ClientName:               "Immich",
					ClientSecret:             "{env.IMMICH}",
					RedirectURIs:             []string{"https://photos.example.com/auth/login", "https://photos.example.com/user-settings", "app.immich:///oauth-callback"},
					Scopes:                   []string{"openid", "profile", "email"},
					Audience:                 []string{"https://api.example.com"},
					GrantTypes:               []string{"authorization_code"},
					ResponseTypes:            []string{"code"},
					ResponseModes:            []string{"query"},
					TokenEndpointAuthMethod:  "client_secret_post",
					IDTokenSignedResponseAlg: "ES256",
					AuthorizationPolicy:      "one_factor",
					ConsentMode:              "implicit",
				}, {
					ClientID:     "old",
					ClientName:   "Old names",
					ClientSecret: "plain",
					RedirectURIs: []string{"https://old.example.com/cb"},
				}},
			},
		},
		{name: "issuer as option", input: "oidc_provider {\n issuer https://a.example/idp\n}", want: caddyoidc.Handler{Issuer: "https://a.example/idp"}},
		{name: "two issuers", input: "oidc_provider https://a https://b", wantErr: "wrong argument count"},
		{name: "unknown option", input: "oidc_provider https://a {\n colour blue\n}", wantErr: `unrecognized oidc_provider option "colour"`},
		{name: "unknown client option", input: "oidc_provider https://a {\n client x {\n colour blue\n }\n}", wantErr: `client "x": unrecognized option "colour"`},
		{name: "client without id", input: "oidc_provider https://a {\n client {\n }\n}", wantErr: "client ID is required"},
		{name: "bad bool", input: "oidc_provider https://a {\n client x {\n public maybe\n }\n}", wantErr: `"maybe" is not true or false`},
		{name: "bad duration", input: "oidc_provider https://a {\n access_token_lifespan soon\n}", wantErr: "soon"},
		{name: "bad entropy", input: "oidc_provider https://a {\n minimum_parameter_entropy many\n}", wantErr: "minimum_parameter_entropy"},
		{name: "unknown storage", input: "oidc_provider https://a {\n storage redis\n}", wantErr: `storage: unknown backend "redis"`},
		{name: "users_file without path", input: "oidc_provider https://a {\n users_file\n}", wantErr: "wrong argument count"},
		{
			name:  "bare storage sqlite",
			input: "oidc_provider https://a {\n storage sqlite\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", StorageRaw: []byte(`{"backend":"sqlite"}`)},
		},
		{
			name:  "users by backend name, as users_file",
			input: "oidc_provider https://a {\n users file {env.USERS}\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", UsersRaw: []byte(`{"backend":"file","path":"{env.USERS}"}`)},
		},
		{name: "storage without backend", input: "oidc_provider https://a {\n storage\n}", wantErr: "wrong argument count"},
		{
			name:  "dpop",
			input: "oidc_provider https://a {\n dpop_nonce_required\n dpop_nonce_lifespan 2m\n client x {\n dpop_bound_access_tokens true\n }\n}",
			want: caddyoidc.Handler{Issuer: "https://a", DPoPNonceRequired: true, DPoPNonceLifespan: caddy.Duration(2 * time.Minute),
				Clients: []caddyoidc.Client{{ClientID: "x", DPoPBoundAccessTokens: true}}},
		},
		{name: "dpop bad bool", input: "oidc_provider https://a {\n client x {\n dpop_bound_access_tokens often\n }\n}", wantErr: `"often" is not true or false`},
		{name: "storage sqlite two paths", input: "oidc_provider https://a {\n storage sqlite /a /b\n}", wantErr: "wrong argument count"},
		{name: "storage sqlite block", input: "oidc_provider https://a {\n storage sqlite {\n journal wal\n }\n}", wantErr: `storage sqlite: unrecognized option "journal"`},
		{
			name:  "storage sqlite without login cache",
			input: "oidc_provider https://a {\n storage sqlite /var/lib/oidc.db {\n disable_login_cache\n }\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", StorageRaw: []byte(`{"backend":"sqlite","disable_login_cache":true,"path":"/var/lib/oidc.db"}`)},
		},
		{name: "storage sqlite disable_login_cache takes no argument", input: "oidc_provider https://a {\n storage sqlite {\n disable_login_cache yes\n }\n}", wantErr: "wrong argument count"},
		{name: "unknown users backend", input: "oidc_provider https://a {\n users kerberos x\n}", wantErr: `users: unknown backend "kerberos"`},
		{name: "users file without path", input: "oidc_provider https://a {\n users file\n}", wantErr: "wrong argument count"},
		{name: "policy defined twice", input: "oidc_provider https://a {\n authorization_policy p {\n default_policy deny\n }\n authorization_policy p {\n }\n}", wantErr: `authorization_policy "p": defined twice`},
		{name: "regulation retries", input: "oidc_provider https://a {\n regulation {\n max_retries -1\n }\n}", wantErr: `max_retries: "-1" is not a number of at least 0`},
		{name: "scopes without values", input: "oidc_provider https://a {\n client x {\n scopes\n }\n}", wantErr: "wrong argument count"},
		{
			name:  "webauthn disable and display name",
			input: "oidc_provider https://a {\n webauthn {\n disable\n display_name \"Example Sign-in\"\n }\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", WebAuthn: &caddyoidc.WebAuthn{Disable: true, DisplayName: "Example Sign-in"}},
		},
		{
			name:  "webauthn disable false",
			input: "oidc_provider https://a {\n webauthn {\n disable false\n }\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", WebAuthn: &caddyoidc.WebAuthn{}},
		},
		{
			name:  "webauthn display name placeholder",
			input: "oidc_provider https://a {\n webauthn {\n display_name {env.SITE_NAME}\n }\n}",
			want:  caddyoidc.Handler{Issuer: "https://a", WebAuthn: &caddyoidc.WebAuthn{DisplayName: "{env.SITE_NAME}"}},
		},
		{name: "webauthn unknown option", input: "oidc_provider https://a {\n webauthn {\n rp_id example.com\n }\n}", wantErr: `webauthn: unrecognized option "rp_id"`},
		{name: "webauthn argument", input: "oidc_provider https://a {\n webauthn off\n}", wantErr: "wrong argument count"},
		{name: "webauthn display_name twice", input: "oidc_provider https://a {\n webauthn {\n display_name a b\n }\n}", wantErr: "wrong argument count"},
		{name: "webauthn display_name missing", input: "oidc_provider https://a {\n webauthn {\n display_name\n }\n}", wantErr: "wrong argument count"},
		{name: "webauthn disable maybe", input: "oidc_provider https://a {\n webauthn {\n disable maybe\n }\n}", wantErr: `"maybe" is not true or false`},
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
