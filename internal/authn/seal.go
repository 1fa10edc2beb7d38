package authn

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SealKeySize is the size in bytes of a [Sealer] key (AES-256).
const SealKeySize = 32

// sealPrefix marks the format of a sealed value: "v1." followed by the
// unpadded base64url encoding of a 12-byte random nonce and the AES-256-GCM
// ciphertext with its tag. A later format or key scheme (key rotation) gets
// a new prefix, so values sealed today stay readable.
const sealPrefix = "v1."

// ErrUnseal is returned by [Sealer.Open] for any value it cannot open: bad
// format, another key, other associated data, or tampering. It says nothing
// more on purpose.
var ErrUnseal = errors.New("authn: sealed value cannot be opened")

// Sealer encrypts small secrets for storage (TOTP secrets) with AES-256-GCM,
// binding each to associated data such as its owner's name, so that a sealed
// value copied to another row does not open there. A Sealer is safe for
// concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer using key, which must be SealKeySize random
// bytes (for example from keys.LoadOrCreateSecret).
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("authn: sealing key has %d bytes, want %d", len(key), SealKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("authn: sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("authn: sealing key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad and returns the printable sealed form.
// Each call uses a fresh random nonce.
func (s *Sealer) Seal(plaintext []byte, aad string) (string, error) {
	ns := s.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("authn: seal: nonce: %w", err)
	}
	buf = s.aead.Seal(buf, buf[:ns], plaintext, []byte(aad))
	return sealPrefix + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same key and aad. Every
// failure is ErrUnseal.
func (s *Sealer) Open(sealed, aad string) ([]byte, error) {
	enc, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, ErrUnseal
	}
	buf, err := base64.RawURLEncoding.DecodeString(enc)
	ns := s.aead.NonceSize()
	if err != nil || len(buf) < ns+s.aead.Overhead() {
		return nil, ErrUnseal
	}
	plain, err := s.aead.Open(nil, buf[:ns], buf[ns:], []byte(aad))
	if err != nil {
		return nil, ErrUnseal
	}
	return plain, nil
}
