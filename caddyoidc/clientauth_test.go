package caddyoidc_test

// Client authentication with signed JWTs (RFC 7523): client_secret_jwt and
// private_key_jwt, with inline jwks and a jwks_uri, at the token,
// introspection, revocation and PAR endpoints (issue 6). x/oauth2 sends the
// assertions (as extra parameters); go-jose v4 builds them, as a client
// library would.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

const (
	assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// jwtSecret is the client_secret_jwt client's secret: 48 bytes, so
	// HS384 works too.
	jwtSecret = "0123456789abcdef0123456789abcdef-and-16-more-b!"
)

// signer makes assertions for one client.
type signer struct {
	t        *testing.T
	clientID string
	key      any // []byte (HMAC), *rsa.PrivateKey, *ecdsa.PrivateKey
	alg      jose.SignatureAlgorithm
	kid      string
}

// claims are the assertion's claims, to spoil one in a test.
type assertionClaims struct {
	iss, sub, jti string
	aud           any
	exp, iat      time.Time
	noExp, noJTI  bool
}

func (s signer) defaults(e *env) assertionClaims {
	now := time.Now()
	return assertionClaims{iss: s.clientID, sub: s.clientID, aud: e.issuer + "/api/oidc/token", jti: randString(s.t), exp: now.Add(time.Minute), iat: now}
}

func (s signer) sign(c assertionClaims) string {
	s.t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if s.kid != "" {
		opts = opts.WithHeader("kid", s.kid)
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, opts)
	if err != nil {
		s.t.Fatal(err)
	}
	m := map[string]any{"iss": c.iss, "sub": c.sub, "aud": c.aud, "iat": c.iat.Unix()}
	if !c.noExp {
		m["exp"] = c.exp.Unix()
	}
	if !c.noJTI {
		m["jti"] = c.jti
	}
	raw, err := jwt.Signed(sg).Claims(m).Serialize()
	if err != nil {
		s.t.Fatal(err)
	}
	return raw
}

// form returns the assertion parameters, with client_id.
func (s signer) form(assertion string) url.Values {
	return url.Values{"client_id": {s.clientID}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
}

func withForm(base, extra url.Values) url.Values {
	out := url.Values{}
	for _, v := range []url.Values{base, extra} {
		for k, vs := range v {
			out[k] = vs
		}
	}
	return out
}

func pemFile(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertionEnv is a provider with a client_secret_jwt client, a
// private_key_jwt client with an inline key, and one with a jwks_uri
// served by httptest.
type assertionEnv struct {
	*env
	secretJWT, inline, remote signer
	jwksHits                  *atomic.Int32
}

func newAssertionEnv(t *testing.T) *assertionEnv {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk := testRSAKeys()[2]
	var hits atomic.Int32
	remoteSet := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rk.PublicKey, KeyID: "rp-rsa-1", Algorithm: "PS256", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_ = json.NewEncoder(w).Encode(remoteSet)
	}))
	t.Cleanup(srv.Close)

	e := newEnv(t, "")
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPath := pemFile(t, e.dir, "rp-ec.pem", "PUBLIC KEY", ecDER)
	e.clients = standardClients + `
		client jwt-secret-app {
			client_secret "` + jwtSecret + `"
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method client_secret_jwt
		}
		client pk-inline-app {
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method private_key_jwt
			token_endpoint_auth_signing_alg ES256
			jwk rp-ec-1 {
				algorithm ES256
				key {file.` + ecPath + `}
			}
		}
		client pk-remote-app {
			redirect_uris ` + rpCallback + `
			scopes openid profile email groups offline_access
			token_endpoint_auth_method private_key_jwt
			jwks_uri ` + srv.URL + `/jwks.json
		}`
	e.start()
	return &assertionEnv{
		env:       e,
		secretJWT: signer{t: t, clientID: "jwt-secret-app", key: []byte(jwtSecret), alg: jose.HS256},
		inline:    signer{t: t, clientID: "pk-inline-app", key: ec, alg: jose.ES256, kid: "rp-ec-1"},
		remote:    signer{t: t, clientID: "pk-remote-app", key: rk, alg: jose.PS256, kid: "rp-rsa-1"},
		jwksHits:  &hits,
	}
}

