package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/caddy-oidc/caddy-oidc/internal/dpop"
)

// memReplay is a ReplayCache in memory.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memReplay) Remember(_ context.Context, key string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[key] {
		return dpop.ErrReplay
	}
	m.seen[key] = true
	return nil
}

type proofOpts struct {
	typ     string
	htm     string
	htu     string
	iat     *int64
	jti     string
	ath     string
	nonce   string
	private bool // embed the private key
	hmac    bool // sign with HS256
}

func sign(t *testing.T, key *ecdsa.PrivateKey, o proofOpts) string {
	t.Helper()
	var signer jose.Signer
	var err error
	if o.hmac {
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: make([]byte, 32)}, (&jose.SignerOptions{}).WithType(jose.ContentType(o.typ)))
	} else {
		jwk := jose.JSONWebKey{Key: key.Public()}
		if o.private {
			jwk = jose.JSONWebKey{Key: key}
		}
		opts := (&jose.SignerOptions{EmbedJWK: false}).WithType(jose.ContentType(o.typ)).WithHeader("jwk", jwk)
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"htm": o.htm, "htu": o.htu, "jti": o.jti}
	if o.iat != nil {
		claims["iat"] = *o.iat
	}
	if o.ath != "" {
		claims["ath"] = o.ath
	}
	if o.nonce != "" {
		claims["nonce"] = o.nonce
	}
	b, _ := json.Marshal(claims)
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Unix(1_800_000_000, 0)
	tp, _ := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	wantJKT := base64.RawURLEncoding.EncodeToString(tp)
	at := "access-token-value"
	sum := sha256.Sum256([]byte(at))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	nonces := dpop.NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute, func() time.Time { return now })
	i := func(d time.Duration) *int64 { v := now.Add(d).Unix(); return &v }
	const htu = "https://auth.example.com/api/oidc/token"

	tests := []struct {
		name    string
		opts    proofOpts
		req     dpop.Request
		nonce   bool
		wantErr error
	}{
		{"valid", proofOpts{}, dpop.Request{}, false, nil},
		{"htu normalized", proofOpts{htu: "HTTPS://Auth.Example.com:443/api/oidc/token?x=1#f"}, dpop.Request{}, false, nil},
		{"wrong htm", proofOpts{htm: "GET"}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"wrong htu", proofOpts{htu: "https://auth.example.com/api/oidc/userinfo"}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"relative htu", proofOpts{htu: "/api/oidc/token"}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"stale iat", proofOpts{iat: i(-10 * time.Minute)}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"future iat", proofOpts{iat: i(5 * time.Minute)}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"no jti", proofOpts{jti: "-"}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"wrong typ", proofOpts{typ: "JWT"}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"private key embedded", proofOpts{private: true}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"symmetric alg", proofOpts{hmac: true}, dpop.Request{}, false, dpop.ErrInvalidProof},
		{"ath ok", proofOpts{ath: ath}, dpop.Request{AccessToken: at}, false, nil},
		{"ath missing", proofOpts{}, dpop.Request{AccessToken: at}, false, dpop.ErrInvalidProof},
		{"ath wrong", proofOpts{ath: ath}, dpop.Request{AccessToken: at + "x"}, false, dpop.ErrInvalidProof},
		{"nonce missing", proofOpts{}, dpop.Request{}, true, dpop.ErrUseNonce},
		{"nonce wrong", proofOpts{nonce: "abc"}, dpop.Request{}, true, dpop.ErrUseNonce},
		{"nonce ok", proofOpts{nonce: nonces.Current()}, dpop.Request{}, true, nil},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.typ = or(o.typ, "dpop+jwt")
			o.htm = or(o.htm, "POST")
			o.htu = or(o.htu, htu)
			o.jti = or(o.jti, "jti-"+tt.name)
			if o.jti == "-" {
				o.jti = ""
			}
			if o.iat == nil {
				o.iat = i(0)
			}
			req := tt.req
			req.Method = "POST"
			req.URL = htu
			v := &dpop.Verifier{Replay: &memReplay{seen: map[string]bool{}}, Now: func() time.Time { return now }}
			if tt.nonce {
				v.Nonces = nonces
			}
			p, err := v.Verify(context.Background(), []string{sign(t, key, o)}, req)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("case %d: err = %v, want %v", n, err, tt.wantErr)
			}
			if err == nil && p.JKT != wantJKT {
				t.Errorf("jkt = %q, want %q", p.JKT, wantJKT)
			}
		})
	}
}

func TestVerifyReplayAndHeaders(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	iat := now.Unix()
	v := &dpop.Verifier{Replay: &memReplay{seen: map[string]bool{}}}
	req := dpop.Request{Method: "POST", URL: "https://a.example/token"}
	proof := sign(t, key, proofOpts{typ: "dpop+jwt", htm: "POST", htu: req.URL, jti: "once", iat: &iat})
	if _, err := v.Verify(context.Background(), []string{proof}, req); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := v.Verify(context.Background(), []string{proof}, req); !errors.Is(err, dpop.ErrInvalidProof) {
		t.Fatalf("replay: err = %v, want invalid proof", err)
	}
	for _, h := range [][]string{nil, {proof, proof}, {"not.a.jwt"}, {""}} {
		if _, err := v.Verify(context.Background(), h, req); !errors.Is(err, dpop.ErrInvalidProof) {
			t.Errorf("headers %q: err = %v, want invalid proof", h, err)
		}
	}
}

func TestNonces(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	n := dpop.NewNonces([]byte("secret-secret-secret-secret-secret"), time.Minute, clock)
	other := dpop.NewNonces([]byte("another-secret-another-secret-xx"), time.Minute, clock)
	cur := n.Current()
	if !n.Valid(cur) || other.Valid(cur) || n.Valid("") {
		t.Fatal("a nonce is valid only with its own secret")
	}
	now = now.Add(time.Minute)
	if !n.Valid(cur) {
		t.Error("the previous step's nonce is still valid")
	}
	now = now.Add(2 * time.Minute)
	if n.Valid(cur) {
		t.Error("a nonce two steps old is stale")
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
