package caddyoidc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// writeClaimsUsers writes a users file whose alice has standard profile
// attributes and extra attributes; bob has neither.
func writeClaimsUsers(e *env) {
	e.t.Helper()
	d := passwordDigest(e.t)
	users := fmt.Sprintf(`users:
  alice:
    displayname: "Alice Example"
    password: %[1]q
    email: alice@example.com
    groups: [users, admins]
    given_name: Alice
    family_name: Example
    locale: fr-FR
    extra:
      employee_id: 42
      department: "R&D"
      badges: [gold, early]
  bob:
    displayname: "Bob Example"
    password: %[1]q
    email: bob@example.com
    groups: [users]
`, d)
	path := filepath.Join(e.dir, "users.yml")
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		e.t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second)
	_ = os.Chtimes(path, future, future)
}

const claimsProviderOptions = `
		claims_policy hr {
			id_token name preferred_username groups employee_id
			access_token email employee_id
			custom_claim employee_id
			custom_claim dept department
			custom_claim badges
		}
		claims_policy bare {
			id_token
		}
		scope hr_info {
			claims employee_id dept badges given_name locale
		}`

const claimsClients = `
		client hr-app {
			client_secret "hr-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups hr_info
			claims_policy hr
			access_token_signed_response_alg ES256
		}
		client plain-app {
			client_secret "plain-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups hr_info
		}
		client bare-app {
			client_secret "bare-secret"
			redirect_uris ` + rpCallback + `
			claims_policy bare
		}`

// claimsOf signs user in to client with scopes and returns the ID token's
// claims, userinfo's claims and the raw access token.
func claimsOf(t *testing.T, e *env, client, secret, user string, scopes ...string) (idToken, userinfo map[string]any, access string) {
	t.Helper()
	r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleInHeader)
	r.config.Scopes = scopes
	params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), user)
	tok, err := r.config.Exchange(ctx(t), params.Get("code"))
	if err != nil {
		t.Fatalf("%s: exchange: %v", client, err)
	}
	idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	if err := idt.Claims(&idToken); err != nil {
		t.Fatal(err)
	}
	ui, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("%s: userinfo: %v", client, err)
	}
	if err := ui.Claims(&userinfo); err != nil {
		t.Fatal(err)
	}
	return idToken, userinfo, tok.AccessToken
}

// wantClaims checks that m has exactly the listed user claims among
// those the tests look at.
func wantClaims(t *testing.T, what string, m map[string]any, want map[string]string) {
	t.Helper()
	for _, k := range []string{"name", "preferred_username", "email", "email_verified", "groups", "employee_id", "dept", "badges", "given_name", "locale", "family_name"} {
		got, ok := m[k]
		w, wanted := want[k]
		switch {
		case wanted && !ok:
			t.Errorf("%s: %s missing, want %s", what, k, w)
		case !wanted && ok:
			t.Errorf("%s: %s = %v, want none", what, k, got)
		case wanted && fmt.Sprint(got) != w:
			t.Errorf("%s: %s = %v, want %s", what, k, got, w)
		}
	}
}

func TestCustomScopesAndClaimsPolicies(t *testing.T) {
	e := newEnv(t, claimsClients)
	e.extra = claimsProviderOptions
	writeClaimsUsers(e)
	e.start()

	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	for k, want := range map[string][]string{
		"scopes_supported": {"hr_info"},
		"claims_supported": {"employee_id", "dept", "badges", "given_name", "locale", "email"},
	} {
		list, _ := meta[k].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				t.Errorf("discovery %s = %v lacks %s", k, list, w)
			}
		}
	}

	all := []string{oidc.ScopeOpenID, "profile", "email", "groups", "hr_info"}
	everything := map[string]string{
		"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com", "email_verified": "true",
		"groups": "[users admins]", "employee_id": "42", "dept": "R&D", "badges": "[gold early]",
		"given_name": "Alice", "locale": "fr-FR", "family_name": "Example",
	}

	// The policy keeps email out of the ID token, but userinfo has it and
	// every claim of the custom scope.
	idt, ui, access := claimsOf(t, e, "hr-app", "hr-secret", "alice", all...)
	wantClaims(t, "hr-app ID token", idt, map[string]string{"name": "Alice Example", "preferred_username": "alice", "groups": "[users admins]", "employee_id": "42"})
	wantClaims(t, "hr-app userinfo", ui, everything)
	// The JWT access token carries the policy's access_token claims.
	at := jwtClaims(t, access)
	wantClaims(t, "hr-app access token", at, map[string]string{"email": "alice@example.com", "employee_id": "42"})

	// Without the custom scope its claims are not released anywhere.
	idt, ui, _ = claimsOf(t, e, "hr-app", "hr-secret", "alice", oidc.ScopeOpenID, "profile", "email")
	wantClaims(t, "hr-app ID token without hr_info", idt, map[string]string{"name": "Alice Example", "preferred_username": "alice"})
	// (profile releases the users file's given_name, family_name, locale.)
	wantClaims(t, "hr-app userinfo without hr_info", ui, map[string]string{"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com", "email_verified": "true", "given_name": "Alice", "family_name": "Example", "locale": "fr-FR"})

	// A user without the attributes gets no such claims.
	_, ui, _ = claimsOf(t, e, "hr-app", "hr-secret", "bob", all...)
	wantClaims(t, "hr-app userinfo of bob", ui, map[string]string{"name": "Bob Example", "preferred_username": "bob", "email": "bob@example.com", "email_verified": "true", "groups": "[users]"})

	// No policy: the default puts every released claim in the ID token
	// too; the custom claims of a policy the client does not use are not
	// released, the standard ones are.
	idt, ui, _ = claimsOf(t, e, "plain-app", "plain-secret", "alice", all...)
	std := map[string]string{
		"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com", "email_verified": "true",
		"groups": "[users admins]", "given_name": "Alice", "locale": "fr-FR", "family_name": "Example",
	}
	wantClaims(t, "plain-app ID token", idt, std)
	wantClaims(t, "plain-app userinfo", ui, std)

	// A policy with an empty id_token: user claims at userinfo only.
	idt, ui, _ = claimsOf(t, e, "bare-app", "bare-secret", "alice", oidc.ScopeOpenID, "profile", "email", "groups")
	wantClaims(t, "bare-app ID token", idt, map[string]string{})
	if idt["sub"] == nil || idt["azp"] != "bare-app" {
		t.Errorf("bare-app ID token lost its protocol claims: %v", idt)
	}
	wantClaims(t, "bare-app userinfo", ui, map[string]string{
		"name": "Alice Example", "preferred_username": "alice", "email": "alice@example.com", "email_verified": "true", "groups": "[users admins]",
		"given_name": "Alice", "family_name": "Example", "locale": "fr-FR",
	})
}

