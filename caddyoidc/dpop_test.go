package caddyoidc_test

import (
	"slices"
	"strings"
	"testing"
)

// dpopClients are a public app that must use DPoP and may ask for the API
// as a resource, and the API as a confidential client whose client_id is
// its URI, so that it may introspect tokens issued for it.
const dpopClients = `
		client dpop-spa {
			client_name "DPoP SPA"
			public true
			redirect_uris https://spa.example.com/cb
			scopes openid profile email offline_access
			audience https://api.example.com/
			access_token_signed_response_alg RS256
			token_endpoint_auth_method none
			dpop_bound_access_tokens true
		}
		client https://api.example.com/ {
			client_secret {env.API_SECRET}
			redirect_uris https://api.example.com/cb
		}`

// TestDPoPOpenIDClientV6 runs openid-client v6 with DPoP and a resource
// indicator against a real Caddy that requires server nonces: every
// request of the library carries a proof and answers use_dpop_nonce, the
// tokens are bound to its key and audience-restricted to the resource.
func TestDPoPOpenIDClientV6(t *testing.T) {
	const secret = "api-secret"
	const resource = "https://api.example.com/"
	t.Setenv("API_SECRET", secret)
	e := newEnv(t, dpopClients)
	e.extra = "\t\tdpop_nonce_required true"
	e.start()
	env := flowEnv(e, "dpop-spa", "", "https://spa.example.com/cb")
	env["RESOURCE"], env["RS_SECRET"] = resource, secret
	delete(env, "CLIENT_SECRET")
	out := script(t, "dpop-rp.mjs", env)

	jkt := str(out, "jkt")
	if jkt == "" || !slices.Contains(strs(out, "dpop_algs"), "ES256") {
		t.Fatalf("no thumbprint or ES256 not in dpop_signing_alg_values_supported: %v", out)
	}
	if tt := str(out, "token_type"); tt != "dpop" && tt != "DPoP" {
		t.Errorf("token_type %q, want DPoP", tt)
	}
	for _, k := range []string{"access_token_claims", "refreshed_claims"} {
		if got := str(out, k, "cnf", "jkt"); got != jkt {
			t.Errorf("%s cnf.jkt %q, want %q", k, got, jkt)
		}
		if !slices.Contains(strs(out, k, "aud"), resource) {
			t.Errorf("%s aud %v, want it to contain %s", k, dig(out, k, "aud"), resource)
		}
	}
	if dig(out, "id_token_claims", "cnf") != nil || dig(out, "id_token_claims", "_dpop_jkt") != nil {
		t.Errorf("the ID token carries the DPoP binding: %v", out["id_token_claims"])
	}
	if str(out, "userinfo_sub") != str(out, "id_token_claims", "sub") {
		t.Errorf("userinfo with DPoP: sub %q", str(out, "userinfo_sub"))
	}
	if got := str(out, "bearer_error"); got != "invalid_token" {
		t.Errorf("the bound access token as a bearer token: %q, want invalid_token", got)
	}
	if got := str(out, "other_key_error"); got != "invalid_dpop_proof" {
		t.Errorf("the bound refresh token with another key: %q, want invalid_dpop_proof", got)
	}
	// The library met the nonce requirement by retrying (the code survived
	// the first, refused exchange).
	if !strings.Contains(e.logText(), "use_dpop_nonce") {
		t.Error("the provider never asked for a DPoP nonce")
	}
	if dig(out, "introspection", "active") != true || str(out, "introspection", "cnf", "jkt") != jkt || str(out, "introspection", "token_type") != "DPoP" {
		t.Errorf("introspection by the resource server: %v", out["introspection"])
	}
}
