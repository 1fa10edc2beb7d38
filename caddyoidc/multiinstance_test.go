package caddyoidc_test

// Several Caddy instances on one database: every flow works whichever
// instance each request lands on, races between instances have exactly one
// winner, and failures (database down, kill -9, reload under load) lose
// nothing.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// clusterClients are the clients of the multi-instance tests: an app with
// remembered (implicit) consent, so that one sign-in yields many codes, and
// a machine client.
const clusterClients = `
		client basic-app {
			client_secret "s3cret-basic"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method client_secret_basic
			consent_mode implicit
		}
		client m2m {
			client_secret "s3cret-m2m"
			grant_types client_credentials
			scopes openid api:read
		}`

// tokenRequest posts a token request with basic authentication to base.
func tokenRequest(base string, form url.Values, user, pass string) (int, map[string]any, error) {
	return tokenRequestWith(http.DefaultClient, base, form, user, pass)
}

func tokenRequestWith(client *http.Client, base string, form url.Values, user, pass string) (int, map[string]any, error) {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer closeBody(resp)
	var body map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("status %d, not JSON: %.200s", resp.StatusCode, raw)
	}
	return resp.StatusCode, body, nil
}

// introspectActive asks base whether token, one of basic-app's, is active.
func introspectActive(t *testing.T, base, token string) bool {
	t.Helper()
	return introspectActiveAs(t, base, token, "basic-app", "s3cret-basic")
}

// introspectActiveAs asks base, as the client that holds token, whether
// the token is active.
func introspectActiveAs(t *testing.T, base, token, client, secret string) bool {
	t.Helper()
	form := url.Values{"token": {token}}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/oidc/introspection", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: %d %v", resp.StatusCode, err)
	}
	return body["active"] == true
}

// newCode signs b in if needed and returns a fresh authorization code.
func newCode(t *testing.T, b *browser, r *rp) string {
	t.Helper()
	p := b.get(r.config.AuthCodeURL(randString(t)))
	if strings.Contains(p.body, `name="password"`) {
		p = b.login(p, "alice", testPassword)
	}
	return callbackParams(t, p, rpCallback).Get("code")
}

// revokeOn revokes token, one of basic-app's, at base.
func revokeOn(t *testing.T, base, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/oidc/revocation", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("basic-app", "s3cret-basic")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("revocation at %s: %v", base, err)
	}
	closeBody(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revocation at %s: status %d", base, resp.StatusCode)
	}
}

// TestClusterFlows runs one user's whole life across two real Caddy
// processes sharing a PostgreSQL (then MariaDB) database and a Caddy
// storage directory: each step lands on the other instance.
func TestClusterFlows(t *testing.T) {
	for _, be := range sqlBackends {
		t.Run(be.name, func(t *testing.T) {
			c := newCluster(t, 2, clusterClients, "storage "+be.name+" "+be.create(t))
			c.on(0)
			r := newRP(t, c.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
			b := newBrowser(t, c.issuer)
			code := newCode(t, b, r) // signed in on A

			c.on(1)
			tok, err := r.config.Exchange(ctx(t), code)
			if err != nil {
				t.Fatalf("code from A exchanged on B: %v", err)
			}
			if _, err := r.verifier.Verify(ctx(t), rawIDToken(t, tok)); err != nil {
				t.Fatalf("ID token from B: %v", err)
			}

			c.on(0)
			if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("userinfo on A with B's token: %v", err)
			}

			// B keeps the access token of a code it exchanged until the
			// token's first use (PostgreSQL, accessrows.go); revoked on A
			// before that use, it must not be served by B: A's deletion
			// reaches B as a notice within milliseconds. The first use is
			// the test: a kept token is served once, then read from the
			// database like any other.
			code2 := newCode(t, b, r)
			c.on(1)
			kept, err := r.config.Exchange(ctx(t), code2)
			if err != nil {
				t.Fatalf("second code exchanged on B: %v", err)
			}
			c.on(0)
			revokeOn(t, c.issuer, kept.AccessToken, "access_token")
			time.Sleep(300 * time.Millisecond)
			c.on(1)
			if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(kept)); err == nil {
				t.Error("B serves an access token it exchanged, revoked on A")
			}

			c.on(1)
			fresh, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
			if err != nil {
				t.Fatalf("refresh on B: %v", err)
			}

			c.on(0)
			revokeOn(t, c.issuer, fresh.RefreshToken, "refresh_token")

			c.on(1)
			if _, err := r.config.TokenSource(ctx(t), &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
				t.Error("B accepts a refresh token revoked on A")
			}
			if introspectActive(t, c.nodes[1].url(), fresh.AccessToken) {
				t.Error("B still sees the access token of a grant revoked on A")
			}

			// Sign out on B (every device); A sees the session gone, at
			// once on MySQL, within a notice's delay on PostgreSQL, whose
			// instances keep the sessions they read (logincache.go).
			p := b.get(c.issuer + "/logout")
			if p := b.submit(p, url.Values{"all_devices": {"1"}}); !strings.Contains(p.body, "signed out") {
				t.Fatalf("logout on B: %d %.300s", p.status, p.body)
			}
			c.on(0)
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if p := b.get(r.config.AuthCodeURL(randString(t))); strings.Contains(p.body, `name="password"`) {
					break
				}
				if time.Now().After(deadline) {
					t.Error("A still honours a session signed out on B")
					break
				}
			}
		})
	}
}

