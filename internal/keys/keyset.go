package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// matchesConfig reports whether k is the record of the active configured key
// of its algorithm.
func matchesConfig(k *signingKey, cfgActive map[string]*ConfiguredKey) bool {
	c := cfgActive[k.alg]
	return c != nil && k.configured && c.KeyID == k.kid && sameKey(c.Key.Public(), k.public)
}

// reconcile brings the stored set in line with the configured active keys
// at now (see Load) and reports whether it changed. It modifies the keys of
// stored, which must not be in a view yet.
func reconcile(stored []*signingKey, cfgActive map[string]*ConfiguredKey, algs []string, retention time.Duration, now time.Time) ([]*signingKey, bool, error) {
	changed := false
	matches := func(k *signingKey) bool { return matchesConfig(k, cfgActive) }
	// Times are stored in whole seconds: retire times round down, expiry
	// times up, so that a key never leaves before its last token.
	retire := func(k *signingKey) {
		k.state, k.retiredAt, k.expires = stateRetired, now.Truncate(time.Second), ceilSecond(now.Add(retention))
		changed = true
	}
	var out []*signingKey
	hasActive := map[string]bool{}
	for _, k := range stored {
		switch {
		case k.state == stateActive && k.configured && !matches(k):
			retire(k) // configured before, now removed or replaced
		case k.state == stateActive && !k.configured && cfgActive[k.alg] != nil:
			retire(k) // generated, now replaced by a configured key
		case k.state == stateRetired && matches(k):
			k.state, k.retiredAt, k.expires = stateActive, time.Time{}, time.Time{}
			changed = true // configured again
		case k.state == stateRetired && k.retiredAt.IsZero():
			// Retired by an older version, which kept no time: count from now.
			retire(k)
		case k.state == statePending && cfgActive[k.alg] != nil:
			changed = true // the next generated key, never used: a configured key signs
			continue
		}
		if k.state == stateRetired {
			if until := ceilSecond(k.retiredAt.Add(retention)); until.After(k.expires) {
				k.expires = until // a longer lifespan now: keep it longer
			}
			if !now.Before(k.expires) {
				changed = true // its last token has expired
				continue
			}
		}
		if k.state == stateActive {
			if hasActive[k.alg] {
				return nil, false, fmt.Errorf("two active %s keys", k.alg)
			}
			hasActive[k.alg] = true
		}
		out = append(out, k)
	}
	for _, alg := range algs {
		if hasActive[alg] {
			continue
		}
		var k *signingKey
		if c := cfgActive[alg]; c != nil {
			k = configuredRecord(c)
		} else {
			var err error
			if k, err = generateKey(alg); err != nil {
				return nil, false, err
			}
			k.activatedAt = now.Truncate(time.Second)
		}
		out = append(out, k)
		changed = true
	}
	return out, changed, nil
}

func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); c.Before(t) {
		return c.Add(time.Second)
	}
	return t
}

// configuredRecord is the stored public record of an active configured key.
func configuredRecord(c *ConfiguredKey) *signingKey {
	pub := c.Key.Public()
	return &signingKey{
		kid: c.KeyID, alg: c.Algorithm, state: stateActive, configured: true, public: pub,
		jwk: jose.JSONWebKey{Key: pub, KeyID: c.KeyID, Algorithm: c.Algorithm, Use: "sig", Certificates: c.Certificates},
	}
}

// inMemory is the manager's key list: the stored set with each active
// configured record replaced by the configured private key, then the
// configured keys that do not sign (published while configured).
func inMemory(stored []*signingKey, cfg []ConfiguredKey, cfgActive map[string]*ConfiguredKey) []*signingKey {
	fromConfig := func(c *ConfiguredKey, state keyState) *signingKey {
		return &signingKey{
			kid: c.KeyID, alg: c.Algorithm, state: state, configured: true, public: c.Key.Public(),
			jwk: jose.JSONWebKey{Key: c.Key, KeyID: c.KeyID, Algorithm: c.Algorithm, Use: "sig", Certificates: c.Certificates},
		}
	}
	out := make([]*signingKey, 0, len(stored)+len(cfg))
	for _, k := range stored {
		if k.state == stateActive && k.configured {
			k = fromConfig(cfgActive[k.alg], stateActive)
		}
		out = append(out, k)
	}
	for i := range cfg {
		c := &cfg[i]
		if cfgActive[c.Algorithm] == c {
			continue
		}
		out = slices.DeleteFunc(out, func(k *signingKey) bool { // no need for its retired record
			return k.state == stateRetired && k.kid == c.KeyID && sameKey(k.public, c.Key.Public())
		})
		out = append(out, fromConfig(c, stateRetired))
	}
	return out
}

