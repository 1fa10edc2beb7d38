package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	jose "github.com/go-jose/go-jose/v4"
)

// shared is a manager over freshly generated keys, built once: RSA key
// generation is slow under -race.
var shared = sync.OnceValue(func() *Manager {
	var keys []*signingKey
	for _, alg := range defaultAlgs {
		k, err := generateKey(alg)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	m, err := newManager(keys)
	if err != nil {
		panic(err)
	}
	return m
})

func newStorage(t *testing.T) *certmagic.FileStorage {
	t.Helper()
	return &certmagic.FileStorage{Path: t.TempDir()}
}

// member returns the string member name of the JSON key k, failing the
// test when it is missing or not a string.
func member(t *testing.T, k map[string]any, name string) string {
	t.Helper()
	s, ok := k[name].(string)
	if !ok {
		t.Fatalf("key %v: member %q is %T, want a string", k["kid"], name, k[name])
	}
	return s
}

func kids(m *Manager) []string {
	var out []string
	for _, k := range m.all() {
		out = append(out, k.kid)
	}
	return out
}

func TestLoadOrCreatePersists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m1, err := LoadOrCreate(ctx, st, "oidc/example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := m1.Algorithms(); strings.Join(got, ",") != "RS256,ES256" {
		t.Fatalf("Algorithms() = %v", got)
	}
	for _, k := range m1.all() {
		tp, err := k.jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(tp); k.kid != want {
			t.Errorf("kid %q, want thumbprint %q", k.kid, want)
		}
	}
	if !st.Exists(ctx, "oidc/example.com/signing_keys.json") {
		t.Fatal("signing_keys.json not stored")
	}

	m2, err := LoadOrCreate(ctx, &certmagic.FileStorage{Path: st.Path}, "oidc/example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(kids(m1), ",") != strings.Join(kids(m2), ",") {
		t.Errorf("kids changed: %v vs %v", kids(m1), kids(m2))
	}
	if string(m1.JWKS()) != string(m2.JWKS()) {
		t.Errorf("JWKS changed:\n%s\n%s", m1.JWKS(), m2.JWKS())
	}
	// The lock is released: a third call does not block.
	if _, err := LoadOrCreate(ctx, st, "oidc/example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 3
	jwks := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := LoadOrCreate(context.Background(), &certmagic.FileStorage{Path: dir}, "p")
			errs[i] = err
			if m != nil {
				jwks[i] = m.JWKS()
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if string(jwks[i]) != string(jwks[0]) {
			t.Errorf("goroutine %d got other keys:\n%s\n%s", i, jwks[i], jwks[0])
		}
	}
}

func TestJWKSIsPublic(t *testing.T) {
	t.Parallel()
	m := shared()
	// Two calls return the same precomputed bytes, not a fresh encoding.
	first, second := m.JWKS(), m.JWKS()
	if &first[0] != &second[0] {
		t.Error("JWKS() is not precomputed")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys, want 2", len(set.Keys))
	}
	want := map[string][]string{
		"RSA": {"kid", "kty", "alg", "use", "n", "e"},
		"EC":  {"kid", "kty", "alg", "use", "crv", "x", "y"},
	}
	for _, k := range set.Keys {
		members, ok := want[member(t, k, "kty")]
		if !ok {
			t.Fatalf("unexpected kty in %v", k)
		}
		if len(k) != len(members) {
			t.Errorf("key %v: members %d, want exactly %v", k["kid"], len(k), members)
		}
		for _, name := range members {
			if _, ok := k[name]; !ok {
				t.Errorf("key %v: missing %q", k["kid"], name)
			}
		}
		for _, name := range []string{"d", "p", "q", "dp", "dq", "qi", "x5c"} {
			if _, ok := k[name]; ok {
				t.Errorf("key %v: has private/unwanted member %q", k["kid"], name)
			}
		}
		if k["use"] != "sig" {
			t.Errorf("key %v: use %v", k["kid"], k["use"])
		}
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	m := shared()
	tests := []struct {
		alg    string
		extra  map[string]any
		wantTy string
	}{
		{alg: RS256, wantTy: "JWT"},
		{alg: ES256, wantTy: "JWT"},
		{alg: ES256, extra: map[string]any{"typ": "at+jwt", "alg": "none", "kid": "x"}, wantTy: "at+jwt"},
	}
	for _, tc := range tests {
		t.Run(tc.alg+"/"+tc.wantTy, func(t *testing.T) {
			token, err := m.Sign(map[string]any{"sub": "alice", "n": 1}, tc.alg, tc.extra)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != tc.alg || h.KeyID != m.activeKey(tc.alg).kid || h.ExtraHeaders["typ"] != tc.wantTy {
				t.Errorf("header = %+v", h)
			}
			claims, err := m.Verify(token)
			if err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != "alice" || claims["n"] != float64(1) {
				t.Errorf("claims = %v", claims)
			}
		})
	}
	if _, err := m.Sign(map[string]any{}, "PS256", nil); err == nil {
		t.Error("Sign with PS256: no error")
	}
}

// craft builds a compact JWS by hand from a header, claims and a signing
// function over the signing input.
func craft(t *testing.T, header map[string]any, sign func([]byte) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(map[string]any{"sub": "mallory"})
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

// rejectedTokens are tokens Verify and the fosite signer must refuse.
func rejectedTokens(t *testing.T, m *Manager) map[string]string {
	t.Helper()
	foreignEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSign := func(key *ecdsa.PrivateKey) func([]byte) []byte {
		return func(in []byte) []byte {
			d := sha256.Sum256(in)
			r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
			if err != nil {
				t.Fatal(err)
			}
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		}
	}
	rsaKey := m.activeKey(RS256)
	der, err := x509.MarshalPKIXPublicKey(rsaKey.public)
	if err != nil {
		t.Fatal(err)
	}
	hs := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte {
			mac := hmac.New(sha256.New, secret)
			mac.Write(in)
			return mac.Sum(nil)
		}
	}
	rsaJWK, _ := json.Marshal(jose.JSONWebKey{Key: rsaKey.public})
	return map[string]string{
		"foreign key, our kid": craft(t, map[string]any{"alg": "ES256", "kid": m.activeKey(ES256).kid}, ecSign(foreignEC)),
		"foreign key, no kid":  craft(t, map[string]any{"alg": "ES256"}, ecSign(foreignEC)),
		"foreign key and kid":  craft(t, map[string]any{"alg": "ES256", "kid": "foreign"}, ecSign(foreignEC)),
		"alg none":             craft(t, map[string]any{"alg": "none", "typ": "JWT"}, func([]byte) []byte { return nil }),
		"alg none with kid":    craft(t, map[string]any{"alg": "none", "kid": rsaKey.kid}, func([]byte) []byte { return nil }),
		"HS256 with DER key":   craft(t, map[string]any{"alg": "HS256", "kid": rsaKey.kid}, hs(der)),
		"HS256 with JWK":       craft(t, map[string]any{"alg": "HS256"}, hs(rsaJWK)),
		"kid of other alg":     craft(t, map[string]any{"alg": "ES256", "kid": rsaKey.kid}, ecSign(foreignEC)),
		"garbage":              "not.a.token",
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	m := shared()
	for name, token := range rejectedTokens(t, m) {
		t.Run(name, func(t *testing.T) {
			if claims, err := m.Verify(token); err == nil {
				t.Errorf("Verify accepted it: %v", claims)
			}
		})
	}
}

func TestRetiredKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m := shared()
	retired, err := generateKey(ES256)
	if err != nil {
		t.Fatal(err)
	}
	retired.state = stateRetired
	data, err := encodeKeySet(append(append([]*signingKey(nil), m.all()...), retired))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Store(ctx, "p/signing_keys.json", data); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadOrCreate(ctx, st, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.PublicKeys().Keys) != 3 || loaded.activeKey(ES256).kid != m.activeKey(ES256).kid {
		t.Fatalf("loaded %v, active ES256 %q", kids(loaded), loaded.activeKey(ES256).kid)
	}
	if got := loaded.Algorithms(); strings.Join(got, ",") != "RS256,ES256" {
		t.Errorf("Algorithms() = %v", got)
	}
	// A token signed before the key was retired still verifies.
	token, err := retired.sign([]byte(`{"sub":"bob"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Verify(token); err != nil {
		t.Errorf("retired key: %v", err)
	}
	if _, err := loaded.FositeSigner().Decode(ctx, token); err != nil {
		t.Errorf("retired key, fosite Decode: %v", err)
	}
	// Without kid, every ES256 key is tried.
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: retired.jwk.Key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(`{"sub":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	noKID, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loaded.Verify(noKID); err != nil {
		t.Errorf("retired key without kid: %v", err)
	}
	if _, err := loaded.FositeSigner().Decode(ctx, noKID); err != nil {
		t.Errorf("retired key without kid, fosite Decode: %v", err)
	}
}

func TestLoadOrCreateAddsMissingAlg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m := shared()
	data, err := encodeKeySet([]*signingKey{m.activeKey(RS256)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Store(ctx, "p/signing_keys.json", data); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadOrCreate(ctx, st, "p")
	if err != nil {
		t.Fatal(err)
	}
	if loaded.activeKey(RS256).kid != m.activeKey(RS256).kid || loaded.activeKey(ES256) == nil {
		t.Fatalf("kids %v", kids(loaded))
	}
	again, err := LoadOrCreate(ctx, st, "p")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.JWKS()) != string(loaded.JWKS()) {
		t.Error("added key was not stored")
	}
}

func TestLoadOrCreateCorrupt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := shared()
	good, err := encodeKeySet(m.all())
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	var stored struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(good, &stored); err != nil {
		t.Fatal(err)
	}
	for _, k := range stored.Keys {
		secrets = append(secrets, member(t, k, "d")[:12])
	}
	publicOnly, _ := json.Marshal(m.PublicKeys())
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallSet, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: small, KeyID: "small", Algorithm: RS256, Use: "sig"}}})
	wrongAlg := strings.Replace(string(good), `"alg": "ES256"`, `"alg": "RS256"`, 1)
	dupActive, _ := encodeKeySet([]*signingKey{m.activeKey(ES256), mustGenerate(t, ES256)})
	pendings := []*signingKey{m.activeKey(ES256), mustGenerate(t, ES256), mustGenerate(t, ES256)}
	for _, k := range pendings[1:] {
		k.state, k.activatesAt = statePending, time.Unix(2_000_000_000, 0)
	}
	dupPending, _ := encodeKeySet(pendings)

	tests := []struct {
		name, data, want string
	}{
		{"not JSON", "{not json", "malformed JSON"},
		{"truncated", string(good[:len(good)/2]), "malformed JSON"},
		{"empty set", `{"keys":[]}`, "no keys"},
		{"public keys only", string(publicOnly), "public key only"},
		{"RSA 1024", string(smallSet), "1024 bits"},
		{"alg does not match key", wrongAlg, "EC P-256 key with alg"},
		{"two active ES256", string(dupActive), "two active ES256"},
		{"unknown state", strings.Replace(string(good), `"kid": `, `"state": "bogus", "kid": `, 1), `key 0: kid "`},
		{"pending without activates_at", strings.Replace(string(good), `"kid": `, `"state": "pending", "kid": `, 1), "pending without activates_at"},
		{"two pending ES256", string(dupPending), "two pending ES256"},
		{"incomplete JWK", `{"keys":[{"kty":"EC","kid":"a","alg":"ES256"}]}`, "key 0: invalid JWK"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStorage(t)
			if err := st.Store(ctx, "oidc/signing_keys.json", []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreate(ctx, st, "oidc")
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, "oidc/signing_keys.json") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name the storage key and say %q", msg, tc.want)
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error leaks key material: %q", msg)
				}
			}
			// The corrupt file is left alone.
			if data, _ := st.Load(ctx, "oidc/signing_keys.json"); string(data) != tc.data {
				t.Error("corrupt key set was overwritten")
			}
			// And the lock was released.
			if err := st.Lock(ctx, path.Join("oidc", "keys")); err != nil {
				t.Fatal(err)
			}
			_ = st.Unlock(ctx, "oidc/keys")
		})
	}
}

