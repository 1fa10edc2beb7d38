package clients

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/plaintext"
)

// errSecretMismatch is returned when a presented client secret is wrong.
var errSecretMismatch = errors.New("client secret does not match")

// secretDecoder decodes the digest formats Authelia accepts for client
// secrets: argon2id, bcrypt, pbkdf2, scrypt, sha2crypt and $plaintext$.
var secretDecoder = func() *crypt.Decoder {
	d, err := crypt.NewDefaultDecoder()
	if err != nil {
		panic(err)
	}
	if err := plaintext.RegisterDecoder(d); err != nil {
		panic(err)
	}
	return d
}()

// hashSlots bounds how many expensive digest verifications run at once, so a
// burst of wrong secrets cannot take every core.
var hashSlots = make(chan struct{}, runtime.NumCPU())

// matchDigest verifies a presented secret against a digest: the expensive
// part, which hashSlots bounds. A variable so that tests can count the
// verifications in flight.
var matchDigest = func(d algorithm.Digest, presented string) (bool, error) {
	return d.MatchAdvanced(presented)
}

// verified remembers secrets that matched a digest, keyed by a hash of the
// digest and the presented secret: a changed digest never hits an old entry.
var verified = &verifiedCache{max: 4096, m: map[[32]byte]struct{}{}}

// clientSecret is a client's configured secret: a plain value compared in
// constant time, or a digest verified with go-crypt.
type clientSecret struct {
	plain  []byte
	digest algorithm.Digest
	raw    string // the configured digest, part of the cache key
}

// parseClientSecret interprets a configured secret. A value starting with '$'
// must be a digest go-crypt can decode; anything else is plain text.
func parseClientSecret(s string) (clientSecret, error) {
	if s == "" {
		return clientSecret{}, nil // none (private_key_jwt): matches nothing
	}
	if !strings.HasPrefix(s, "$") {
		return clientSecret{plain: []byte(s)}, nil
	}
	d, err := secretDecoder.Decode(s)
	if err != nil {
		// Never echo the digest: it may be a plain secret that happens to start with '$'.
		return clientSecret{}, fmt.Errorf("starts with '$' but is not a digest this provider understands (argon2id, bcrypt, pbkdf2, scrypt, sha512crypt, $plaintext$): %v", redactDecodeError(err))
	}
	return clientSecret{digest: d, raw: s}, nil
}

// redactDecodeError keeps go-crypt's reason but cuts anything after a colon
// that could quote input.
func redactDecodeError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 {
		return msg[:i]
	}
	return msg
}

// compare checks a presented secret.
func (s clientSecret) compare(ctx context.Context, presented string) error {
	if s.digest == nil {
		if len(s.plain) > 0 && subtle.ConstantTimeCompare(s.plain, []byte(presented)) == 1 {
			return nil
		}
		return errSecretMismatch
	}
	key := sha256.Sum256([]byte(s.raw + "\x00" + presented))
	if verified.has(key) {
		return nil
	}
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	ok, err := matchDigest(s.digest, presented)
	<-hashSlots
	if err != nil {
		return fmt.Errorf("verifying client secret: %w", err)
	}
	if !ok {
		return errSecretMismatch
	}
	verified.add(key)
	return nil
}

// verifiedCache is a bounded set of successful verifications.
type verifiedCache struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]struct{}
}

func (c *verifiedCache) has(k [32]byte) bool {
	c.mu.RLock()
	_, ok := c.m[k]
	c.mu.RUnlock()
	return ok
}

func (c *verifiedCache) add(k [32]byte) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		for old := range c.m { // evict an arbitrary entry
			delete(c.m, old)
			break
		}
	}
	c.m[k] = struct{}{}
	c.mu.Unlock()
}
