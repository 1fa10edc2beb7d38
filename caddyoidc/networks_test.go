package caddyoidc_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// forwardedFor sends every request with an X-Forwarded-For header, as a
// reverse proxy in front of Caddy would.
type forwardedFor struct {
	ip   string
	next http.RoundTripper
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.ip)
	return f.next.RoundTrip(r)
}

const networkClients = `
		authorization_policy lan {
			default_policy deny
			rule deny group:bob-group networks 10.9.0.0/16
			rule one_factor networks 10.0.0.0/8 2001:db8::/32
		}
		client lan-app {
			client_name "LAN app"
			client_secret lan-secret
			redirect_uris ` + rpCallback + `
			authorization_policy lan
			consent_mode implicit
		}`

// TestPolicyNetworks: rules by client network match Caddy's client IP,
// which honours X-Forwarded-For only from the server's trusted proxies.
func TestPolicyNetworks(t *testing.T) {
	run := func(t *testing.T, trusted bool, cases []struct {
		user, ip string
		allowed  bool
	}) {
		e := newEnv(t, networkClients)
		if trusted {
			e.global = "\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32 ::1/128\n\t}"
		}
		e.start()
		r := newRP(t, e.issuer, "lan-app", "lan-secret", oauth2.AuthStyleInHeader)
		r.config.Scopes = []string{"openid"}
		for _, tc := range cases {
			b := newBrowser(t, e.issuer)
			b.client.Transport = forwardedFor{ip: tc.ip, next: http.DefaultTransport}
			p := b.login(b.get(r.config.AuthCodeURL(randString(t))), tc.user, testPassword)
			if tc.allowed {
				if q := callbackParams(t, p, rpCallback); q.Get("code") == "" {
					t.Errorf("%s from %s: no code: %v", tc.user, tc.ip, q)
				}
				continue
			}
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "access_denied") {
				t.Errorf("%s from %s: want the access-denied page, got %d %q: %.300s", tc.user, tc.ip, p.status, p.location, p.body)
			}
		}
	}
	t.Run("trusted proxy", func(t *testing.T) {
		run(t, true, []struct {
			user, ip string
			allowed  bool
		}{
			{"alice", "10.1.2.3", true},
			{"alice", "2001:db8::7", true},
			{"alice", "203.0.113.5", false}, // outside every network: default deny
			{"bob", "10.9.1.1", false},      // the first rule: bob from 10.9/16
			{"bob", "10.8.1.1", true},
		})
	})
	t.Run("untrusted forwarded header", func(t *testing.T) {
		// Without trusted_proxies the header is ignored: the client is
		// 127.0.0.1, in no network.
		run(t, false, []struct {
			user, ip string
			allowed  bool
		}{{"alice", "10.1.2.3", false}})
	})
}
