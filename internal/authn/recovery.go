package authn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RecoveryCodeCount is how many recovery codes a user gets at a time.
const RecoveryCodeCount = 10

// recoveryAlphabet is Crockford's base32 (no i, l, o, u): 5 bits a
// character; a code has 12 of them, 60 random bits.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const recoveryCodeLen = 12

// ErrInvalidRecoveryCode is returned for a recovery code that is not one
// of the user's unused codes.
var ErrInvalidRecoveryCode = errors.New("invalid or used recovery code")

// RecoveryStore keeps the hashes of the users' recovery codes. *store.DB
// satisfies it.
type RecoveryStore interface {
	ReplaceRecoveryCodes(ctx context.Context, username string, hashes []string, now time.Time) error
	UseRecoveryCode(ctx context.Context, username, hash string) (bool, error)
	CountRecoveryCodes(ctx context.Context, username string) (int, error)
}

// RecoveryCodes issues and checks one-time recovery codes: a user who lost
// their authenticator app or passkey signs in with one instead.
//
// Codes are stored as HMAC-SHA256 under a server key, bound to the user.
// A slow password hash is not needed: a code is 60 random bits, not a
// human-chosen secret, so a stolen table cannot be searched offline even
// with the key (2^60 tries per code), and without the key not at all;
// online guessing is what regulation limits.
type RecoveryCodes struct {
	db  RecoveryStore
	key []byte
}

// NewRecoveryCodes returns recovery codes hashed with key (any length; the
// pages derive it from the TOTP sealing key).
func NewRecoveryCodes(db RecoveryStore, key []byte) *RecoveryCodes {
	return &RecoveryCodes{db: db, key: key}
}

// Generate makes RecoveryCodeCount new codes for username, replacing the
// ones the user had, and returns them for showing once, formatted
// "xxxx-xxxx-xxxx".
func (c *RecoveryCodes) Generate(ctx context.Context, username string, now time.Time) ([]string, error) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([]string, RecoveryCodeCount)
	buf := make([]byte, recoveryCodeLen)
	for i := range codes {
		if _, err := rand.Read(buf); err != nil {
			return nil, fmt.Errorf("recovery codes: %w", err)
		}
		var b strings.Builder
		for j, x := range buf {
			if j > 0 && j%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[x&31]) // 256 is a multiple of 32: uniform
		}
		codes[i] = b.String()
		hashes[i] = c.hash(username, normalizeRecoveryCode(codes[i]))
	}
	if err := c.db.ReplaceRecoveryCodes(ctx, username, hashes, now); err != nil {
		return nil, fmt.Errorf("recovery codes: %w", err)
	}
	return codes, nil
}

// Use consumes code if it is one of username's unused recovery codes; it
// returns ErrInvalidRecoveryCode otherwise.
func (c *RecoveryCodes) Use(ctx context.Context, username, code string) error {
	n := normalizeRecoveryCode(code)
	if len(n) != recoveryCodeLen {
		return ErrInvalidRecoveryCode
	}
	ok, err := c.db.UseRecoveryCode(ctx, username, c.hash(username, n))
	if err != nil {
		return fmt.Errorf("recovery codes: %w", err)
	}
	if !ok {
		return ErrInvalidRecoveryCode
	}
	return nil
}

// Remaining returns how many unused codes username has.
func (c *RecoveryCodes) Remaining(ctx context.Context, username string) (int, error) {
	n, err := c.db.CountRecoveryCodes(ctx, username)
	if err != nil {
		return 0, fmt.Errorf("recovery codes: %w", err)
	}
	return n, nil
}

// hash is the stored form of a normalized code of username.
func (c *RecoveryCodes) hash(username, code string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(username))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// normalizeRecoveryCode forgives what people do when typing a code:
// spaces, dashes, capitals, and the letters Crockford's alphabet reads as
// digits (o as 0, i and l as 1).
func normalizeRecoveryCode(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r == 'o':
			b.WriteByte('0')
		case r == 'i' || r == 'l':
			b.WriteByte('1')
		case r < 128 && strings.ContainsRune(recoveryAlphabet, r):
			b.WriteRune(r)
		default:
			return "" // not a code
		}
	}
	return b.String()
}
