package caddyoidc_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// writeProfileUsers writes a users file whose alice has every extended
// attribute of Authelia's users file; bob has none.
func writeProfileUsers(e *env) time.Time {
	e.t.Helper()
	users := fmt.Sprintf(`users:
  alice:
    displayname: "Alice Example"
    password: %[1]q
    email: alice@example.com
    groups: [users]
    given_name: Alice
    middle_name: Q
    family_name: Example
    nickname: ali
    profile: https://example.com/alice
    picture: https://example.com/alice.png
    website: https://alice.example.com
    gender: female
    birthdate: "1990-04-01"
    zoneinfo: Europe/Zurich
    locale: fr-CH
    phone_number: "+41 44 555 01 00"
    phone_extension: "12"
    address:
      street_address: Bahnhofstrasse 1
      locality: Zürich
      postal_code: "8001"
      country: Switzerland
  bob:
    displayname: "Bob Example"
    password: %[1]q
    email: bob@example.com
`, passwordDigest(e.t))
	path := filepath.Join(e.dir, "users.yml")
	if err := os.WriteFile(path, []byte(users), 0o600); err != nil {
		e.t.Fatal(err)
	}
	mtime := time.Now().Add(2 * time.Second).Truncate(time.Second)
	_ = os.Chtimes(path, mtime, mtime)
	return mtime
}

const profileClients = `
		claims_policy bare {
			id_token
		}
		client std-app {
			client_secret "std-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email phone address
		}
		client bare-app {
			client_secret "bare-secret"
			redirect_uris ` + rpCallback + `
			scopes openid profile email phone address offline_access
			claims_policy bare
		}`

// TestStandardScopeClaims: profile, phone and address release the users
// file's extended attributes (as Authelia does), with updated_at; the ID
// token has no rat claim.
func TestStandardScopeClaims(t *testing.T) {
	e := newEnv(t, profileClients)
	mtime := writeProfileUsers(e)
	e.start()

	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if meta["claims_parameter_supported"] != true {
		t.Errorf("claims_parameter_supported = %v", meta["claims_parameter_supported"])
	}
	for k, want := range map[string][]string{
		"scopes_supported": {"phone", "address"},
		"claims_supported": {"given_name", "phone_number", "phone_number_verified", "address", "updated_at", "acr", "birthdate"},
	} {
		list, _ := meta[k].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				t.Errorf("discovery %s = %v lacks %s", k, list, w)
			}
		}
	}

	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	profile := map[string]string{
		"name": `"Alice Example"`, "preferred_username": `"alice"`, "given_name": `"Alice"`, "middle_name": `"Q"`,
		"family_name": `"Example"`, "nickname": `"ali"`, "profile": `"https://example.com/alice"`,
		"picture": `"https://example.com/alice.png"`, "website": `"https://alice.example.com"`, "gender": `"female"`,
		"birthdate": `"1990-04-01"`, "zoneinfo": `"Europe/Zurich"`, "locale": `"fr-CH"`,
		"updated_at": fmt.Sprint(mtime.Unix()),
	}
	phone := map[string]string{"phone_number": `"+41 44 555 01 00;ext=12"`, "phone_number_verified": "false"}
	address := map[string]string{"address": `{"country":"Switzerland","locality":"Zürich","postal_code":"8001","street_address":"Bahnhofstrasse 1"}`}
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	allUser := merge(profile, phone, address, map[string]string{"email": `"alice@example.com"`, "email_verified": "true"})
	check := func(what string, got map[string]any, want map[string]string) {
		t.Helper()
		for k := range allUser {
			w, wanted := want[k]
			v, ok := got[k]
			switch {
			case wanted && (!ok || js(v) != w):
				t.Errorf("%s: %s = %s, want %s", what, k, js(v), w)
			case !wanted && ok:
				t.Errorf("%s: %s = %s, want none", what, k, js(v))
			}
		}
	}
	for _, tc := range []struct {
		scopes []string
		want   map[string]string
	}{
		{[]string{oidc.ScopeOpenID, "profile"}, profile},
		{[]string{oidc.ScopeOpenID, "phone"}, phone},
		{[]string{oidc.ScopeOpenID, "address"}, address},
		{[]string{oidc.ScopeOpenID, "profile", "email", "phone", "address"}, allUser},
		{[]string{oidc.ScopeOpenID}, nil},
	} {
		idt, ui, _ := claimsOf(t, e, "std-app", "std-secret", "alice", tc.scopes...)
		check(fmt.Sprintf("ID token %v", tc.scopes), idt, tc.want)
		check(fmt.Sprintf("userinfo %v", tc.scopes), ui, tc.want)
		if _, ok := idt["rat"]; ok {
			t.Errorf("ID token has a rat claim: %v", idt["rat"])
		}
	}
	// bob has none of the attributes: only what exists.
	_, ui, _ := claimsOf(t, e, "std-app", "std-secret", "bob", oidc.ScopeOpenID, "profile", "phone", "address")
	check("bob's userinfo", ui, map[string]string{"name": `"Bob Example"`, "preferred_username": `"bob"`, "updated_at": fmt.Sprint(mtime.Unix())})
}

