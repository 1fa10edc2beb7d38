package provider

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/dpop"
)

// dpopKey is a client's DPoP key.
type dpopKey struct {
	t   *testing.T
	key *ecdsa.PrivateKey
}

func newDPoPKey(t *testing.T) dpopKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return dpopKey{t, k}
}

func (k dpopKey) jkt() string {
	tp, err := (&jose.JSONWebKey{Key: k.key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		k.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proof signs a DPoP proof for method and URL; token sets ath, nonce the
// server nonce, age how long ago it was made.
func (k dpopKey) proof(method, u, token, nonce string, age time.Duration) string {
	k.t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		k.t.Fatal(err)
	}
	c := map[string]any{"jti": randomToken(), "htm": method, "htu": u, "iat": time.Now().Add(-age).Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	b, _ := json.Marshal(c)
	jws, err := s.Sign(b)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// dpopPost sends a token request with an optional DPoP proof.
func (tp *epProvider) dpopPost(form url.Values, user, pass, proof string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, epIssuer+pathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if proof != "" {
		req.Header.Set(dpop.Header, proof)
	}
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	return w
}

// userinfo calls userinfo with the scheme and an optional proof.
func (tp *epProvider) userinfo(method, scheme, token, proof string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, epIssuer+pathUserinfo, nil)
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set(dpop.Header, proof)
	}
	w := httptest.NewRecorder()
	tp.ServeHTTP(w, req)
	return w
}

func dpopProvider(t *testing.T, mutate func(*Config)) *epProvider {
	return newEndpointProvider(t, func(c *Config) {
		c.Clients = append(c.Clients,
			ClientConfig{ID: "cc", Secret: "cc-secret", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, AccessTokenSignedResponseAlg: "RS256"},
			ClientConfig{ID: "bound", Secret: "bound-secret", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, DPoPBoundAccessTokens: true},
		)
		if mutate != nil {
			mutate(c)
		}
	})
}

// A public client's refresh: the new tokens are bound to the proof's key;
// the bound access token works at userinfo only with DPoP and a proof of
// that key for that request; the bound refresh token only with that key.
func TestDPoPRefreshAndUserinfo(t *testing.T) {
	tp := dpopProvider(t, nil)
	tp.scopes = fosite.Arguments{"openid", "offline_access"}
	g := tp.mint("spa", "alice")
	key, other := newDPoPKey(t), newDPoPKey(t)
	tokenURL, userinfoURL := epIssuer+pathToken, epIssuer+pathUserinfo

	w := tp.dpopPost(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refresh}, "client_id": {"spa"}}, "", "", key.proof("POST", tokenURL, "", "", 0))
	m := jsonBody(t, w)
	if w.Code != 200 || m["token_type"] != "DPoP" {
		t.Fatalf("refresh with a proof: %d %v", w.Code, m)
	}
	at, rt := mustBe[string](t, m["access_token"]), mustBe[string](t, m["refresh_token"])
	if idt, _ := m["id_token"].(string); idt == "" || strings.Contains(decodePayload(t, idt), sessionJKTKey) {
		t.Errorf("the ID token carries the binding or is missing: %q", idt)
	}

	// Userinfo.
	if w := tp.userinfo("GET", "DPoP", at, key.proof("GET", userinfoURL, at, "", 0)); w.Code != 200 {
		t.Fatalf("userinfo with DPoP: %d %s", w.Code, w.Body)
	}
	replayed := key.proof("GET", userinfoURL, at, "", 0)
	for _, tc := range []struct {
		name, scheme, proof, wantErr string
	}{
		{"as a bearer token", "Bearer", "", "invalid_token"},
		{"as a bearer token with a proof", "Bearer", key.proof("GET", userinfoURL, at, "", 0), "invalid_token"},
		{"no proof", "DPoP", "", "invalid_dpop_proof"},
		{"wrong htm", "DPoP", key.proof("POST", userinfoURL, at, "", 0), "invalid_dpop_proof"},
		{"wrong htu", "DPoP", key.proof("GET", tokenURL, at, "", 0), "invalid_dpop_proof"},
		{"stale iat", "DPoP", key.proof("GET", userinfoURL, at, "", 10*time.Minute), "invalid_dpop_proof"},
		{"no ath", "DPoP", key.proof("GET", userinfoURL, "", "", 0), "invalid_dpop_proof"},
		{"other key", "DPoP", other.proof("GET", userinfoURL, at, "", 0), "invalid_dpop_proof"},
		{"first use", "DPoP", replayed, ""},
		{"replayed proof", "DPoP", replayed, "invalid_dpop_proof"},
	} {
		w := tp.userinfo("GET", tc.scheme, at, tc.proof)
		if tc.wantErr == "" {
			if w.Code != 200 {
				t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			}
			continue
		}
		if w.Code != 401 || jsonBody(t, w)["error"] != tc.wantErr || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "DPoP ") {
			t.Errorf("%s: %d %s %q, want 401 %s with a DPoP challenge", tc.name, w.Code, w.Body, w.Header().Get("WWW-Authenticate"), tc.wantErr)
		}
	}

	// The bound refresh token.
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {"spa"}}
	for name, proof := range map[string]string{
		"no proof":  "",
		"other key": other.proof("POST", tokenURL, "", "", 0),
		"wrong htu": key.proof("POST", userinfoURL, "", "", 0),
		"wrong htm": key.proof("GET", tokenURL, "", "", 0),
		"stale iat": key.proof("POST", tokenURL, "", "", 10*time.Minute),
		"two proofs": key.proof("POST", tokenURL, "", "", 0) + "\n" +
			key.proof("POST", tokenURL, "", "", 0), // see below
	} {
		req := httptest.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if p1, p2, two := strings.Cut(proof, "\n"); two {
			req.Header.Add(dpop.Header, p1)
			req.Header.Add(dpop.Header, p2)
		} else if proof != "" {
			req.Header.Set(dpop.Header, proof)
		}
		w := httptest.NewRecorder()
		tp.ServeHTTP(w, req)
		if w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
			t.Errorf("refresh, %s: %d %s, want 400 invalid_dpop_proof", name, w.Code, w.Body)
		}
	}
	if w := tp.dpopPost(form, "", "", key.proof("POST", tokenURL, "", "", 0)); w.Code != 200 {
		t.Fatalf("refresh with the bound key after refused attempts: %d %s", w.Code, w.Body)
	}
}

