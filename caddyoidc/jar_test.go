package caddyoidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// Request objects (RFC 9101), JARM and the signing algorithms, through a
// real Caddy.

// jarClientKey is the key the test clients sign request objects with.
func jarClientKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// signRequestObject signs claims as a request object (alg none when key is nil).
func signRequestObject(t *testing.T, key *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	if key == nil {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("oauth-authz-req+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jarClients(pub, deadURI string) string {
	return fmt.Sprintf(`
		client jar-app {
			client_secret "s3cret-jar"
			redirect_uris %[1]s
			scopes openid profile email
			consent_mode implicit
			request_uris %[3]s
			jwk {
				key {file.%[2]s}
			}
		}
		client jar-none {
			public
			redirect_uris %[1]s
			scopes openid profile
			consent_mode implicit
			request_object_signing_alg none
		}
		client jarm-app {
			client_secret "s3cret-jarm"
			redirect_uris %[1]s
			scopes openid profile
			consent_mode implicit
			authorization_signed_response_alg ES384
		}
`, rpCallback, pub, deadURI)
}

// newJAREnv starts Caddy with the JAR clients, the key in a file.
func newJAREnv(t *testing.T, pub, deadURI string) *env {
	t.Helper()
	e := newEnv(t, "")
	path := filepath.Join(e.dir, "client-key.pem")
	if err := os.WriteFile(path, []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	e.clients = jarClients(path, deadURI)
	e.start()
	return e
}

func TestRequestObjectErrorsGoToTheClient(t *testing.T) {
	key, pub := jarClientKey(t)
	other, _ := jarClientKey(t)
	deadURI := fmt.Sprintf("https://127.0.0.1:%d/request.jwt", freePort(t))
	e := newJAREnv(t, pub, deadURI)
	b := newBrowser(t, e.issuer)
	good := func(kv ...any) map[string]any {
		c := map[string]any{"iss": "jar-app", "aud": e.issuer, "client_id": "jar-app", "response_type": "code",
			"redirect_uri": rpCallback, "scope": "openid profile", "exp": time.Now().Add(time.Minute).Unix()}
		for i := 0; i+1 < len(kv); i += 2 {
			name, _ := kv[i].(string)
			c[name] = kv[i+1]
		}
		return c
	}
	cases := []struct {
		name, client, code string
		param, value       string
	}{
		{"signature by another key", "jar-app", "invalid_request_object", "request", signRequestObject(t, other, good())},
		{"alg none, not allowed", "jar-app", "invalid_request_object", "request", signRequestObject(t, nil, good())},
		{"wrong audience", "jar-app", "invalid_request_object", "request", signRequestObject(t, key, good("aud", "https://elsewhere.example"))},
		{"expired", "jar-app", "invalid_request_object", "request", signRequestObject(t, key, good("exp", time.Now().Add(-time.Hour).Unix()))},
		{"client_id of another client", "jar-app", "invalid_request_object", "request", signRequestObject(t, key, good("client_id", "jar-none"))},
		{"not a JWT", "jar-app", "invalid_request_object", "request", "garbage"},
		{"signed, for a client allowing only none", "jar-none", "invalid_request_object", "request", signRequestObject(t, key, good("client_id", "jar-none", "iss", "jar-none"))},
		{"request_uri not registered", "jar-app", "invalid_request_uri", "request_uri", "https://127.0.0.1:1/other.jwt"},
		{"request_uri unreachable", "jar-app", "invalid_request_uri", "request_uri", deadURI},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := authQuery(t, tc.client, "scope", "openid", tc.param, tc.value)
			params := callbackParams(t, b.get(e.authURL(q)), rpCallback)
			if params.Get("error") != tc.code || params.Get("state") != q.Get("state") || params.Get("iss") != e.issuer {
				t.Errorf("error %q state %q iss %q, want %s with the state and iss (%v)", params.Get("error"), params.Get("state"), params.Get("iss"), tc.code, params)
			}
		})
	}
	// An unknown client still gets the page: nothing to trust.
	p := b.get(e.authURL(authQuery(t, "nobody", "request", signRequestObject(t, key, good()))))
	if p.status != http.StatusBadRequest || p.location != "" {
		t.Errorf("unknown client: %d %q", p.status, p.location)
	}
}

func TestRequestObjectByValue(t *testing.T) {
	key, pub := jarClientKey(t)
	e := newJAREnv(t, pub, "https://127.0.0.1:1/request.jwt")
	b := newBrowser(t, e.issuer)
	state, nonce := randString(t), randString(t)
	// The URL carries only what OAuth 2.0 needs; the object wins where
	// both speak (scope), and its numbers (max_age) are parameters.
	obj := signRequestObject(t, key, map[string]any{
		"iss": "jar-app", "aud": e.issuer, "client_id": "jar-app", "response_type": "code",
		"redirect_uri": rpCallback, "scope": "openid profile", "state": state, "nonce": nonce,
		"max_age": 600, "exp": time.Now().Add(time.Minute).Unix(),
	})
	q := url.Values{"client_id": {"jar-app"}, "response_type": {"code"}, "scope": {"openid"}, "request": {obj}}
	params := callbackParams(t, authorizeAs(t, b, e.authURL(q), "alice"), rpCallback)
	if params.Get("code") == "" || params.Get("state") != state || params.Get("iss") != e.issuer {
		t.Fatalf("callback %v", params)
	}
	status, tok := postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}, "jar-app", "s3cret-jar")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	claims := jwtClaims(t, as[string](t, tok["id_token"]))
	if claims["nonce"] != nonce || !strings.Contains(as[string](t, tok["scope"]), "profile") {
		t.Errorf("ID token nonce %v, scope %v: the request object's parameters were not used", claims["nonce"], tok["scope"])
	}

	// alg none, for the client that registered it.
	state = randString(t)
	obj = signRequestObject(t, nil, map[string]any{"client_id": "jar-none", "response_type": "code", "redirect_uri": rpCallback,
		"scope": "openid", "state": state, "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
	q = url.Values{"client_id": {"jar-none"}, "response_type": {"code"}, "request": {obj}}
	params = callbackParams(t, b.get(e.authURL(q)), rpCallback)
	if params.Get("code") == "" || params.Get("state") != state {
		t.Errorf("alg none for jar-none: %v", params)
	}
}

// jarmResponse verifies a JARM response JWT with the provider's JWKS.
func jarmResponse(t *testing.T, e *env, token, alg string) map[string]any {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("JARM response: %v", err)
	}
	set := fetchJWKS(t, e)
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 || keys[0].Algorithm != alg {
		t.Fatalf("JWKS has no %s key %q", alg, jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("JARM signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != e.issuer || claims["aud"] != "jarm-app" || as[float64](t, claims["exp"]) <= float64(time.Now().Unix()) {
		t.Errorf("JARM claims %v", claims)
	}
	return claims
}

func fetchJWKS(t *testing.T, e *env) jose.JSONWebKeySet {
	t.Helper()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	resp, err := http.Get(as[string](t, meta["jwks_uri"]))
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	body, _ := io.ReadAll(resp.Body)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS: %v: %s", err, body)
	}
	return set
}

func TestJARM(t *testing.T) {
	_, pub := jarClientKey(t)
	e := newJAREnv(t, pub, "https://127.0.0.1:1/request.jwt")
	b := newBrowser(t, e.issuer)
	for _, mode := range []string{"query.jwt", "jwt", "fragment.jwt"} {
		t.Run(mode, func(t *testing.T) {
			q := authQuery(t, "jarm-app", "scope", "openid", "response_mode", mode)
			p := authorizeAs(t, b, e.authURL(q), "alice")
			var params url.Values
			if mode == "fragment.jwt" {
				params = fragmentParams(t, p, rpCallback)
			} else {
				params = callbackParams(t, p, rpCallback)
			}
			if len(params) != 1 || params.Get("response") == "" {
				t.Fatalf("JARM redirect parameters %v, want response alone", params)
			}
			claims := jarmResponse(t, e, params.Get("response"), "ES384")
			if mode == "fragment.jwt" {
				// Not among a code client's default response modes: the
				// refusal comes back as a JARM response too.
				if claims["error"] != "unsupported_response_mode" || claims["state"] != q.Get("state") {
					t.Errorf("claims %v", claims)
				}
				return
			}
			if claims["code"] == nil || claims["state"] != q.Get("state") {
				t.Errorf("claims %v", claims)
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		q := authQuery(t, "jarm-app", "scope", "openid", "response_mode", "query.jwt", "prompt", "none")
		p := newBrowser(t, e.issuer).get(e.authURL(q))
		params := callbackParams(t, p, rpCallback)
		claims := jarmResponse(t, e, params.Get("response"), "ES384")
		if claims["error"] != "login_required" || claims["state"] != q.Get("state") {
			t.Errorf("claims %v", claims)
		}
	})
	t.Run("form_post.jwt", func(t *testing.T) {
		q := authQuery(t, "jarm-app", "scope", "openid", "response_mode", "form_post.jwt")
		p := authorizeAs(t, b, e.authURL(q), "alice")
		fields := p.formFields()
		if p.status != http.StatusOK || len(fields) != 1 || fields.Get("response") == "" {
			t.Fatalf("form_post.jwt page %d %v", p.status, fields)
		}
		if claims := jarmResponse(t, e, fields.Get("response"), "ES384"); claims["code"] == nil {
			t.Errorf("claims %v", claims)
		}
	})
}

// TestSigningAlgorithms: a client per algorithm; its ID token verifies with
// go-oidc against the JWKS, and its userinfo and JWT access token carry
// the algorithm too.
func TestSigningAlgorithms(t *testing.T) {
	algs := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	var cfg strings.Builder
	for _, alg := range algs {
		fmt.Fprintf(&cfg, `
		client alg-%[1]s {
			client_secret "s3cret-%[1]s"
			redirect_uris %[2]s
			scopes openid profile
			consent_mode implicit
			id_token_signed_response_alg %[1]s
			userinfo_signed_response_alg %[1]s
			access_token_signed_response_alg %[1]s
			introspection_signed_response_alg %[1]s
		}
`, alg, rpCallback)
	}
	e := newEnv(t, cfg.String())
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	for _, k := range []string{"id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported", "authorization_signing_alg_values_supported", "introspection_signing_alg_values_supported"} {
		got := fmt.Sprint(meta[k])
		for _, alg := range algs {
			if !strings.Contains(got, alg) {
				t.Errorf("%s = %s, lacks %s", k, got, alg)
			}
		}
	}
	p, err := oidc.NewProvider(ctx(t), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.issuer)
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			id := "alg-" + alg
			q := authQuery(t, id, "scope", "openid profile")
			params := callbackParams(t, authorizeAs(t, b, e.authURL(q), "alice"), rpCallback)
			status, tok := postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {params.Get("code")}, "redirect_uri": {rpCallback}}, id, "s3cret-"+alg)
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, tok)
			}
			raw := as[string](t, tok["id_token"])
			v := p.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{alg}})
			if _, err := v.Verify(ctx(t), raw); err != nil {
				t.Errorf("ID token: %v", err)
			}
			access := as[string](t, tok["access_token"])
			if h := jwtHeader(t, access); h["alg"] != alg {
				t.Errorf("access token alg %v", h["alg"])
			}
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/api/oidc/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			closeBody(resp)
			if h := jwtHeader(t, string(body)); h["alg"] != alg {
				t.Errorf("userinfo alg %v (%d %s)", h["alg"], resp.StatusCode, body)
			}
			// Signed introspection (RFC 9701) with the client's algorithm.
			intro := signedIntrospection(t, e, id, "s3cret-"+alg, access, false)
			if intro.alg != alg || intro.claims["aud"] != id || as[map[string]any](t, intro.claims["token_introspection"])["active"] != true {
				t.Errorf("introspection: %s %v", intro.alg, intro.claims)
			}
		})
	}
}

