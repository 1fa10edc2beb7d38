package clients

import (
	"strings"
	"testing"
)

func TestSetLogout(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // "" = valid
	}{
		{"none", Config{}, ""},
		{"backchannel https", Config{BackchannelLogoutURI: "https://api.app.example/bc?x=1", BackchannelLogoutSessionRequired: true}, ""},
		{"backchannel http on a private network", Config{BackchannelLogoutURI: "http://immich:2283/logout"}, ""},
		{"backchannel custom scheme", Config{BackchannelLogoutURI: "app.immich:///logout"}, "backchannel_logout_uri"},
		{"backchannel relative", Config{BackchannelLogoutURI: "/logout"}, "backchannel_logout_uri"},
		{"backchannel fragment", Config{BackchannelLogoutURI: "https://app.example/bc#x"}, "fragment"},
		{"backchannel credentials", Config{BackchannelLogoutURI: "https://u:p@app.example/bc"}, "credentials"},
		{"session required without uri", Config{BackchannelLogoutSessionRequired: true}, "backchannel_logout_session_required"},
		{"frontchannel same origin as a redirect URI", Config{FrontchannelLogoutURI: "https://app.example/fc", FrontchannelLogoutSessionRequired: true}, ""},
		{"frontchannel other origin", Config{FrontchannelLogoutURI: "https://evil.example/fc"}, "redirect_uris"},
		{"frontchannel other port", Config{FrontchannelLogoutURI: "https://app.example:8443/fc"}, "redirect_uris"},
		{"frontchannel session required without uri", Config{FrontchannelLogoutSessionRequired: true}, "frontchannel_logout_session_required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{redirectURIs: []string{"https://app.example/cb", "app.immich:///oauth-callback"}}
			err := c.setLogout(tc.cfg)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.BackchannelLogoutURI() != tc.cfg.BackchannelLogoutURI || c.FrontchannelLogoutURI() != tc.cfg.FrontchannelLogoutURI ||
					c.WantsLogout() != (tc.cfg.BackchannelLogoutURI != "" || tc.cfg.FrontchannelLogoutURI != "") {
					t.Errorf("options not kept: %+v", c.logout)
				}
				if tc.cfg.FrontchannelLogoutURI != "" && c.FrontchannelLogoutOrigin() != "https://app.example" {
					t.Errorf("origin %q", c.FrontchannelLogoutOrigin())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want one naming %q", err, tc.err)
			}
		})
	}
}