// A bearer token presented with the DPoP scheme is refused too.
func TestDPoPSchemeWithBearerToken(t *testing.T) {
	tp := dpopProvider(t, nil)
	g := tp.mint("app", "alice")
	key := newDPoPKey(t)
	if w := tp.userinfo("GET", "Bearer", g.access, ""); w.Code != 200 {
		t.Fatalf("bearer: %d %s", w.Code, w.Body)
	}
	w := tp.userinfo("GET", "DPoP", g.access, key.proof("GET", epIssuer+pathUserinfo, g.access, "", 0))
	if w.Code != 401 || jsonBody(t, w)["error"] != "invalid_token" {
		t.Errorf("a bearer token with the DPoP scheme: %d %s", w.Code, w.Body)
	}
}

// client_credentials with a proof: a JWT access token with cnf.jkt, which
// introspection reports too; a client registered with
// dpop_bound_access_tokens cannot get a token without a proof.
func TestDPoPClientCredentials(t *testing.T) {
	tp := dpopProvider(t, nil)
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	w := tp.dpopPost(form, "cc", "cc-secret", key.proof("POST", epIssuer+pathToken, "", "", 0))
	m := jsonBody(t, w)
	if w.Code != 200 || m["token_type"] != "DPoP" {
		t.Fatalf("client_credentials with a proof: %d %v", w.Code, m)
	}
	at := mustBe[string](t, m["access_token"])
	var claims struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := json.Unmarshal([]byte(decodePayload(t, at)), &claims); err != nil || claims.Cnf.JKT != key.jkt() {
		t.Errorf("JWT access token cnf.jkt = %q (%v), want %q", claims.Cnf.JKT, err, key.jkt())
	}
	w = tp.post(pathIntrospection, url.Values{"token": {at}}, "cc", "cc-secret")
	m = jsonBody(t, w)
	if cnf, _ := m["cnf"].(map[string]any); m["active"] != true || m["token_type"] != "DPoP" || cnf["jkt"] != key.jkt() {
		t.Errorf("introspection: %v", m)
	}

	// Without a proof: a bearer token, no cnf.
	w = tp.dpopPost(form, "cc", "cc-secret", "")
	if m := jsonBody(t, w); w.Code != 200 || !strings.EqualFold(mustBe[string](t, m["token_type"]), "bearer") || strings.Contains(decodePayload(t, mustBe[string](t, m["access_token"])), "cnf") {
		t.Errorf("client_credentials without a proof: %d %v", w.Code, m)
	}

	w = tp.dpopPost(form, "bound", "bound-secret", "")
	if w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
		t.Errorf("dpop_bound_access_tokens client without a proof: %d %s", w.Code, w.Body)
	}
	if w := tp.dpopPost(form, "bound", "bound-secret", key.proof("POST", epIssuer+pathToken, "", "", 0)); w.Code != 200 {
		t.Errorf("dpop_bound_access_tokens client with a proof: %d %s", w.Code, w.Body)
	}
}

