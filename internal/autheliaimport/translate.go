// Package autheliaimport translates Authelia's OpenID Connect provider
// configuration (identity_providers.oidc in configuration.yml, with the
// session, regulation and file authentication backend settings it relies
// on) into an oidc_provider Caddyfile block. Secrets never appear in the
// output: digests pass through, plain secrets and keys become {env.*} and
// {file.*} placeholders, and everything that cannot be translated is listed
// with the reason.
package autheliaimport

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Options are what the YAML does not say.
type Options struct {
	// Issuer is the provider's issuer URL. Default: the authelia_url of the
	// first session cookie, else https://auth.example.com (with a note).
	Issuer string
	// UsersFile is the users_database.yml path for users_file. Default:
	// authentication_backend.file.path.
	UsersFile string
	// Source names the configuration file in the output's first comment.
	Source string
}

// Result is the translation.
type Result struct {
	Caddyfile string   // a site block with the oidc_provider block
	Notes     []string // what was not translated, and why; placeholders to fill
}

// config is the part of configuration.yml that matters here.
type config struct {
	IdentityProviders struct {
		OIDC map[string]any `yaml:"oidc"`
	} `yaml:"identity_providers"`
	Session struct {
		Expiration any `yaml:"expiration"`
		Inactivity any `yaml:"inactivity"`
		RememberMe any `yaml:"remember_me"`
		Cookies    []struct {
			AutheliaURL string `yaml:"authelia_url"`
		} `yaml:"cookies"`
	} `yaml:"session"`
	Regulation map[string]any `yaml:"regulation"`
	TOTP       map[string]any `yaml:"totp"`
	AuthBack   struct {
		File *struct {
			Path string `yaml:"path"`
		} `yaml:"file"`
		LDAP map[string]any `yaml:"ldap"`
	} `yaml:"authentication_backend"`
}

// translator accumulates the output and the notes.
type translator struct {
	w     block
	notes []string
}

func (t *translator) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// Translate reads configuration.yml and returns the Caddyfile.
func Translate(data []byte, opts Options) (*Result, error) {
	var cfg config
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	oidc := cfg.IdentityProviders.OIDC
	if oidc == nil {
		return nil, fmt.Errorf("configuration: no identity_providers.oidc section")
	}
	t := &translator{}

	issuer := opts.Issuer
	if issuer == "" && len(cfg.Session.Cookies) > 0 {
		issuer = strings.TrimSuffix(cfg.Session.Cookies[0].AutheliaURL, "/")
	}
	if issuer == "" {
		issuer = "https://auth.example.com"
		t.note("issuer: Authelia takes it from the request; set the provider's URL (--issuer) in place of %s", issuer)
	}
	host := issuer
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}

	t.w.open(host)
	t.w.open("oidc_provider", issuer)
	usersFile := opts.UsersFile
	if usersFile == "" && cfg.AuthBack.File != nil {
		usersFile = cfg.AuthBack.File.Path
	}
	switch {
	case usersFile != "":
		if abs, err := filepath.Abs(usersFile); err == nil {
			usersFile = abs
		}
		t.w.line("users_file", usersFile)
	case cfg.AuthBack.LDAP != nil:
		t.w.line("users_file", "/etc/caddy/users_database.yml")
		t.note("authentication_backend.ldap: only a users file is supported; users_file points at /etc/caddy/users_database.yml, which you must create (caddy oidc users add)")
	default:
		t.w.line("users_file", "/etc/caddy/users_database.yml")
		t.note("users_file: no users file given (--users); set its path")
	}
	t.provider(oidc)
	t.session(cfg)
	t.policies(oidc)
	t.lifespans(oidc)
	t.claims(oidc)
	t.cors(oidc)
	clients, _ := oidc["clients"].([]any)
	if len(clients) == 0 {
		t.note("clients: none in the configuration")
	}
	for i, c := range clients {
		m, ok := c.(map[string]any)
		if !ok {
			t.note("clients[%d]: not a map, skipped", i)
			continue
		}
		t.client(i, m)
	}
	t.w.close()
	t.w.close()

	var out strings.Builder
	src := opts.Source
	if src == "" {
		src = "Authelia's configuration"
	}
	fmt.Fprintf(&out, "# Translated from %s by caddy oidc import-authelia.\n", src)
	if len(t.notes) > 0 {
		out.WriteString("# To do, and what could not be translated:\n")
		for _, n := range t.notes {
			out.WriteString("#   - " + strings.ReplaceAll(n, "\n", "\n#     ") + "\n")
		}
	}
	out.WriteString(t.w.b.String())
	return &Result{Caddyfile: out.String(), Notes: t.notes}, nil
}

