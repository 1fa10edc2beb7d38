package caddyoidc_test

// Configuration errors reported when Caddy loads the config, and secrets
// given as placeholders (issue 3).

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"golang.org/x/oauth2"
)

func TestProvisionErrorsNameClientAndOption(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start() // a good config keeps running while the bad ones are refused
	l := newLeakCheck(t, e)
	l.add("client secret", "s3cret-basic", "hidden-secret-value")
	good := e.clients
	const cb = "https://app.example.com/cb"
	cases := []struct {
		name    string
		clients string
		want    []string // all must appear in the error
		notWant string   // must not appear in the error
	}{
		{"missing secret", `
		client no-secret {
			redirect_uris ` + cb + `
		}`, []string{`client "no-secret"`, "client_secret"}, ""},
		{"redirect URI with a fragment", `
		client frag-app {
			client_secret x-secret
			redirect_uris "` + cb + `#section"
		}`, []string{`client "frag-app"`, "redirect_uris", "fragment"}, ""},
		{"no redirect URI", `
		client no-redirect {
			client_secret x-secret
		}`, []string{`client "no-redirect"`, "redirect_uris"}, ""},
		{"unknown grant type", `
		client grant-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			grant_types authorization_code urn:ietf:params:oauth:grant-type:jwt-bearer
		}`, []string{`client "grant-app"`, "grant_types", "jwt-bearer"}, ""},
		{"unknown token_endpoint_auth_method", `
		client method-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			token_endpoint_auth_method private_key_jwt
		}`, []string{`client "method-app"`, "token_endpoint_auth_method", "private_key_jwt"}, ""},
		{"public client with a secret", `
		client public-app {
			public
			client_secret hidden-secret-value
			redirect_uris ` + cb + `
		}`, []string{`client "public-app"`, "client_secret", "public"}, "hidden-secret-value"},
		// A policy name that is neither built in nor configured.
		{"unknown policy", `
		client tfa-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			authorization_policy three_factor
		}`, []string{`client "tfa-app"`, "authorization_policy", "three_factor"}, ""},
		{"bad policy rule", `
		authorization_policy staff {
			default_policy deny
			rule one_factor role:admin
		}
		client staff-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			authorization_policy staff
		}`, []string{`"staff"`, "rules[0]", "role:admin"}, ""},
		{"consent pre-configured without duration", `
		client pc-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			consent_mode pre-configured
		}`, []string{`client "pc-app"`, "consent_mode", "pre_configured_consent_duration"}, ""},
		{"duplicate client id", `
		client dup-app {
			client_secret x-secret
			redirect_uris ` + cb + `
		}
		client dup-app {
			client_secret y-secret
			redirect_uris ` + cb + `
		}`, []string{`client "dup-app"`, "client_id"}, ""},
		{"unknown ID token algorithm", `
		client alg-app {
			client_secret x-secret
			redirect_uris ` + cb + `
			id_token_signed_response_alg HS256
		}`, []string{`client "alg-app"`, "id_token_signed_response_alg", "HS256"}, ""},
		{"undecodable digest", `
		client digest-app {
			client_secret "$pbkdf2-sha512$hidden-secret-value"
			redirect_uris ` + cb + `
		}`, []string{`client "digest-app"`, "client_secret"}, "hidden-secret-value"},
		{"placeholder of an unset variable", `
		client env-app {
			client_secret {env.CADDY_OIDC_TEST_UNSET_SECRET}
			redirect_uris ` + cb + `
		}`, []string{`client "env-app"`, "client_secret"}, ""},
		{"webauthn display name too long", `
		webauthn {
			display_name "` + strings.Repeat("x", 65) + `"
		}`, []string{"webauthn", "display_name", "65 characters"}, ""},
		{"webauthn display name with a control character", `
		webauthn {
			display_name "Sign` + "\t" + `in"
		}`, []string{"webauthn", "display_name", "control characters"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clients = good + tc.clients
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			t.Logf("%v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}

	// Unknown options fail at adapt time, with the file and line.
	for _, opt := range []struct{ name, block, word string }{
		{"provider option", "\t\tbogus_option 1", "bogus_option"},
		{"client option", "\t\tclient opt-app {\n\t\t\tclient_secret x\n\t\t\tredirect_uri " + cb + "\n\t\t\tbogus_client_option 1\n\t\t}", "bogus_client_option"},
	} {
		t.Run("unknown "+opt.name, func(t *testing.T) {
			e.clients = good + "\n" + opt.block
			line := 0
			for i, l := range strings.Split(e.caddyfile(), "\n") {
				if strings.Contains(l, opt.word) {
					line = i + 1
				}
			}
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			if !strings.Contains(err.Error(), "adapt") || !strings.Contains(err.Error(), "Caddyfile:"+strconv.Itoa(line)) || !strings.Contains(err.Error(), opt.word) {
				t.Errorf("error %q does not name Caddyfile:%d and %s", err, line, opt.word)
			}
		})
	}

	// The running config survived every refused one: the shared database,
	// keys and sessions were not released by the failed provisions.
	e.clients = good
	b := newBrowser(t, e.issuer)
	tok := tokensFor(t, e, l, b, "alice")
	if r := userinfoCall(t, e, http.MethodGet, "Bearer "+tok.str("access_token"), nil); r.status != 200 {
		t.Errorf("userinfo after refused configs: %d %s", r.status, r.raw)
	}
	if err := reload(t, e); err != nil {
		t.Fatalf("reloading the good config: %v", err)
	}
	r := clientToken(t, e, "basic-app", "s3cret-basic", refreshForm(tok.str("refresh_token")))
	l.tokens(r.body)
	if r.status != 200 {
		t.Errorf("refresh after refused configs and a reload: %d %s", r.status, r.raw)
	}
	wantConsentNotLogin(t, b, e.authURL(authQuery(t, "basic-app")))
}

func TestSecretPlaceholders(t *testing.T) {
	envSecret := "env-secret-" + randString(t)
	fileSecret := "file-secret-" + randString(t)
	t.Setenv("CADDY_OIDC_TEST_SECRET", envSecret)
	e := newEnv(t, "")
	secretFile := filepath.Join(e.dir, "client.secret")
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.clients = `
		client env-app {
			client_secret {env.CADDY_OIDC_TEST_SECRET}
			redirect_uris ` + rpCallback + `
			token_endpoint_auth_method client_secret_basic
		}
		client file-app {
			client_secret {file.` + secretFile + `}
			redirect_uris ` + rpCallback + `
			token_endpoint_auth_method client_secret_post
		}`

	// caddy adapt never shows the values, only the placeholders.
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(e.caddyfile()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{envSecret, fileSecret} {
		if strings.Contains(string(out), s) {
			t.Errorf("caddy adapt output contains a secret: %s", out)
		}
	}
	if !strings.Contains(string(out), "{env.CADDY_OIDC_TEST_SECRET}") || !strings.Contains(string(out), "{file."+secretFile+"}") {
		t.Errorf("caddy adapt output lacks the placeholders: %s", out)
	}

	e.start()
	l := newLeakCheck(t, e)
	l.add("client secret", envSecret, fileSecret)
	b := newBrowser(t, e.issuer)
	for _, c := range []struct {
		client, secret string
		style          oauth2.AuthStyle
	}{
		{"env-app", envSecret, oauth2.AuthStyleInHeader},
		{"file-app", fileSecret, oauth2.AuthStyleInParams},
	} {
		t.Run(c.client, func(t *testing.T) {
			r := newRP(t, e.issuer, c.client, c.secret, c.style)
			r.config.Scopes = []string{"openid", "profile"}
			p := b.get(r.config.AuthCodeURL(randString(t)))
			if strings.Contains(p.body, `name="password"`) {
				p = b.login(p, "alice", testPassword)
			}
			code := callbackParams(t, b.consent(p, "allow"), rpCallback).Get("code")
			l.add("authorization code", code)
			// The placeholder text itself is not the secret.
			literal := newRP(t, e.issuer, c.client, "{env.CADDY_OIDC_TEST_SECRET}", c.style)
			if _, err := literal.config.Exchange(ctx(t), code); err == nil || !strings.Contains(err.Error(), "invalid_client") {
				t.Errorf("the placeholder's text as secret: %v, want invalid_client", err)
			}
			tok, err := r.config.Exchange(ctx(t), code)
			if err != nil {
				t.Fatalf("exchange with the resolved secret: %v", err)
			}
			l.oauth2Token(tok)
			if _, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok)); err != nil {
				t.Error(err)
			}
		})
	}
}
