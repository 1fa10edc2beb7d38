package caddyoidc_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// audienceClients: the same registered audience under Authelia's two
// requested_audience_mode values, one with a claims policy merging the
// access token audience into the ID token's.
const audienceClients = `
		claims_policy merged {
			id_token_audience_mode experimental-merged
		}
		client implicit-aud {
			client_secret "implicit-secret"
			redirect_uris ` + rpCallback + `
			audience https://api.example.com https://files.example.com
			grant_types authorization_code client_credentials
			requested_audience_mode implicit
			access_token_signed_response_alg RS256
			claims_policy merged
			consent_mode implicit
		}
		client explicit-aud {
			client_secret "explicit-secret"
			redirect_uris ` + rpCallback + `
			audience https://api.example.com
			grant_types authorization_code client_credentials
			access_token_signed_response_alg RS256
			consent_mode implicit
		}`

// TestAudienceModes: requested_audience_mode implicit grants every
// registered audience to a request naming none (code and client
// credentials grants); explicit (the default) grants only those named;
// id_token_audience_mode experimental-merged adds them to the ID token's aud.
func TestAudienceModes(t *testing.T) {
	e := newEnv(t, audienceClients)
	e.start()
	auds := func(v any) []string {
		var out []string
		switch v := v.(type) {
		case string:
			out = []string{v}
		case []any:
			for _, a := range v {
				out = append(out, fmt.Sprint(a))
			}
		}
		return out
	}
	codeFlow := func(client, secret string, params ...oauth2.AuthCodeOption) (idAud, atAud []string) {
		t.Helper()
		r := newRP(t, e.issuer, client, secret, oauth2.AuthStyleInHeader)
		r.config.Scopes = []string{oidc.ScopeOpenID}
		b := newBrowser(t, e.issuer)
		q := callbackParams(t, b.login(b.get(r.config.AuthCodeURL(randString(t), params...)), "alice", testPassword), rpCallback)
		tok, err := r.config.Exchange(ctx(t), q.Get("code"))
		if err != nil {
			t.Fatalf("%s: %v", client, err)
		}
		if _, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok)); err != nil {
			t.Fatalf("%s: go-oidc refuses the ID token: %v", client, err)
		}
		return auds(jwtClaims(t, rawIDToken(t, tok))["aud"]), auds(jwtClaims(t, tok.AccessToken)["aud"])
	}

	idAud, atAud := codeFlow("implicit-aud", "implicit-secret")
	if !slices.Contains(atAud, "https://api.example.com") || !slices.Contains(atAud, "https://files.example.com") {
		t.Errorf("implicit mode: access token aud %v lacks the registered audiences", atAud)
	}
	if fmt.Sprint(idAud) != "[implicit-aud https://api.example.com https://files.example.com]" {
		t.Errorf("experimental-merged: ID token aud %v", idAud)
	}
	// Naming one audience: only that one, in both modes.
	_, atAud = codeFlow("implicit-aud", "implicit-secret", oauth2.SetAuthURLParam("audience", "https://files.example.com"))
	if slices.Contains(atAud, "https://api.example.com") || !slices.Contains(atAud, "https://files.example.com") {
		t.Errorf("implicit mode with an audience named: access token aud %v", atAud)
	}
	idAud, atAud = codeFlow("explicit-aud", "explicit-secret")
	if slices.Contains(atAud, "https://api.example.com") || fmt.Sprint(idAud) != "[explicit-aud]" {
		t.Errorf("explicit mode without audience: access token aud %v, ID token aud %v", atAud, idAud)
	}
	_, atAud = codeFlow("explicit-aud", "explicit-secret", oauth2.SetAuthURLParam("audience", "https://api.example.com"))
	if !slices.Contains(atAud, "https://api.example.com") {
		t.Errorf("explicit mode with the audience named: access token aud %v", atAud)
	}

	// client_credentials.
	for client, want := range map[string]bool{"implicit-aud": true, "explicit-aud": false} {
		status, body := postToken(t, e.issuer, url.Values{"grant_type": {"client_credentials"}}, client, map[string]string{"implicit-aud": "implicit-secret", "explicit-aud": "explicit-secret"}[client])
		if status != 200 {
			t.Fatalf("%s client_credentials: %d %v", client, status, body)
		}
		if got := slices.Contains(auds(jwtClaims(t, as[string](t, body["access_token"]))["aud"]), "https://api.example.com"); got != want {
			t.Errorf("%s client_credentials: api audience granted %v, want %v", client, got, want)
		}
	}

	// Bad values fail the load, naming the option.
	for _, tc := range []struct{ clients, extra, want string }{
		{"\n\t\tclient x {\n\t\t\tclient_secret s\n\t\t\tredirect_uris " + rpCallback + "\n\t\t\trequested_audience_mode everything\n\t\t}", "", `requested_audience_mode: "everything"`},
		{"", "claims_policy p {\n\t\t\tid_token_audience_mode merged\n\t\t}", `id_token_audience_mode: "merged"`},
	} {
		e.clients, e.extra = tc.clients, tc.extra
		if err := e.load(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("load: %v, want %q", err, tc.want)
		}
	}
}