// With dpop_nonce_required, a proof without the server's nonce gets
// use_dpop_nonce and the nonce in DPoP-Nonce; a proof with it passes.
func TestDPoPNonce(t *testing.T) {
	tp := dpopProvider(t, func(c *Config) { c.DPoPNonceRequired = true })
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	w := tp.dpopPost(form, "cc", "cc-secret", key.proof("POST", epIssuer+pathToken, "", "", 0))
	nonce := w.Header().Get(dpop.NonceHeader)
	if w.Code != 400 || jsonBody(t, w)["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: %d %s nonce %q", w.Code, w.Body, nonce)
	}
	if w := tp.dpopPost(form, "cc", "cc-secret", key.proof("POST", epIssuer+pathToken, "", "stale-nonce", 0)); w.Code != 400 || jsonBody(t, w)["error"] != "use_dpop_nonce" {
		t.Errorf("wrong nonce: %d %s", w.Code, w.Body)
	}
	if w := tp.dpopPost(form, "cc", "cc-secret", key.proof("POST", epIssuer+pathToken, "", nonce, 0)); w.Code != 200 {
		t.Errorf("with the nonce: %d %s", w.Code, w.Body)
	}
}

func TestDPoPDiscovery(t *testing.T) {
	tp := dpopProvider(t, nil)
	w := tp.browse(http.MethodGet, epIssuer+pathDiscovery, nil)
	var doc map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	algs, _ := doc["dpop_signing_alg_values_supported"].([]any)
	if len(algs) == 0 || algs[0] != "ES256" {
		t.Errorf("dpop_signing_alg_values_supported = %v", doc["dpop_signing_alg_values_supported"])
	}
}

// decodePayload returns a compact JWS's payload, unverified.
func decodePayload(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dpop_jkt (RFC 9449 10) binds the authorization code to a key: the
// exchange needs a proof of that key; a malformed dpop_jkt is refused at
// the authorization endpoint.
func TestDPoPJKTBindsCode(t *testing.T) {
	tp := dpopProvider(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "jkt-app", Secret: "jkt-secret", RedirectURIs: []string{"https://jkt.example/cb"},
			Scopes: []string{"openid"}, ConsentMode: "implicit"})
	})
	session, _, _ := tp.signIn("alice")
	key, other := newDPoPKey(t), newDPoPKey(t)
	authorize := func(jkt string) *url.URL {
		q := url.Values{"response_type": {"code"}, "client_id": {"jkt-app"}, "redirect_uri": {"https://jkt.example/cb"},
			"scope": {"openid"}, "state": {"state-12345678"}, "dpop_jkt": {jkt}}
		w := tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil, session)
		loc, err := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || err != nil {
			t.Fatalf("authorize: %d %q", w.Code, w.Header().Get("Location"))
		}
		return loc
	}
	if loc := authorize("not-a-thumbprint"); loc.Query().Get("error") != "invalid_request" {
		t.Errorf("malformed dpop_jkt: %q, want invalid_request", loc)
	}
	code := authorize(key.jkt()).Query().Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://jkt.example/cb"}}
	for name, proof := range map[string]string{"no proof": "", "other key": other.proof("POST", epIssuer+pathToken, "", "", 0)} {
		if w := tp.dpopPost(form, "jkt-app", "jkt-secret", proof); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
			t.Errorf("code bound by dpop_jkt, %s: %d %s", name, w.Code, w.Body)
		}
	}
	w := tp.dpopPost(form, "jkt-app", "jkt-secret", key.proof("POST", epIssuer+pathToken, "", "", 0))
	if m := jsonBody(t, w); w.Code != 200 || m["token_type"] != "DPoP" {
		t.Errorf("code bound by dpop_jkt, the right key: %d %v", w.Code, m)
	}
}

// Two providers over one database, as two instances behind a load
// balancer: a proof accepted by one is a replay at the other, and a nonce
// issued by one is accepted by the other.
func TestDPoPReplayAcrossInstances(t *testing.T) {
	a := dpopProvider(t, func(c *Config) { c.DPoPNonceRequired = true })
	b := dpopProvider(t, func(c *Config) { c.DPoPNonceRequired = true; c.DB = a.db })
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	nonce := a.dpopPost(form, "cc", "cc-secret", key.proof("POST", epIssuer+pathToken, "", "", 0)).Header().Get(dpop.NonceHeader)
	proof := key.proof("POST", epIssuer+pathToken, "", nonce, 0)
	if w := b.dpopPost(form, "cc", "cc-secret", proof); w.Code != 200 {
		t.Fatalf("instance b with instance a's nonce: %d %s", w.Code, w.Body)
	}
	if w := a.dpopPost(form, "cc", "cc-secret", proof); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
		t.Errorf("the proof replayed at instance a: %d %s", w.Code, w.Body)
	}
}

