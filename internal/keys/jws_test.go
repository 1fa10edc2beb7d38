package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestSignCompact: for every algorithm and the headers the provider sends,
// the compact signer writes go-jose's header and payload segments byte for
// byte, the whole token where the algorithm is deterministic (RSA PKCS #1
// v1.5, Ed25519), and a signature go-jose verifies with the public key.
func TestSignCompact(t *testing.T) {
	payload := []byte(`{"aud":"app","exp":1900000000,"iss":"https://auth.example.com","sub":"alice"}`)
	headers := []map[string]any{
		nil,
		{"typ": "logout+jwt"},
		{"alg": "none", "kid": "forged", "typ": "at+jwt"},
		{"typ": "JWT", "cty": "a<b&c>"},
		{"typ": nil},
	}
	for _, alg := range Algorithms {
		k, err := generateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		for _, hdr := range headers {
			got, ok, err := k.signCompact(payload, hdr)
			if err != nil || !ok {
				t.Fatalf("%s %v: signCompact ok=%v err=%v", alg, hdr, ok, err)
			}
			want, err := k.signJose(payload, hdr)
			if err != nil {
				t.Fatal(err)
			}
			g, w := strings.Split(got, "."), strings.Split(want, ".")
			if len(g) != 3 || g[0] != w[0] || g[1] != w[1] {
				t.Errorf("%s %v: header.payload\n got %s.%s\nwant %s.%s", alg, hdr, g[0], g[1], w[0], w[1])
			}
			if deterministic := alg[0] == 'R' || alg == EdDSA; deterministic && got != want {
				t.Errorf("%s %v: signature differs from go-jose's", alg, hdr)
			}
			jws, err := jose.ParseSignedCompact(got, joseAlgorithms)
			if err != nil {
				t.Fatalf("%s: parse: %v", alg, err)
			}
			if h := jws.Signatures[0].Protected; h.Algorithm != alg || h.KeyID != k.kid {
				t.Errorf("%s: header alg %q kid %q", alg, h.Algorithm, h.KeyID)
			}
			out, err := jws.Verify(k.public)
			if err != nil || string(out) != string(payload) {
				t.Errorf("%s %v: verify: %v (%s)", alg, hdr, err, out)
			}
		}
	}
}

// TestSignCompactLeavesOthersToJose: a key of another type, or of another
// size than its algorithm names, is left to go-jose, which signs the first
// and refuses the second as before.
func TestSignCompactLeavesOthersToJose(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		k       *signingKey
		wantErr bool
	}{
		{"key inside a JWK", &signingKey{kid: "j", alg: ES256, jwk: jose.JSONWebKey{Key: jose.JSONWebKey{Key: p256}}, public: p256.Public()}, false},
		{"P-384 key for ES256", &signingKey{kid: "m", alg: ES256, jwk: jose.JSONWebKey{Key: p384}, public: p384.Public()}, true},
		{"ECDSA key for RS256", &signingKey{kid: "r", alg: RS256, jwk: jose.JSONWebKey{Key: p256}, public: p256.Public()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok, _ := tc.k.signCompact([]byte(`{}`), nil); ok {
				t.Fatal("signCompact took the key")
			}
			token, err := tc.k.sign([]byte(`{}`), nil)
			if (err != nil) != tc.wantErr {
				t.Fatalf("sign: err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil {
				jws, err := jose.ParseSignedCompact(token, joseAlgorithms)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := jws.Verify(tc.k.public); err != nil {
					t.Fatalf("verify: %v", err)
				}
			}
		})
	}
}
