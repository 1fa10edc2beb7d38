package caddyoidc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/caddy-oidc/caddy-oidc/internal/autheliaimport"
)

// TestImportAutheliaCommand translates the Authelia configurations in
// testdata/authelia (the provider reference, the app guides of
// ../shared/reference, and a fuller one) through the binary, adapts each
// result with `caddy adapt`, and compares every client option by option
// with the YAML, and the provider-wide options with what they must become.
func TestImportAutheliaCommand(t *testing.T) {
	dir := t.TempDir()
	usersPath := cmdUsersFile(t, dir)
	// Provider-wide options (everything but the clients) expected for each
	// file; the guides only have clients.
	guide := `{"handler": "oidc_provider", "issuer": "https://auth.example.com", "users": {"backend": "file", "path": "USERS"}}`
	providers := map[string]string{
		"glitchtip.yml": guide, "immich.yml": guide, "jellyseerr.yml": guide, "romm.yml": guide,
		"provider.yml": `{"handler": "oidc_provider", "issuer": "https://auth.example.com", "users": {"backend": "file", "path": "USERS"},
			"access_token_lifespan": 3600000000000, "authorize_code_lifespan": 60000000000, "id_token_lifespan": 3600000000000, "refresh_token_lifespan": 5400000000000,
			"hmac_secret": "{env.OIDC_HMAC_SECRET}", "issuer_private_key": "{file./etc/caddy/oidc/issuer.pem}",
			"enforce_pkce": "public_clients_only", "minimum_parameter_entropy": 8,
			"cors": {"endpoints": ["authorization", "token", "revocation", "introspection"], "allowed_origins": ["https://example.com"]}}`,
		"full.yml": `{"handler": "oidc_provider", "issuer": "https://auth.example.com", "users": {"backend": "file", "path": "USERS"},
			"access_token_lifespan": 1800000000000, "refresh_token_lifespan": 86400000000000, "device_code_lifespan": 900000000000,
			"authorization_policies": {"admins_only": {"default_policy": "deny", "rules": [
				{"policy": "two_factor", "subject": [["group:admins"]]},
				{"policy": "one_factor", "subject": [["user:bob", "group:dev"], ["user:carol"]]}]}},
			"claims_policies": {"legacy": {"access_token": ["groups"], "custom_claims": {"department": {"attribute": "dept"}, "team": {}}, "id_token": ["email", "groups", "preferred_username"]}},
			"scopes": {"org": {"claims": ["department", "team"]}},
			"cors": {"allowed_origins_from_client_redirect_uris": true, "endpoints": ["userinfo", "token"]},
			"enforce_pkce": "always", "par_context_lifespan": 300000000000,
			"hmac_secret": "{file./secrets/oidc/hmac}",
			"jwks": [{"algorithm": "RS256", "key": "{file./secrets/oidc/main.pem}", "key_id": "main", "use": "sig"}, {"algorithm": "ES256", "key": "{file./etc/caddy/oidc/ec.pem}", "key_id": "ec"}],
			"lifespans": {"long": {"access_token": 7200000000000, "refresh_token": 7776000000000000}},
			"regulation": {"ban_time": 300000000000, "find_time": 120000000000, "max_retries": 3},
			"session_lifespan": 3600000000000, "session_inactivity": 300000000000, "remember_me_lifespan": 2592000000000000}`,
	}
	// What must be listed as not translated (full.yml) or to do.
	notes := map[string][]string{
		"provider.yml": {"OIDC_HMAC_SECRET", "/etc/caddy/oidc/issuer.pem", "OIDC_CLIENT_MYAPP_SECRET", "issuer"},
		"full.yml":     {"/etc/caddy/oidc/ec.pem", "lifespans.custom.long.grants", `client "grafana": introspection_signed_response_alg`, `client "grafana": requested_audience_mode`, "OIDC_CLIENT_BACKUP_JOB_SECRET"},
	}

	for name, wantProvider := range providers {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", "authelia", name)
			out, stderr, code := runBin(t, "", nil, "oidc", "import-authelia", "--config", src, "--users", usersPath)
			if code != 0 {
				t.Fatalf("import-authelia: exit %d, %s", code, stderr)
			}
			for _, n := range notes[name] {
				if !strings.Contains(commentsOf(out), n) {
					t.Errorf("the notes do not mention %q:\n%s", n, commentsOf(out))
				}
			}
			for _, secret := range []string{"this_is_a_secret", "plain-secret-for-the-job", "BEGIN"} {
				if strings.Contains(out, secret) {
					t.Errorf("the output contains %q", secret)
				}
			}
			cf := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(cf, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			adapted, stderr, code := runBin(t, "", nil, "adapt", "--config", cf)
			if code != 0 {
				t.Fatalf("caddy adapt: exit %d, %s\n%s", code, stderr, out)
			}
			h := oidcHandler(t, adapted)

			// The clients, option by option.
			var yml struct {
				IdentityProviders struct {
					OIDC struct {
						Clients []map[string]any `yaml:"clients"`
					} `yaml:"oidc"`
				} `yaml:"identity_providers"`
			}
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(data, &yml); err != nil {
				t.Fatal(err)
			}
			got, _ := h["clients"].([]any)
			if len(got) != len(yml.IdentityProviders.OIDC.Clients) {
				t.Fatalf("%d clients, want %d", len(got), len(yml.IdentityProviders.OIDC.Clients))
			}
			for i, c := range yml.IdentityProviders.OIDC.Clients {
				want := expectedClient(t, c)
				if !reflect.DeepEqual(got[i], want) {
					g, _ := json.MarshalIndent(got[i], "", "  ")
					w, _ := json.MarshalIndent(want, "", "  ")
					t.Errorf("client %d:\n got %s\nwant %s", i, g, w)
				}
			}

			// The provider-wide options.
			delete(h, "clients")
			var wantH map[string]any
			if err := json.Unmarshal([]byte(strings.ReplaceAll(wantProvider, "USERS", usersPath)), &wantH); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, wantH) {
				g, _ := json.MarshalIndent(h, "", "  ")
				w, _ := json.MarshalIndent(wantH, "", "  ")
				t.Errorf("provider options:\n got %s\nwant %s", g, w)
			}

			// The guides' translations load as they are.
			if wantProvider == guide {
				out, stderr, code := runBin(t, "", nil, "oidc", "validate", "--config", cf)
				if code != 0 || !strings.Contains(out, "Valid") {
					t.Errorf("validate: exit %d\n%s%s", code, out, stderr)
				}
			}
		})
	}
}

