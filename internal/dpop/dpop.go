// Package dpop verifies DPoP proofs (RFC 9449, OAuth 2.0 Demonstrating
// Proof of Possession): the JWT a client signs with its own key for each
// request, whose key thumbprint (jkt) binds the tokens it receives. It also
// issues and checks server nonces (RFC 9449 8 and 9). It knows nothing about
// fosite or Caddy: the provider calls Verify with the request's method, URL
// and, at a protected resource, the access token.
package dpop

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Header is the HTTP request header carrying a proof; NonceHeader is the
// response header carrying a server nonce.
const (
	Header      = "DPoP"
	NonceHeader = "DPoP-Nonce"
)

// proofType is the typ header every proof must carry (RFC 9449 4.2).
const proofType = "dpop+jwt"

// Algorithms are the asymmetric JWS algorithms accepted for proofs, as
// published in dpop_signing_alg_values_supported. Symmetric algorithms
// and none are never accepted (RFC 9449 4.3).
var Algorithms = []string{
	string(jose.ES256), string(jose.ES384), string(jose.ES512),
	string(jose.RS256), string(jose.RS384), string(jose.RS512),
	string(jose.PS256), string(jose.PS384), string(jose.PS512),
	string(jose.EdDSA),
}

var joseAlgorithms = func() []jose.SignatureAlgorithm {
	a := make([]jose.SignatureAlgorithm, len(Algorithms))
	for i, s := range Algorithms {
		a[i] = jose.SignatureAlgorithm(s)
	}
	return a
}()

// ErrInvalidProof is wrapped by every reason to refuse a proof (the OAuth
// error invalid_dpop_proof); ErrUseNonce means the proof lacks the server
// nonce or carries a stale one (use_dpop_nonce): the client retries with the
// nonce of the DPoP-Nonce header.
var (
	ErrInvalidProof = errors.New("invalid DPoP proof")
	ErrUseNonce     = errors.New("DPoP proof without a current server nonce")
)

// ErrReplay is what a ReplayCache returns for a proof it has seen.
var ErrReplay = errors.New("DPoP proof replayed")

// ReplayCache remembers proofs until they expire. Remember records key
// until exp and returns ErrReplay when key is already recorded; it must be
// atomic across every instance that serves the same issuer, or a proof
// could be used once per instance.
type ReplayCache interface {
	Remember(ctx context.Context, key string, exp time.Time) error
}

// Verifier checks proofs.
type Verifier struct {
	// MaxAge is how old a proof's iat may be (default 5m); Skew is how far
	// in the future it may be (default 1m, for clocks running ahead).
	MaxAge, Skew time.Duration
	// Nonces, when set, are required in every proof.
	Nonces *Nonces
	// Replay records the jti of every accepted proof; nil disables replay
	// detection (tests only).
	Replay ReplayCache
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Request is what a proof must match: the HTTP method and the URL of the
// request it came with (compared without query and fragment), and at a
// protected resource the access token it is sent with (the proof's ath).
type Request struct {
	Method      string
	URL         string
	AccessToken string
}

// Proof is an accepted proof.
type Proof struct {
	// JKT is the base64url SHA-256 thumbprint (RFC 7638) of the proof's
	// public key: the value tokens are bound to (cnf.jkt).
	JKT string
}

// Verify checks the DPoP header values of one request. headers are every
// value of the DPoP header: exactly one must be present.
func (v *Verifier) Verify(ctx context.Context, headers []string, req Request) (*Proof, error) {
	if len(headers) != 1 {
		return nil, invalid("exactly one DPoP header is required")
	}
	sig, err := jose.ParseSignedCompact(headers[0], joseAlgorithms)
	if err != nil {
		return nil, invalid("the proof is not a JWS signed with an accepted asymmetric algorithm")
	}
	if len(sig.Signatures) != 1 {
		return nil, invalid("the proof must have one signature")
	}
	h := sig.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != proofType {
		return nil, invalid("the proof's typ must be dpop+jwt")
	}
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.IsPublic() || !jwk.Valid() {
		return nil, invalid("the proof's jwk header must be a valid public key")
	}
	payload, err := sig.Verify(jwk.Key)
	if err != nil {
		return nil, invalid("the proof's signature does not verify with its jwk")
	}
	var c struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   *int64 `json:"iat"`
		ATH   string `json:"ath"`
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalid("the proof's claims are not a JSON object of the expected types")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > 256:
		return nil, invalid("the proof needs a jti (at most 256 characters)")
	case c.HTM != req.Method:
		return nil, invalid("the proof's htm does not match the request method")
	case !sameURL(c.HTU, req.URL):
		return nil, invalid("the proof's htu does not match the request URL")
	case c.IAT == nil:
		return nil, invalid("the proof needs an iat")
	}
	now := v.now()
	iat := time.Unix(*c.IAT, 0)
	maxAge, skew := v.MaxAge, v.Skew
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	if skew <= 0 {
		skew = time.Minute
	}
	if iat.Before(now.Add(-maxAge)) || iat.After(now.Add(skew)) {
		return nil, invalid("the proof's iat is too old or in the future")
	}
	if req.AccessToken != "" {
		sum := sha256.Sum256([]byte(req.AccessToken))
		if c.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, invalid("the proof's ath does not match the access token")
		}
	}
	if v.Nonces != nil && !v.Nonces.Valid(c.Nonce) {
		return nil, ErrUseNonce
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalid("the proof's jwk has no thumbprint")
	}
	jkt := base64.RawURLEncoding.EncodeToString(tp)
	if v.Replay != nil {
		// A jti is unique per key; keep it as long as the proof could be
		// accepted.
		if err := v.Replay.Remember(ctx, "dpop:"+jkt+":"+c.JTI, iat.Add(maxAge+skew)); err != nil {
			if errors.Is(err, ErrReplay) {
				return nil, invalid("the proof was already used (jti seen before)")
			}
			return nil, fmt.Errorf("dpop: replay cache: %w", err)
		}
	}
	return &Proof{JKT: jkt}, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalidProof, reason) }

// Reason is the human-readable part of an ErrInvalidProof error, for the
// error_description.
func Reason(err error) string {
	s := err.Error()
	if r, ok := strings.CutPrefix(s, ErrInvalidProof.Error()+": "); ok {
		return r
	}
	return s
}

// sameURL compares htu with the request URL as RFC 9449 4.3 says: without
// query and fragment, after syntax-based normalization (case of scheme and
// host, default ports, an empty path as /).
func sameURL(htu, want string) bool {
	a, err := url.Parse(htu)
	if err != nil || !a.IsAbs() {
		return false
	}
	b, err := url.Parse(want)
	if err != nil {
		return false
	}
	return normalize(a) == normalize(b)
}

func normalize(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}
