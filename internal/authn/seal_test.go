package authn

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	key := make([]byte, SealKeySize)
	_, _ = rand.Read(key)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSealerKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
}

func TestSealRoundTrip(t *testing.T) {
	s := testSealer(t)
	for _, plain := range [][]byte{nil, []byte("JBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0xff}, 1000)} {
		sealed, err := s.Seal(plain, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1.") {
			t.Errorf("sealed %q lacks the version prefix", sealed)
		}
		if len(plain) > 0 && strings.Contains(sealed, string(plain)) {
			t.Errorf("sealed value contains the plaintext")
		}
		got, err := s.Open(sealed, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("Open = %q, want %q", got, plain)
		}
	}

	a, _ := s.Seal([]byte("same"), "alice")
	b, _ := s.Seal([]byte("same"), "alice")
	if a == b {
		t.Error("two seals of the same value are equal: nonce reused")
	}
}

func TestOpenRejects(t *testing.T) {
	s := testSealer(t)
	sealed, err := s.Seal([]byte("secret"), "alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(sealed, "v1."))
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 1
		return "v1." + base64.RawURLEncoding.EncodeToString(c)
	}

	for _, tc := range []struct {
		name   string
		sealer *Sealer
		sealed string
		aad    string
	}{
		{"other aad (another user)", s, sealed, "bob"},
		{"empty aad", s, sealed, ""},
		{"other key", testSealer(t), sealed, "alice"},
		{"tampered nonce", s, flip(0), "alice"},
		{"tampered ciphertext", s, flip(12), "alice"},
		{"tampered tag", s, flip(len(raw) - 1), "alice"},
		{"truncated", s, sealed[:len(sealed)-4], "alice"},
		{"too short", s, "v1.AAAA", "alice"},
		{"no prefix", s, strings.TrimPrefix(sealed, "v1."), "alice"},
		{"unknown version", s, "v2." + strings.TrimPrefix(sealed, "v1."), "alice"},
		{"not base64url", s, "v1.!!!!", "alice"},
		{"empty", s, "", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.aad)
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("Open = %q, %v; want ErrUnseal", got, err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q mentions the plaintext", err)
			}
		})
	}
}
