package caddyoidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"golang.org/x/oauth2"

	_ "github.com/caddy-oidc/caddy-oidc"
	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
)

// caddyMu serializes tests that run a Caddy instance: Caddy's config is
// process-global.
var caddyMu sync.Mutex

// env is one running Caddy with the provider, and what a test needs to talk
// to it.
type env struct {
	t       *testing.T
	dir     string // data directory: storage, database, users file
	host    string // the site's host: 127.0.0.1, or localhost (startOnLocalhost)
	port    int
	sock    *os.File // the listening socket of port, Caddy's listener (bind fd/N)
	sockFD  int      // the number Caddy knows sock by: its fd in-process, 3 in a child
	serving func()   // ends refuse after stop; nil while Caddy serves
	issuer  string
	extra   string // extra Caddyfile lines inside oidc_provider
	clients string // client blocks
	admin   string // the admin endpoint's address; "" turns it off
	global  string // extra global options
}

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

var (
	digestOnce sync.Once
	digest     string
)

// passwordDigest returns a cheap argon2id digest of testPassword (the users
// package tests real parameters; here speed matters).
func passwordDigest(t *testing.T) string {
	digestOnce.Do(func() {
		h, err := argon2.New(argon2.WithProfileRFC9106LowMemory(), argon2.WithM(1024), argon2.WithT(1), argon2.WithP(1))
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.Hash(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		digest = d.Encode()
	})
	return digest
}

// newEnv prepares a data directory with a users file and picks a port.
func newEnv(t *testing.T, clients string) *env {
	t.Helper()
	caddyMu.Lock()
	t.Cleanup(caddyMu.Unlock)
	e := &env{t: t, dir: t.TempDir(), host: "127.0.0.1", clients: clients}
	e.port, e.sock = listenSocket(t)
	e.sockFD = int(e.sock.Fd())
	e.issuer = fmt.Sprintf("http://%s:%d", e.host, e.port)
	e.writeUsers(map[string]string{"alice": "", "bob": "", "carol": "disabled"})
	return e
}

// writeUsers writes the users file; a value "disabled" disables that user.
func (e *env) writeUsers(users map[string]string) {
	e.t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for name, flag := range users {
		fmt.Fprintf(&b, "  %s:\n    displayname: %q\n    password: %q\n    email: %s@example.com\n    groups: [users, %s-group]\n    disabled: %v\n",
			name, strings.ToUpper(name[:1])+name[1:]+" Example", passwordDigest(e.t), name, name, flag == "disabled")
	}
	path := filepath.Join(e.dir, "users.yml")
	if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		e.t.Fatal(err)
	}
	future := time.Now().Add(2 * time.Second) // make the change visible to an mtime check
	_ = os.Chtimes(path, future, future)
}

// caddyfile renders the site's Caddyfile.
func (e *env) caddyfile() string {
	admin := "admin off"
	if e.admin != "" {
		admin = "admin " + e.admin
	}
	return fmt.Sprintf(`{
	%[8]s
%[9]s
	auto_https off
	persist_config off
	storage file_system %[1]s/storage
	log {
		output file %[1]s/caddy.log
		level DEBUG
	}
}
http://%[7]s:%[2]d {
	bind fd/%[6]d
	oidc_provider %[3]s {
		users_file %[1]s/users.yml
		storage sqlite %[1]s/oidc.db
%[4]s
%[5]s
	}
	respond "app behind the provider" 200
}
`, e.dir, e.port, e.issuer, e.extra, e.clients, e.sockFD, e.host, admin, e.global)
}

// start adapts the Caddyfile and runs Caddy until the test ends (or stop).
func (e *env) start() {
	e.t.Helper()
	if e.serving != nil {
		e.serving()
		e.serving = nil
	}
	if err := e.load(); err != nil {
		e.t.Fatalf("starting caddy: %v", err)
	}
	e.t.Cleanup(func() { _ = caddy.Stop() })
	e.waitReady()
}

// load adapts and loads the current Caddyfile (start or reload).
func (e *env) load() error {
	cfgJSON, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(e.caddyfile()), nil)
	if err != nil {
		return fmt.Errorf("adapt: %w", err)
	}
	for _, w := range warnings {
		e.t.Logf("caddyfile warning: %s", w.String())
	}
	return caddy.Load(cfgJSON, true)
}

// stop stops Caddy completely: every module is cleaned up, the database
// closed, the pools emptied, as in a process exit.
func (e *env) stop() {
	e.t.Helper()
	if err := caddy.Stop(); err != nil {
		e.t.Fatal(err)
	}
	e.serving = refuse(e.t, e.sock)
}

func (e *env) waitReady() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := probe.Get(e.issuer + "/.well-known/openid-configuration")
		if err == nil {
			closeBody(resp)
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("provider did not become ready")
}

// advanceClock moves the provider's clock (login sessions, consents,
// regulation, JWT access tokens' iat, key rotation and retention) forward by
// d, instead of sleeping until an expiry our code decides; it is back on the
// system clock when the test ends. fosite's own checks (token and code
// expiry, and an auth_time more than 5s ahead of its clock) still read the
// system clock: keep the offset under 5s where a test completes a login
// after advancing, and wait for fosite's deadlines (untilExpired).
func advanceClock(t *testing.T, d time.Duration) {
	t.Helper()
	caddyoidc.AdvanceClock(d)
	t.Cleanup(caddyoidc.ResetClock)
}