// TestClusterRaces presents the same authorization code, and the same
// refresh token, to two instances at the same moment, many times: exactly
// one wins each time. A ban earned on one instance holds on the other.
func TestClusterRaces(t *testing.T) {
	const rounds = 12
	for _, be := range sqlBackends {
		t.Run(be.name, func(t *testing.T) {
			c := newCluster(t, 2, clusterClients, "storage "+be.name+" "+be.create(t))
			r := newRP(t, c.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
			b := newBrowser(t, c.issuer)

			t.Run("code", func(t *testing.T) {
				for round := range rounds {
					code := newCode(t, b, r)
					form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}}
					status := make([]int, 2)
					bodies := make([]map[string]any, 2)
					parallel(2, func(i int) {
						status[i], bodies[i], _ = tokenRequest(c.nodes[i].url(), form, "basic-app", "s3cret-basic")
					})
					wins := 0
					var winner map[string]any
					for i := range 2 {
						switch {
						case status[i] == http.StatusOK:
							wins++
							winner = bodies[i]
						case status[i] == http.StatusBadRequest && bodies[i]["error"] == "invalid_grant":
						default:
							t.Fatalf("round %d: node %d answered %d %v", round, i, status[i], bodies[i])
						}
					}
					if wins != 1 {
						t.Fatalf("round %d: %d instances redeemed the same code", round, wins)
					}
					// A replay revokes the whole grant, on every instance.
					if st, _, _ := tokenRequest(c.nodes[round%2].url(), form, "basic-app", "s3cret-basic"); st != http.StatusBadRequest {
						t.Fatalf("round %d: replay answered %d", round, st)
					}
					for _, nd := range c.nodes {
						if introspectActive(t, nd.url(), as[string](t, winner["access_token"])) {
							t.Fatalf("round %d: node %s: the access token survived a code replay", round, nd.name)
						}
					}
				}
			})

			t.Run("refresh", func(t *testing.T) {
				tok, err := r.config.Exchange(ctx(t), newCode(t, b, r))
				if err != nil {
					t.Fatal(err)
				}
				current := tok.RefreshToken
				for round := range rounds {
					form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}
					status := make([]int, 2)
					bodies := make([]map[string]any, 2)
					parallel(2, func(i int) {
						status[i], bodies[i], _ = tokenRequest(c.nodes[i].url(), form, "basic-app", "s3cret-basic")
					})
					wins := 0
					for i := range 2 {
						switch {
						case status[i] == http.StatusOK:
							wins++
							current = as[string](t, bodies[i]["refresh_token"])
						case status[i] == http.StatusBadRequest && bodies[i]["error"] == "invalid_grant":
						default:
							t.Fatalf("round %d: node %d answered %d %v", round, i, status[i], bodies[i])
						}
					}
					if wins != 1 {
						t.Fatalf("round %d: %d instances rotated the same refresh token", round, wins)
					}
					// The loser's use counts as reuse: the family is revoked,
					// the winner's new refresh token included.
					form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}
					if st, body, _ := tokenRequest(c.nodes[(round+1)%2].url(), form, "basic-app", "s3cret-basic"); st != http.StatusBadRequest || body["error"] != "invalid_grant" {
						t.Fatalf("round %d: the winner's refresh token survived a concurrent reuse: %d %v", round, st, body)
					}
					// Start a new family.
					tok, err := r.config.Exchange(ctx(t), newCode(t, b, r))
					if err != nil {
						t.Fatal(err)
					}
					current = tok.RefreshToken
				}
			})

			t.Run("ban", func(t *testing.T) {
				c.on(0)
				mallory := newBrowser(t, c.issuer)
				for range 3 {
					p := mallory.get(r.config.AuthCodeURL(randString(t)))
					mallory.login(p, "bob", "wrong password")
				}
				c.on(1)
				bob := newBrowser(t, c.issuer)
				p := bob.get(r.config.AuthCodeURL(randString(t)))
				if p = bob.login(p, "bob", testPassword); strings.Contains(p.location, "code=") {
					t.Error("B signed in a user banned on A")
				}
			})
		})
	}
}