// TestClaimsParameter: the claims request parameter, with Go's oauth2 and
// go-oidc: essential claims in the ID token despite a claims policy
// without ID token claims, value restrictions, a malformed parameter,
// and essential acr values (step-up, or access_denied when impossible).
func TestClaimsParameter(t *testing.T) {
	e := newEnv(t, profileClients+`
		client tf-claims-app {
			client_secret "tf-secret"
			redirect_uris `+rpCallback+`
			scopes openid profile email
		}`)
	writeProfileUsers(e)
	e.start()

	exchange := func(r *rp, params map[string]string) (*oauth2.Token, map[string]any) {
		t.Helper()
		var opts []oauth2.AuthCodeOption
		for k, v := range params {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
		q := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t), opts...), "alice")
		tok, err := r.config.Exchange(ctx(t), q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok))
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		return tok, c
	}

	// bare-app's claims policy puts no user claims in ID tokens; the
	// claims parameter does. email is essential: its scope joins the
	// request. locale asks for a value alice does not have.
	r := newRP(t, e.issuer, "bare-app", "bare-secret", oauth2.AuthStyleInHeader)
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile"}
	tok, idt := exchange(r, map[string]string{"claims": `{"id_token":{"email":{"essential":true},"nickname":null,"locale":{"value":"de-DE"},"phone_number":null}}`})
	if idt["email"] != "alice@example.com" || idt["nickname"] != "ali" {
		t.Errorf("requested claims missing from the ID token: %v", idt)
	}
	for _, k := range []string{"locale", "phone_number", "given_name", "rat"} {
		if v, ok := idt[k]; ok {
			t.Errorf("ID token has %s = %v, not asked for (or not matching, or phone not granted)", k, v)
		}
	}
	if scope, _ := tok.Extra("scope").(string); !slices.Contains(strings.Fields(scope), "email") || slices.Contains(strings.Fields(scope), "phone") {
		t.Errorf("granted scope %q: want email (essential claim) and not phone (voluntary)", scope)
	}
	// values: one of them matches.
	_, idt = exchange(r, map[string]string{"claims": `{"id_token":{"locale":{"values":["de-DE","fr-CH"]}}}`})
	if idt["locale"] != "fr-CH" {
		t.Errorf("locale with matching values: %v", idt)
	}
	// A refreshed ID token keeps the claims the parameter asked for.
	r.config.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
	tok, _ = exchange(r, map[string]string{"claims": `{"id_token":{"nickname":null}}`})
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := r.config.TokenSource(ctx(t), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	if c := jwtClaims(t, rawIDToken(t, fresh)); c["nickname"] != "ali" || c["name"] != nil {
		t.Errorf("refreshed ID token: %v, want nickname only", c)
	}
	// Malformed parameter: invalid_request back to the client.
	p := newBrowser(t, e.issuer).get(r.config.AuthCodeURL("st-malformed", oauth2.SetAuthURLParam("claims", `{"id_token":`)))
	if q := callbackParams(t, p, rpCallback); q.Get("error") != "invalid_request" || q.Get("state") != "st-malformed" || q.Get("iss") != e.issuer {
		t.Errorf("malformed claims: %v", q)
	}

	// sub with a value: only that user. alice signed in, asked for as
	// herself: a code without a new sign-in; asked for as someone else:
	// the login page, and access_denied if alice signs in again. (The
	// client asks for consent every time.)
	sub, _ := idt["sub"].(string)
	b := newBrowser(t, e.issuer)
	loginFlow(t, b, r.config.AuthCodeURL(randString(t)), "alice")
	withSub := func(state, sub string) string {
		return r.config.AuthCodeURL(state, oauth2.SetAuthURLParam("claims", `{"id_token":{"sub":{"value":"`+sub+`"}}}`))
	}
	if q := callbackParams(t, b.consent(b.get(withSub(randString(t), sub)), "allow"), rpCallback); q.Get("code") == "" {
		t.Errorf("sub of the signed-in user: %v", q)
	}
	p = b.get(withSub("st-other-sub", "someone-else"))
	if !strings.Contains(p.body, `name="password"`) {
		t.Fatalf("sub of another user: want the login page, got %d %q", p.status, p.location)
	}
	if q := callbackParams(t, b.login(p, "alice", testPassword), rpCallback); q.Get("error") != "access_denied" || q.Get("state") != "st-other-sub" {
		t.Errorf("sub of another user after signing in: %v", q)
	}

	// Essential acr "2": the user signs in with a password and is then
	// asked for a second factor (enrolment, as alice has none).
	tf := newRP(t, e.issuer, "tf-claims-app", "tf-secret", oauth2.AuthStyleInHeader)
	tf.config.Scopes = []string{oidc.ScopeOpenID}
	b = newBrowser(t, e.issuer)
	p = b.login(b.get(tf.config.AuthCodeURL(randString(t), oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["2"]}}}`))), "alice", testPassword)
	if p.status != http.StatusOK || !secretRE.MatchString(p.body) {
		t.Errorf("essential acr 2: want the second-factor enrolment page, got %d %q: %.300s", p.status, p.location, p.body)
	}
	// acr "1" or voluntary: a password is enough.
	q := loginFlow(t, newBrowser(t, e.issuer), tf.config.AuthCodeURL(randString(t), oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["1","2"]}}}`)), "alice")
	if q.Get("code") == "" {
		t.Errorf("essential acr 1 or 2: %v", q)
	}
	// Values the provider never issues: access_denied, with state and iss.
	b = newBrowser(t, e.issuer)
	p = b.login(b.get(tf.config.AuthCodeURL("st-acr-unmet", oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"value":"urn:example:loa:4"}}}`))), "alice", testPassword)
	if q := callbackParams(t, p, rpCallback); q.Get("error") != "access_denied" || q.Get("state") != "st-acr-unmet" || q.Get("iss") != e.issuer {
		t.Errorf("unmeetable acr: %v", q)
	}
}

// TestOpenIDClientClaimsParameter: openid-client v6 sends the claims
// parameter and validates the ID token and userinfo (claims-rp.mjs).
func TestOpenIDClientClaimsParameter(t *testing.T) {
	e := newEnv(t, profileClients)
	writeProfileUsers(e)
	e.start()
	out := script(t, "claims-rp.mjs", flowEnv(e, "bare-app", "bare-secret", rpCallback))
	if out["claims_parameter_supported"] != true {
		t.Errorf("claims_parameter_supported = %v", out["claims_parameter_supported"])
	}
	scope := strings.Fields(fmt.Sprint(out["scope"]))
	slices.Sort(scope)
	if got := strings.Join(scope, " "); got != "address email openid profile" {
		t.Errorf("granted scope %q: the essential claims' scopes, not phone", got)
	}
	idt, _ := out["id_token"].(map[string]any)
	if idt["email"] != "alice@example.com" || idt["given_name"] != "Alice" || idt["acr"] != "1" {
		t.Errorf("ID token lacks the essential claims: %v", idt)
	}
	for _, k := range []string{"locale", "phone_number", "address", "family_name", "rat"} {
		if v, ok := idt[k]; ok {
			t.Errorf("ID token has %s = %v", k, v)
		}
	}
	ui, _ := out["userinfo"].(map[string]any)
	addr, _ := ui["address"].(map[string]any)
	if addr["locality"] != "Zürich" || ui["locale"] != "fr-CH" || ui["email"] != "alice@example.com" {
		t.Errorf("userinfo: %v", ui)
	}
	if _, ok := ui["phone_number"]; ok {
		t.Errorf("userinfo has phone_number without the phone scope: %v", ui)
	}
}