// provider translates the provider-wide scalar options.
func (t *translator) provider(oidc map[string]any) {
	handled := map[string]bool{"clients": true, "authorization_policies": true, "lifespans": true, "claims_policies": true, "scopes": true, "cors": true}
	for _, k := range []string{"access_token_lifespan", "authorize_code_lifespan", "id_token_lifespan", "refresh_token_lifespan"} {
		handled[k] = true
		t.duration(k, k, oidc[k])
	}
	if v, ok := oidc["hmac_secret"]; ok {
		handled["hmac_secret"] = true
		t.w.line("hmac_secret", t.secretRef("hmac_secret", str(v), "OIDC_HMAC_SECRET"))
	}
	if v, ok := oidc["issuer_private_key"]; ok {
		handled["issuer_private_key"] = true
		t.w.line("issuer_private_key", t.keyRef("issuer_private_key", str(v), "/etc/caddy/oidc/issuer.pem"))
	}
	if _, ok := oidc["issuer_certificate_chain"]; ok {
		handled["issuer_certificate_chain"] = true
		t.note("issuer_certificate_chain: give it as certificate_chain of a jwk block instead of issuer_private_key")
	}
	if keys, ok := oidc["jwks"].([]any); ok {
		handled["jwks"] = true
		for i, k := range keys {
			if m, ok := k.(map[string]any); ok {
				t.jwk(fmt.Sprintf("jwks[%d]", i), m, true)
			}
		}
	}
	for _, k := range []string{"enforce_pkce", "minimum_parameter_entropy", "default_authorization_policy"} {
		if v, ok := oidc[k]; ok && str(v) != "" {
			handled[k] = true
			t.w.line(k, str(v))
		}
	}
	for _, k := range []string{"enable_pkce_plain_challenge", "enable_client_debug_messages"} {
		if v, ok := oidc[k]; ok {
			handled[k] = true
			if b, _ := v.(bool); b {
				t.w.line(k)
			}
		}
	}
	if par, ok := oidc["pushed_authorizations"].(map[string]any); ok {
		handled["pushed_authorizations"] = true
		if b, _ := par["enforce"].(bool); b {
			t.w.line("require_pushed_authorization_requests")
		}
		t.duration("pushed_authorizations.context_lifespan", "par_context_lifespan", par["context_lifespan"])
	}
	if v, ok := oidc["discovery_signed_response_alg"]; ok && str(v) != "none" && str(v) != "" {
		t.note("discovery_signed_response_alg: signed discovery documents are not supported; discovery is served as plain JSON")
	}
	handled["discovery_signed_response_alg"] = true
	for _, k := range sortedKeys(oidc) {
		if !handled[k] {
			t.note("identity_providers.oidc.%s: not supported, left out", k)
		}
	}
}

