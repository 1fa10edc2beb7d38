package users

import (
	"fmt"

	"github.com/go-crypt/crypt/algorithm/argon2"
)

// HashPassword returns an argon2id digest of password for the password field
// of the users file, with Authelia's default parameters: 64 MiB of memory
// (m=65536), 3 passes (t=3), parallelism 4, a 32-byte key and a 16-byte random
// salt. It takes a hashing slot like a login does.
func HashPassword(password string) (string, error) {
	h, err := argon2.New(
		argon2.WithVariantID(),
		argon2.WithM(65536),
		argon2.WithT(3),
		argon2.WithP(4),
		argon2.WithK(32),
		argon2.WithS(16),
	)
	if err != nil {
		return "", fmt.Errorf("argon2id hasher: %w", err)
	}
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	d, err := h.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return d.Encode(), nil
}