// untilExpired sleeps until deadline, which fosite checks with the system
// clock, has passed: exactly until it, plus a margin for the clock's
// granularity, never a fixed guess.
func untilExpired(deadline time.Time) {
	time.Sleep(time.Until(deadline) + 10*time.Millisecond)
}

// probe asks whether Caddy serves. The test holds Caddy's socket
// (listenSocket): while Caddy starts, a connection is queued, so each
// attempt has a timeout besides the overall deadline.
var probe = &http.Client{Timeout: 2 * time.Second}

// logText returns Caddy's log so far.
func (e *env) logText() string {
	b, _ := os.ReadFile(filepath.Join(e.dir, "caddy.log"))
	return string(b)
}

// listenSocket opens a listening socket on a free loopback port and keeps it
// open until the test ends. Caddy serves on that very socket (`bind fd/N`:
// Caddy listens on an inherited file descriptor, in-process or in a child
// given it as cmd.ExtraFiles), so no other process can take the port
// between the test choosing it and Caddy listening; reloads and restarts
// keep it too. The returned file is a duplicate of the socket; the listener
// Go opened is closed.
func listenSocket(t *testing.T) (int, *os.File) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := as[*net.TCPAddr](t, l.Addr()).Port
	f, err := as[*net.TCPListener](t, l).File()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil { // f still holds the socket
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return port, f
}

// refuse resets every connection queued on sock until the returned function
// is called: while no Caddy serves a reserved port, a client must see it
// closed (as it would a port nobody listens on), not wait forever in the
// socket's queue. Call the function before Caddy serves again.
func refuse(t *testing.T, sock *os.File) (stop func()) {
	t.Helper()
	l, err := net.FileListener(sock) // a duplicate: closing it keeps sock
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = as[*net.TCPConn](t, c).SetLinger(0) // a reset, not an orderly close
			_ = c.Close()
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { _ = l.Close(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// freePort returns a port that was free a moment ago, for what Caddy does
// not listen on: a URL nothing serves, or a server that binds the port
// itself (throwaway PostgreSQL, node scripts). Another process may take it
// in between; Caddy's own ports come from listenSocket.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := as[*net.TCPAddr](t, l.Addr()).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return port
}

// browser is a user agent with a cookie jar that stops at redirects leaving
// the provider, so a test can read the code the client would receive.
type browser struct {
	t      *testing.T
	client *http.Client
	issuer string
}

func newBrowser(t *testing.T, issuer string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, issuer: issuer}
	b.client = &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), issuer+"/") {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return b
}

// page is a fetched response with its body read.
type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer closeBody(resp)
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var inputRE = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"[^>]*>`)
var actionRE = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// formFields returns the hidden and prefilled inputs of the page's form.
func (p page) formFields() url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(p.body, -1) {
		if strings.Contains(m[0], `type="checkbox"`) {
			continue // unchecked unless the test sets it
		}
		v.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return v
}

// formAction returns the absolute URL the page's form posts to.
func (p page) formAction(issuer string) string {
	m := actionRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	base, _ := url.Parse(issuer)
	ref, _ := url.Parse(html.UnescapeString(m[1]))
	return base.ResolveReference(ref).String()
}

// login submits the login form shown on p.
func (b *browser) login(p page, username, password string) page {
	b.t.Helper()
	if (p.status != http.StatusOK && p.status != http.StatusUnauthorized) || !strings.Contains(p.body, `name="password"`) {
		b.t.Fatalf("expected the login page, got %d: %.400s", p.status, p.body)
	}
	form := p.formFields()
	form.Set("username", username)
	form.Set("password", password)
	return b.post(p.formAction(b.issuer), form)
}

// consent submits the consent form shown on p with the decision.
func (b *browser) consent(p page, decision string) page {
	b.t.Helper()
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision"`) {
		b.t.Fatalf("expected the consent page, got %d: %.400s", p.status, p.body)
	}
	form := p.formFields()
	form.Set("decision", decision)
	return b.post(p.formAction(b.issuer), form)
}

// callbackParams parses the redirect to the client.
func callbackParams(t *testing.T, p page, redirectURI string) url.Values {
	t.Helper()
	if p.status != http.StatusSeeOther && p.status != http.StatusFound {
		t.Fatalf("expected a redirect to the client, got %d: %.400s", p.status, p.body)
	}
	if !strings.HasPrefix(p.location, redirectURI) {
		t.Fatalf("redirect to %q, want %q", p.location, redirectURI)
	}
	u, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// postToken posts a raw token request, for error cases x/oauth2 hides.
func postToken(t *testing.T, issuer string, form url.Values, basicUser, basicPass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, issuer+"/api/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// jwtHeader decodes a JWT's header without verifying it.
func jwtHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	part, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func getJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return m
}

// as returns v as a T, failing the test when it is anything else (nil, for
// a missing JSON member). Only the types are reported: v may be a token.
func as[T any](t testing.TB, v any) T {
	t.Helper()
	x, ok := v.(T)
	if !ok {
		t.Fatalf("got a %T, want a %T", v, x)
	}
	return x
}

// rawIDToken returns the id_token of a token response, failing the test when
// it has none.
func rawIDToken(t testing.TB, tok *oauth2.Token) string {
	t.Helper()
	return as[string](t, tok.Extra("id_token"))
}

// closeBody closes a response body the test is done with. The error of
// closing a body that was read (or is abandoned) tells the test nothing.
func closeBody(resp *http.Response) { _ = resp.Body.Close() }
