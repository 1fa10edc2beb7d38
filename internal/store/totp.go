package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TOTPSecret is a user's TOTP (RFC 6238) secret, sealed by the caller (see
// internal/authn): the store never sees the plain secret.
type TOTPSecret struct {
	Username  string    // the user it belongs to; one secret per user
	Sealed    string    // the encrypted secret, opaque to the store
	Confirmed bool      // false until the user proved possession with a valid code
	LastStep  int64     // the last accepted time step; a step is accepted once
	CreatedAt time.Time // when it was enrolled; set to now if zero
}

const (
	sqlPutTOTP = `INSERT INTO totp_secret (username, secret_sealed, confirmed, last_step, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (username) DO UPDATE SET secret_sealed = excluded.secret_sealed, confirmed = excluded.confirmed, last_step = excluded.last_step, created_at = excluded.created_at`
	sqlSelectTOTP  = `SELECT secret_sealed, confirmed, last_step, created_at FROM totp_secret WHERE username = ?`
	sqlConfirmTOTP = `UPDATE totp_secret SET confirmed = TRUE, last_step = ? WHERE username = ? AND NOT confirmed`
	sqlAdvanceTOTP = `UPDATE totp_secret SET last_step = ? WHERE username = ? AND confirmed AND last_step < ?`
	sqlDeleteTOTP  = `DELETE FROM totp_secret WHERE username = ?`
)

// PutTOTPSecret stores the TOTP secret of s.Username, replacing any secret
// the user had, confirmed or not (re-enrolment).
func (db *DB) PutTOTPSecret(ctx context.Context, s TOTPSecret) error {
	switch {
	case s.Username == "":
		return errors.New("store: put TOTP secret: empty username")
	case s.Sealed == "":
		return fmt.Errorf("store: put TOTP secret of %q: empty secret", s.Username)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	if _, err := db.exec(ctx, sqlPutTOTP, s.Username, s.Sealed, s.Confirmed, s.LastStep, s.CreatedAt.UnixNano()); err != nil {
		return fmt.Errorf("store: put TOTP secret of %q: %w", s.Username, err)
	}
	return nil
}

// GetTOTPSecret returns the TOTP secret of username, confirmed or not, or
// ErrNotFound.
func (db *DB) GetTOTPSecret(ctx context.Context, username string) (*TOTPSecret, error) {
	s := TOTPSecret{Username: username}
	var created int64
	err := db.queryRow(ctx, sqlSelectTOTP, username).Scan(&s.Sealed, &s.Confirmed, &s.LastStep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: TOTP secret of %q: %w", username, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: TOTP secret of %q: %w", username, err)
	}
	s.CreatedAt = time.Unix(0, created).UTC()
	return &s, nil
}

// ConfirmTOTPSecret marks the unconfirmed secret of username confirmed and
// records step, the time step of the code that confirmed it, as used. It
// returns ErrNotFound when the user has no unconfirmed secret.
func (db *DB) ConfirmTOTPSecret(ctx context.Context, username string, step int64) error {
	n, err := db.exec(ctx, sqlConfirmTOTP, step, username)
	if err != nil {
		return fmt.Errorf("store: confirm TOTP secret of %q: %w", username, err)
	}
	if n == 0 {
		return fmt.Errorf("store: confirm TOTP secret of %q: no unconfirmed secret: %w", username, ErrNotFound)
	}
	return nil
}

// AdvanceTOTPStep records step as the last accepted time step of the
// confirmed secret of username, if it is later than the last one. It reports
// whether it did: false means the code of that step (or of a later one) was
// already used, or there is no confirmed secret. The check and the update are
// one statement, so of concurrent calls with the same step exactly one wins.
func (db *DB) AdvanceTOTPStep(ctx context.Context, username string, step int64) (bool, error) {
	n, err := db.exec(ctx, sqlAdvanceTOTP, step, username, step)
	if err != nil {
		return false, fmt.Errorf("store: advance TOTP step of %q: %w", username, err)
	}
	return n > 0, nil
}

// DeleteTOTPSecret removes the TOTP secret of username. Removing a secret
// that does not exist is not an error. When it was the user's last second
// factor, their unused recovery codes go in the same transaction
// (dropOrphanRecoveryCodes).
func (db *DB) DeleteTOTPSecret(ctx context.Context, username string) error {
	err := db.inTx(ctx, func(ctx context.Context) error {
		if _, err := db.exec(ctx, sqlDeleteTOTP, username); err != nil {
			return err
		}
		return db.dropOrphanRecoveryCodes(ctx, username)
	})
	if err != nil {
		return fmt.Errorf("store: delete TOTP secret of %q: %w", username, err)
	}
	return nil
}