type signedIntro struct {
	alg    string
	claims map[string]any
}

// signedIntrospection introspects token and verifies the RFC 9701 answer
// against the JWKS.
func signedIntrospection(t *testing.T, e *env, id, secret, token string, accept bool) signedIntro {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/api/oidc/introspection", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept {
		req.Header.Set("Accept", "application/token-introspection+jwt")
	}
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBody(resp)
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/token-introspection+jwt" {
		t.Fatalf("introspection %d %q: %s", resp.StatusCode, ct, body)
	}
	jws, err := jose.ParseSignedCompact(string(body), []jose.SignatureAlgorithm{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	if h.ExtraHeaders["typ"] != "token-introspection+jwt" {
		t.Errorf("typ %v", h.ExtraHeaders["typ"])
	}
	set := fetchJWKS(t, e)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("no key %q", h.KeyID)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["iss"] != e.issuer {
		t.Errorf("iss %v", claims["iss"])
	}
	return signedIntro{alg: h.Algorithm, claims: claims}
}

func TestSignedIntrospectionOnRequest(t *testing.T) {
	e := newEnv(t, flowClients)
	e.start()
	status, tok := postToken(t, e.issuer, url.Values{"grant_type": {"client_credentials"}}, "m2m", "s3cret-m2m")
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %d %v", status, tok)
	}
	access := as[string](t, tok["access_token"])
	if m := introspectAs(t, e, "m2m", "s3cret-m2m", access); m["active"] != true {
		t.Fatalf("plain introspection %v", m)
	}
	intro := signedIntrospection(t, e, "m2m", "s3cret-m2m", access, true)
	if intro.alg != "RS256" || as[map[string]any](t, intro.claims["token_introspection"])["client_id"] != "m2m" {
		t.Errorf("%s %v", intro.alg, intro.claims)
	}
}

