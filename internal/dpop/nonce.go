package dpop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Nonces are server-provided nonces (RFC 9449 8): stateless, so that every
// instance sharing the provider's HMAC secret accepts the nonces of the
// others without shared storage. A nonce is a time step and its HMAC; one
// is accepted during the step it was issued in and the next one, so it
// lives between Lifespan and twice Lifespan.
type Nonces struct {
	key      []byte
	lifespan time.Duration
	now      func() time.Time
}

// NewNonces returns nonces keyed by secret (derived, never used as is),
// changing every lifespan (default 5m); now is the clock (nil: time.Now).
func NewNonces(secret []byte, lifespan time.Duration, now func() time.Time) *Nonces {
	if lifespan <= 0 {
		lifespan = 5 * time.Minute
	}
	if now == nil {
		now = time.Now
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("caddy-oidc dpop nonce"))
	return &Nonces{key: m.Sum(nil), lifespan: lifespan, now: now}
}

// Current returns the nonce to send in DPoP-Nonce now.
func (n *Nonces) Current() string { return n.nonce(n.step()) }

// Valid reports whether nonce is the current or the previous step's.
func (n *Nonces) Valid(nonce string) bool {
	if nonce == "" {
		return false
	}
	s := n.step()
	for _, st := range []int64{s, s - 1} {
		if hmac.Equal([]byte(nonce), []byte(n.nonce(st))) {
			return true
		}
	}
	return false
}

func (n *Nonces) step() int64 { return n.now().UnixNano() / int64(n.lifespan) }

func (n *Nonces) nonce(step int64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m := hmac.New(sha256.New, n.key)
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], m.Sum(nil)[:16]...))
}
