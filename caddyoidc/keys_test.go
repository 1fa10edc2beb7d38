package caddyoidc_test

// Signing keys from the configuration (jwks, issuer_private_key) and their
// rotation without downtime (issue 6).

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// testRSAKeys are generated once: RSA generation is slow under -race.
var testRSAKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var out []*rsa.PrivateKey
	for range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		out = append(out, k)
	}
	return out
})

// writeKey writes key as PEM (PKCS #8) into e's directory and returns the path.
func writeKey(t *testing.T, e *env, name string, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jwkBlock is the Caddyfile of a configured signing key read from a file.
func jwkBlock(kid, path string) string {
	return fmt.Sprintf(`
		jwk %s {
			algorithm RS256
			use sig
			key {file.%s}
		}`, kid, path)
}

// publishedModulus returns the n of the RSA key with kid in the JWKS, "" if
// there is none.
func publishedModulus(t *testing.T, e *env, kid string) string {
	t.Helper()
	keys, _ := jwksKeys(t, e)
	raw, ok := keys[kid]
	if !ok {
		return ""
	}
	var k struct {
		N string `json:"n"`
	}
	_ = json.Unmarshal([]byte(raw), &k)
	return k.N
}

func modulusOf(k *rsa.PrivateKey) string {
	return base64.RawURLEncoding.EncodeToString(k.N.Bytes())
}

// idTokenFor signs alice in for client with a fresh browser and returns the
// raw ID token.
func idTokenFor(t *testing.T, e *env, client, secret string) string {
	t.Helper()
	_, tok := epTokens(t, e, nil, newBrowser(t, e.issuer), client, secret, "alice")
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	return raw
}

// hintAccepted asks the end-session endpoint, as a visitor who is not
// signed in, to log out with an id_token_hint: a hint it accepts sends the
// visitor straight back to the registered URI; one it refuses gets an error
// page.
func hintAccepted(t *testing.T, e *env, hint string) bool {
	t.Helper()
	p := newBrowser(t, e.issuer).get(endSessionURL(e, "id_token_hint", hint, "post_logout_redirect_uri", logoutReturn))
	switch {
	case p.status == http.StatusSeeOther && p.location == logoutReturn:
		return true
	case p.status == http.StatusBadRequest && strings.Contains(p.body, "did not issue"):
		return false
	}
	t.Fatalf("end-session: unexpected %d %q %.300s", p.status, p.location, p.body)
	return false
}

func TestConfiguredSigningKey(t *testing.T) {
	e := newEnv(t, endpointClients)
	key := testRSAKeys()[0]
	e.extra = jwkBlock("main-2026", writeKey(t, e, "oidc.pem", key))
	e.start()

	if n := publishedModulus(t, e, "main-2026"); n != modulusOf(key) {
		t.Fatalf("JWKS does not publish the configured key: %q", n)
	}
	// The RS256 ID token is signed with it, and go-oidc verifies it with
	// the JWKS.
	r, tok := epTokens(t, e, nil, newBrowser(t, e.issuer), "basic-app", "s3cret-basic", "alice")
	raw := rawIDToken(t, tok)
	if kid := jwtHeader(t, raw)["kid"]; kid != "main-2026" {
		t.Errorf("ID token kid %v, want main-2026", kid)
	}
	idTokenOf(t, r, tok)
	// ES256 keeps its generated key.
	es := idTokenFor(t, e, "post-app", "insecure_secret")
	if h := jwtHeader(t, es); h["alg"] != "ES256" || h["kid"] == "main-2026" {
		t.Errorf("ES256 ID token header %v", h)
	}
	// The private key is never written to Caddy's storage.
	d := base64.RawURLEncoding.EncodeToString(key.D.Bytes())
	_ = filepath.WalkDir(filepath.Join(e.dir, "storage"), func(path string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), d[:40]) {
				t.Errorf("%s holds the configured private key", path)
			}
		}
		return nil
	})
}

// Authelia's older issuer_private_key: RS256, kid = thumbprint.
func TestIssuerPrivateKey(t *testing.T) {
	e := newEnv(t, standardClients)
	key := testRSAKeys()[0]
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(filepath.Join(e.dir, "issuer.pem"), pkcs1, 0o600); err != nil {
		t.Fatal(err)
	}
	e.extra = "\t\tissuer_private_key {file." + filepath.Join(e.dir, "issuer.pem") + "}"
	e.start()
	r, tok := epTokens(t, e, nil, newBrowser(t, e.issuer), "basic-app", "s3cret-basic", "alice")
	kid, _ := jwtHeader(t, tok.Extra("id_token").(string))["kid"].(string)
	if n := publishedModulus(t, e, kid); n != modulusOf(key) {
		t.Fatalf("ID token kid %q is not the configured key", kid)
	}
	// The kid is the RFC 7638 thumbprint.
	e64 := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
	if want := thumbprintRSA(e64, modulusOf(key)); kid != want {
		t.Errorf("kid %q, want the thumbprint %q", kid, want)
	}
	idTokenOf(t, r, tok)
}

