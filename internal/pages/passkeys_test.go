package pages

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/authn/passkeytest"
	"github.com/caddy-oidc/caddy-oidc/internal/clients"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// pkUsers is a users.Backend whose users can be disabled during a test.
type pkUsers struct {
	mu sync.Mutex
	m  map[string]*users.User
}

func (u *pkUsers) Authenticate(name, password string) (*users.User, error) {
	x, err := u.Lookup(name)
	if err != nil || x.Disabled || password != "pw" {
		return nil, users.ErrInvalidCredentials
	}
	return x, nil
}

func (u *pkUsers) Lookup(name string) (*users.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if x, ok := u.m[name]; ok {
		c := *x
		return &c, nil
	}
	return nil, users.ErrUserNotFound
}

func (u *pkUsers) disable(name string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.m[name].Disabled = true
}

// pkEnv is the package's test fixture: the pages, their passkey endpoints
// served over real HTTP with a host-name issuer (WebAuthn refuses IP
// addresses as relying party IDs), as the provider's route table serves
// them.
type pkEnv struct {
	t      *testing.T
	p      *Pages
	db     *store.DB
	clock  *testClock // the pages' clock; real time unless a test moves it
	users  *pkUsers
	issuer string // http://localhost:<port>
	server string // http://127.0.0.1:<port>, where requests go
}

// newPasskeyEnv builds the fixture; options change the pages' Config
// before New (clients, passkey options, a logger).
func newPasskeyEnv(t *testing.T, host string, options ...func(*Config)) *pkEnv {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", l.Addr())
	}
	port := addr.Port
	e := &pkEnv{
		t:      t,
		clock:  &testClock{},
		issuer: fmt.Sprintf("http://%s:%d", host, port),
		server: fmt.Sprintf("http://127.0.0.1:%d", port),
		users: &pkUsers{m: map[string]*users.User{
			"alice": {Username: "alice", FullName: "Alice Example"},
			"bob":   {Username: "bob"},
			"carol": {Username: "carol"},
		}},
	}
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	reg, err := clients.NewRegistry(context.Background(), nil, clients.Env{})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	cfg := Config{
		Issuer:          e.issuer,
		AuthorizePath:   "/api/oidc/authorization",
		CookieKey:       []byte(strings.Repeat("c", 32)),
		SessionLifespan: 12 * time.Hour, // the provider's default
		Authn:           AuthnConfig{TOTPKey: []byte(strings.Repeat("t", 32))},
		Users:           e.users,
		Clients:         reg,
		Store:           db,
		Now:             e.clock.now,
	}
	for _, o := range options {
		o(&cfg)
	}
	if e.p, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, ep := range e.p.PasskeyEndpoints() {
		mux.HandleFunc(ep.Method+" "+ep.Path, ep.Serve)
		mux.HandleFunc(ep.Path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", ep.Method)
			ep.Refuse(w, r)
		})
	}
	mux.HandleFunc(PathWebAuthn+"/", e.p.ServePasskeyNotFound)
	mux.HandleFunc(PathLogout, e.p.ServeLogout)
	srv := httptest.NewUnstartedServer(mux)
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

// pkBrowser is a user agent with its cookies and the CSRF token its pages
// would carry.
type pkBrowser struct {
	e      *pkEnv
	client *http.Client
	csrf   string
	auth   *passkeytest.Authenticator
}

func (e *pkEnv) browser() *pkBrowser {
	jar, _ := cookiejar.New(nil)
	b := &pkBrowser{e: e, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}, auth: passkeytest.New(e.issuer)}
	// What rendering a page does: a CSRF cookie and the token derived from it.
	value := randomToken()
	b.setCookie(&http.Cookie{Name: csrfCookie, Value: value})
	b.csrf = e.p.csrfFor(value)
	return b
}

func (b *pkBrowser) setCookie(c *http.Cookie) {
	u, _ := url.Parse(b.e.server + "/")
	b.client.Jar.SetCookies(u, []*http.Cookie{c})
}