// commentsOf returns the comment lines of a Caddyfile.
func commentsOf(cf string) string {
	var b strings.Builder
	for _, l := range strings.Split(cf, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// oidcHandler returns the only oidc_provider handler of an adapted config.
func oidcHandler(t *testing.T, adapted string) map[string]any {
	t.Helper()
	var doc any
	if err := json.Unmarshal([]byte(adapted), &doc); err != nil {
		t.Fatalf("adapted config: %v", err)
	}
	var found []map[string]any
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["handler"] == "oidc_provider" {
				found = append(found, v)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(found) != 1 {
		t.Fatalf("%d oidc_provider handlers in the adapted config", len(found))
	}
	return found[0]
}

// expectedClient is the adapted JSON of an Authelia client: the same
// options under their current names, empty ones left out, Authelia's
// default authorization policy made explicit, a plain secret as its
// environment placeholder, durations in nanoseconds. Options without an
// equivalent (which the notes list) are left out.
func expectedClient(t *testing.T, c map[string]any) any {
	t.Helper()
	rename := map[string]string{"id": "client_id", "description": "client_name", "secret": "client_secret", "userinfo_signing_algorithm": "userinfo_signed_response_alg"}
	skip := map[string]bool{"introspection_signed_response_alg": true, "requested_audience_mode": true}
	out := map[string]any{"authorization_policy": "two_factor"}
	for k, v := range c {
		if skip[k] {
			continue
		}
		if n := rename[k]; n != "" {
			k = n
		}
		switch v := v.(type) {
		case string:
			if v == "" {
				continue
			}
			if k == "pre_configured_consent_duration" {
				d, err := autheliaimport.ParseDuration(v)
				if err != nil {
					t.Fatal(err)
				}
				out[k] = int64(d)
				continue
			}
			out[k] = v
		case bool:
			if v {
				out[k] = v
			}
		case []any:
			if len(v) > 0 {
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	if s, _ := out["client_secret"].(string); s != "" && !strings.HasPrefix(s, "$") {
		id, _ := out["client_id"].(string)
		out["client_secret"] = "{env.OIDC_CLIENT_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_")) + "_SECRET}"
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
