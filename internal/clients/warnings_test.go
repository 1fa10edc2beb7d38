package clients

import (
	"slices"
	"strings"
	"testing"
)

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // substrings, one per warning, in order
	}{
		{"defaults", Config{}, nil},
		{"refresh without offline_access", Config{GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid"}}, []string{"add offline_access to scopes"}},
		{"refresh with offline_access", Config{GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "offline_access"}}, nil},
		{"offline_access without refresh", Config{GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid", "offline_access"}}, []string{"add refresh_token to grant_types"}},
		{"unquoted hybrid", Config{ResponseTypes: []string{"code", "id_token", "token"}}, []string{`"code id_token token"`}},
		{"quoted hybrid", Config{ResponseTypes: []string{"code id_token token"}}, nil},
		{"hybrid and code", Config{ResponseTypes: []string{"code id_token", "code"}}, nil},
		{"one type", Config{ResponseTypes: []string{"code"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Warnings(tc.cfg)
			if len(got) != len(tc.want) {
				t.Fatalf("Warnings = %q, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not mention %q", got[i], w)
				}
			}
		})
	}
}

// A client acting only for itself needs no openid scope and gets no
// default scopes; one acting for users still needs openid.
func TestClientCredentialsScopes(t *testing.T) {
	algs := []string{"RS256"}
	c, err := newBase(Config{ID: "svc", Secret: "s3cret", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"read"}}, algs)
	if err != nil {
		t.Fatalf("client_credentials without openid: %v", err)
	}
	if !slices.Equal(c.scopes, []string{"read"}) {
		t.Errorf("scopes = %q", c.scopes)
	}
	c, err = newBase(Config{ID: "svc", Secret: "s3cret", GrantTypes: []string{GrantClientCredentials}}, algs)
	if err != nil || len(c.scopes) != 0 {
		t.Errorf("client_credentials without scopes: scopes %q, err %v; want none", c.scopes, err)
	}
	for _, grants := range [][]string{{GrantClientCredentials, GrantAuthorizationCode}, {GrantPassword}, nil} {
		_, err := newBase(Config{ID: "app", Secret: "s3cret", RedirectURIs: []string{"https://app/cb"}, GrantTypes: grants, Scopes: []string{"read"}}, algs)
		if err == nil || !strings.Contains(err.Error(), "openid") {
			t.Errorf("grant types %q without openid: err = %v, want one about openid", grants, err)
		}
	}
}
