package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keysFile is the storage key, under the prefix, of the private key set.
const keysFile = "signing_keys.json"

// DefaultRetention is how long a retired key stays published when the
// caller does not say: the default lifespan of ID and access tokens.
const DefaultRetention = time.Hour

// supportedAlgs lists the algorithms the manager signs and verifies with, in
// the order they are reported by Algorithms. LoadOrCreate makes sure each has
// an active key.
var supportedAlgs = []string{RS256, ES256}

// keyState says what a key is used for. Active keys sign (one per algorithm);
// retired keys no longer sign but stay published in the JWKS so that tokens
// they signed still verify. The state is stored as the non-standard "state"
// member of the key in signing_keys.json; absent means active.
type keyState string

const (
	stateActive  keyState = "active"
	stateRetired keyState = "retired"
)

// originConfig marks, in signing_keys.json, the record of a key that came
// from the configuration: only its public half is stored, so that it can
// stay published after the configuration drops it.
const originConfig = "config"

// signingKey is one key of the set with its metadata.
type signingKey struct {
	kid    string
	alg    string
	state  keyState
	jwk    jose.JSONWebKey // private key, as stored; public for a configured key's record
	public crypto.PublicKey
	// configured: the key comes from the configuration. In storage it is a
	// public record; in a Manager it holds the private key while configured.
	configured bool
	// retiredAt is when a retired key stopped signing.
	retiredAt time.Time
	// expires is when a retired key leaves the JWKS (the last token it may
	// have signed has expired). Zero: published as long as it is loaded.
	expires time.Time
}

// Manager holds the provider's signing keys: an active key per algorithm that
// signs new tokens, and retired keys that are only published and verified
// until they expire. It is safe for concurrent use. The published set only
// changes when a retired key expires; it is rebuilt then, once.
type Manager struct {
	keys   []*signingKey          // every loaded key, in publication order
	active map[string]*signingKey // the active key, by alg
	algs   []string               // algorithms with an active key
	now    func() time.Time

	mu   sync.Mutex // serializes rebuilds of view
	view atomic.Pointer[keyView]
}

// keyView is the published part of the key set at some time.
type keyView struct {
	byKID  map[string][]*signingKey // published keys, by kid
	keys   []*signingKey            // published keys, in publication order
	public jose.JSONWebKeySet       // their public halves
	jwks   []byte                   // public JWK Set JSON, precomputed
	until  time.Time                // when the next retired key expires; zero: never
}

