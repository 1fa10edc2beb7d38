package caddyoidc_test

import (
	"strings"
	"testing"
)

// TestLoadWarnings: a client with the refresh_token grant but without the
// offline_access scope never gets a refresh token; Caddy says so in its log
// when it loads the config (issue 13).
func TestLoadWarnings(t *testing.T) {
	e := newEnv(t, `
		client no-offline {
			client_secret s3cret
			redirect_uris https://app.example.com/cb
			grant_types authorization_code refresh_token
			scopes openid profile
		}
		client with-offline {
			client_secret s3cret
			redirect_uris https://app.example.com/cb
			grant_types authorization_code refresh_token
			scopes openid profile offline_access
		}`)
	e.start()
	log := e.logText()
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "lacks offline_access") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `"client_id":"no-offline"`) || !strings.Contains(lines[0], `"level":"warn"`) {
		t.Errorf("warnings about offline_access: %q\nlog:\n%s", lines, log)
	}
}