// TestOpenIDClientJARAndJARM: openid-client v6 sends a request object by
// value and verifies the JARM response itself (jar-rp.mjs).
func TestOpenIDClientJARAndJARM(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	privPath, pubPath := filepath.Join(e.dir, "client.key"), filepath.Join(e.dir, "client.pub")
	for path, block := range map[string]*pem.Block{privPath: {Type: "PRIVATE KEY", Bytes: pkcs8}, pubPath: {Type: "PUBLIC KEY", Bytes: pkix}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.clients = fmt.Sprintf(`
		client node-jar {
			client_secret "node-jar-secret"
			redirect_uris https://app.example.com/oidc/callback
			scopes openid profile email
			consent_mode implicit
			id_token_signed_response_alg ES256
			authorization_signed_response_alg ES256
			request_object_signing_alg ES256
			jwk {
				key {file.%s}
			}
		}`, pubPath)
	e.start()
	vars := flowEnv(e, "node-jar", "node-jar-secret", "https://app.example.com/oidc/callback")
	vars["CLIENT_KEY"] = privPath
	out := script(t, "jar-rp.mjs", vars)
	if out["request_parameter_supported"] != true {
		t.Errorf("request_parameter_supported %v", out["request_parameter_supported"])
	}
	if got := fmt.Sprint(out["url_params"]); got != "[client_id request]" {
		t.Errorf("authorization URL parameters %s, want client_id and request only", got)
	}
	if got := fmt.Sprint(out["callback_params"]); got != "[response]" {
		t.Errorf("callback parameters %s, want the JARM response only", got)
	}
	claims, _ := out["claims"].(map[string]any)
	if fmt.Sprint(claims["aud"]) != "[node-jar]" || claims["iss"] != e.issuer || claims["name"] == nil {
		t.Errorf("ID token claims %v", claims)
	}
	if out["jarm_error"] != "login_required" {
		t.Errorf("JARM error %v, want login_required", out["jarm_error"])
	}
}

// TestReloadAddsAlgorithmKey: a reload adding a client with a new algorithm
// gets its key from the shared key manager; the keys published before stay.
func TestReloadAddsAlgorithmKey(t *testing.T) {
	client := func(id, alg string) string {
		return fmt.Sprintf(`
		client %s {
			client_secret "s3cret"
			redirect_uris %s
			id_token_signed_response_alg %s
		}`, id, rpCallback, alg)
	}
	e := newEnv(t, client("a", "RS256"))
	e.start()
	before := fetchJWKS(t, e)
	e.clients = client("a", "RS256") + client("b", "ES512")
	if err := e.load(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	after := fetchJWKS(t, e)
	if len(after.Keys) != len(before.Keys)+1 {
		t.Fatalf("JWKS has %d keys after the reload, want %d", len(after.Keys), len(before.Keys)+1)
	}
	for _, k := range before.Keys {
		if len(after.Key(k.KeyID)) != 1 {
			t.Errorf("key %q left the JWKS", k.KeyID)
		}
	}
	if !strings.Contains(fmt.Sprint(getJSON(t, e.issuer+"/.well-known/openid-configuration")["id_token_signing_alg_values_supported"]), "ES512") {
		t.Error("discovery does not list ES512")
	}
}

// TestEncryptedResponses: ID token (RSA-OAEP-256, nested), userinfo
// (ECDH-ES, the JSON itself) and JARM (ECDH-ES+A256KW, A256GCM, nested)
// encrypted to the client's use-enc keys; each decrypts with the client's
// private key, and what is inside verifies.
func TestEncryptedResponses(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	paths := map[string]any{"rsa.pub": &rsaKey.PublicKey, "ec.pub": &ecKey.PublicKey}
	for name, pub := range paths {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.clients = fmt.Sprintf(`
		client enc-app {
			client_secret "s3cret-enc"
			redirect_uris %[1]s
			scopes openid profile
			consent_mode implicit
			id_token_encrypted_response_alg RSA-OAEP-256
			userinfo_encrypted_response_alg ECDH-ES
			authorization_encrypted_response_alg ECDH-ES+A256KW
			authorization_encrypted_response_enc A256GCM
			jwk rsa-enc {
				use enc
				key {file.%[2]s/rsa.pub}
			}
			jwk ec-enc {
				use enc
				key {file.%[2]s/ec.pub}
			}
		}`, rpCallback, e.dir)
	e.start()
	meta := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if !strings.Contains(fmt.Sprint(meta["id_token_encryption_alg_values_supported"]), "RSA-OAEP-256") {
		t.Errorf("discovery: %v", meta["id_token_encryption_alg_values_supported"])
	}
	decrypt := func(t *testing.T, token string, key any, alg jose.KeyAlgorithm, enc jose.ContentEncryption, kid string) ([]byte, string) {
		t.Helper()
		jwe, err := jose.ParseEncryptedCompact(token, []jose.KeyAlgorithm{alg}, []jose.ContentEncryption{enc})
		if err != nil {
			t.Fatalf("not a %s/%s JWE: %v", alg, enc, err)
		}
		if jwe.Header.KeyID != kid {
			t.Errorf("kid %q, want %q", jwe.Header.KeyID, kid)
		}
		out, err := jwe.Decrypt(key)
		if err != nil {
			t.Fatalf("decrypt: %v", err)
		}
		cty, _ := jwe.Header.ExtraHeaders["cty"].(string)
		return out, cty
	}

	b := newBrowser(t, e.issuer)
	// JARM, encrypted: the code inside.
	q := authQuery(t, "enc-app", "scope", "openid profile", "response_mode", "query.jwt")
	params := callbackParams(t, authorizeAs(t, b, e.authURL(q), "alice"), rpCallback)
	inner, cty := decrypt(t, params.Get("response"), ecKey, jose.ECDH_ES_A256KW, jose.A256GCM, "ec-enc")
	if cty != "JWT" {
		t.Errorf("JARM cty %q", cty)
	}
	jws, err := jose.ParseSignedCompact(string(inner), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	set := fetchJWKS(t, e)
	payload, err := jws.Verify(set.Key(jws.Signatures[0].Header.KeyID)[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	code, _ := claims["code"].(string)
	if code == "" || claims["state"] != q.Get("state") {
		t.Fatalf("JARM claims %v", claims)
	}

	// ID token, encrypted and nested; go-oidc verifies what is inside.
	status, tok := postToken(t, e.issuer, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rpCallback}}, "enc-app", "s3cret-enc")
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, tok)
	}
	inner, cty = decrypt(t, as[string](t, tok["id_token"]), rsaKey, jose.RSA_OAEP_256, jose.A128CBC_HS256, "rsa-enc")
	p, err := oidc.NewProvider(ctx(t), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if idt, err := p.Verifier(&oidc.Config{ClientID: "enc-app"}).Verify(ctx(t), string(inner)); err != nil || cty != "JWT" || idt.Nonce != q.Get("nonce") {
		t.Errorf("inner ID token: %v (cty %q)", err, cty)
	}

	// Userinfo: unsigned, so the JWE of the JSON.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/api/oidc/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+as[string](t, tok["access_token"]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	closeBody(resp)
	if resp.Header.Get("Content-Type") != "application/jwt" {
		t.Errorf("userinfo Content-Type %q", resp.Header.Get("Content-Type"))
	}
	inner, cty = decrypt(t, string(body), ecKey, jose.ECDH_ES, jose.A128CBC_HS256, "ec-enc")
	var info map[string]any
	if err := json.Unmarshal(inner, &info); err != nil || cty != "" || info["name"] != "Alice Example" || info["aud"] != "enc-app" {
		t.Errorf("userinfo %s (cty %q): %v", inner, cty, err)
	}
}
