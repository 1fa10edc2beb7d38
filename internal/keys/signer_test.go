package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"
)

func TestFositeGenerate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := shared()
	s := m.FositeSigner()
	tests := []struct {
		name    string
		header  jwt.Mapper
		wantAlg string
		wantTyp string
		wantErr bool
	}{
		{name: "no alg defaults to RS256", header: &jwt.Headers{}, wantAlg: RS256, wantTyp: "JWT"},
		{name: "ES256 from IDTokenHeaders", header: &jwt.Headers{Extra: map[string]any{"alg": "ES256"}}, wantAlg: ES256, wantTyp: "JWT"},
		{name: "RS256 explicit", header: &jwt.Headers{Extra: map[string]any{"alg": "RS256"}}, wantAlg: RS256, wantTyp: "JWT"},
		{name: "typ kept, kid replaced", header: &jwt.Headers{Extra: map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "bogus"}}, wantAlg: ES256, wantTyp: "at+jwt"},
		{name: "no key for alg", header: &jwt.Headers{Extra: map[string]any{"alg": "PS256"}}, wantErr: true},
		{name: "unsupported alg", header: &jwt.Headers{Extra: map[string]any{"alg": "HS256"}}, wantErr: true},
		{name: "nil header", header: (*jwt.Headers)(nil), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
			token, sig, err := s.Generate(ctx, claims, tc.header)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if parts := strings.Split(token, "."); sig != parts[2] {
				t.Errorf("signature %q is not the third segment", sig)
			}

			// An independent verifier: go-jose v4 against the published keys.
			jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			if h.Algorithm != tc.wantAlg || h.ExtraHeaders["typ"] != tc.wantTyp {
				t.Errorf("header %+v, want alg %s typ %s", h, tc.wantAlg, tc.wantTyp)
			}
			set := m.PublicKeys()
			pub := set.Key(h.KeyID)
			if len(pub) != 1 || pub[0].Algorithm != tc.wantAlg {
				t.Fatalf("kid %q: published keys %v", h.KeyID, pub)
			}
			switch tc.wantAlg {
			case ES256:
				if _, ok := pub[0].Key.(*ecdsa.PublicKey); !ok {
					t.Fatalf("ES256 key is %T", pub[0].Key)
				}
			case RS256:
				if _, ok := pub[0].Key.(*rsa.PublicKey); !ok {
					t.Fatalf("RS256 key is %T", pub[0].Key)
				}
			}
			if _, err := jws.Verify(pub[0]); err != nil {
				t.Fatalf("verify with JWKS key: %v", err)
			}
		})
	}
}

func TestFositeDecodeValidate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared().FositeSigner()
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			token, sig, err := s.Generate(ctx, jwt.MapClaims{"sub": "alice"}, &jwt.Headers{Extra: map[string]any{"alg": alg}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Validate(ctx, token)
			if err != nil || got != sig {
				t.Fatalf("Validate = %q, %v; want %q", got, err, sig)
			}
			tok, err := s.Decode(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.Valid() || string(tok.Method) != alg || tok.Header["kid"] != shared().activeKey(alg).kid || tok.Claims["sub"] != "alice" {
				t.Errorf("token = %+v", tok)
			}
		})
	}
}

// An expired id_token_hint must come back with its claims and
// ValidationErrorExpired, as fosite's openid handlers expect.
func TestFositeDecodeExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared().FositeSigner()
	token, _, err := s.Generate(ctx, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix()}, &jwt.Headers{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Decode(ctx, token)
	var ve *jwt.ValidationError
	if !errors.As(err, &ve) || !ve.Has(jwt.ValidationErrorExpired) {
		t.Fatalf("err = %v, want ValidationErrorExpired", err)
	}
	if tok == nil || tok.Claims["sub"] != "alice" {
		t.Errorf("token = %+v", tok)
	}
	if _, err := s.Validate(ctx, token); err == nil {
		t.Error("Validate accepted an expired token")
	}
}

func TestFositeRejects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := shared()
	s := m.FositeSigner()
	for name, token := range rejectedTokens(t, m) {
		t.Run(name, func(t *testing.T) {
			if tok, err := s.Decode(ctx, token); err == nil {
				t.Errorf("Decode accepted it: %+v", tok)
			}
			if _, err := s.Validate(ctx, token); err == nil {
				t.Error("Validate accepted it")
			}
		})
	}
}

func TestFositeHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := shared().FositeSigner()
	got, err := s.Hash(ctx, []byte("abc"))
	want := sha256.Sum256([]byte("abc"))
	if err != nil || string(got) != string(want[:]) {
		t.Errorf("Hash = %x, %v", got, err)
	}
	if n := s.GetSigningMethodLength(ctx); n != 32 {
		t.Errorf("GetSigningMethodLength = %d", n)
	}
	if _, err := s.GetSignature(ctx, "a.b"); err == nil {
		t.Error("GetSignature accepted two segments")
	}
	// at_hash as fosite computes it for RS256/ES256: left half of SHA-256.
	if got := base64.RawURLEncoding.EncodeToString(want[:16]); got != "ungWv48Bz-pBQUDeXa4iIw" {
		t.Errorf("at_hash of abc = %s", got)
	}
}