func TestClientAssertionsDiscovery(t *testing.T) {
	e := newAssertionEnv(t)
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	for _, ep := range []string{"token_endpoint", "introspection_endpoint", "revocation_endpoint"} {
		methods := epStrings(meta, ep+"_auth_methods_supported")
		if !slices.Contains(methods, "client_secret_jwt") || !slices.Contains(methods, "private_key_jwt") {
			t.Errorf("%s_auth_methods_supported = %v", ep, methods)
		}
		algs := epStrings(meta, ep+"_auth_signing_alg_values_supported")
		for _, a := range []string{"HS256", "RS256", "PS256", "ES256"} {
			if !slices.Contains(algs, a) {
				t.Errorf("%s_auth_signing_alg_values_supported = %v, lacks %s", ep, algs, a)
			}
		}
		if slices.Contains(algs, "none") {
			t.Errorf("%s_auth_signing_alg_values_supported lists none", ep)
		}
	}
}

// The whole life of a grant for each assertion client, through x/oauth2
// and go-oidc: code exchange, refresh, introspection, revocation, PAR.
func TestClientAssertionsEveryEndpoint(t *testing.T) {
	e := newAssertionEnv(t)
	for _, s := range []signer{e.secretJWT, e.inline, e.remote} {
		t.Run(s.clientID, func(t *testing.T) {
			s.t = t
			r := newRP(t, e.issuer, s.clientID, "", oauth2.AuthStyleInParams)
			assert := func() []oauth2.AuthCodeOption {
				a := s.sign(s.defaults(e.env))
				return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("client_assertion_type", assertionType), oauth2.SetAuthURLParam("client_assertion", a)}
			}
			nonce := randString(t)
			params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t), oidc.Nonce(nonce)), "alice")
			tok, err := r.config.Exchange(ctx(t), params.Get("code"), assert()...)
			if err != nil {
				t.Fatalf("code exchange with a %s assertion: %v", s.alg, err)
			}
			if idt := idTokenOf(t, r, tok); idt.Nonce != nonce {
				t.Errorf("nonce %q", idt.Nonce)
			}
			// Refresh (x/oauth2's TokenSource cannot add parameters: post).
			got := epPost(t, e.env, "/api/oidc/token", withForm(s.form(s.sign(s.defaults(e.env))), refreshForm(tok.RefreshToken)), "", "")
			if got.status != http.StatusOK || got.body["access_token"] == nil {
				t.Fatalf("refresh: %d %s", got.status, got.raw)
			}
			access := as[string](t, got.body["access_token"])
			refresh := as[string](t, got.body["refresh_token"])
			// Introspection, with aud = the introspection endpoint itself.
			c := s.defaults(e.env)
			c.aud = e.issuer + "/api/oidc/introspection"
			got = epPost(t, e.env, "/api/oidc/introspection", withForm(s.form(s.sign(c)), url.Values{"token": {access}}), "", "")
			if got.status != http.StatusOK || got.body["active"] != true || got.body["client_id"] != s.clientID {
				t.Fatalf("introspection: %d %s", got.status, got.raw)
			}
			// Revocation, with aud = the issuer.
			c = s.defaults(e.env)
			c.aud = []string{"https://elsewhere.example", e.issuer}
			got = epPost(t, e.env, "/api/oidc/revocation", withForm(s.form(s.sign(c)), url.Values{"token": {refresh}}), "", "")
			if got.status != http.StatusOK {
				t.Fatalf("revocation: %d %s", got.status, got.raw)
			}
			got = epPost(t, e.env, "/api/oidc/introspection", withForm(s.form(s.sign(s.defaults(e.env))), url.Values{"token": {access}}), "", "")
			if got.body["active"] != false {
				t.Errorf("after revocation the access token is %s", got.raw)
			}
			// PAR.
			got = push(t, e.env, withForm(s.form(s.sign(s.defaults(e.env))), pushForm(s.clientID, randString(t), randString(t), oauth2.GenerateVerifier())), "", "")
			requestURI(t, got, 300)
		})
	}
	// The jwks_uri was fetched once and then served from the cache.
	if n := e.jwksHits.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times, want 1", n)
	}
}

