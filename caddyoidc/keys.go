package caddyoidc

import (
	"cmp"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	jose "github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/keys"
)

// JWK is a key given in the configuration, with Authelia's option names:
// one of the provider's signing keys (jwks), or one of a client's public
// keys (a client's jwks, for private_key_jwt).
type JWK struct {
	// KeyID is the key's kid. For a signing key it appears in the header of
	// every token the key signs. Default: the RFC 7638 thumbprint of the
	// key.
	KeyID string `json:"key_id,omitempty"`
	// Algorithm is the JWS algorithm: RS256, RS384, RS512, PS256, PS384,
	// PS512 (RSA keys), ES256, ES384, ES512 (P-256, P-384, P-521) or
	// EdDSA (Ed25519). Signing keys: one algorithm per key, default
	// RS256, the curve's ES algorithm, or EdDSA. Client keys: default any
	// that fits the key.
	Algorithm string `json:"algorithm,omitempty"`
	// Use must be sig (the default).
	Use string `json:"use,omitempty"`
	// Key is the PEM key: the private key for a signing key (RSA 2048 to
	// 4096 bits, ECDSA P-256, P-384 or P-521, or Ed25519; PKCS #1, PKCS #8
	// or SEC 1), the public key
	// (or a certificate) for a client key. Use a {file.*} or {env.*}
	// placeholder for a private key.
	Key string `json:"key,omitempty"`
	// CertificateChain is an optional PEM certificate chain for the key,
	// leaf first, published as x5c.
	CertificateChain string `json:"certificate_chain,omitempty"`
}

// resolve returns the key's PEM fields with placeholders resolved; a
// trailing newline of a file does not matter in PEM.
func (k JWK) resolve(repl *caddy.Replacer) (key, chain string) {
	return repl.ReplaceKnown(k.Key, ""), repl.ReplaceKnown(k.CertificateChain, "")
}