// TestDatabaseOutage stops the database under a running instance: the
// endpoints answer 503 (temporarily_unavailable), discovery still works, and
// once the database is back the instance recovers by itself.
func TestDatabaseOutage(t *testing.T) {
	pg := newThrowawayPostgres(t)
	c := newCluster(t, 1, clusterClients, "storage postgres "+pg.dsn())
	r := newRP(t, c.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, c.issuer)
	tok, err := r.config.Exchange(ctx(t), newCode(t, b, r))
	if err != nil {
		t.Fatal(err)
	}

	pg.stop()
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
	status, body, err := tokenRequest(c.issuer, refresh, "basic-app", "s3cret-basic")
	if err != nil || status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("refresh with the database down: %d %v %v", status, body, err)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	if status, body, err := tokenRequest(c.issuer, cc, "m2m", "s3cret-m2m"); err != nil || status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("client_credentials with the database down (no token may be issued unstored): %d %v %v", status, body, err)
	}
	if p := b.get(r.config.AuthCodeURL(randString(t))); p.status != http.StatusServiceUnavailable || strings.Contains(p.body, "pq:") || strings.Contains(p.body, "dial") {
		t.Errorf("authorization with the database down: %d %.300s", p.status, p.body)
	}
	if p := b.get(c.issuer + "/.well-known/openid-configuration"); p.status != http.StatusOK {
		t.Errorf("discovery with the database down: %d", p.status)
	}

	pg.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, body, err = tokenRequest(c.issuer, refresh, "basic-app", "s3cret-basic")
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after the database came back: %d %v %v", status, body, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := r.provider.UserInfo(ctx(t), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: as[string](t, body["access_token"]), TokenType: "Bearer"})); err != nil {
		t.Errorf("userinfo after recovery: %v", err)
	}
	if strings.Contains(c.nodes[0].logText(), tok.RefreshToken) {
		t.Error("a refresh token reached the log")
	}
}

