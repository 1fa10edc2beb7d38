package provider

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// orderedTokens is fosite's HMAC token strategy (opaque access tokens,
// refresh tokens, authorization codes: "ory_at_<key>.<mac>", the mac being
// HMAC-SHA512/256 of the key under the global secret) with one change: the
// key starts with the time it was made, and the storage key (fosite's
// "signature") starts with that time too.
//
// fosite's signature is the mac alone, random, so every token written went
// to a random page of its table's primary index, in SQLite and PostgreSQL
// alike: a page written to the WAL (and later to the database) per token,
// shared with no other token of the same commit. Ordered by time, the tokens
// of a commit land on the same last page or two.
//
// The key is 33 bytes: 6 of milliseconds since the epoch, big-endian, and 27
// random ones (216 bits; fosite's keys are 32 random bytes, RFC 6749 asks for
// 128 bits). Its base64 (44 characters, fosite's 43) tells the two kinds
// apart, so tokens made before this strategy keep their old signature and
// stay valid. The time in a token is no secret: it is the issue time, which
// introspection and ID tokens tell anyway. Validation is fosite's: the mac
// covers the whole key.
type orderedTokens struct {
	*oauth2.HMACSHAStrategy // validation, the secret and hash, and the signature of older tokens
	now                     func() time.Time
	// macs holds keyed HMAC-SHA512/256 states (*keyedMAC) for generate:
	// keying one (hmac.New) hashes two blocks and allocates about 700
	// bytes, for every token made; a reset state is ready for the next.
	macs sync.Pool
}

// keyedMAC is an HMAC-SHA512/256 keyed with key.
type keyedMAC struct {
	key [32]byte
	mac hash.Hash
}

const (
	orderedTimeBytes   = 6
	orderedRandomBytes = 27
	// orderedKeyLen is the length of an ordered token's key in base64
	// (33 bytes); fosite's keys (32 bytes) have 43 characters.
	orderedKeyLen = (orderedTimeBytes + orderedRandomBytes) * 4 / 3
	// orderedTimeLen is the length of the key's time in base64.
	orderedTimeLen = orderedTimeBytes * 4 / 3
)

var b64 = base64.RawURLEncoding

// newOrderedTokens returns the strategy over fosite's HMAC strategy, whose
// configuration (secret, hash) it signs with, as fosite validates.
func newOrderedTokens(hmacs *oauth2.HMACSHAStrategy, now func() time.Time) *orderedTokens {
	return &orderedTokens{HMACSHAStrategy: hmacs, now: now}
}

// generate makes a token with the prefix "ory_<part>_" (fosite's, which its
// validation strips) and its signature.
func (s *orderedTokens) generate(ctx context.Context, part string) (string, string, error) {
	config := s.Enigma.Config
	secret, err := config.GetGlobalSecret(ctx)
	if err != nil {
		return "", "", err
	}
	if len(secret) < 32 {
		return "", "", errors.New("the HMAC secret must be at least 32 bytes long")
	}
	var key [orderedTimeBytes + orderedRandomBytes]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(s.now().UnixMilli()))
	copy(key[:orderedTimeBytes], ms[8-orderedTimeBytes:])
	if _, err := rand.Read(key[orderedTimeBytes:]); err != nil {
		return "", "", err
	}
	var mac string
	if hasher := config.GetHMACHasher(ctx); hasher != nil {
		m := hmac.New(hasher, secret[:32])
		m.Write(key[:])
		mac = b64.EncodeToString(m.Sum(nil))
	} else {
		mac = s.sha512256MAC(secret[:32], key[:])
	}
	encodedKey := b64.EncodeToString(key[:])
	token := "ory_" + part + "_" + encodedKey + "." + mac
	return token, orderedSignature(encodedKey, mac), nil
}

// sha512256MAC returns the base64 HMAC-SHA512/256 of msg under secret (32
// bytes; fosite's default hash), with a keyed state from s.macs when one
// has the same key.
func (s *orderedTokens) sha512256MAC(secret, msg []byte) string {
	k, _ := s.macs.Get().(*keyedMAC)
	if k == nil || subtle.ConstantTimeCompare(k.key[:], secret) != 1 {
		k = &keyedMAC{mac: hmac.New(sha512.New512_256, secret)}
		copy(k.key[:], secret)
	}
	k.mac.Write(msg)
	var sum [sha512.Size256]byte
	mac := b64.EncodeToString(k.mac.Sum(sum[:0]))
	k.mac.Reset()
	s.macs.Put(k)
	return mac
}

// signature is the storage key of token: for an ordered token the key's
// time in hexadecimal (which sorts as the time does) followed by the mac,
// for any other token fosite's signature.
func (s *orderedTokens) signature(token, part string, fositeSignature func() string) string {
	key, mac, ok := strings.Cut(strings.TrimPrefix(token, "ory_"+part+"_"), ".")
	if !ok || len(key) != orderedKeyLen || mac == "" || strings.Contains(mac, ".") {
		return fositeSignature()
	}
	return orderedSignature(key, mac)
}

// orderedSignature is the signature of an ordered token with the base64 key
// and mac given; a key whose time does not decode keeps fosite's signature
// (the mac), which is then simply not found.
func orderedSignature(key, mac string) string {
	t, err := b64.DecodeString(key[:orderedTimeLen])
	if err != nil {
		return mac
	}
	return hex.EncodeToString(t) + mac
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s *orderedTokens) GenerateAccessToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return s.generate(ctx, "at")
}

// AccessTokenSignature implements oauth2.AccessTokenStrategy.
func (s *orderedTokens) AccessTokenSignature(ctx context.Context, token string) string {
	return s.signature(token, "at", func() string { return s.HMACSHAStrategy.AccessTokenSignature(ctx, token) })
}

// GenerateRefreshToken implements oauth2.RefreshTokenStrategy.
func (s *orderedTokens) GenerateRefreshToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return s.generate(ctx, "rt")
}

// RefreshTokenSignature implements oauth2.RefreshTokenStrategy.
func (s *orderedTokens) RefreshTokenSignature(ctx context.Context, token string) string {
	return s.signature(token, "rt", func() string { return s.HMACSHAStrategy.RefreshTokenSignature(ctx, token) })
}

// GenerateAuthorizeCode implements oauth2.AuthorizeCodeStrategy.
func (s *orderedTokens) GenerateAuthorizeCode(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return s.generate(ctx, "ac")
}

// AuthorizeCodeSignature implements oauth2.AuthorizeCodeStrategy.
func (s *orderedTokens) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return s.signature(token, "ac", func() string { return s.HMACSHAStrategy.AuthorizeCodeSignature(ctx, token) })
}

var _ oauth2.CoreStrategy = (*orderedTokens)(nil)
