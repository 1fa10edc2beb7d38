package keys

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/ory/fosite/token/jwt"
)

// FositeSigner returns the manager as fosite's jwt.Signer, for the OpenID
// Connect ID token strategy and JWT access tokens.
//
// Generate signs with the active key of the algorithm named by the header's
// "alg" (how a client's id_token_signed_response_alg arrives through the
// session's IDTokenHeaders), RS256 when none is set, and emits that key's
// kid. Decode and Validate accept tokens signed by any published key and,
// like fosite's DefaultSigner, also validate the exp/iat/nbf claims.
func (m *Manager) FositeSigner() jwt.Signer { return &fositeSigner{m: m} }

type fositeSigner struct{ m *Manager }

// Generate implements jwt.Signer. It returns the token and its signature
// (third segment). "alg" and "kid" in the header are ours to set; other
// headers (typ, ...) are kept.
func (s *fositeSigner) Generate(_ context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	if h, ok := header.(*jwt.Headers); ok && h == nil {
		header = nil
	}
	if claims == nil || header == nil {
		return "", "", errors.New("keys: either claims or header is nil")
	}
	alg := RS256
	v := header.Get("alg")
	if v == nil {
		v = header.ToMap()["alg"]
	}
	if v != nil {
		a, ok := v.(string)
		if !ok {
			return "", "", fmt.Errorf("keys: header alg is a %T, want a string", v)
		}
		if a != "" {
			alg = a
		}
	}
	token, err := s.m.Sign(map[string]any(claims), alg, header.ToMap())
	if err != nil {
		return "", "", err
	}
	sig, err := s.GetSignature(context.Background(), token)
	if err != nil {
		return "", "", err
	}
	return token, sig, nil
}

// Validate implements jwt.Signer: it returns the token's signature when the
// token is valid.
func (s *fositeSigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode implements jwt.Signer with fosite's own parser, so errors are the
// *jwt.ValidationError fosite expects (an expired token comes back with its
// claims and ValidationErrorExpired, as id_token_hint handling requires).
func (s *fositeSigner) Decode(_ context.Context, token string) (*jwt.Token, error) {
	// Pick candidate keys from the unverified header, then let fosite verify.
	var candidates []*signingKey
	var pickErr error
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		candidates, pickErr = s.m.candidates(kid, string(t.Method))
		if pickErr != nil {
			return nil, pickErr
		}
		return candidates[0].public, nil
	}
	tok, err := jwt.ParseWithClaims(token, jwt.MapClaims{}, keyFunc)
	if err == nil || len(candidates) < 2 || !signatureFailed(err) {
		return tok, err
	}
	// No kid and several keys of this alg: try the others.
	for _, k := range candidates[1:] {
		tok, err = jwt.ParseWithClaims(token, jwt.MapClaims{}, func(*jwt.Token) (any, error) { return k.public, nil })
		if err == nil || !signatureFailed(err) {
			return tok, err
		}
	}
	return tok, err
}

func signatureFailed(err error) bool {
	var ve *jwt.ValidationError
	return errors.As(err, &ve) && ve.Has(jwt.ValidationErrorSignatureInvalid)
}

// GetSignature implements jwt.Signer: the third segment of a compact JWS.
func (s *fositeSigner) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("keys: header, body and signature must all be set")
	}
	return parts[2], nil
}

// Hash implements jwt.Signer with SHA-256.
func (s *fositeSigner) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength implements jwt.Signer: the SHA-256 size.
func (s *fositeSigner) GetSigningMethodLength(context.Context) int { return sha256.Size }

var _ jwt.Signer = (*fositeSigner)(nil)
