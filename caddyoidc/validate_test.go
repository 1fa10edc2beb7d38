package caddyoidc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	users := json.RawMessage(`{"backend":"file","path":"/nonexistent"}`)
	ok := Handler{Issuer: "https://a", UsersRaw: users}
	for _, tc := range []struct {
		name string
		edit func(h *Handler)
		want string // "" = valid
	}{
		{"minimal", func(*Handler) {}, ""},
		{"no issuer", func(h *Handler) { h.Issuer = "" }, "issuer: required"},
		{"no users", func(h *Handler) { h.UsersRaw = nil }, "users: required"},
		{"users loaded (as Caddy validates after Provision)", func(h *Handler) { h.UsersRaw = nil; h.users = &FileUsers{} }, ""},
		{"both key forms", func(h *Handler) { h.IssuerPrivateKey = "k"; h.JWKS = []JWK{{Key: "k"}} },
			"issuer_private_key: set either jwks or its older form issuer_private_key, not both"},
		{"bad policy level", func(h *Handler) {
			h.AuthorizationPolicies = map[string]AuthorizationPolicy{"p": {DefaultPolicy: "three_factor"}}
		}, `authorization_policies: "p": default_policy`},
		{"bad rule subject", func(h *Handler) {
			h.AuthorizationPolicies = map[string]AuthorizationPolicy{"p": {DefaultPolicy: "deny", Rules: []PolicyRule{{Policy: "one_factor", Subject: Subjects{{"team:x"}}}}}}
		}, `authorization_policies: "p": rules[0]`},
		{"client id twice", func(h *Handler) { h.Clients = []Client{{ClientID: "a", ID: "b"}} },
			`client "a": client_id: set either client_id or its older name id, not both`},
		{"client secret twice", func(h *Handler) { h.Clients = []Client{{ClientID: "a", ClientSecret: "s", Secret: "t"}} },
			`client "a": client_secret: set either client_secret or its older name secret`},
		{"userinfo alg twice, unnamed client", func(h *Handler) {
			h.Clients = []Client{{ClientID: "a"}, {UserinfoSignedResponseAlg: "RS256", UserinfoSigningAlgorithm: "ES256"}}
		}, `clients[1]: userinfo_signed_response_alg: set either`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := ok
			tc.edit(&h)
			err := h.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}