// TestKillDuringIssuance kills an instance (SIGKILL) while clients are
// being issued tokens, restarts it, and checks every token that any client
// received: a token is stored before it is returned.
//
// Machine clients get access tokens; refresh chains rotate their refresh
// token again and again. A chain whose last request was cut by the kill
// cannot know whether the instance rotated its token before dying: then
// its last token either still works or is refused as reused
// (invalid_grant), never anything else. Every other chain's last tokens
// must work.
func TestKillDuringIssuance(t *testing.T) {
	backends := []struct{ name, storage string }{{"sqlite", ""}}
	for _, be := range sqlBackends[:1] { // PostgreSQL; MariaDB takes the same path
		backends = append(backends, struct{ name, storage string }{be.name, "storage " + be.name + " " + be.create(t)})
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			c := newCluster(t, 1, clusterClients, be.storage)
			nd := c.nodes[0]
			r := newRP(t, c.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
			b := newBrowser(t, c.issuer)

			type chain struct {
				refresh, access string
				cut             bool // the last request got no answer
			}
			chains := make([]chain, 3)
			for i := range chains {
				tok, err := r.config.Exchange(ctx(t), newCode(t, b, r))
				if err != nil {
					t.Fatal(err)
				}
				chains[i] = chain{refresh: tok.RefreshToken, access: tok.AccessToken}
			}

			var mu sync.Mutex
			var machine []string // every machine access token handed out
			var stop atomic.Bool
			var wg sync.WaitGroup
			for i := range len(chains) + 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; !stop.Load() && n < 10000; n++ {
						if i < len(chains) {
							form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[i].refresh}}
							status, body, err := tokenRequest(nd.url(), form, "basic-app", "s3cret-basic")
							if err != nil || status != http.StatusOK {
								chains[i].cut = true
								return // the process is gone
							}
							refresh, ok1 := body["refresh_token"].(string)
							access, ok2 := body["access_token"].(string)
							if !ok1 || !ok2 {
								chains[i].cut = true
								return
							}
							chains[i] = chain{refresh: refresh, access: access}
							continue
						}
						form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
						status, body, err := tokenRequest(nd.url(), form, "m2m", "s3cret-m2m")
						if err != nil || status != http.StatusOK {
							return // the process is gone: nothing was handed out
						}
						access, ok := body["access_token"].(string)
						if !ok {
							return
						}
						mu.Lock()
						machine = append(machine, access)
						mu.Unlock()
					}
				}()
			}
			time.Sleep(1500 * time.Millisecond)
			nd.kill()
			stop.Store(true)
			wg.Wait()
			if len(machine) < 10 {
				t.Fatalf("only %d tokens issued before the kill", len(machine))
			}

			nd.start(buildCaddy(t))
			for _, tok := range machine {
				if !introspectActiveAs(t, nd.url(), tok, "m2m", "s3cret-m2m") {
					t.Fatalf("an access token issued before the kill is lost (%d issued)", len(machine))
				}
			}
			for i, ch := range chains {
				accessOK := introspectActive(t, nd.url(), ch.access)
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ch.refresh}}
				status, body, err := tokenRequest(nd.url(), form, "basic-app", "s3cret-basic")
				switch {
				case status == http.StatusOK && accessOK:
				case ch.cut && status == http.StatusBadRequest && body["error"] == "invalid_grant":
					t.Logf("chain %d: its last refresh was cut by the kill after the rotation was stored; the token is refused as reused", i)
				default:
					t.Errorf("chain %d (cut %v): the last tokens handed out before the kill: access active %v, refresh %d %v %v", i, ch.cut, accessOK, status, body, err)
				}
			}
			t.Logf("%d machine tokens and %d refresh chains checked after kill -9", len(machine), len(chains))
		})
	}
}

