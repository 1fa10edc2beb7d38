package clients

import (
	"strings"
	"testing"
)

func TestValidatePostLogoutRedirectURIs(t *testing.T) {
	for uri, ok := range map[string]bool{
		"https://app.example/bye":        true,
		"http://127.0.0.1:8080/bye?x=1":  true,
		"app.immich:///logout":           true,
		"https://app.example/bye#frag":   false,
		"/relative":                      false,
		"https:///nohost":                false,
		"urn:ietf:wg:oauth:2.0:oob":      false,
		"https://app.example/%zz-broken": false,
	} {
		if err := validatePostLogoutRedirectURIs([]string{uri}); (err == nil) != ok {
			t.Errorf("%q: err = %v", uri, err)
		}
	}
	if _, err := newBase(Config{ID: "x", Secret: "s", RedirectURIs: []string{"https://x/cb"}, PostLogoutRedirectURIs: []string{"nope"}}, []string{"RS256"}); err == nil || !strings.Contains(err.Error(), "post_logout_redirect_uris") {
		t.Errorf("newBase: %v", err)
	}
}