// A pushed authorization request with a DPoP proof binds the code to the
// proof's key (RFC 9449 10.1); a resource not allowed is refused at the
// push already.
func TestDPoPPushedRequest(t *testing.T) {
	tp := dpopProvider(t, func(c *Config) {
		c.Clients = append(c.Clients, ClientConfig{ID: "jkt-app", Secret: "jkt-secret", RedirectURIs: []string{"https://jkt.example/cb"},
			Scopes: []string{"openid"}, ConsentMode: "implicit", Audience: []string{"https://api.example/"}})
	})
	session, _, _ := tp.signIn("alice")
	key, other := newDPoPKey(t), newDPoPKey(t)
	push := func(proof string, extra url.Values) *httptest.ResponseRecorder {
		form := url.Values{"response_type": {"code"}, "client_id": {"jkt-app"}, "redirect_uri": {"https://jkt.example/cb"},
			"scope": {"openid"}, "state": {"pushed-state"}}
		for k, v := range extra {
			form[k] = v
		}
		req := httptest.NewRequest(http.MethodPost, epIssuer+pathPAR, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("jkt-app", "jkt-secret")
		if proof != "" {
			req.Header.Set(dpop.Header, proof)
		}
		w := httptest.NewRecorder()
		tp.ServeHTTP(w, req)
		return w
	}
	parURL := epIssuer + pathPAR
	if w := push("", url.Values{"resource": {"https://evil.example/"}}); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_target" {
		t.Errorf("push with a resource not allowed: %d %s", w.Code, w.Body)
	}
	if w := push(key.proof("POST", epIssuer+pathToken, "", "", 0), nil); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
		t.Errorf("push with a proof for another URL: %d %s", w.Code, w.Body)
	}
	if w := push(key.proof("POST", parURL, "", "", 0), url.Values{"dpop_jkt": {other.jkt()}}); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
		t.Errorf("push with dpop_jkt of another key: %d %s", w.Code, w.Body)
	}
	w := push(key.proof("POST", parURL, "", "", 0), url.Values{"resource": {"https://api.example/"}})
	uri, _ := jsonBody(t, w)["request_uri"].(string)
	if w.Code != http.StatusCreated || uri == "" {
		t.Fatalf("push with a proof: %d %s", w.Code, w.Body)
	}
	q := url.Values{"client_id": {"jkt-app"}, "request_uri": {uri}}
	aw := tp.browse(http.MethodGet, epIssuer+pathAuthorize+"?"+q.Encode(), nil, session)
	loc, _ := url.Parse(aw.Header().Get("Location"))
	code := loc.Query().Get("code")
	if aw.Code != http.StatusSeeOther || code == "" {
		t.Fatalf("authorize with the pushed request: %d %q", aw.Code, loc)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://jkt.example/cb"}}
	if w := tp.dpopPost(form, "jkt-app", "jkt-secret", ""); w.Code != 400 || jsonBody(t, w)["error"] != "invalid_dpop_proof" {
		t.Errorf("exchange without a proof: %d %s", w.Code, w.Body)
	}
	w = tp.dpopPost(form, "jkt-app", "jkt-secret", key.proof("POST", epIssuer+pathToken, "", "", 0))
	m := jsonBody(t, w)
	if w.Code != 200 || m["token_type"] != "DPoP" {
		t.Fatalf("exchange with the key: %d %v", w.Code, m)
	}
	in := jsonBody(t, tp.post(pathIntrospection, url.Values{"token": {mustBe[string](t, m["access_token"])}}, "jkt-app", "jkt-secret"))
	if aud, _ := json.Marshal(in["aud"]); string(aud) != `["https://api.example/"]` {
		t.Errorf("the pushed resource is not the token's audience: %v", in)
	}
}

func TestDPoPNonceLifespanValidated(t *testing.T) {
	cfg := Config{Issuer: epIssuer, DPoPNonceLifespan: -time.Minute}
	tp := newEndpointProvider(t, nil) // for the keys, database and users
	cfg.Users, cfg.Keys, cfg.DB = epUsers{}, tp.keys, tp.db
	cfg.HMACSecret, cfg.CookieSecret = []byte(strings.Repeat("h", 32)), []byte(strings.Repeat("c", 32))
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "dpop_nonce_lifespan") {
		t.Errorf("a negative dpop_nonce_lifespan: err = %v", err)
	}
}
