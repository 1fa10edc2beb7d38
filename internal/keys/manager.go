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

	jose "github.com/go-jose/go-jose/v4"
)

// keysFile is the storage key, under the prefix, of the private key set.
const keysFile = "signing_keys.json"

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

// signingKey is one private key of the set with its metadata.
type signingKey struct {
	kid    string
	alg    string
	state  keyState
	jwk    jose.JSONWebKey // private key, as stored
	public crypto.PublicKey
}

// Manager holds the provider's signing keys: an active key per algorithm that
// signs new tokens, and retired keys that are only published and verified.
// A Manager is immutable after construction and safe for concurrent use.
type Manager struct {
	keys   []*signingKey          // publication order
	byKID  map[string]*signingKey // every key, by kid
	active map[string]*signingKey // the active key, by alg
	algs   []string               // algorithms with an active key
	public jose.JSONWebKeySet     // public halves, in publication order
	jwks   []byte                 // public JWK Set JSON, precomputed
}

// LoadOrCreate returns the key manager backed by the key set stored at
// prefix + "/signing_keys.json" in st. Under the storage lock
// prefix + "/keys" it loads the set, generates an active key for each
// supported algorithm that has none (RSA-2048 for RS256, P-256 for ES256,
// kid = RFC 7638 SHA-256 thumbprint) and stores the set if it changed, so
// every process sharing st ends up with the same keys. A stored set that
// cannot be read or is invalid is an error; it is never overwritten.
func LoadOrCreate(ctx context.Context, st Storage, prefix string) (m *Manager, err error) {
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

	var keys []*signingKey
	data, err := st.Load(ctx, storageKey)
	switch {
	case err == nil:
		keys, err = decodeKeySet(data)
		if err != nil {
			return nil, fmt.Errorf("keys: stored key set %q: %w", storageKey, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// First start: generate below.
	default:
		return nil, fmt.Errorf("keys: load %q: %w", storageKey, err)
	}

	hasActive := make(map[string]bool)
	for _, k := range keys {
		if k.state == stateActive {
			hasActive[k.alg] = true
		}
	}
	changed := false
	for _, alg := range supportedAlgs {
		if hasActive[alg] {
			continue
		}
		k, err := generateKey(alg)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		changed = true
	}

	m, err = newManager(keys)
	if err != nil {
		return nil, fmt.Errorf("keys: stored key set %q: %w", storageKey, err)
	}
	if changed {
		data, err := encodeKeySet(keys)
		if err != nil {
			return nil, fmt.Errorf("keys: encode key set: %w", err)
		}
		if err := st.Store(ctx, storageKey, data); err != nil {
			return nil, fmt.Errorf("keys: store %q: %w", storageKey, err)
		}
	}
	return m, nil
}

// newManager checks the set-level invariants (unique kids, at most one active
// key per algorithm) and precomputes the published JWKS.
func newManager(keys []*signingKey) (*Manager, error) {
	m := &Manager{
		keys:   keys,
		byKID:  make(map[string]*signingKey, len(keys)),
		active: make(map[string]*signingKey, len(supportedAlgs)),
	}
	for _, k := range keys {
		if _, dup := m.byKID[k.kid]; dup {
			return nil, fmt.Errorf("duplicate kid %q", k.kid)
		}
		m.byKID[k.kid] = k
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
	for _, k := range keys {
		m.public.Keys = append(m.public.Keys, jose.JSONWebKey{
			Key:       k.public,
			KeyID:     k.kid,
			Algorithm: k.alg,
			Use:       "sig",
		})
	}
	jwks, err := json.Marshal(m.public)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	m.jwks = jwks
	return m, nil
}

// JWKS returns the public JWK Set (kid, kty, alg, use and the public key
// parameters of every active and retired key) as JSON, ready to serve. The
// bytes are computed once; every call returns the same slice, which callers
// must not modify.
func (m *Manager) JWKS() []byte { return m.jwks }

// Algorithms returns the algorithms that have an active signing key, in a
// fixed order (RS256 first). The returned slice is a copy.
func (m *Manager) Algorithms() []string {
	return append([]string(nil), m.algs...)
}

// PublicKeys returns the published key set (public keys only). The Key
// values are shared with the manager and must not be modified.
func (m *Manager) PublicKeys() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), m.public.Keys...)}
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
	if kid != "" {
		k := m.byKID[kid]
		if k == nil {
			return nil, fmt.Errorf("keys: unknown kid %q", kid)
		}
		if k.alg != alg {
			return nil, fmt.Errorf("keys: kid %q is a %s key, token says %s", kid, k.alg, alg)
		}
		return []*signingKey{k}, nil
	}
	var out []*signingKey
	for _, k := range m.keys {
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
		State keyState `json:"state"`
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
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf("kid %q: use is %q, want \"sig\"", k.kid, jwk.Use)
	}
	switch key := jwk.Key.(type) {
	case *rsa.PrivateKey:
		if k.alg != RS256 {
			return nil, fmt.Errorf("kid %q: RSA key with alg %q, want %s", k.kid, k.alg, RS256)
		}
		if key.N.BitLen() < 2048 {
			return nil, fmt.Errorf("kid %q: RSA key of %d bits, want at least 2048", k.kid, key.N.BitLen())
		}
		key.Precompute()
		k.public = &key.PublicKey
	case *ecdsa.PrivateKey:
		if k.alg != ES256 {
			return nil, fmt.Errorf("kid %q: EC key with alg %q, want %s", k.kid, k.alg, ES256)
		}
		if key.Curve != elliptic.P256() {
			return nil, fmt.Errorf("kid %q: EC key on %s, want P-256", k.kid, key.Curve.Params().Name)
		}
		k.public = &key.PublicKey
	case *rsa.PublicKey, *ecdsa.PublicKey:
		return nil, fmt.Errorf("kid %q: public key only, a private key is required", k.kid)
	default:
		return nil, fmt.Errorf("kid %q: unsupported key type %T", k.kid, key)
	}
	jwk.Use = "sig"
	k.jwk = jwk
	return k, nil
}

// encodeKeySet serializes the private key set for storage, adding the
// "state" member to keys that are not active.
func encodeKeySet(keys []*signingKey) ([]byte, error) {
	set := storedKeySet{Keys: make([]json.RawMessage, 0, len(keys))}
	for _, k := range keys {
		raw, err := k.jwk.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kid %q: %w", k.kid, err)
		}
		if k.state != stateActive {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(raw, &members); err != nil {
				return nil, fmt.Errorf("kid %q: %w", k.kid, err)
			}
			members["state"], _ = json.Marshal(k.state)
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
