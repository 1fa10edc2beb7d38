package clients

import (
	"crypto/rand"
	"fmt"

	"github.com/go-crypt/crypt/algorithm/pbkdf2"
)

// secretAlphabet is RFC 3986's unreserved characters, as Authelia's
// `authelia crypto rand --charset rfc3986`: safe in URLs, forms, YAML and
// the Caddyfile without quoting.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// DefaultSecretLength is the length of a generated client secret, as
// Authelia's guides suggest: 72 characters, about 434 bits.
const DefaultSecretLength = 72

// MinSecretLength is the shortest secret GenerateSecret makes (about 190
// bits).
const MinSecretLength = 32

// GenerateSecret returns a random client secret of length characters from
// secretAlphabet and its pbkdf2-sha512 digest (310,000 iterations, Authelia's
// default), for the app and for client_secret.
func GenerateSecret(length int) (secret, digest string, err error) {
	if length < MinSecretLength {
		return "", "", fmt.Errorf("a client secret must have at least %d characters, not %d", MinSecretLength, length)
	}
	b := make([]byte, length)
	// Rejection sampling keeps every character equally likely.
	const limit = 256 - 256%len(secretAlphabet)
	buf := make([]byte, 1)
	for i := 0; i < length; {
		if _, err := rand.Read(buf); err != nil {
			return "", "", fmt.Errorf("random: %w", err)
		}
		if int(buf[0]) >= limit {
			continue
		}
		b[i] = secretAlphabet[int(buf[0])%len(secretAlphabet)]
		i++
	}
	h, err := pbkdf2.New(pbkdf2.WithVariant(pbkdf2.VariantSHA512), pbkdf2.WithIterations(310000), pbkdf2.WithSaltLength(16))
	if err != nil {
		return "", "", fmt.Errorf("pbkdf2 hasher: %w", err)
	}
	d, err := h.Hash(string(b))
	if err != nil {
		return "", "", fmt.Errorf("hashing the secret: %w", err)
	}
	return string(b), d.Encode(), nil
}
