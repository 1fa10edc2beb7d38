package caddyfile_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-oidc/caddy-oidc/caddyfile"
)

// FuzzDirective adapts a Caddyfile whose oidc_provider block holds arbitrary
// text, through Caddy's public adapter only (so it does not depend on how
// the directive is parsed inside). Adapting must never panic and, when it
// succeeds, must produce JSON; errors are fine.
func FuzzDirective(f *testing.F) {
	for _, body := range []string{
		"users_file /etc/caddy/users.yml\nclient app {\n\tclient_secret {env.APP_SECRET}\n\tredirect_uris https://app.example.com/cb\n}",
		`users_file /etc/caddy/users.yml
storage sqlite /var/lib/oidc.db
hmac_secret {env.HMAC}
access_token_lifespan 30m
authorize_code_lifespan 90s
id_token_lifespan 1h
refresh_token_lifespan 2h
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
client spa {
	public
	redirect_uris http://127.0.0.1/cb
	pre_configured_consent_duration 1w
}`,
		"client old {\n\tdescription \"Old names\"\n\tsecret plain\n\tredirect_uris https://old.example/cb\n}",
		"client {\n}\n",
		"storage\n",
		"access_token_lifespan forever\n",
		"client a {\n\tclient b {\n\t}\n}\n",
		"unknown_option 1 2 3\n",
		"{\n",
		"}\n}\n{",
		"",
	} {
		f.Add(body)
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		f.Fatal("no caddyfile adapter registered")
	}
	f.Fuzz(func(t *testing.T, body string) {
		// import and environment placeholders would read files and the
		// environment; they are Caddy's to parse, not ours.
		if strings.Contains(body, "import") || strings.Contains(body, "{$") {
			t.Skip()
		}
		cfg := "example.com {\n\toidc_provider https://example.com/idp {\n" + body + "\n\t}\n}\n"
		out, _, err := adapter.Adapt([]byte(cfg), map[string]any{"filename": "Caddyfile"})
		if err == nil && !json.Valid(out) {
			t.Fatalf("adapted without error to invalid JSON: %q", out)
		}
	})
}