func (b *pkBrowser) cookie(name string) string {
	u, _ := url.Parse(b.e.server + "/")
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// signIn gives the browser a login session as a password login would.
func (b *pkBrowser) signIn(username string, amr []string, authTime time.Time) {
	b.e.t.Helper()
	s := store.LoginSession{ID: randomToken(), Username: username, AuthTime: authTime.UTC().Truncate(time.Second), AMR: amr,
		CreatedAt: authTime, LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if err := b.e.db.CreateLoginSession(context.Background(), s); err != nil {
		b.e.t.Fatal(err)
	}
	b.setCookie(&http.Cookie{Name: sessionCookie, Value: s.ID})
}

// session returns the browser's login session.
func (b *pkBrowser) session() *store.LoginSession {
	b.e.t.Helper()
	s, err := b.e.db.GetLoginSession(context.Background(), b.cookie(sessionCookie), time.Now())
	if err != nil {
		b.e.t.Fatalf("login session: %v", err)
	}
	return s
}

type pkResponse struct {
	status int
	body   []byte
	header http.Header
	resp   *http.Response
}

func (r pkResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d %s: %v", r.status, r.body, err)
	}
	return m
}

// call sends a request the way webauthn.js does (Origin, X-CSRF-Token,
// JSON body); mutate may change it first.
func (b *pkBrowser) call(method, path string, body any, mutate ...func(*http.Request)) pkResponse {
	b.e.t.Helper()
	var rd io.Reader = http.NoBody
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			b.e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.e.server+"/api/webauthn"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.e.issuer)
	req.Header.Set("X-CSRF-Token", b.csrf)
	for _, m := range mutate {
		m(req)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	return pkResponse{status: resp.StatusCode, body: raw, header: resp.Header, resp: resp}
}

// expect checks the status and, when code is set, the error code.
func (r pkResponse) expect(t *testing.T, what string, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d (%s), want %d", what, r.status, r.body, status)
	}
	if code != "" {
		if got := r.json(t)["error"]; got != code {
			t.Fatalf("%s: error %v (%s), want %q", what, got, r.body, code)
		}
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

// register adds a passkey with the browser's authenticator; it returns the
// credential ID.
func (b *pkBrowser) register(name string) (string, *passkeytest.Credential) {
	b.e.t.Helper()
	opts := b.call(http.MethodPost, "/register/options", nil)
	opts.expect(b.e.t, "register options", http.StatusOK, "")
	resp, cred, err := b.auth.Create(opts.body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	fin := b.call(http.MethodPost, "/register/finish", map[string]any{"name": name, "credential": json.RawMessage(resp)})
	fin.expect(b.e.t, "register finish", http.StatusOK, "")
	m := fin.json(b.e.t)
	id, _ := m["id"].(string)
	if m["ok"] != true || id != base64.RawURLEncoding.EncodeToString(cred.ID) {
		b.e.t.Fatalf("register finish: %s", fin.body)
	}
	return id, cred
}

// assert runs options → authenticator → finish for "/login" or "/2fa".
func (b *pkBrowser) assert(kind string) pkResponse {
	b.e.t.Helper()
	opts := b.call(http.MethodPost, kind+"/options", nil)
	opts.expect(b.e.t, kind+" options", http.StatusOK, "")
	resp, err := b.auth.Get(opts.body)
	if err != nil {
		b.e.t.Fatalf("%s: authenticator: %v", kind, err)
	}
	return b.call(http.MethodPost, kind+"/finish", resp)
}

func (b *pkBrowser) list() []map[string]any {
	b.e.t.Helper()
	r := b.call(http.MethodGet, "/credentials", nil)
	r.expect(b.e.t, "credentials", http.StatusOK, "")
	var out []map[string]any
	if err := json.Unmarshal(r.body, &out); err != nil {
		b.e.t.Fatal(err)
	}
	return out
}

func TestPasskeyRegisterListAndPasswordless(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	alice := e.browser()
	alice.signIn("alice", []string{"pwd"}, time.Now())

	// Registration options.
	opts := alice.call(http.MethodPost, "/register/options", nil)
	opts.expect(t, "register options", http.StatusOK, "")
	var o struct {
		RP struct {
			ID, Name string
		} `json:"rp"`
		User struct {
			ID, Name, DisplayName string
		} `json:"user"`
		Challenge string           `json:"challenge"`
		Exclude   []map[string]any `json:"excludeCredentials"`
		Selection struct {
			ResidentKey, UserVerification string
		} `json:"authenticatorSelection"`
		Attestation string `json:"attestation"`
	}
	if err := json.Unmarshal(opts.body, &o); err != nil {
		t.Fatal(err)
	}
	handle, _ := base64.RawURLEncoding.DecodeString(o.User.ID)
	if o.RP.ID != "localhost" || o.RP.Name != "localhost" || o.User.Name != "alice" || o.User.DisplayName != "Alice Example" ||
		len(handle) != 32 || bytes.Contains(handle, []byte("alice")) || o.Challenge == "" || len(o.Exclude) != 0 ||
		o.Selection.ResidentKey != "preferred" || o.Selection.UserVerification != "preferred" || o.Attestation != "none" {
		t.Errorf("creation options: %s", opts.body)
	}
	var ceremony *http.Cookie
	for _, c := range opts.resp.Cookies() {
		if c.Name == webauthnCookie {
			ceremony = c
		}
	}
	if ceremony == nil || !ceremony.HttpOnly || ceremony.SameSite != http.SameSiteStrictMode || ceremony.Path != "/" || ceremony.MaxAge != 300 || len(ceremony.Value) < 40 {
		t.Fatalf("ceremony cookie %+v", ceremony)
	}

	// Finish it with a name that needs cleaning.
	resp, cred, err := alice.auth.Create(opts.body)
	if err != nil {
		t.Fatal(err)
	}
	fin := alice.call(http.MethodPost, "/register/finish", map[string]any{"name": "  My laptop\n ", "credential": json.RawMessage(resp)})
	fin.expect(t, "register finish", http.StatusOK, "")
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	if m := fin.json(t); m["ok"] != true || m["id"] != id {
		t.Fatalf("register finish: %s", fin.body)
	}
	list := alice.list()
	if len(list) != 1 || list[0]["id"] != id || list[0]["name"] != "My laptop" || list[0]["discoverable"] != true ||
		list[0]["last_used_at"] != nil || list[0]["created_at"] == nil {
		t.Fatalf("credentials: %v", list)
	}
	// The next registration excludes it (adding a second passkey needs the
	// first one as second factor).
	alice.signIn("alice", []string{"pwd", "hwk", "mfa"}, time.Now())
	opts = alice.call(http.MethodPost, "/register/options", nil)
	if err := json.Unmarshal(opts.body, &o); err != nil || len(o.Exclude) != 1 || o.Exclude[0]["id"] != id {
		t.Errorf("excludeCredentials: %s", opts.body)
	}

	// Passwordless sign-in in a new browser with the same authenticator.
	phone := e.browser()
	phone.auth = alice.auth
	lo := phone.call(http.MethodPost, "/login/options", nil)
	lo.expect(t, "login options", http.StatusOK, "")
	var lopts map[string]any
	_ = json.Unmarshal(lo.body, &lopts)
	if _, has := lopts["allowCredentials"]; has || lopts["userVerification"] != "required" || lopts["rpId"] != "localhost" {
		t.Errorf("login options: %s", lo.body)
	}
	assertion, err := phone.auth.Get(lo.body)
	if err != nil {
		t.Fatal(err)
	}
	lf := phone.call(http.MethodPost, "/login/finish", assertion)
	lf.expect(t, "login finish", http.StatusOK, "")
	if lf.json(t)["ok"] != true {
		t.Fatalf("login finish: %s", lf.body)
	}
	s := phone.session()
	if s.Username != "alice" || !slices.Equal(s.AMR, []string{"hwk", "user", "mfa"}) || time.Since(s.AuthTime) > time.Minute {
		t.Errorf("session after passwordless login: %+v", s)
	}
	if phone.cookie(webauthnCookie) != "" {
		t.Error("the ceremony cookie was not cleared")
	}
	if s.RememberMe {
		t.Error("a remembered session without remember_me")
	}
	// "Keep me signed in" on the login page.
	kept := e.browser()
	kept.auth = alice.auth
	lo = kept.call(http.MethodPost, "/login/options", nil)
	assertion, _ = kept.auth.Get(lo.body)
	kept.call(http.MethodPost, "/login/finish?remember_me=1", assertion).expect(t, "login finish, remembered", http.StatusOK, "")
	if s := kept.session(); !s.RememberMe || !slices.Equal(s.AMR, []string{"hwk", "user", "mfa"}) {
		t.Errorf("remembered passkey session: %+v", s)
	}
	list = phone.list()
	if len(list) != 1 || list[0]["last_used_at"] == nil {
		t.Errorf("credentials after use: %v", list)
	}

	// The hooks the pages use.
	enrolled, listHook := e.p.passkeyHooks()
	if has, err := enrolled(context.Background(), "alice"); err != nil || !has {
		t.Errorf("enrolled(alice) = %v, %v", has, err)
	}
	if has, _ := enrolled(context.Background(), "bob"); has {
		t.Error("enrolled(bob) = true")
	}
	if items, err := listHook(context.Background(), "alice"); err != nil || len(items) != 1 || items[0].ID != id || items[0].Name != "My laptop" || items[0].LastUsed == "" {
		t.Errorf("list hook: %+v, %v", items, err)
	}
}

func TestPasskeySecondFactor(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	alice := e.browser()
	alice.signIn("alice", []string{"pwd"}, time.Now())
	alice.register("Key")

	// Without passkeys there is nothing to offer.
	bob := e.browser()
	bob.signIn("bob", []string{"pwd"}, time.Now())
	bob.call(http.MethodPost, "/2fa/options", nil).expect(t, "2fa options without passkeys", http.StatusBadRequest, "invalid_request")

	// A new password session of alice.
	b := e.browser()
	b.auth = alice.auth
	b.signIn("alice", []string{"pwd"}, time.Now().Add(-5*time.Minute))
	// Adding another passkey with the password alone is refused: she has a second factor.
	b.call(http.MethodPost, "/register/options", nil).expect(t, "register with one factor", http.StatusUnauthorized, "login_required")
	b.call(http.MethodPost, "/credentials/delete", map[string]string{"id": "x"}).expect(t, "delete with one factor", http.StatusUnauthorized, "login_required")

	opts := b.call(http.MethodPost, "/2fa/options", nil)
	opts.expect(t, "2fa options", http.StatusOK, "")
	var o struct {
		Allow []map[string]any `json:"allowCredentials"`
	}
	if err := json.Unmarshal(opts.body, &o); err != nil || len(o.Allow) != 1 {
		t.Fatalf("2fa options: %s", opts.body)
	}
	resp, err := b.auth.Get(opts.body)
	if err != nil {
		t.Fatal(err)
	}
	b.call(http.MethodPost, "/2fa/finish", resp).expect(t, "2fa finish", http.StatusOK, "")
	s := b.session()
	if !slices.Equal(s.AMR, []string{"pwd", "hwk", "mfa"}) || time.Since(s.AuthTime) > time.Minute {
		t.Errorf("session after 2fa: %+v", s)
	}
	// Now she may add another.
	b.auth = passkeytest.New(e.issuer)
	b.register("Second")

	// Another user's session cannot finish alice's ceremony.
	opts = b.call(http.MethodPost, "/2fa/options", nil)
	resp, _ = alice.auth.Get(opts.body)
	bob.setCookie(&http.Cookie{Name: webauthnCookie, Value: b.cookie(webauthnCookie)})
	bob.call(http.MethodPost, "/2fa/finish", resp).expect(t, "alice's ceremony finished by bob", http.StatusBadRequest, "invalid_request")
	if s := bob.session(); slices.Contains(s.AMR, "hwk") {
		t.Errorf("bob's session got hwk: %+v", s)
	}

	// 2fa needs a session.
	anon := e.browser()
	anon.call(http.MethodPost, "/2fa/options", nil).expect(t, "2fa without session", http.StatusUnauthorized, "login_required")
}

func TestPasskeyRefusals(t *testing.T) {
	e := newPasskeyEnv(t, "localhost")
	alice := e.browser()
	alice.signIn("alice", []string{"pwd"}, time.Now())
	aliceID, cred := alice.register("Laptop")

	t.Run("csrf", func(t *testing.T) {
		for name, mutate := range map[string]func(*http.Request){
			"missing header": func(r *http.Request) { r.Header.Del("X-CSRF-Token") },
			"wrong token":    func(r *http.Request) { r.Header.Set("X-CSRF-Token", e.p.csrfFor(randomToken())) },
			"other origin":   func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
			"null origin":    func(r *http.Request) { r.Header.Set("Origin", "null") },
		} {
			for _, path := range []string{"/login/options", "/register/options", "/credentials/delete", "/2fa/finish"} {
				alice.call(http.MethodPost, path, nil, mutate).expect(t, name+" "+path, http.StatusForbidden, "invalid_csrf_token")
			}
		}
		// A token without its cookie (another browser's token).
		jar, _ := cookiejar.New(nil)
		other := &pkBrowser{e: e, client: &http.Client{Jar: jar}, csrf: alice.csrf}
		other.call(http.MethodPost, "/login/options", nil).expect(t, "token without cookie", http.StatusForbidden, "invalid_csrf_token")
		// No Origin header (some privacy setups strip it): the token suffices.
		alice.call(http.MethodPost, "/login/options", nil, func(r *http.Request) { r.Header.Del("Origin") }).expect(t, "no origin", http.StatusOK, "")
	})

	t.Run("routing", func(t *testing.T) {
		alice.call(http.MethodGet, "/login/options", nil).expect(t, "GET options", http.StatusMethodNotAllowed, "invalid_request")
		alice.call(http.MethodPost, "/credentials", nil).expect(t, "POST credentials", http.StatusMethodNotAllowed, "invalid_request")
		alice.call(http.MethodPost, "/nope", nil).expect(t, "unknown", http.StatusNotFound, "not_found")
	})

	t.Run("register needs a fresh login", func(t *testing.T) {
		anon := e.browser()
		anon.call(http.MethodPost, "/register/options", nil).expect(t, "no session", http.StatusUnauthorized, "login_required")
		anon.call(http.MethodGet, "/credentials", nil).expect(t, "list without session", http.StatusUnauthorized, "login_required")
		stale := e.browser()
		stale.signIn("bob", []string{"pwd"}, time.Now().Add(-11*time.Minute))
		stale.call(http.MethodPost, "/register/options", nil).expect(t, "stale session", http.StatusUnauthorized, "login_required")
		// The session may go stale between options and finish.
		fresh := e.browser()
		fresh.signIn("bob", []string{"pwd"}, time.Now())
		opts := fresh.call(http.MethodPost, "/register/options", nil)
		resp, _, _ := fresh.auth.Create(opts.body)
		fresh.signIn("bob", []string{"pwd"}, time.Now().Add(-11*time.Minute))
		fresh.call(http.MethodPost, "/register/finish", map[string]any{"credential": json.RawMessage(resp)}).expect(t, "stale finish", http.StatusUnauthorized, "login_required")
		fresh.call(http.MethodPost, "/register/finish", []byte(`not json`)).expect(t, "bad body", http.StatusUnauthorized, "login_required")
	})

	t.Run("malformed", func(t *testing.T) {
		b := e.browser()
		b.call(http.MethodPost, "/login/options", nil)
		b.call(http.MethodPost, "/login/finish", []byte(`{"id":"x"}`)).expect(t, "malformed", http.StatusBadRequest, "invalid_request")
		b.call(http.MethodPost, "/login/finish", []byte(`{}`)).expect(t, "no ceremony", http.StatusBadRequest, "invalid_request")
		b.call(http.MethodPost, "/login/finish", bytes.Repeat([]byte("x"), 70<<10)).expect(t, "huge", http.StatusRequestEntityTooLarge, "invalid_request")
		c := e.browser()
		c.signIn("carol", []string{"pwd"}, time.Now())
		c.call(http.MethodPost, "/register/options", nil)
		c.call(http.MethodPost, "/register/finish", []byte(`{"name":"x"}`)).expect(t, "no credential", http.StatusBadRequest, "invalid_request")
	})

	t.Run("wrong origin", func(t *testing.T) {
		b := e.browser()
		b.auth = alice.auth
		alice.auth.Origin = "http://evil.localhost:1234"
		defer func() { alice.auth.Origin = e.issuer }()
		b.assert("/login").expect(t, "assertion from another origin", http.StatusUnauthorized, "access_denied")
		c := e.browser()
		c.signIn("bob", []string{"pwd"}, time.Now())
		c.auth.Origin = "http://evil.localhost:1234"
		opts := c.call(http.MethodPost, "/register/options", nil)
		resp, _, _ := c.auth.Create(opts.body)
		c.call(http.MethodPost, "/register/finish", map[string]any{"credential": json.RawMessage(resp)}).expect(t, "registration from another origin", http.StatusUnauthorized, "access_denied")
		if list := c.list(); len(list) != 0 {
			t.Errorf("registered from another origin: %v", list)
		}
	})

	t.Run("replayed ceremony", func(t *testing.T) {
		b := e.browser()
		b.auth = alice.auth
		opts := b.call(http.MethodPost, "/login/options", nil)
		ceremony := b.cookie(webauthnCookie)
		resp, _ := b.auth.Get(opts.body)
		b.call(http.MethodPost, "/login/finish", resp).expect(t, "first answer", http.StatusOK, "")
		replay := e.browser()
		replay.setCookie(&http.Cookie{Name: webauthnCookie, Value: ceremony})
		replay.call(http.MethodPost, "/login/finish", resp).expect(t, "replayed ceremony", http.StatusBadRequest, "invalid_request")
		if replay.cookie(sessionCookie) != "" {
			t.Error("the replay got a session")
		}
		// The same answer to a new ceremony: wrong challenge.
		replay.call(http.MethodPost, "/login/options", nil)
		replay.call(http.MethodPost, "/login/finish", resp).expect(t, "replayed answer", http.StatusUnauthorized, "access_denied")
	})

	t.Run("passwordless needs user verification", func(t *testing.T) {
		b := e.browser()
		b.auth = alice.auth
		alice.auth.UV = false
		defer func() { alice.auth.UV = true }()
		b.assert("/login").expect(t, "no UV", http.StatusUnauthorized, "access_denied")
	})

	t.Run("sign count regression", func(t *testing.T) {
		b := e.browser()
		b.auth = alice.auth
		b.assert("/login").expect(t, "counter moving on", http.StatusOK, "")
		saved := cred.SignCount
		cred.SignCount = 0 // a clone that was copied before the last uses
		b.assert("/login").expect(t, "counter going back", http.StatusUnauthorized, "access_denied")
		cred.SignCount = saved
		b.assert("/login").expect(t, "counter moving on again", http.StatusOK, "")
	})

	t.Run("unknown credential", func(t *testing.T) {
		b := e.browser()
		b.auth.Credentials = []*passkeytest.Credential{{ID: []byte("unknown-credential"), RPID: "localhost", UserHandle: []byte("nobody"), Key: cred.Key, Discoverable: true}}
		b.assert("/login").expect(t, "unknown credential", http.StatusUnauthorized, "access_denied")
	})

	t.Run("disabled user", func(t *testing.T) {
		c := e.browser()
		c.signIn("carol", []string{"pwd"}, time.Now())
		c.register("Carol's key")
		e.users.disable("carol")
		b := e.browser()
		b.auth = c.auth
		b.assert("/login").expect(t, "disabled user", http.StatusUnauthorized, "access_denied")
		if b.cookie(sessionCookie) != "" {
			t.Error("a disabled user got a session")
		}
		c.call(http.MethodGet, "/credentials", nil).expect(t, "disabled user's session", http.StatusUnauthorized, "login_required")
	})

	t.Run("delete", func(t *testing.T) {
		bob := e.browser()
		bob.signIn("bob", []string{"pwd"}, time.Now())
		bobID, _ := bob.register("Bob's key")
		// Bob now has a second factor: deleting needs a two-factor session.
		bob.signIn("bob", []string{"pwd", "hwk", "mfa"}, time.Now())
		bob.call(http.MethodPost, "/credentials/delete", map[string]string{"id": aliceID}).expect(t, "deleting alice's", http.StatusNotFound, "not_found")
		if len(alice.list()) != 1 {
			t.Fatal("alice's passkey is gone")
		}
		bob.call(http.MethodPost, "/credentials/delete", map[string]string{}).expect(t, "no id", http.StatusBadRequest, "invalid_request")
		bob.call(http.MethodPost, "/credentials/delete", map[string]string{"id": bobID}).expect(t, "deleting his own", http.StatusOK, "")
		if list := bob.list(); len(list) != 0 {
			t.Errorf("bob's passkeys after delete: %v", list)
		}
		bob.call(http.MethodPost, "/credentials/delete", map[string]string{"id": bobID}).expect(t, "deleting again", http.StatusNotFound, "not_found")
	})
}

func TestPasskeysUnavailableOnIPIssuer(t *testing.T) {
	e := newPasskeyEnv(t, "127.0.0.1")
	b := e.browser()
	b.call(http.MethodPost, "/login/options", nil).expect(t, "ip issuer", http.StatusNotFound, "passkeys_unavailable")
	if enrolled, list := e.p.passkeyHooks(); enrolled != nil || list != nil {
		t.Error("hooks on an IP issuer")
	}
}

func TestPasskeyName(t *testing.T) {
	long := strings.Repeat("é", 70)
	for in, want := range map[string]string{
		"":                      "Passkey",
		"   ":                   "Passkey",
		"  Phone ":              "Phone",
		"Work\x00 key\n":        "Work key",
		long:                    strings.Repeat("é", 64),
		"YubiKey 5C \u200b":     "YubiKey 5C \u200b",
		"a\tb":                  "ab",
		strings.Repeat("x", 64): strings.Repeat("x", 64),
	} {
		if got := passkeyName(in); got != want {
			t.Errorf("passkeyName(%q) = %q, want %q", in, got, want)
		}
	}
}