// session translates the session lifetimes, regulation and TOTP settings.
func (t *translator) session(cfg config) {
	t.duration("session.expiration", "session_lifespan", cfg.Session.Expiration)
	t.duration("session.inactivity", "session_inactivity", cfg.Session.Inactivity)
	if s := str(cfg.Session.RememberMe); s == "-1" {
		t.note("session.remember_me: -1 (disabled) has no equivalent; the remember me option stays")
	} else {
		t.duration("session.remember_me", "remember_me_lifespan", cfg.Session.RememberMe)
	}
	if r := cfg.Regulation; r != nil {
		t.w.open("regulation")
		if v, ok := r["max_retries"]; ok {
			t.w.line("max_retries", str(v))
		}
		t.duration("regulation.find_time", "find_time", r["find_time"])
		t.duration("regulation.ban_time", "ban_time", r["ban_time"])
		for _, k := range sortedKeys(r) {
			if k != "max_retries" && k != "find_time" && k != "ban_time" {
				t.note("regulation.%s: not supported, left out", k)
			}
		}
		t.w.close()
	}
	if tp := cfg.TOTP; tp != nil {
		alg, digits, period := str(tp["algorithm"]), str(tp["digits"]), str(tp["period"])
		if (alg != "" && !strings.EqualFold(alg, "sha1")) || (digits != "" && digits != "6") || (period != "" && period != "30") {
			t.note("totp: only SHA1, 6 digits and 30 seconds are supported; secrets enrolled with %s/%s/%s cannot be imported, those users must enrol again", alg, digits, period)
		}
	}
}

// duration writes opt with the Authelia duration v (from, for notes), if set.
func (t *translator) duration(from, opt string, v any) {
	if v == nil || str(v) == "" {
		return
	}
	d, err := ParseDuration(str(v))
	if err != nil {
		t.note("%s: %v, left out", from, err)
		return
	}
	t.w.line(opt, FormatDuration(d))
}

// secretTemplate is Authelia's file template: {{ secret "/path" }}.
var secretTemplate = regexp.MustCompile(`^\{\{-?\s*secret\s+"([^"]+)"\s*-?\}\}$`)

// secretRef returns a placeholder for a plain secret: {file.path} for
// Authelia's secret template, else {env.NAME}, with a note.
func (t *translator) secretRef(from, v, env string) string {
	v = strings.TrimSpace(v)
	if m := secretTemplate.FindStringSubmatch(v); m != nil {
		return "{file." + m[1] + "}"
	}
	t.note("%s: set the environment variable %s to the value from Authelia's configuration (kept out of this file)", from, env)
	return "{env." + env + "}"
}

// keyRef returns a {file.*} placeholder for a PEM key: the file of
// Authelia's secret template, else suggested, with a note to save it there.
func (t *translator) keyRef(from, v, suggested string) string {
	v = strings.TrimSpace(v)
	if m := secretTemplate.FindStringSubmatch(v); m != nil {
		return "{file." + m[1] + "}"
	}
	t.note("%s: save the PEM from Authelia's configuration to %s (mode 0600, readable by Caddy); it is kept out of this file", from, suggested)
	return "{file." + suggested + "}"
}

// jwk writes a jwk block from Authelia's jwks entry.
func (t *translator) jwk(from string, m map[string]any, private bool) {
	kid := str(m["key_id"])
	t.w.open("jwk", nonEmpty(kid)...)
	if v := str(m["algorithm"]); v != "" {
		t.w.line("algorithm", v)
	}
	if v := str(m["use"]); v != "" {
		t.w.line("use", v)
	}
	key := str(m["key"])
	switch {
	case private:
		name := kid
		if name == "" {
			name = strings.ReplaceAll(from, "[", "-")
			name = strings.TrimSuffix(strings.ReplaceAll(name, "]", ""), "-")
		}
		t.w.line("key", t.keyRef(from+".key", key, "/etc/caddy/oidc/"+safeName(name)+".pem"))
	case secretTemplate.MatchString(strings.TrimSpace(key)):
		t.w.line("key", t.keyRef(from+".key", key, ""))
	default:
		t.w.line("key", strings.TrimSpace(key)) // a public key: not a secret
	}
	if v := str(m["certificate_chain"]); v != "" {
		if private {
			t.w.line("certificate_chain", t.keyRef(from+".certificate_chain", v, "/etc/caddy/oidc/"+safeName(kid)+".crt"))
		} else {
			t.w.line("certificate_chain", strings.TrimSpace(v))
		}
	}
	t.w.close()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// str returns a scalar as YAML wrote it (numbers and booleans included).
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// strs returns a string or a list of strings as a list.
func strs(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, str(e))
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