// signingKeys reads the configured signing keys: jwks, or Authelia's older
// issuer_private_key (an RS256 key whose kid is its thumbprint).
func (h *Handler) signingKeys(repl *caddy.Replacer) ([]keys.ConfiguredKey, error) {
	if h.IssuerPrivateKey != "" { // not with jwks: Validate
		k, err := keys.ParseConfiguredKey("", keys.RS256, "sig", repl.ReplaceKnown(h.IssuerPrivateKey, ""), "")
		if err != nil {
			return nil, fmt.Errorf("issuer_private_key: %s", strings.TrimPrefix(err.Error(), "key: "))
		}
		return []keys.ConfiguredKey{k}, nil
	}
	var out []keys.ConfiguredKey
	for i, j := range h.JWKS {
		key, chain := j.resolve(repl)
		k, err := keys.ParseConfiguredKey(j.KeyID, j.Algorithm, j.Use, key, chain)
		if err != nil {
			if j.KeyID != "" {
				return nil, fmt.Errorf("jwks: key_id %q: %w", j.KeyID, err)
			}
			return nil, fmt.Errorf("jwks[%d]: %w", i, err)
		}
		for _, prev := range out {
			if prev.KeyID == k.KeyID {
				return nil, fmt.Errorf("jwks: key_id %q: used twice", k.KeyID)
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// keyRetention is how long a replaced signing key stays published: the
// longest lifespan of a token it signs (ID tokens, JWT access tokens),
// provider-wide or in a named lifespan.
func (h *Handler) keyRetention() time.Duration {
	orDefault := func(d caddy.Duration) time.Duration {
		if d > 0 {
			return time.Duration(d)
		}
		return time.Hour // the default of both
	}
	longest := max(orDefault(h.IDTokenLifespan), orDefault(h.AccessTokenLifespan))
	for _, l := range h.Lifespans {
		longest = max(longest, time.Duration(l.IDToken), time.Duration(l.AccessToken))
		for _, g := range l.Grants {
			longest = max(longest, time.Duration(g.IDToken), time.Duration(g.AccessToken))
		}
	}
	return longest
}

// keyOptions are the options of the key manager: the configured keys, the
// retention, and the rotation.
func (h *Handler) keyOptions(repl *caddy.Replacer) (keys.Options, error) {
	opts := keys.Options{
		Retention:       h.keyRetention(),
		RotationPeriod:  time.Duration(h.KeyRotationPeriod),
		RefreshInterval: time.Duration(h.KeyRefreshInterval),
		Now:             now,
	}
	switch {
	case opts.RefreshInterval < 0 || opts.RefreshInterval > 0 && opts.RefreshInterval < time.Second:
		return opts, fmt.Errorf("key_refresh_interval: %v is less than 1s", opts.RefreshInterval)
	case opts.RotationPeriod < 0:
		return opts, fmt.Errorf("key_rotation_period: %v is negative (0 turns rotation off)", opts.RotationPeriod)
	}
	refresh := cmp.Or(opts.RefreshInterval, keys.DefaultRefreshInterval)
	if opts.RotationPeriod > 0 && opts.RotationPeriod < keys.MinRotationPeriodFactor*refresh {
		return opts, fmt.Errorf("key_rotation_period: %v is shorter than %d times key_refresh_interval (%v)", opts.RotationPeriod, keys.MinRotationPeriodFactor, refresh)
	}
	var err error
	opts.Configured, err = h.signingKeys(repl)
	opts.Algorithms = h.clientAlgorithms()
	return opts, err
}

// clientAlgorithms are the signing algorithms the clients name, for which
// the key manager makes sure a key exists. Unknown names are left to the
// client's validation, which says which option is wrong.
func (h *Handler) clientAlgorithms() []string {
	var out []string
	for _, c := range h.Clients {
		for _, alg := range []string{c.IDTokenSignedResponseAlg, c.UserinfoSignedResponseAlg, c.UserinfoSigningAlgorithm,
			c.AccessTokenSignedResponseAlg, c.AuthorizationSignedResponseAlg, c.IntrospectionSignedResponseAlg} {
			if slices.Contains(keys.Algorithms, alg) && !slices.Contains(out, alg) {
				out = append(out, alg)
			}
		}
	}
	slices.Sort(out)
	return out
}

// keysFingerprint identifies a key configuration, so that a reload with
// other keys (or another retention, rotation period or refresh interval)
// builds a new key manager while a reload with the same ones shares it.
// The clients' algorithms are not part of it: a shared manager makes the
// keys a reload needs (keys.Manager.Ensure).
func keysFingerprint(opts keys.Options) (string, error) {
	cfg := opts.Configured
	if len(cfg) == 0 && opts.Retention == time.Hour && opts.RotationPeriod == 0 && opts.RefreshInterval == 0 {
		return "", nil
	}
	h := sha256.New()
	for _, d := range []time.Duration{opts.Retention, opts.RotationPeriod, opts.RefreshInterval} {
		_ = binary.Write(h, binary.BigEndian, int64(d))
	}
	for _, k := range cfg {
		der, err := x509.MarshalPKCS8PrivateKey(k.Key)
		if err != nil {
			return "", fmt.Errorf("jwks: key_id %q: %w", k.KeyID, err)
		}
		for _, part := range [][]byte{[]byte(k.KeyID), []byte(k.Algorithm), der} {
			_ = binary.Write(h, binary.BigEndian, int64(len(part)))
			h.Write(part)
		}
		for _, c := range k.Certificates {
			h.Write(c.Raw)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// publicKeys reads a client's jwks (public keys for private_key_jwt).
func (c Client) publicKeys(repl *caddy.Replacer) ([]jose.JSONWebKey, error) {
	var out []jose.JSONWebKey
	for i, j := range c.JWKS {
		key, chain := j.resolve(repl)
		k, err := keys.ParsePublicJWK(j.KeyID, j.Algorithm, j.Use, key, chain)
		if err != nil {
			if j.KeyID != "" {
				return nil, fmt.Errorf("jwks: key_id %q: %w", j.KeyID, err)
			}
			return nil, fmt.Errorf("jwks[%d]: %w", i, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// keysUser is a handler that shares an issuer's keys, with the storage and
// logger of its configuration.
type keysUser struct {
	h      *Handler
	st     keys.Storage
	logger *zap.Logger
}

// attach records that h, provisioned with storage st, shares the keys. The
// key refresher uses the storage and logger of the newest handler still
// provisioned: the manager outlives the configuration it was loaded with,
// whose storage module may be cleaned up after a reload.
func (s *issuerState) attach(h *Handler, st keys.Storage, logger *zap.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, keysUser{h: h, st: st, logger: logger})
	s.keys.Attach(st, logger)
}

// detach undoes attach when h is cleaned up: after a reload, or after a
// failed one, whose storage the refresher must not keep.
func (s *issuerState) detach(h *Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = slices.DeleteFunc(s.users, func(u keysUser) bool { return u.h == h })
	if n := len(s.users); n > 0 {
		s.keys.Attach(s.users[n-1].st, s.users[n-1].logger)
	}
}