func mustGenerate(t testing.TB, alg string) *signingKey {
	t.Helper()
	k, err := generateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func BenchmarkSignRS256(b *testing.B) { benchmarkSign(b, RS256) }
func BenchmarkSignES256(b *testing.B) { benchmarkSign(b, ES256) }

func benchmarkSign(b *testing.B, alg string) {
	m := shared()
	claims := map[string]any{"iss": "https://auth.example.com", "sub": "alice", "aud": "app", "exp": 1900000000, "iat": 1800000000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Sign(claims, alg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoadAlgorithms: every algorithm a client needs gets a key of its own
// on first need, published with its alg, and signs tokens that verify.
func TestLoadAlgorithms(t *testing.T) {
	t.Parallel()
	st := newStorage(t)
	m, err := Load(context.Background(), st, "p", Options{Algorithms: Algorithms})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Algorithms(); !slices.Equal(got, Algorithms) {
		t.Fatalf("Algorithms() = %v, want %v", got, Algorithms)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	kids := map[string]bool{}
	for _, alg := range Algorithms {
		k := set.Keys[slices.IndexFunc(set.Keys, func(k jose.JSONWebKey) bool { return k.Algorithm == alg })]
		if k.Use != "sig" || k.KeyID == "" || kids[k.KeyID] || !k.IsPublic() {
			t.Errorf("%s: published key %+v", alg, k)
		}
		kids[k.KeyID] = true
		token, err := m.Sign(map[string]any{"sub": "alice"}, alg, nil)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if _, err := jws.Verify(k.Key); err != nil {
			t.Errorf("%s: the token does not verify with the published key: %v", alg, err)
		}
		if claims, err := m.Verify(token); err != nil || claims["sub"] != "alice" {
			t.Errorf("%s: Verify = %v, %v", alg, claims, err)
		}
	}
	// A later start without the extra algorithms keeps their keys.
	m2, err := Load(context.Background(), st, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Algorithms(); !slices.Equal(got, Algorithms) {
		t.Errorf("after reload: Algorithms() = %v", got)
	}
	if _, err := Load(context.Background(), st, "p", Options{Algorithms: []string{"HS256"}}); err == nil {
		t.Error("HS256 accepted as a signing algorithm")
	}
}

// TestEnsure: a shared manager makes the keys a reload's new clients need,
// stores them, and keeps them through refreshes.
func TestEnsure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m, err := Load(ctx, st, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(st, nil)
	if err := m.Ensure(ctx, []string{ES512, EdDSA}); err != nil {
		t.Fatal(err)
	}
	want := []string{RS256, ES256, ES512, EdDSA}
	if got := m.Algorithms(); !slices.Equal(got, want) {
		t.Fatalf("Algorithms() = %v, want %v", got, want)
	}
	if _, err := m.Sign(map[string]any{"sub": "a"}, EdDSA, nil); err != nil {
		t.Error(err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := Load(ctx, st, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := other.Algorithms(); !slices.Equal(got, want) {
		t.Errorf("another instance sees %v, want %v", got, want)
	}
	if err := m.Ensure(ctx, []string{"HS256"}); err == nil {
		t.Error("Ensure(HS256): no error")
	}
}

// TestSignPayloadAsJSONMarshal: a claims map is signed as the bytes
// json.Marshal writes for it (Sign encodes maps without encoding/json), and
// other claims values still go through encoding/json.
func TestSignPayloadAsJSONMarshal(t *testing.T) {
	m := shared()
	type claimsStruct struct {
		Sub string `json:"sub"`
	}
	for _, claims := range []any{
		map[string]any{"iss": "https://auth.example.com", "sub": "<alice&>", "aud": []string{"app"},
			"exp": int64(1900000000), "amr": []any{"pwd"}, "rat": 1.8e9, "address": map[string]any{"country": "DE"}},
		map[string]any{},
		claimsStruct{Sub: "bob"},
	} {
		token, err := m.Sign(claims, ES256, nil)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(claims)
		if err != nil {
			t.Fatal(err)
		}
		if string(payload) != string(want) {
			t.Errorf("payload %s, json.Marshal %s", payload, want)
		}
	}
	// Claims that cannot be encoded are refused, map or not.
	for _, claims := range []any{map[string]any{"exp": math.NaN()}, struct{ C chan int }{}} {
		if token, err := m.Sign(claims, ES256, nil); err == nil || !strings.Contains(err.Error(), "encode claims") {
			t.Errorf("Sign(%v) = %q, %v; want an encoding error", claims, token, err)
		}
	}
}