// TestReloadUnderLoad reloads an instance every second for 10 s while
// clients run flows against it: no request fails.
//
// At the instant Caddy swaps its servers, a connection the kernel had
// queued for the old server can be reset before any HTTP server read it
// (seen here as "connect: connection reset by peer", and as a reset or an
// EOF in place of the answer to a request no server read). That is Caddy's listener hand-over, not this
// provider, and such a request was never processed, so the clients here,
// like a load balancer would, send it again once on a new connection. A
// retried refresh whose first attempt had in fact been processed would be
// refused as a reused token and fail the test, so the retry hides nothing
// of ours. Every HTTP answer must be a success.
func TestReloadUnderLoad(t *testing.T) {
	c := newCluster(t, 1, clusterClients, "storage postgres "+newPostgresDatabase(t))
	nd := c.nodes[0]
	r := newRP(t, c.issuer, "basic-app", "s3cret-basic", oauth2.AuthStyleInHeader)
	b := newBrowser(t, c.issuer)
	tok, err := r.config.Exchange(ctx(t), newCode(t, b, r))
	if err != nil {
		t.Fatal(err)
	}
	fresh := &http.Client{Transport: &retryOnReset{&http.Transport{DisableKeepAlives: true}}, Timeout: 10 * time.Second}
	exchangeCtx := context.WithValue(ctx(t), oauth2.HTTPClient, fresh)
	// Discovery keeps its connections alive, as RPs do; a keep-alive
	// connection the old server closes as idle while a request is on its
	// way ends in EOF, which Go's transport retries only once and only on a
	// reused connection, so it gets the same single retry as the others.
	keepAlive := &http.Client{Transport: &retryOnReset{&http.Transport{}}, Timeout: 10 * time.Second}

	var stop atomic.Bool
	var requests, failures atomic.Int64
	var firstFailure atomic.Value
	fail := func(what string) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, what)
	}
	var wg sync.WaitGroup
	// A refresh chain, machine tokens, discovery, and codes from a session.
	wg.Add(4)
	go func() {
		defer wg.Done()
		rt := tok.RefreshToken
		for !stop.Load() {
			status, body, err := tokenRequestWith(fresh, nd.url(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "basic-app", "s3cret-basic")
			requests.Add(1)
			if status != http.StatusOK {
				fail(fmt.Sprintf("refresh: %d %v %v", status, body, err))
				return
			}
			next, ok := body["refresh_token"].(string)
			if !ok {
				fail(fmt.Sprintf("refresh: no refresh token in %v", body))
				return
			}
			rt = next
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			status, body, err := tokenRequestWith(fresh, nd.url(), url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "m2m", "s3cret-m2m")
			requests.Add(1)
			if status != http.StatusOK {
				fail(fmt.Sprintf("client_credentials: %d %v %v", status, body, err))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			resp, err := keepAlive.Get(nd.url() + "/.well-known/openid-configuration")
			requests.Add(1)
			if err != nil {
				fail("discovery: " + err.Error())
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			closeBody(resp)
			if resp.StatusCode != http.StatusOK {
				fail(fmt.Sprintf("discovery: %d", resp.StatusCode))
			}
		}
	}()
	go func() {
		defer wg.Done()
		for !stop.Load() {
			p := b.get(r.config.AuthCodeURL(randString(t)))
			requests.Add(1)
			u, err := url.Parse(p.location)
			if p.status != http.StatusSeeOther && p.status != http.StatusFound || err != nil || u.Query().Get("code") == "" {
				fail(fmt.Sprintf("authorize: %d %.200s", p.status, p.body))
				continue
			}
			if _, err := r.config.Exchange(exchangeCtx, u.Query().Get("code")); err != nil {
				fail("code exchange: " + err.Error())
			}
			requests.Add(1)
		}
	}()

	for i := range 10 {
		time.Sleep(time.Second)
		// Each reload changes the config (a new client), so Caddy really
		// rebuilds every module.
		extra := fmt.Sprintf("client reload-%d {\n\tclient_secret \"s3cret-%d\"\n\tgrant_types client_credentials\n\tscopes openid api:read\n}", i, i)
		if err := nd.reload(extra); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed during reloads; first: %v", n, requests.Load(), firstFailure.Load())
	}
	t.Logf("%d requests, 10 reloads, no failure (%d connections reset by the listener hand-over and sent again)", requests.Load(), resets.Load())
}

// resets counts the requests retryOnReset sent again.
var resets atomic.Int64

// retryOnReset sends a request once more when the connection was reset or
// closed before any response came (see TestReloadUnderLoad).
type retryOnReset struct{ next http.RoundTripper }

func (rt *retryOnReset) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := rt.next.RoundTrip(req)
	if err == nil || (!errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF)) {
		return resp, err
	}
	resets.Add(1)
	again := req.Clone(req.Context())
	if body != nil {
		again.Body = io.NopCloser(bytes.NewReader(body))
	}
	return rt.next.RoundTrip(again)
}
