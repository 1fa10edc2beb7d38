package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_900_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rsaKeys are generated once: RSA generation is slow under -race.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
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

func configured(t *testing.T, kid string, key crypto.Signer) ConfiguredKey {
	t.Helper()
	alg := RS256
	if _, ok := key.(*ecdsa.PrivateKey); ok {
		alg = ES256
	}
	return ConfiguredKey{KeyID: kid, Algorithm: alg, Key: key}
}

func publishedKIDs(m *Manager) []string {
	var out []string
	for _, k := range m.PublicKeys().Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

func signWith(t *testing.T, m *Manager, alg string) string {
	t.Helper()
	tok, err := m.Sign(map[string]any{"sub": "alice"}, alg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID
}

// storedKeys reads signing_keys.json as generic JSON.
func storedKeys(t *testing.T, st Storage, prefix string) map[string]map[string]any {
	t.Helper()
	data, err := st.Load(context.Background(), prefix+"/signing_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, k := range set.Keys {
		out[member(t, k, "kid")+"/"+member(t, k, "kty")+"/"+stateOf(k)] = k
	}
	return out
}

func stateOf(k map[string]any) string {
	if s, ok := k["state"].(string); ok {
		return s
	}
	return "active"
}

// The whole life of a configured key: it replaces the generated RS256 key,
// is replaced in turn, and each replaced key keeps verifying for the
// retention, then drops out, in a running manager and in storage alike.
func TestConfiguredKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	clock := newClock()
	const retention = 10 * time.Minute
	load := func(cfg ...ConfiguredKey) *Manager {
		t.Helper()
		m, err := Load(ctx, st, "p", Options{Configured: cfg, Retention: retention, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	gen := load()
	genRS, genES := gen.activeKey(RS256).kid, gen.activeKey(ES256).kid
	tokGen := signWith(t, gen, RS256)

	// 1. A configured RS256 key signs; the generated one is retired.
	clock.add(time.Minute)
	k1, k2 := rsaKeys()[0], rsaKeys()[1]
	m1 := load(configured(t, "main", k1))
	if got := kidOf(t, signWith(t, m1, RS256)); got != "main" {
		t.Fatalf("RS256 signed with kid %q, want main", got)
	}
	if got := kidOf(t, signWith(t, m1, ES256)); got != genES {
		t.Fatalf("ES256 signed with kid %q, want the generated %q", got, genES)
	}
	if got, want := publishedKIDs(m1), sortedOf("main", genRS, genES); !slices.Equal(got, want) {
		t.Fatalf("published %v, want %v", got, want)
	}
	if first := m1.PublicKeys().Keys[0].KeyID; first == genRS {
		t.Errorf("the retired key is published first")
	}
	if _, err := m1.Verify(tokGen); err != nil {
		t.Fatalf("token of the retired generated key: %v", err)
	}
	stored := storedKeys(t, st, "p")
	rec, ok := stored["main/RSA/active"]
	if !ok || rec["origin"] != "config" {
		t.Fatalf("no public record of the configured key: %v", stored)
	}
	if _, private := rec["d"]; private {
		t.Fatal("the configured private key was stored")
	}
	if r := stored[genRS+"/RSA/retired"]; r == nil || r["expires_at"] != float64(clock.Now().Add(retention).Unix()) {
		t.Fatalf("retired generated key: %v", r)
	}

	// Another instance on the same storage and config agrees.
	if again := load(configured(t, "main", k1)); string(again.JWKS()) != string(m1.JWKS()) {
		t.Errorf("second instance publishes\n%s\nnot\n%s", again.JWKS(), m1.JWKS())
	}

	// 2. Replaced by another configured key: "main" is retired.
	tokMain := signWith(t, m1, RS256)
	clock.add(2 * time.Minute)
	m2 := load(configured(t, "next", k2))
	if got := kidOf(t, signWith(t, m2, RS256)); got != "next" {
		t.Fatalf("RS256 signed with kid %q, want next", got)
	}
	for name, tok := range map[string]string{"main": tokMain, "generated": tokGen} {
		if _, err := m2.Verify(tok); err != nil {
			t.Errorf("token of the retired %s key: %v", name, err)
		}
		if _, err := m2.FositeSigner().Decode(ctx, tok); err != nil {
			t.Errorf("fosite Decode, token of the retired %s key: %v", name, err)
		}
	}

	// 3. The generated key expires first (retired at +1m), in the running
	// manager without a reload; "main" (retired at +3m) later.
	clock.add(retention - 2*time.Minute) // +11m
	if got, want := publishedKIDs(m2), sortedOf("next", "main", genES); !slices.Equal(got, want) {
		t.Fatalf("at +11m published %v, want %v", got, want)
	}
	if _, err := m2.Verify(tokGen); err == nil {
		t.Error("an expired retired key still verifies")
	}
	if _, err := m2.Verify(tokMain); err != nil {
		t.Errorf("main retired 8 minutes ago: %v", err)
	}
	clock.add(2 * time.Minute) // +13m
	if got, want := publishedKIDs(m2), sortedOf("next", genES); !slices.Equal(got, want) {
		t.Fatalf("at +13m published %v, want %v", got, want)
	}
	if _, err := m2.FositeSigner().Decode(ctx, tokMain); err == nil {
		t.Error("fosite Decode accepts a token of an expired key")
	}
	// And a load drops both from storage.
	load(configured(t, "next", k2))
	if stored := storedKeys(t, st, "p"); len(stored) != 2 || stored["next/RSA/active"] == nil || stored[genES+"/EC/active"] == nil {
		t.Fatalf("stored after expiry: %v", stored)
	}

	// 4. Without configured keys, a new RS256 key is generated and the
	// configured one is retired.
	m4 := load()
	if kid := m4.activeKey(RS256).kid; kid == "next" || kid == genRS {
		t.Fatalf("active RS256 kid %q", kid)
	}
	if !slices.Contains(publishedKIDs(m4), "next") {
		t.Error("the removed configured key is not published as retired")
	}

	// 5. Configured again: the retired record becomes active again.
	m5 := load(configured(t, "next", k2))
	if m5.activeKey(RS256).kid != "next" || len(storedKeys(t, st, "p")) != 3 {
		t.Fatalf("reactivated: active %q, stored %v", m5.activeKey(RS256).kid, storedKeys(t, st, "p"))
	}
}

func sortedOf(s ...string) []string {
	slices.Sort(s)
	return s
}

// A key file replaced under the same key_id: both keys are published under
// that kid until the old one expires, and tokens of both verify.
func TestConfiguredKeySameKIDNewKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	clock := newClock()
	opts := func(k crypto.Signer) Options {
		return Options{Configured: []ConfiguredKey{configured(t, "main", k)}, Retention: time.Hour, Now: clock.Now}
	}
	m1, err := Load(ctx, st, "p", opts(rsaKeys()[0]))
	if err != nil {
		t.Fatal(err)
	}
	old := signWith(t, m1, RS256)
	m2, err := Load(ctx, st, "p", opts(rsaKeys()[1]))
	if err != nil {
		t.Fatal(err)
	}
	cur := signWith(t, m2, RS256)
	for name, tok := range map[string]string{"old": old, "current": cur} {
		if _, err := m2.Verify(tok); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
		if _, err := m2.FositeSigner().Decode(ctx, tok); err != nil {
			t.Errorf("%s key, fosite Decode: %v", name, err)
		}
	}
	if n := len(keysWithKID(m2, "main")); n != 2 {
		t.Errorf("%d keys with kid main, want 2", n)
	}
	clock.add(time.Hour)
	if _, err := m2.Verify(old); err == nil {
		t.Error("the replaced key still verifies after the retention")
	}
	if n := len(keysWithKID(m2, "main")); n != 1 {
		t.Errorf("%d keys with kid main, want 1", n)
	}
}

// Configured keys after the first of their algorithm are published and
// verify, but never sign, and are not stored.
func TestConfiguredStandbyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec2, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(ctx, st, "p", Options{Configured: []ConfiguredKey{
		configured(t, "es-1", ec), configured(t, "rs-1", rsaKeys()[0]), configured(t, "es-2", ec2),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if m.activeKey(ES256).kid != "es-1" || m.activeKey(RS256).kid != "rs-1" {
		t.Fatalf("active %q %q", m.activeKey(ES256).kid, m.activeKey(RS256).kid)
	}
	if got := publishedKIDs(m); !slices.Equal(got, sortedOf("es-1", "es-2", "rs-1")) {
		t.Fatalf("published %v", got)
	}
	standby, err := newManager([]*signingKey{{kid: "es-2", alg: ES256, state: stateActive, jwk: jose.JSONWebKey{Key: ec2}, public: &ec2.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(signWith(t, standby, ES256)); err != nil {
		t.Errorf("token of a standby key: %v", err)
	}
	if stored := storedKeys(t, st, "p"); len(stored) != 2 || stored["es-2/EC/active"] != nil {
		t.Errorf("stored %v", stored)
	}
}

func TestLoadRefusesBadConfiguredKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := rsaKeys()[0]
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	cases := map[string][]ConfiguredKey{
		"duplicate key_id": {configured(t, "a", k), configured(t, "a", rsaKeys()[1])},
		"empty key_id":     {configured(t, "", k)},
		"alg mismatch":     {{KeyID: "a", Algorithm: ES256, Key: k}},
		"P-384":            {{KeyID: "a", Algorithm: ES256, Key: p384}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(ctx, newStorage(t), "p", Options{Configured: cfg}); err == nil {
				t.Fatal("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

// A key retired by an older version (no retired_at) is kept for the
// retention from the first load that sees it.
func TestLegacyRetiredKeyGetsRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m := shared()
	retired := mustGenerate(t, ES256)
	retired.state = stateRetired
	data, err := encodeKeySet(append(slices.Clone(m.all()), retired))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Store(ctx, "p/signing_keys.json", data); err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	opts := Options{Retention: time.Minute, Now: clock.Now}
	if l, err := Load(ctx, st, "p", opts); err != nil || len(keysWithKID(l, retired.kid)) != 1 {
		t.Fatalf("first load: %v", err)
	}
	clock.add(time.Minute)
	l, err := Load(ctx, st, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(keysWithKID(l, retired.kid)) != 0 {
		t.Error("legacy retired key still published after the retention")
	}
}

func pemOf(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func selfSigned(t *testing.T, key crypto.Signer) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "op"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "CERTIFICATE", der)
}

func ed25519DER(t *testing.T) []byte {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseConfiguredKey(t *testing.T) {
	t.Parallel()
	rk := rsaKeys()[0]
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rk)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p384der, _ := x509.MarshalECPrivateKey(p384)
	pkcs1 := pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk))
	pubDER, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)

	ok := []struct {
		name, kid, alg, key, chain string
		wantAlg                    string
	}{
		{"PKCS #1", "a", "", pkcs1, "", RS256},
		{"PKCS #8, explicit alg", "a", RS256, pemOf(t, "PRIVATE KEY", pkcs8), "", RS256},
		{"SEC 1", "a", "", pemOf(t, "EC PRIVATE KEY", sec1), "", ES256},
		{"with chain", "a", "", pkcs1, selfSigned(t, rk), RS256},
		{"key followed by its certificate", "a", "", pkcs1 + selfSigned(t, rk), "", RS256},
		{"RSA for PS384", "a", PS384, pkcs1, "", PS384},
		{"P-384 inferred", "a", "", pemOf(t, "EC PRIVATE KEY", p384der), "", ES384},
		{"Ed25519 inferred", "a", "", pemOf(t, "PRIVATE KEY", ed25519DER(t)), "", EdDSA},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			ck, err := ParseConfiguredKey(tc.kid, tc.alg, "sig", tc.key, tc.chain)
			if err != nil {
				t.Fatal(err)
			}
			if ck.Algorithm != tc.wantAlg || ck.KeyID != tc.kid || (tc.chain != "") != (len(ck.Certificates) == 1) {
				t.Errorf("got %+v", ck)
			}
		})
	}

	// The kid defaults to the thumbprint, as for Authelia's issuer_private_key.
	ck, err := ParseConfiguredKey("", "", "", pkcs1, "")
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := (&jose.JSONWebKey{Key: &rk.PublicKey}).Thumbprint(crypto.SHA256); ck.KeyID != b64(tp) {
		t.Errorf("kid %q, want the thumbprint", ck.KeyID)
	}

	secret := pkcs1[40:60]
	bad := []struct {
		name, alg, use, key, chain, want string
	}{
		{"empty", "", "", "", "", "key: required"},
		{"not PEM", "", "", "hello", "", "key: no PEM block"},
		{"public key", "", "", pemOf(t, "PUBLIC KEY", pubDER), "", `key: PEM block "PUBLIC KEY" is not a private key`},
		{"small RSA", "", "", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), "", "key: RSA key of 1024 bits"},
		{"P-384 with ES256", ES256, "", pemOf(t, "EC PRIVATE KEY", p384der), "", "key: EC P-384 key with alg \"ES256\""},
		{"alg mismatch", ES256, "", pkcs1, "", "key: RSA key with alg"},
		{"unsupported alg", "HS256", "", pkcs1, "", "algorithm: \"HS256\""},
		{"use enc", "", "enc", pkcs1, "", "use:"},
		{"corrupt", "", "", strings.Replace(pkcs1, pkcs1[100:110], "AAAAAAAAAA", 1), "", "key: rsa private key: malformed"},
		{"chain of another key", "", "", pkcs1, selfSigned(t, ec), "certificate_chain: the first certificate does not certify the key"},
		{"chain with a key", "", "", pkcs1, pkcs1, "certificate_chain: PEM block 0"},
		{"two keys", "", "", pkcs1 + pkcs1, "", "key: more than one private key"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfiguredKey("a", tc.alg, tc.use, tc.key, tc.chain)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes key material: %v", err)
			}
		})
	}
}

func TestParsePublicJWK(t *testing.T) {
	t.Parallel()
	rk := rsaKeys()[0]
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pkix, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	ecPKIX, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	cases := []struct {
		name, alg, key, chain, want string
	}{
		{"PKIX RSA", "PS256", pemOf(t, "PUBLIC KEY", pkix), "", ""},
		{"PKCS #1 RSA", "", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey)), "", ""},
		{"certificate", "RS256", selfSigned(t, rk), "", ""},
		{"P-384", "ES384", pemOf(t, "PUBLIC KEY", ecPKIX), "", ""},
		{"P-384 with ES256", "ES256", pemOf(t, "PUBLIC KEY", ecPKIX), "", `algorithm: "ES256" does not fit`},
		{"private key", "", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), "", "key: this is a private key"},
		{"HS256", "HS256", pemOf(t, "PUBLIC KEY", pkix), "", "algorithm:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			jwk, err := ParsePublicJWK("k", tc.alg, "", tc.key, tc.chain)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if jwk.KeyID != "k" || jwk.Algorithm != tc.alg || jwk.Use != "sig" || !jwk.IsPublic() {
				t.Errorf("jwk %+v", jwk)
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// keysWithKID returns the published keys with kid.
func keysWithKID(m *Manager, kid string) []jose.JSONWebKey {
	set := m.PublicKeys()
	return set.Key(kid)
}
