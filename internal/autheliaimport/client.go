package autheliaimport

import (
	"fmt"
	"strings"
)

// clientLists are the client options whose value is a list, under the same
// name in the Caddyfile (and older Authelia names).
var clientLists = map[string]string{
	"redirect_uris":             "redirect_uris",
	"scopes":                    "scopes",
	"audience":                  "audience",
	"grant_types":               "grant_types",
	"response_types":            "response_types",
	"response_modes":            "response_modes",
	"post_logout_redirect_uris": "post_logout_redirect_uris",
}

// clientScalars are the client options with one value, by Authelia name.
var clientScalars = map[string]string{
	"client_name":                      "client_name",
	"description":                      "client_name",
	"authorization_policy":             "authorization_policy",
	"consent_mode":                     "consent_mode",
	"token_endpoint_auth_method":       "token_endpoint_auth_method",
	"token_endpoint_auth_signing_alg":  "token_endpoint_auth_signing_alg",
	"pkce_challenge_method":            "pkce_challenge_method",
	"id_token_signed_response_alg":     "id_token_signed_response_alg",
	"access_token_signed_response_alg": "access_token_signed_response_alg",
	"userinfo_signed_response_alg":     "userinfo_signed_response_alg",
	"userinfo_signing_algorithm":       "userinfo_signed_response_alg",
	"sector_identifier":                "sector_identifier",
	"sector_identifier_uri":            "sector_identifier_uri",
	"lifespan":                         "lifespan",
	"claims_policy":                    "claims_policy",
	"jwks_uri":                         "jwks_uri",
}

// clientBools are the client options that are flags.
var clientBools = map[string]string{
	"public":                                "public",
	"require_pkce":                          "require_pkce",
	"require_pushed_authorization_requests": "require_pushed_authorization_requests",
}

// unsupportedWhenSet are Authelia client options with no equivalent, and
// the value that means the same as leaving them out.
var unsupportedWhenSet = map[string]string{
	"authorization_signed_response_alg":    "none",
	"authorization_signed_response_key_id": "",
	"id_token_signed_response_key_id":      "",
	"access_token_signed_response_key_id":  "",
	"userinfo_signed_response_key_id":      "",
	"introspection_signed_response_alg":    "none",
	"introspection_signed_response_key_id": "",
	"request_object_signing_alg":           "",
	"requested_audience_mode":              "explicit",
	"allow_multiple_auth_methods":          "false",
	"request_uris":                         "",
	"client_secret_key_id":                 "",
}

// client writes one client block.
func (t *translator) client(i int, c map[string]any) {
	id := str(c["client_id"])
	if id == "" {
		id = str(c["id"])
	}
	if id == "" {
		t.note("clients[%d]: no client_id, skipped", i)
		return
	}
	from := fmt.Sprintf("client %q", id)
	t.w.open("client", id)
	for _, k := range sortedKeys(c) {
		v := c[k]
		switch {
		case k == "client_id" || k == "id":
		case k == "client_secret" || k == "secret":
			if s := str(v); s != "" {
				t.w.line("client_secret", t.clientSecret(from, id, s))
			}
		case clientScalars[k] != "":
			if s := str(v); s != "" {
				t.w.line(clientScalars[k], s)
			}
		case clientLists[k] != "":
			if l := strs(v); len(l) > 0 {
				t.w.line(clientLists[k], l...)
			}
		case clientBools[k] != "":
			if b, _ := v.(bool); b {
				t.w.line(clientBools[k])
			}
		case k == "device_authorization_endpoint_auth_method":
			// The device authorization endpoint authenticates clients as
			// the token endpoint does; say so only where that differs.
			token, dev := str(c["token_endpoint_auth_method"]), str(v)
			if dev != "" && dev != token && (token != "" || (dev != "client_secret_basic" && dev != "client_secret_post")) {
				t.note("%s: device_authorization_endpoint_auth_method %q differs from token_endpoint_auth_method; the device authorization endpoint uses the latter", from, dev)
			}
		case k == "pre_configured_consent_duration":
			t.duration(from+": pre_configured_consent_duration", k, v)
		case k == "jwks":
			keys, _ := v.([]any)
			for j, key := range keys {
				if m, ok := key.(map[string]any); ok {
					t.jwk(fmt.Sprintf("%s: jwks[%d]", from, j), m, false)
				}
			}
		default:
			if neutral, known := unsupportedWhenSet[k]; known {
				if s := str(v); s != "" && s != neutral && (k != "request_uris" || len(strs(v)) > 0) {
					t.note("%s: %s %q is not supported, left out", from, k, s)
				}
				continue
			}
			t.note("%s: option %s is not supported, left out", from, k)
		}
	}
	if _, ok := c["authorization_policy"]; !ok {
		// Authelia's default for a client; the provider's default is one_factor.
		t.w.line("authorization_policy", "two_factor")
	}
	t.w.close()
}

// clientSecret keeps digests and turns a plain secret into an environment
// placeholder.
func (t *translator) clientSecret(from, id, s string) string {
	s = strings.TrimSpace(s)
	if m := secretTemplate.FindStringSubmatch(s); m != nil {
		return "{file." + m[1] + "}"
	}
	if strings.HasPrefix(s, "$") && !strings.HasPrefix(s, "$plaintext$") {
		return s // a digest: safe to keep
	}
	env := "OIDC_CLIENT_" + strings.ToUpper(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id)) + "_SECRET"
	t.note("%s: its client_secret is in plain text; set the environment variable %s to it, or better replace the placeholder by a digest (caddy oidc hash-password --algorithm pbkdf2-sha512)", from, env)
	return "{env." + env + "}"
}