// Options configure Load.
type Options struct {
	// Configured are the keys of the configuration, in order. The first
	// key of each algorithm is the active one and replaces the generated
	// key of that algorithm; the others are published (and verify) but do
	// not sign.
	Configured []ConfiguredKey
	// Retention is how long a key stays published after it stops signing:
	// the longest lifespan of a token it may have signed. Default
	// DefaultRetention.
	Retention time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// LoadOrCreate is Load without configured keys, with the default retention.
func LoadOrCreate(ctx context.Context, st Storage, prefix string) (*Manager, error) {
	return Load(ctx, st, prefix, Options{})
}

// Load returns the key manager backed by the key set stored at
// prefix + "/signing_keys.json" in st. Under the storage lock
// prefix + "/keys" it loads the set and brings it in line with opts:
//
//   - the first configured key of each algorithm becomes its active key; a
//     key that was active before (generated, or configured and now removed
//     or replaced) is retired: it stays published and keeps verifying for
//     opts.Retention, then drops out (retired keys are kept in the set with
//     the time they retired, so every instance sharing st agrees);
//   - an algorithm with no configured key keeps its generated key, or gets
//     one (RSA-2048 for RS256, P-256 for ES256, kid = RFC 7638 SHA-256
//     thumbprint).
//
// The set is stored again if it changed. Configured private keys are never
// stored: only a public record of each configured key that signed. A stored
// set that cannot be read or is invalid is an error; it is never
// overwritten.
func Load(ctx context.Context, st Storage, prefix string, opts Options) (m *Manager, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	cfgActive, err := checkConfigured(opts.Configured)
	if err != nil {
		return nil, err
	}

	storageKey := path.Join(prefix, keysFile)
	lockName := path.Join(prefix, "keys")

	if err := st.Lock(ctx, lockName); err != nil {
		return nil, fmt.Errorf("keys: lock %q: %w", lockName, err)
	}
	defer func() {
		if uerr := st.Unlock(context.WithoutCancel(ctx), lockName); uerr != nil && err == nil {
			m, err = nil, fmt.Errorf("keys: unlock %q: %w", lockName, uerr)
		}
	}()

	var stored []*signingKey
	data, err := st.Load(ctx, storageKey)
	switch {
	case err == nil:
		stored, err = decodeKeySet(data)
		if err != nil {
			return nil, fmt.Errorf("keys: stored key set %q: %w", storageKey, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// First start: generate below.
	default:
		return nil, fmt.Errorf("keys: load %q: %w", storageKey, err)
	}

	stored, changed, err := reconcile(stored, cfgActive, opts.Retention, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("keys: stored key set %q: %w", storageKey, err)
	}
	if _, err := newManager(stored); err != nil {
		return nil, fmt.Errorf("keys: stored key set %q: %w", storageKey, err)
	}
	m, err = newManagerAt(inMemory(stored, opts.Configured, cfgActive), opts.Now)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if changed {
		data, err := encodeKeySet(stored)
		if err != nil {
			return nil, fmt.Errorf("keys: encode key set: %w", err)
		}
		if err := st.Store(ctx, storageKey, data); err != nil {
			return nil, fmt.Errorf("keys: store %q: %w", storageKey, err)
		}
	}
	return m, nil
}

// checkConfigured checks the configured keys (unique kids, supported
// algorithms) and returns the active one of each algorithm.
func checkConfigured(cfg []ConfiguredKey) (map[string]*ConfiguredKey, error) {
	active := map[string]*ConfiguredKey{}
	seen := map[string]bool{}
	for i := range cfg {
		c := &cfg[i]
		switch {
		case c.KeyID == "":
			return nil, fmt.Errorf("keys: configured key %d: key_id is empty", i)
		case seen[c.KeyID]:
			return nil, fmt.Errorf("keys: configured key %q: key_id used twice", c.KeyID)
		case c.Key == nil:
			return nil, fmt.Errorf("keys: configured key %q: no key", c.KeyID)
		}
		if _, err := checkKey(c.Algorithm, c.Key, true); err != nil {
			return nil, fmt.Errorf("keys: configured key %q: %w", c.KeyID, err)
		}
		seen[c.KeyID] = true
		if active[c.Algorithm] == nil {
			active[c.Algorithm] = c
		}
	}
	return active, nil
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// reconcile brings the stored set in line with the configured active keys
// at now (see Load) and reports whether it changed.
func reconcile(stored []*signingKey, cfgActive map[string]*ConfiguredKey, retention time.Duration, now time.Time) ([]*signingKey, bool, error) {
	changed := false
	matches := func(k *signingKey) bool {
		c := cfgActive[k.alg]
		return c != nil && k.configured && c.KeyID == k.kid && sameKey(c.Key.Public(), k.public)
	}
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
	for _, alg := range supportedAlgs {
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

// newManager checks the set-level invariants (at most one active key per
// algorithm; a kid shared only with retired keys) and precomputes the
// published JWKS.
func newManager(keys []*signingKey) (*Manager, error) { return newManagerAt(keys, time.Now) }

func newManagerAt(keys []*signingKey, now func() time.Time) (*Manager, error) {
	m := &Manager{
		keys:   keys,
		active: make(map[string]*signingKey, len(supportedAlgs)),
		now:    now,
	}
	live := map[string]bool{} // kids of the keys that do not expire
	for _, k := range keys {
		if k.state == stateRetired && !k.expires.IsZero() {
			continue // may share its kid with the key that replaced it
		}
		if live[k.kid] {
			return nil, fmt.Errorf("duplicate kid %q", k.kid)
		}
		live[k.kid] = true
		if k.state != stateActive {
			continue
		}
		if prev, dup := m.active[k.alg]; dup {
			return nil, fmt.Errorf("two active %s keys (kids %q and %q)", k.alg, prev.kid, k.kid)
		}
		m.active[k.alg] = k
	}
	for _, alg := range supportedAlgs {
		if m.active[alg] != nil {
			m.algs = append(m.algs, alg)
		}
	}
	v, err := m.buildView(m.now())
	if err != nil {
		return nil, err
	}
	m.view.Store(v)
	return m, nil
}

// buildView computes the keys published at now.
func (m *Manager) buildView(now time.Time) (*keyView, error) {
	v := &keyView{byKID: make(map[string][]*signingKey, len(m.keys))}
	// Active keys first: some clients take the first key of the JWKS.
	ordered := slices.Clone(m.keys)
	slices.SortStableFunc(ordered, func(a, b *signingKey) int {
		return cmpBool(a.state != stateActive, b.state != stateActive)
	})
	for _, k := range ordered {
		if !k.expires.IsZero() {
			if !now.Before(k.expires) {
				continue
			}
			if v.until.IsZero() || k.expires.Before(v.until) {
				v.until = k.expires
			}
		}
		v.keys = append(v.keys, k)
		v.byKID[k.kid] = append(v.byKID[k.kid], k)
		v.public.Keys = append(v.public.Keys, jose.JSONWebKey{
			Key:          k.public,
			KeyID:        k.kid,
			Algorithm:    k.alg,
			Use:          "sig",
			Certificates: k.jwk.Certificates,
		})
	}
	jwks, err := json.Marshal(v.public)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	v.jwks = jwks
	return v, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// current returns the published keys now, rebuilding them once when a
// retired key has expired.
func (m *Manager) current() *keyView {
	v := m.view.Load()
	if v.until.IsZero() {
		return v
	}
	now := m.now()
	if now.Before(v.until) {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v = m.view.Load(); !v.until.IsZero() && !now.Before(v.until) {
		nv, err := m.buildView(now)
		if err != nil {
			return v // cannot happen: the same keys encoded before
		}
		m.view.Store(nv)
		v = nv
	}
	return v
}

// JWKS returns the public JWK Set (kid, kty, alg, use and the public key
// parameters of every active and retired key; x5c for a configured key with
// a certificate chain) as JSON, ready to serve. The bytes are computed when
// the published set changes; until then every call returns the same slice,
// which callers must not modify.
func (m *Manager) JWKS() []byte { return m.current().jwks }

// Algorithms returns the algorithms that have an active signing key, in a
// fixed order (RS256 first). The returned slice is a copy.
func (m *Manager) Algorithms() []string {
	return append([]string(nil), m.algs...)
}

// PublicKeys returns the published key set (public keys only). The Key
// values are shared with the manager and must not be modified.
func (m *Manager) PublicKeys() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), m.current().public.Keys...)}
}

// Sign returns a compact JWS of claims (marshaled with encoding/json; pass a
// json.RawMessage for pre-encoded claims) signed with the active key for alg.
// The protected header carries alg, the key's kid, typ ("JWT" unless
// extraHeaders sets it) and extraHeaders; "alg" and "kid" in extraHeaders are
// ignored.
func (m *Manager) Sign(claims any, alg string, extraHeaders map[string]any) (string, error) {
	k := m.active[alg]
	if k == nil {
		return "", fmt.Errorf("keys: no active signing key for alg %q", alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("keys: encode claims: %w", err)
	}
	return k.sign(payload, extraHeaders)
}

func (k *signingKey) sign(payload []byte, extraHeaders map[string]any) (string, error) {
	hdr := make(map[jose.HeaderKey]any, len(extraHeaders)+2)
	hdr["typ"] = "JWT"
	for name, v := range extraHeaders {
		if name == "alg" || name == "kid" {
			continue
		}
		hdr[jose.HeaderKey(name)] = v
	}
	hdr["kid"] = k.kid
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.jwk.Key},
		&jose.SignerOptions{ExtraHeaders: hdr},
	)
	if err != nil {
		return "", fmt.Errorf("keys: %s signer (kid %q): %w", k.alg, k.kid, err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign with kid %q: %w", k.kid, err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("keys: serialize JWS: %w", err)
	}
	return token, nil
}

// Verify checks a compact JWS against the published keys (active and
// retired) and returns its claims. The key is selected by the kid header, or,
// without kid, every key of the header's alg is tried. Only RS256 and ES256
// are accepted. Verify checks the signature only: exp, nbf, iss and aud are
// the caller's business (an expired ID token is a valid id_token_hint).
// Numbers in the claims decode as float64.
func (m *Manager) Verify(token string) (map[string]any, error) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return nil, fmt.Errorf("keys: parse JWS: %w", err)
	}
	h := jws.Signatures[0].Protected
	candidates, err := m.candidates(h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	for _, k := range candidates {
		payload, err := jws.Verify(k.public)
		if err != nil {
			continue
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			return nil, fmt.Errorf("keys: decode claims: %w", err)
		}
		if claims == nil {
			return nil, errors.New("keys: claims are not a JSON object")
		}
		return claims, nil
	}
	return nil, errors.New("keys: invalid signature")
}

// candidates returns the keys a token with the given kid and alg headers may
// have been signed with.
func (m *Manager) candidates(kid, alg string) ([]*signingKey, error) {
	if alg != RS256 && alg != ES256 {
		return nil, fmt.Errorf("keys: unsupported alg %q", alg)
	}
	v := m.current()
	if kid != "" {
		ks := v.byKID[kid]
		if len(ks) == 0 {
			return nil, fmt.Errorf("keys: unknown kid %q", kid)
		}
		var out []*signingKey
		for _, k := range ks {
			if k.alg == alg {
				out = append(out, k)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("keys: kid %q is a %s key, token says %s", kid, ks[0].alg, alg)
		}
		return out, nil
	}
	var out []*signingKey
	for _, k := range v.keys {
		if k.alg == alg {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("keys: no %s key", alg)
	}
	return out, nil
}

// generateKey creates a new active key for alg.
func generateKey(alg string) (*signingKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
// each possibly with a "state" member.
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
		State     keyState `json:"state"`
		Origin    string   `json:"origin"`
		RetiredAt int64    `json:"retired_at"`
		ExpiresAt int64    `json:"expires_at"`
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
	case stateActive, stateRetired:
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
// "origin", "retired_at" and "expires_at" members where they say something.
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
