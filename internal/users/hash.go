package users

import (
	"fmt"
	"sort"

	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/pbkdf2"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

// DefaultAlgorithm is the algorithm of HashPassword: argon2id.
const DefaultAlgorithm = "argon2id"

// hashers are the algorithms HashWith offers, each with Authelia's default
// parameters (its authentication_backend.file.password options).
var hashers = map[string]func() (algorithm.Hash, error){
	// 64 MiB of memory, 3 passes, parallelism 4, 32-byte key, 16-byte salt.
	"argon2id": func() (algorithm.Hash, error) {
		return argon2.New(argon2.WithVariantID(), argon2.WithM(65536), argon2.WithT(3), argon2.WithP(4), argon2.WithK(32), argon2.WithS(16))
	},
	// 310,000 iterations (OWASP's figure for SHA-512), 16-byte salt.
	"pbkdf2-sha512": pbkdf2Hasher(pbkdf2.VariantSHA512, 310000),
	"pbkdf2-sha384": pbkdf2Hasher(pbkdf2.VariantSHA384, 310000),
	"pbkdf2-sha256": pbkdf2Hasher(pbkdf2.VariantSHA256, 310000),
	// cost 12.
	"bcrypt": func() (algorithm.Hash, error) {
		return bcrypt.New(bcrypt.WithVariant(bcrypt.VariantStandard), bcrypt.WithCost(12))
	},
	// N = 2^16, r = 8, p = 1, 32-byte key, 16-byte salt.
	"scrypt": func() (algorithm.Hash, error) {
		return scrypt.New(scrypt.WithVariant(scrypt.VariantScrypt), scrypt.WithLN(16), scrypt.WithR(8), scrypt.WithP(1), scrypt.WithKeyLength(32), scrypt.WithSaltLength(16))
	},
	// 50,000 rounds, 16-byte salt.
	"sha512crypt": func() (algorithm.Hash, error) {
		return shacrypt.New(shacrypt.WithVariant(shacrypt.VariantSHA512), shacrypt.WithRounds(50000), shacrypt.WithSaltLength(16))
	},
}

func pbkdf2Hasher(v pbkdf2.Variant, iterations int) func() (algorithm.Hash, error) {
	return func() (algorithm.Hash, error) {
		return pbkdf2.New(pbkdf2.WithVariant(v), pbkdf2.WithIterations(iterations), pbkdf2.WithSaltLength(16))
	}
}

// Algorithms lists the names HashWith accepts, sorted.
func Algorithms() []string {
	names := make([]string, 0, len(hashers))
	for n := range hashers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HashPassword returns an argon2id digest of password for the password field
// of the users file, with Authelia's default parameters: 64 MiB of memory
// (m=65536), 3 passes (t=3), parallelism 4, a 32-byte key and a 16-byte random
// salt. It takes a hashing slot like a login does.
func HashPassword(password string) (string, error) {
	return HashWith(DefaultAlgorithm, password)
}

// HashWith returns a digest of password with the named algorithm (one of
// Algorithms) and Authelia's default parameters for it, in the encoding the
// users file and client_secret accept. It takes a hashing slot like a login
// does.
func HashWith(name, password string) (string, error) {
	mk, ok := hashers[name]
	if !ok {
		return "", fmt.Errorf("unknown algorithm %q (one of %v)", name, Algorithms())
	}
	h, err := mk()
	if err != nil {
		return "", fmt.Errorf("%s hasher: %w", name, err)
	}
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	d, err := h.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hashing password with %s: %w", name, err)
	}
	return d.Encode(), nil
}

// CheckDigest reports whether digest is in a format the users file accepts
// and matches password.
func CheckDigest(digest, password string) (bool, error) {
	dec, err := passwordDecoder()
	if err != nil {
		return false, err
	}
	d, err := dec.Decode(digest)
	if err != nil {
		return false, fmt.Errorf("decoding digest: %w", err)
	}
	return d.Match(password), nil
}

// CheckFile reports whether data is a users file the file backend accepts:
// valid YAML with at least one user, each with a supported password digest.
// Tools that edit the file check their result with it before writing.
func CheckFile(data []byte) error {
	_, err := parse(data)
	return err
}