// TestTokenOptionErrors checks that a bad token option fails the config
// load, naming the client (or definition) and the option, while the running
// config keeps serving.
func TestTokenOptionErrors(t *testing.T) {
	srv := sectorServer(t, "https://elsewhere.example/cb")
	e := newEnv(t, jwtClients)
	e.start()
	good, goodExtra := e.clients, e.extra
	client := func(name, opts string) string {
		return "\n\t\tclient " + name + " {\n\t\t\tclient_secret x-secret\n\t\t\tredirect_uris " + rpCallback + "\n\t\t\t" + opts + "\n\t\t}"
	}
	cases := []struct {
		name, extra, clients string
		want                 []string
	}{
		{"sector_identifier_uri without the redirect URI", "", client("sector-bad", "sector_identifier_uri "+srv.URL+"/s.json"),
			[]string{`client "sector-bad"`, "sector_identifier_uri", rpCallback}},
		{"sector_identifier_uri over plain http", "", client("sector-http", "sector_identifier_uri http://sectors.example.com/s.json"),
			[]string{`client "sector-http"`, "sector_identifier_uri", "https"}},
		{"sector_identifier a URL", "", client("sector-url", "sector_identifier https://example.com/x"),
			[]string{`client "sector-url"`, "sector_identifier", "host"}},
		{"unknown lifespan", "", client("life-app", "lifespan nope"),
			[]string{`client "life-app"`, "lifespan", `"nope"`}},
		{"negative lifespan", "lifespan neg {\n\t\t\taccess_token -5m\n\t\t}", "",
			[]string{`lifespans "neg"`, "access_token"}},
		{"unknown claims_policy", "", client("policy-app", "claims_policy nope"),
			[]string{`client "policy-app"`, "claims_policy", `"nope"`}},
		{"unsupported access token alg", "", client("alg-app", "access_token_signed_response_alg HS256"),
			[]string{`client "alg-app"`, "access_token_signed_response_alg", "HS256"}},
		{"unsupported userinfo alg", "", client("ui-alg-app", "userinfo_signing_algorithm HS512"),
			[]string{`client "ui-alg-app"`, "userinfo_signed_response_alg", "HS512"}},
		{"custom scope redefining profile", "scope profile {\n\t\t\tclaims given_name\n\t\t}", "",
			[]string{`scopes "profile"`, "built-in"}},
		{"custom claim named sub", "claims_policy p {\n\t\t\tcustom_claim sub username\n\t\t}", "",
			[]string{`claims_policies "p"`, "custom_claims", `"sub"`}},
		{"scope releasing an undefined claim", "scope shoes {\n\t\t\tclaims shoe_size\n\t\t}", "",
			[]string{`scopes "shoes"`, "shoe_size"}},
		{"policy naming an unknown claim", "claims_policy p {\n\t\t\tid_token emial\n\t\t}", "",
			[]string{`claims_policies "p"`, "id_token", "emial"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clients, e.extra = good+tc.clients, goodExtra+"\n\t\t"+tc.extra
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
	e.clients, e.extra = good, goodExtra
	if err := reload(t, e); err != nil {
		t.Fatalf("reloading the good config: %v", err)
	}
	r := newRP(t, e.issuer, "jwt-app", "jwt-secret", oauth2.AuthStyleInHeader)
	params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
	if _, err := r.config.Exchange(ctx(t), params.Get("code")); err != nil {
		t.Fatalf("after refused configs: %v", err)
	}
}