func thumbprintRSA(e, n string) string {
	// RFC 7638 3.1: the required members in lexicographic order, no spaces.
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Rotation without downtime: the replaced key stays published and keeps
// verifying (ID tokens through go-oidc, id_token_hint at end-session), also
// over a restart, until its last token has expired; then it drops out.
func TestSigningKeyRotation(t *testing.T) {
	e := newEnv(t, endpointClients)
	oldKey, newKey, newerKey := testRSAKeys()[0], testRSAKeys()[1], testRSAKeys()[2]
	oldPath, newPath, newerPath := writeKey(t, e, "old.pem", oldKey), writeKey(t, e, "new.pem", newKey), writeKey(t, e, "newer.pem", newerKey)
	e.extra = jwkBlock("old", oldPath)
	e.start()
	tOld := idTokenFor(t, e, "logout-app", "s3cret-logout")
	if kid := jwtHeader(t, tOld)["kid"]; kid != "old" {
		t.Fatalf("kid %v, want old", kid)
	}

	// 1. The key is replaced by a reload.
	e.extra = jwkBlock("new", newPath)
	if err := reload(t, e); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if publishedModulus(t, e, "old") != modulusOf(oldKey) || publishedModulus(t, e, "new") != modulusOf(newKey) {
		t.Fatal("after the reload the JWKS must publish the old and the new key")
	}
	tNew := idTokenFor(t, e, "logout-app", "s3cret-logout")
	if kid := jwtHeader(t, tNew)["kid"]; kid != "new" {
		t.Fatalf("after the reload: kid %v, want new", kid)
	}
	// A relying party that fetches the JWKS now verifies both tokens.
	r := newRP(t, e.issuer, "logout-app", "s3cret-logout", oauth2.AuthStyleInHeader)
	for name, raw := range map[string]string{"old": tOld, "new": tNew} {
		if _, err := r.verifier.Verify(ctx(t), raw); err != nil {
			t.Errorf("ID token signed by the %s key: %v", name, err)
		}
		if !hintAccepted(t, e, raw) {
			t.Errorf("end-session refuses an id_token_hint signed by the %s key", name)
		}
	}

	// 2. A restart keeps the retired key.
	e.stop()
	e.start()
	if publishedModulus(t, e, "old") != modulusOf(oldKey) || !hintAccepted(t, e, tOld) {
		t.Fatal("the retired key was lost over a restart")
	}

	// 3. Replaced again with short lifespans: "new" is retired for 2s (the
	// longest token lifespan), then leaves the JWKS without a reload and
	// stops verifying; "old" keeps the hour it was retired for. The
	// provider's clock moves instead of the test sleeping.
	e.extra = jwkBlock("newer", newerPath) + `
		id_token_lifespan 2s
		access_token_lifespan 2s`
	if err := reload(t, e); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if publishedModulus(t, e, "new") == "" || !hintAccepted(t, e, tNew) {
		t.Fatal("the key just replaced must stay published for the token lifespan")
	}
	advanceClock(t, time.Second)
	if publishedModulus(t, e, "new") == "" || !hintAccepted(t, e, tNew) {
		t.Fatal("the retired key left the JWKS after 1s, before its tokens expired")
	}
	// Past the 2s retention, which is rounded up to the second.
	advanceClock(t, 2*time.Second+time.Millisecond)
	if publishedModulus(t, e, "new") != "" {
		t.Fatal("the retired key is still published after its 2s retention")
	}
	if hintAccepted(t, e, tNew) {
		t.Error("end-session accepts an id_token_hint of an expired key")
	}
	if !hintAccepted(t, e, tOld) || publishedModulus(t, e, "old") == "" {
		t.Error("the key retired an hour ago for an hour left early")
	}
	r2 := newRP(t, e.issuer, "logout-app", "s3cret-logout", oauth2.AuthStyleInHeader)
	if _, err := r2.provider.Verifier(&oidc.Config{ClientID: "logout-app", SkipExpiryCheck: true}).Verify(ctx(t), tNew); err == nil {
		t.Error("go-oidc still verifies a token of the expired key")
	}
}

// Automatic rotation (key_rotation_period) without a reload: the JWKS
// gains the next key before any token carries its kid, then ID tokens
// switch to it, and a token of the old key still verifies.
func TestAutomaticKeyRotation(t *testing.T) {
	e := newEnv(t, endpointClients)
	e.extra = `
		key_rotation_period 4s
		key_refresh_interval 1s` // lead 2s
	e.start()
	first, _ := jwksKeys(t, e)
	tOld := idTokenFor(t, e, "logout-app", "s3cret-logout")
	oldKID, _ := jwtHeader(t, tOld)["kid"].(string)
	if _, ok := first[oldKID]; !ok || len(first) != 2 {
		t.Fatalf("kid %q, JWKS %v", oldKID, first)
	}

	start := time.Now()
	var next string
	for next == "" {
		if time.Since(start) > 6*time.Second {
			t.Fatal("no new key in the JWKS after 6s")
		}
		time.Sleep(100 * time.Millisecond)
		keys, _ := jwksKeys(t, e)
		for kid, raw := range keys {
			if _, seen := first[kid]; !seen && strings.Contains(raw, `"kty":"RSA"`) {
				next = kid
			}
		}
	}
	t.Logf("next RS256 key published after %v", time.Since(start))
	for {
		kid, _ := jwtHeader(t, idTokenFor(t, e, "logout-app", "s3cret-logout"))["kid"].(string)
		if kid == next {
			break
		}
		if kid != oldKID {
			t.Fatalf("ID token signed by %q, neither the old key nor the next one published first", kid)
		}
		if time.Since(start) > 12*time.Second {
			t.Fatal("ID tokens still signed by the old key after 12s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("ID tokens signed by the next key after %v", time.Since(start))
	if !hintAccepted(t, e, tOld) {
		t.Error("end-session refuses an id_token_hint of the rotated-out key")
	}
	r := newRP(t, e.issuer, "logout-app", "s3cret-logout", oauth2.AuthStyleInHeader)
	if _, err := r.verifier.Verify(ctx(t), tOld); err != nil {
		t.Errorf("a relying party no longer verifies the old key's token: %v", err)
	}
	if log := e.logText(); strings.Contains(log, "refreshing the signing keys") || !strings.Contains(log, "next signing key published") {
		t.Errorf("the refresher reported errors, or not the rotation:\n%s", log)
	}
}

// Bad signing keys fail at provision, naming the option and the key, never
// quoting key material; the running config keeps serving.
func TestSigningKeyProvisionErrors(t *testing.T) {
	e := newEnv(t, standardClients)
	e.start()
	key := testRSAKeys()[0]
	good := writeKey(t, e, "good.pem", key)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pub := filepath.Join(e.dir, "public.pem")
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(e.dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte(strings.Replace(pkcs1, pkcs1[100:120], "AAAAAAAAAAAAAAAAAAAA", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, extra string
		want        []string
	}{
		{"public key", jwkBlock("pub", pub), []string{`jwks: key_id "pub"`, "key:", "not a private key"}},
		{"missing file", jwkBlock("gone", filepath.Join(e.dir, "nope.pem")), []string{`jwks: key_id "gone"`, "key: required"}},
		{"corrupt key", jwkBlock("bad", garbage), []string{`jwks: key_id "bad"`, "malformed"}},
		{"wrong algorithm", strings.Replace(jwkBlock("es", good), "RS256", "ES256", 1), []string{`jwks: key_id "es"`, "RSA key with alg"}},
		{"unsupported algorithm", strings.Replace(jwkBlock("ps", good), "RS256", "HS256", 1), []string{`jwks: key_id "ps"`, "algorithm", "HS256"}},
		{"key_id twice", jwkBlock("dup", good) + jwkBlock("dup", good), []string{`jwks: key_id "dup"`, "twice"}},
		{"both forms", jwkBlock("a", good) + "\n\t\tissuer_private_key {file." + good + "}", []string{"issuer_private_key", "jwks"}},
		{"issuer_private_key not a key", "\t\tissuer_private_key {file." + pub + "}", []string{"issuer_private_key", "not a private key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.extra = tc.extra
			err := reload(t, e)
			if err == nil {
				t.Fatal("the config loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), pkcs1[200:240]) {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
	e.extra = ""
	if _, err := http.Get(e.issuer + "/jwks.json"); err != nil {
		t.Fatalf("the running config stopped: %v", err)
	}
}
