package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// enrollmentProof names one unconfirmed secret without revealing it: the
// SHA-256 of its sealed form, which has a random nonce and never leaves the
// database. The enrolment page carries it in its form, so a retry after a
// wrong code can show the same key again to the page that showed it, and to
// nobody else: a session that did not see the key cannot produce the proof.
func enrollmentProof(sealed string) string {
	sum := sha256.Sum256([]byte("caddy-oidc totp enrollment\x00" + sealed))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PendingEnrollment returns again the unconfirmed secret of username that
// [TOTP.Enroll] created, when proof is the Enrollment.Proof it returned
// then: a mistyped code does not make the user scan a new key. ok is false
// (and nothing is shown) when the user has no unconfirmed secret, it was
// confirmed or replaced since, or proof does not match.
func (t *TOTP) PendingEnrollment(ctx context.Context, username, proof string) (e Enrollment, ok bool, err error) {
	if proof == "" {
		return Enrollment{}, false, nil
	}
	s, err := t.db.GetTOTPSecret(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return Enrollment{}, false, nil
	} else if err != nil {
		return Enrollment{}, false, fmt.Errorf("authn: TOTP: %w", err)
	}
	if s.Confirmed || subtle.ConstantTimeCompare([]byte(proof), []byte(enrollmentProof(s.Sealed))) != 1 {
		return Enrollment{}, false, nil
	}
	plain, err := t.sealer.Open(s.Sealed, sealAAD(username))
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("authn: TOTP secret of %q: %w", username, err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(string(plain))
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("authn: TOTP secret of %q: %w", username, err)
	}
	key, err := t.key(username, raw)
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("authn: TOTP: %w", err)
	}
	e, err = withQR(Enrollment{URI: key.URL(), Secret: key.Secret(), Proof: proof})
	return e, err == nil, err
}
