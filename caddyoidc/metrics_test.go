package caddyoidc_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// scrape reads the admin endpoint's /metrics and returns every sample of the
// provider's metrics for e's issuer, by name and labels without the
// issuer, e.g. `caddy_oidc_sign_ins_total{method="password",result="failure"}`.
func (e *env) scrape() map[string]float64 {
	e.t.Helper()
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		e.t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	issuerLabel := fmt.Sprintf("issuer=%q", e.issuer)
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "caddy_oidc_") || !strings.Contains(line, issuerLabel) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			e.t.Fatalf("metric line %q: %v", line, err)
		}
		key := line[:i]
		key = strings.Replace(key, issuerLabel+",", "", 1)
		key = strings.Replace(key, ","+issuerLabel, "", 1)
		key = strings.Replace(key, "{"+issuerLabel+"}", "", 1)
		out[key] = v
	}
	return out
}

// The provider's metrics are served with Caddy's, count real flows with
// bounded labels, and survive a reload.
func TestMetrics(t *testing.T) {
	e := newEnv(t, adminClients)
	e.admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.start()
	r := newRP(t, e.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	// The collectors live as long as the process and their series are
	// keyed by issuer: an earlier test whose issuer had the same port left
	// its counts in them. So counters and histograms are compared by how
	// much they grew from here.
	base := e.scrape()

	// A failed sign-in, then a successful one and a token.
	b := newBrowser(t, e.issuer)
	p := b.login(b.get(r.config.AuthCodeURL(randString(t))), "alice", "not the password")
	tok, err := r.config.Exchange(ctx(t), callbackParams(t, b.consent(b.login(p, "alice", testPassword), "allow"), rpCallback).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	// A token error: the code again.
	if status, body := postToken(t, e.issuer, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"not-a-token"}}, "basic-app", "s3cret-basic"); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("bad refresh token: %d %v", status, body)
	}
	// A refresh.
	if _, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatal(err)
	}
	// An authorization error for a client that does not exist.
	b.get(e.issuer + "/api/oidc/authorization?client_id=who-knows&response_type=code&scope=openid&redirect_uri=" + url.QueryEscape(rpCallback))
	// Bob is banned after three failures; the fourth attempt is refused.
	bob := newBrowser(t, e.issuer)
	p = bob.get(r.config.AuthCodeURL(randString(t)))
	for range 4 {
		p = bob.login(p, "bob", "wrong")
	}

	want := map[string]float64{
		`caddy_oidc_sign_ins_total{method="password",result="failure"}`:                      4, // alice once, bob three times
		`caddy_oidc_sign_ins_total{method="password",result="success"}`:                      1,
		`caddy_oidc_regulation_bans_total`:                                                   1,
		`caddy_oidc_authorization_requests_total{client="basic-app",outcome="ok"}`:           1,
		`caddy_oidc_authorization_requests_total{client="unknown",outcome="invalid_client"}`: 1,
		`caddy_oidc_tokens_issued_total{client="basic-app",grant_type="authorization_code"}`: 1,
		`caddy_oidc_tokens_issued_total{client="basic-app",grant_type="refresh_token"}`:      1,
		`caddy_oidc_token_errors_total{client="basic-app",error="invalid_grant"}`:            1,
		`caddy_oidc_digest_verification_seconds_count{kind="user_password"}`:                 6,
		`caddy_oidc_login_sessions_active`:                                                   1,
	}
	check := func(when string) {
		t.Helper()
		got := e.scrape()
		for k, v := range want {
			grew := got[k]
			if k != `caddy_oidc_login_sessions_active` { // a gauge, counted in this test's database
				grew -= base[k]
			}
			if grew != v {
				t.Errorf("%s: %s grew by %v (from %v), want %v", when, k, grew, base[k], v)
			}
		}
		for k := range got {
			if strings.Contains(k, "alice") || strings.Contains(k, "bob") || strings.Contains(k, "127.0.0.1") || strings.Contains(k, "who-knows") {
				t.Errorf("%s: unbounded label in %s", when, k)
			}
		}
	}
	check("after the flows")
	if err := e.load(); err != nil { // a reload: counts carry on, nothing is registered twice
		t.Fatal(err)
	}
	e.waitReady()
	check("after a reload")
}
