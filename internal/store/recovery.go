package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const (
	sqlDeleteRecoveryCodes = `DELETE FROM recovery_code WHERE username = ?`
	sqlInsertRecoveryCode  = `INSERT INTO recovery_code (username, code_hash, created_at) VALUES (?, ?, ?)`
	sqlUseRecoveryCode     = `DELETE FROM recovery_code WHERE username = ? AND code_hash = ?`
	sqlCountRecoveryCodes  = `SELECT COUNT(*) FROM recovery_code WHERE username = ?`
	// sqlDeleteOrphanRecoveryCodes drops the codes of a user who has no
	// second factor left to recover: no passkey, no confirmed TOTP secret.
	sqlDeleteOrphanRecoveryCodes = `DELETE FROM recovery_code WHERE username = ? AND NOT EXISTS (SELECT 1 FROM webauthn_credential WHERE username = ?) AND NOT EXISTS (SELECT 1 FROM totp_secret WHERE username = ? AND confirmed = TRUE)`
)

// ReplaceRecoveryCodes stores hashes as the recovery codes of username,
// dropping the ones the user had: one transaction, so the old codes stop
// working exactly when the new ones start. The store never sees the codes
// themselves; hashing them (with a key) is the caller's job.
func (db *DB) ReplaceRecoveryCodes(ctx context.Context, username string, hashes []string, now time.Time) error {
	if username == "" {
		return errors.New("store: replace recovery codes: empty username")
	}
	for _, h := range hashes {
		if h == "" {
			return fmt.Errorf("store: replace recovery codes of %q: empty hash", username)
		}
	}
	err := db.inTx(ctx, func(ctx context.Context) error {
		if _, err := db.exec(ctx, sqlDeleteRecoveryCodes, username); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := db.exec(ctx, sqlInsertRecoveryCode, username, h, now.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: replace recovery codes of %q: %w", username, err)
	}
	return nil
}

// UseRecoveryCode consumes the recovery code of username whose hash is
// hash. It reports whether there was one: the check and the removal are one
// statement, so of concurrent uses of one code exactly one wins.
func (db *DB) UseRecoveryCode(ctx context.Context, username, hash string) (bool, error) {
	n, err := db.exec(ctx, sqlUseRecoveryCode, username, hash)
	if err != nil {
		return false, fmt.Errorf("store: use recovery code of %q: %w", username, err)
	}
	return n > 0, nil
}

// CountRecoveryCodes returns how many unused recovery codes username has.
func (db *DB) CountRecoveryCodes(ctx context.Context, username string) (int, error) {
	var n int
	if err := db.queryRow(ctx, sqlCountRecoveryCodes, username).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count recovery codes of %q: %w", username, err)
	}
	return n, nil
}

// DeleteRecoveryCodes removes every recovery code of username. Removing
// codes that do not exist is not an error.
func (db *DB) DeleteRecoveryCodes(ctx context.Context, username string) error {
	if _, err := db.exec(ctx, sqlDeleteRecoveryCodes, username); err != nil {
		return fmt.Errorf("store: delete recovery codes of %q: %w", username, err)
	}
	return nil
}

// dropOrphanRecoveryCodes deletes the unused recovery codes of username
// when they have no second factor left (the codes stand in for one, and a
// user without one would otherwise keep a way past a second factor they
// may be asked to set up later). The removals of second factors call it in
// their transaction, whoever removes: the user, the CLI or the admin API.
func (db *DB) dropOrphanRecoveryCodes(ctx context.Context, username string) error {
	if _, err := db.exec(ctx, sqlDeleteOrphanRecoveryCodes, username, username, username); err != nil {
		return fmt.Errorf("drop recovery codes of %q: %w", username, err)
	}
	return nil
}