// checkSet checks the set-level invariants: at most one active and one
// pending key per algorithm, pending keys generated, and a kid shared only
// with retired keys that expire.
func checkSet(keys []*signingKey) error {
	live := map[string]bool{} // kids of the keys that do not expire
	active, pending := map[string]string{}, map[string]string{}
	for _, k := range keys {
		if k.state == stateRetired && !k.expires.IsZero() {
			continue // may share its kid with the key that replaced it
		}
		if live[k.kid] {
			return fmt.Errorf("duplicate kid %q", k.kid)
		}
		live[k.kid] = true
		var by map[string]string
		switch k.state {
		case stateActive:
			by = active
		case statePending:
			if k.configured {
				return fmt.Errorf("kid %q: a configured key cannot be pending", k.kid)
			}
			by = pending
		default:
			continue
		}
		if prev, dup := by[k.alg]; dup {
			return fmt.Errorf("two %s %s keys (kids %q and %q)", k.state, k.alg, prev, k.kid)
		}
		by[k.alg] = k.kid
	}
	return nil
}

// generateKey creates a new active key for alg.
func generateKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("keys: cannot generate a key for alg %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("keys: %s key thumbprint: %w", alg, err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return &signingKey{kid: jwk.KeyID, alg: alg, state: stateActive, jwk: jwk, public: priv.Public()}, nil
}

// storedKeySet is the on-disk form: a JWK Set whose keys are private JWKs,
// each possibly with a "state" member and the times of its transitions.
type storedKeySet struct {
	Keys []json.RawMessage `json:"keys"`
}

// decodeKeySet parses and checks the stored key set. Its errors never quote
// the input, which holds private keys.
func decodeKeySet(data []byte) ([]*signingKey, error) {
	var set storedKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("malformed JSON at byte offset %d", se.Offset)
		}
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("contains no keys")
	}
	keys := make([]*signingKey, 0, len(set.Keys))
	for i, raw := range set.Keys {
		k, err := decodeKey(raw)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func decodeKey(raw json.RawMessage) (*signingKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("invalid JWK: %w", err)
	}
	var meta struct {
		State       keyState `json:"state"`
		Origin      string   `json:"origin"`
		ActivatedAt int64    `json:"activated_at"`
		ActivatesAt int64    `json:"activates_at"`
		RetiredAt   int64    `json:"retired_at"`
		ExpiresAt   int64    `json:"expires_at"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("invalid state member: %w", err)
	}
	k := &signingKey{kid: jwk.KeyID, alg: jwk.Algorithm, state: meta.State, jwk: jwk}
	if k.kid == "" {
		return nil, errors.New("missing kid")
	}
	switch k.state {
	case "":
		k.state = stateActive
	case stateActive, stateRetired, statePending:
	default:
		return nil, fmt.Errorf("kid %q: unknown state %q", k.kid, k.state)
	}
	switch meta.Origin {
	case "":
	case originConfig:
		k.configured = true
	default:
		return nil, fmt.Errorf("kid %q: unknown origin %q", k.kid, meta.Origin)
	}
	if meta.ActivatedAt != 0 {
		k.activatedAt = time.Unix(meta.ActivatedAt, 0)
	}
	if meta.ActivatesAt != 0 {
		k.activatesAt = time.Unix(meta.ActivatesAt, 0)
	}
	if k.state == statePending && k.activatesAt.IsZero() {
		return nil, fmt.Errorf("kid %q: pending without activates_at", k.kid)
	}
	if meta.RetiredAt != 0 {
		k.retiredAt = time.Unix(meta.RetiredAt, 0)
	}
	if meta.ExpiresAt != 0 {
		k.expires = time.Unix(meta.ExpiresAt, 0)
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf("kid %q: use is %q, want \"sig\"", k.kid, jwk.Use)
	}
	// A configured key's record holds its public half; generated keys are
	// private.
	pub, err := checkKey(k.alg, jwk.Key, !k.configured)
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", k.kid, err)
	}
	k.public = pub
	jwk.Use = "sig"
	k.jwk = jwk
	return k, nil
}

// encodeKeySet serializes the key set for storage, adding the "state",
// "origin", "activated_at", "activates_at", "retired_at" and "expires_at"
// members (times in Unix seconds) where they say something.
func encodeKeySet(keys []*signingKey) ([]byte, error) {
	set := storedKeySet{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		raw, err := k.jwk.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", k.kid, err)
		}
		extra := map[string]any{}
		if k.state != stateActive {
			extra["state"] = k.state
		}
		if k.configured {
			extra["origin"] = originConfig
		}
		if !k.activatedAt.IsZero() {
			extra["activated_at"] = k.activatedAt.Unix()
		}
		if !k.activatesAt.IsZero() {
			extra["activates_at"] = k.activatesAt.Unix()
		}
		if !k.retiredAt.IsZero() {
			extra["retired_at"] = k.retiredAt.Unix()
		}
		if !k.expires.IsZero() {
			extra["expires_at"] = k.expires.Unix()
		}
		if len(extra) > 0 {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(raw, &members); err != nil {
				return nil, fmt.Errorf("kid %q: %w", k.kid, err)
			}
			for name, v := range extra {
				members[name], _ = json.Marshal(v)
			}
			if raw, err = json.Marshal(members); err != nil {
				return nil, fmt.Errorf("kid %q: %w", k.kid, err)
			}
		}
		set.Keys = append(set.Keys, raw)
	}
	data, err := json.MarshalIndent(set, "", "\t")
	if err != nil {
		return nil, err
	}
	return data, nil
}