func TestClientAssertionsRefused(t *testing.T) {
	e := newAssertionEnv(t)
	l := newLeakCheck(t, e.env)
	l.add("client secret", jwtSecret)
	code := func(t *testing.T, client string) url.Values {
		r := newRP(t, e.issuer, client, "", oauth2.AuthStyleInParams)
		params := loginFlow(t, newBrowser(t, e.issuer), r.config.AuthCodeURL(randString(t)), "alice")
		return url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}
	}
	token := func(form url.Values) epResponse {
		return epPost(t, e.env, "/api/oidc/token", form, "", "")
	}

	t.Run("replayed jti", func(t *testing.T) {
		a := e.inline.sign(e.inline.defaults(e.env))
		if got := token(withForm(e.inline.form(a), code(t, "pk-inline-app"))); got.status != http.StatusOK {
			t.Fatalf("first use: %d %s", got.status, got.raw)
		}
		got := token(withForm(e.inline.form(a), code(t, "pk-inline-app")))
		wantOAuthError(t, got, http.StatusUnauthorized, "invalid_client")
		if !strings.Contains(as[string](t, got.body["error_description"]), "jti") {
			t.Errorf("hint %q does not name the jti", got.body["error_description"])
		}
		// The same jti in a new assertion, too.
		c := e.inline.defaults(e.env)
		c.jti = "fixed-" + randString(t)
		if got := token(withForm(e.inline.form(e.inline.sign(c)), code(t, "pk-inline-app"))); got.status != http.StatusOK {
			t.Fatalf("fresh jti: %d %s", got.status, got.raw)
		}
		c.exp = c.exp.Add(time.Second)
		wantOAuthError(t, token(withForm(e.inline.form(e.inline.sign(c)), code(t, "pk-inline-app"))), http.StatusUnauthorized, "invalid_client")
	})

	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	spoil := func(s signer, f func(*assertionClaims)) string {
		c := s.defaults(e.env)
		f(&c)
		return s.sign(c)
	}
	cases := []struct {
		name, client string
		form         url.Values
		hint         string
	}{
		{"wrong aud", "pk-inline-app", e.inline.form(spoil(e.inline, func(c *assertionClaims) { c.aud = e.issuer + "/api/oidc/userinfo" })), "aud"},
		{"aud of another provider", "jwt-secret-app", e.secretJWT.form(spoil(e.secretJWT, func(c *assertionClaims) { c.aud = "https://other.example/token" })), "aud"},
		{"expired", "pk-inline-app", e.inline.form(spoil(e.inline, func(c *assertionClaims) { c.exp = time.Now().Add(-5 * time.Minute) })), "expired"},
		{"no exp", "jwt-secret-app", e.secretJWT.form(spoil(e.secretJWT, func(c *assertionClaims) { c.noExp = true })), "exp"},
		{"exp a day away", "pk-remote-app", e.remote.form(spoil(e.remote, func(c *assertionClaims) { c.exp = time.Now().Add(24 * time.Hour) })), "short-lived"},
		{"no jti", "pk-remote-app", e.remote.form(spoil(e.remote, func(c *assertionClaims) { c.noJTI = true })), "jti"},
		{"iss is not the client", "pk-inline-app", e.inline.form(spoil(e.inline, func(c *assertionClaims) { c.iss = "spa" })), "iss"},
		{"issued in the future", "pk-inline-app", e.inline.form(spoil(e.inline, func(c *assertionClaims) { c.iat = time.Now().Add(10 * time.Minute) })), "future"},
		{"another key, same kid", "pk-inline-app", signer{t: t, clientID: "pk-inline-app", key: otherEC, alg: jose.ES256, kid: "rp-ec-1"}.form(spoil(signer{t: t, clientID: "pk-inline-app", key: otherEC, alg: jose.ES256, kid: "rp-ec-1"}, func(*assertionClaims) {})), "keys"},
		{"unknown key at jwks_uri", "pk-remote-app", signer{t: t, clientID: "pk-remote-app", key: otherRSA, alg: jose.PS256, kid: "rp-rsa-2"}.form(spoil(signer{t: t, clientID: "pk-remote-app", key: otherRSA, alg: jose.PS256, kid: "rp-rsa-2"}, func(*assertionClaims) {})), "jwks_uri"},
		{"wrong secret", "jwt-secret-app", signer{t: t, clientID: "jwt-secret-app", key: []byte(strings.Repeat("x", 32)), alg: jose.HS256}.form(spoil(signer{t: t, clientID: "jwt-secret-app", key: []byte(strings.Repeat("x", 32)), alg: jose.HS256}, func(*assertionClaims) {})), "signature"},
		{"alg other than registered", "pk-inline-app", signer{t: t, clientID: "pk-inline-app", key: otherRSA, alg: jose.RS256}.form(spoil(signer{t: t, clientID: "pk-inline-app", key: otherRSA, alg: jose.RS256}, func(*assertionClaims) {})), "ES256"},
		{"secret JWT for a private_key_jwt client", "pk-inline-app", signer{t: t, clientID: "pk-inline-app", key: []byte(jwtSecret), alg: jose.HS256}.form(spoil(signer{t: t, clientID: "pk-inline-app", key: []byte(jwtSecret), alg: jose.HS256}, func(*assertionClaims) {})), "private_key_jwt"},
		{"assertion for a basic client", "basic-app", signer{t: t, clientID: "basic-app", key: []byte("s3cret-basic-padded-to-32-bytes!"), alg: jose.HS256}.form(spoil(signer{t: t, clientID: "basic-app", key: []byte("s3cret-basic-padded-to-32-bytes!"), alg: jose.HS256}, func(*assertionClaims) {})), "client_secret_basic"},
		{"client_id is not sub", "pk-inline-app", withForm(e.inline.form(e.inline.sign(e.inline.defaults(e.env))), url.Values{"client_id": {"pk-remote-app"}}), "sub"},
		{"not a JWT", "pk-inline-app", e.inline.form("not-a-jwt"), "signed JWT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := token(withForm(tc.form, code(t, tc.client)))
			wantOAuthError(t, got, http.StatusUnauthorized, "invalid_client")
			if d, _ := got.body["error_description"].(string); !strings.Contains(d, tc.hint) {
				t.Errorf("error_description %q does not mention %q", d, tc.hint)
			}
		})
	}

	t.Run("other methods are refused for assertion clients", func(t *testing.T) {
		// A client_secret_jwt client may not send its secret as such.
		wantOAuthError(t, epPost(t, e.env, "/api/oidc/token", code(t, "jwt-secret-app"), "jwt-secret-app", jwtSecret), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, token(withForm(code(t, "jwt-secret-app"), url.Values{"client_id": {"jwt-secret-app"}, "client_secret": {jwtSecret}})), http.StatusUnauthorized, "invalid_client")
		// Nor a private_key_jwt client go without authentication.
		wantOAuthError(t, token(withForm(code(t, "pk-inline-app"), url.Values{"client_id": {"pk-inline-app"}})), http.StatusUnauthorized, "invalid_client")
		// An assertion together with a secret is ambiguous.
		got := token(withForm(e.secretJWT.form(e.secretJWT.sign(e.secretJWT.defaults(e.env))), withForm(code(t, "jwt-secret-app"), url.Values{"client_secret": {jwtSecret}})))
		wantOAuthError(t, got, http.StatusBadRequest, "invalid_request")
		// An unknown assertion type.
		form := e.inline.form(e.inline.sign(e.inline.defaults(e.env)))
		form.Set("client_assertion_type", "urn:example:saml")
		wantOAuthError(t, token(withForm(form, code(t, "pk-inline-app"))), http.StatusBadRequest, "invalid_request")
	})
}

