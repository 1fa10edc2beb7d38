package caddyoidc_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

func TestUnmarshalTokenOptions(t *testing.T) {
	d := caddyfile.NewTestDispenser(`oidc_provider https://auth.example.com {
		users_file /etc/caddy/users.yml
		lifespan short {
			access_token 5m
			authorize_code 30s
			id_token 10m
			refresh_token 1h
			grant client_credentials {
				access_token 30s
			}
			grants refresh_token {
				refresh_token 2h
				id_token 1m
			}
		}
		claims_policy hr {
			id_token name employee_id
			access_token email
			custom_claim employee_id
			custom_claims dept department
		}
		claims_policies bare {
			id_token
		}
		scope hr_info {
			claims employee_id dept
			claims locale
		}
		client app {
			client_secret x
			redirect_uris https://app.example.com/cb
			access_token_signed_response_alg RS256
			userinfo_signing_algorithm ES256
			sector_identifier example.com
			sector_identifier_uri https://example.com/sector.json
			lifespan short
			claims_policy hr
		}
	}`)
	var h caddyoidc.Handler
	if err := h.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	if got, want := h.Lifespans["short"], (caddyoidc.Lifespan{
		AccessToken: caddy.Duration(5 * time.Minute), AuthorizeCode: caddy.Duration(30 * time.Second),
		IDToken: caddy.Duration(10 * time.Minute), RefreshToken: caddy.Duration(time.Hour),
		Grants: map[string]caddyoidc.Lifespan{
			"client_credentials": {AccessToken: caddy.Duration(30 * time.Second)},
			"refresh_token":      {RefreshToken: caddy.Duration(2 * time.Hour), IDToken: caddy.Duration(time.Minute)},
		},
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("lifespan = %+v, want %+v", got, want)
	}
	js, _ := json.Marshal(map[string]any{"claims_policies": h.ClaimsPolicies, "scopes": h.Scopes})
	want := `{"claims_policies":{"bare":{"id_token":[]},"hr":{"id_token":["name","employee_id"],"access_token":["email"],"custom_claims":{"dept":{"attribute":"department"},"employee_id":{}}}},"scopes":{"hr_info":{"claims":["employee_id","dept","locale"]}}}`
	if string(js) != want {
		t.Errorf("claims_policies and scopes:\n got %s\nwant %s", js, want)
	}
	c := h.Clients[0]
	if c.AccessTokenSignedResponseAlg != "RS256" || c.UserinfoSignedResponseAlg != "ES256" || c.SectorIdentifier != "example.com" ||
		c.SectorIdentifierURI != "https://example.com/sector.json" || c.Lifespan != "short" || c.ClaimsPolicy != "hr" {
		t.Errorf("client options: %+v", c)
	}

	for _, tc := range []struct{ input, want string }{
		{"lifespan {\n}", "the name is required"},
		{"lifespan a {\nbogus 1m\n}", `lifespan "a": unrecognized option "bogus"`},
		{"lifespan a {\n}\nlifespan a {\n}", `lifespan "a": defined twice`},
		{"lifespan a {\ngrant {\n}\n}", `lifespan "a": grant: the grant name is required`},
		{"lifespan a {\ngrant implicit {\nscope 1m\n}\n}", `lifespan "a": grant "implicit": unrecognized option "scope"`},
		{"lifespan a {\ngrant implicit {\n}\ngrant implicit {\n}\n}", `lifespan "a": grant "implicit" defined twice`},
		{"claims_policy p {\ncustom_claim\n}", "wrong argument count"},
		{"claims_policy p {\nuserinfo email\n}", `claims_policy "p": unrecognized option "userinfo"`},
		{"scope s {\nclaims\n}", "wrong argument count"},
		{"scope s {\ndescription x\n}", `scope "s": unrecognized option "description"`},
	} {
		d := caddyfile.NewTestDispenser("oidc_provider https://auth.example.com {\n" + tc.input + "\n}")
		err := new(caddyoidc.Handler).UnmarshalCaddyfile(d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.input, err, tc.want)
		}
	}
}