// Misconfigured assertion clients fail at provision, naming the client and
// the option.
func TestClientAssertionProvisionErrors(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	rk := testRSAKeys()[0]
	pub, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pubPath := pemFile(t, e.dir, "pub.pem", "PUBLIC KEY", pub)
	privPath := pemFile(t, e.dir, "priv.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk))
	const digest = "$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng"
	client := func(name, body string) string {
		return "\n\t\tclient " + name + " {\n\t\t\tredirect_uris " + rpCallback + "\n" + body + "\n\t\t}"
	}
	cases := []struct {
		name, clients string
		want          []string
	}{
		{"client_secret_jwt with a digest", client("hs-digest", "\t\t\ttoken_endpoint_auth_method client_secret_jwt\n\t\t\tclient_secret \""+digest+"\""),
			[]string{`client "hs-digest"`, "client_secret", "digest"}},
		{"client_secret_jwt with a short secret", client("hs-short", "\t\t\ttoken_endpoint_auth_method client_secret_jwt\n\t\t\tclient_secret short-secret"),
			[]string{`client "hs-short"`, "client_secret", "32 bytes"}},
		{"HS512 with a 48-byte secret", client("hs-512", "\t\t\ttoken_endpoint_auth_method client_secret_jwt\n\t\t\ttoken_endpoint_auth_signing_alg HS512\n\t\t\tclient_secret \""+jwtSecret+"\""),
			[]string{`client "hs-512"`, "client_secret", "64 bytes"}},
		{"private_key_jwt without keys", client("pk-nokeys", "\t\t\ttoken_endpoint_auth_method private_key_jwt"),
			[]string{`client "pk-nokeys"`, "token_endpoint_auth_method", "jwks"}},
		{"private_key_jwt with a secret", client("pk-secret", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tclient_secret abc\n\t\t\tjwks_uri https://rp.example/jwks"),
			[]string{`client "pk-secret"`, "client_secret", "private_key_jwt"}},
		{"jwks_uri over http", client("pk-http", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tjwks_uri http://rp.example/jwks"),
			[]string{`client "pk-http"`, "jwks_uri", "https"}},
		{"jwks and jwks_uri", client("pk-both", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tjwks_uri https://rp.example/jwks\n\t\t\tjwk k {\n\t\t\t\tkey {file."+pubPath+"}\n\t\t\t}"),
			[]string{`client "pk-both"`, "jwks_uri", "not both"}},
		{"a private key in a client's jwks", client("pk-priv", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\tjwk k {\n\t\t\t\tkey {file."+privPath+"}\n\t\t\t}"),
			[]string{`client "pk-priv"`, `jwks: key_id "k"`, "private key"}},
		{"alg that fits no key", client("pk-alg", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\ttoken_endpoint_auth_signing_alg ES256\n\t\t\tjwk k {\n\t\t\t\tkey {file."+pubPath+"}\n\t\t\t}"),
			[]string{`client "pk-alg"`, "token_endpoint_auth_signing_alg", "ES256"}},
		{"HS256 for private_key_jwt", client("pk-hs", "\t\t\ttoken_endpoint_auth_method private_key_jwt\n\t\t\ttoken_endpoint_auth_signing_alg HS256\n\t\t\tjwks_uri https://rp.example/jwks"),
			[]string{`client "pk-hs"`, "token_endpoint_auth_signing_alg", "HS256"}},
		{"signing alg for a basic client", client("basic-alg", "\t\t\tclient_secret abc\n\t\t\ttoken_endpoint_auth_signing_alg RS256"),
			[]string{`client "basic-alg"`, "token_endpoint_auth_signing_alg"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clients = standardClients + tc.clients
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), jwtSecret) {
				t.Errorf("error quotes the secret: %v", err)
			}
		})
	}
}
