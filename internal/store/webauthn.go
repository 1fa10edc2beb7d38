package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// WebAuthnCredential is a registered WebAuthn credential (a passkey or a
// security key) of a user.
type WebAuthnCredential struct {
	ID         string    // the credential ID, base64url without padding; unique across users
	Username   string    // the owner
	Name       string    // the owner's label for it
	Data       []byte    // JSON of the WebAuthn library's credential record (public key, sign count, flags)
	CreatedAt  time.Time // set to now if zero
	LastUsedAt time.Time // zero if never used
}

// ErrWebAuthnCredentialExists is returned when a credential ID is already
// registered (to this user or another).
var ErrWebAuthnCredentialExists = errors.New("store: webauthn credential already registered")

// webauthnHandleSize is the length of a WebAuthn user handle (at most 64
// bytes by the specification; random, never the username).
const webauthnHandleSize = 32

const (
	sqlInsertWebAuthnCredential = `INSERT INTO webauthn_credential (id, username, name, data, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	sqlSelectWebAuthnCredential = `SELECT id, username, name, data, created_at, last_used_at FROM webauthn_credential WHERE id = ?`
	sqlListWebAuthnCredentials  = `SELECT id, username, name, data, created_at, last_used_at FROM webauthn_credential WHERE username = ? ORDER BY created_at, id`
	sqlUseWebAuthnCredential    = `UPDATE webauthn_credential SET data = ?, last_used_at = ? WHERE id = ? AND data = ?`
	sqlDeleteWebAuthnCredential = `DELETE FROM webauthn_credential WHERE id = ? AND username = ?`
	sqlDeleteWebAuthnOfUser     = `DELETE FROM webauthn_credential WHERE username = ?`
	sqlRenameWebAuthnCredential = `UPDATE webauthn_credential SET name = ? WHERE id = ? AND username = ?`
	sqlCountWebAuthnOfUser      = `SELECT COUNT(*) FROM webauthn_credential WHERE username = ?`
	sqlCountConfirmedTOTP       = `SELECT COUNT(*) FROM totp_secret WHERE username = ? AND confirmed = TRUE`

	sqlSelectWebAuthnHandle = `SELECT handle FROM webauthn_user WHERE username = ?`
	sqlInsertWebAuthnHandle = `INSERT INTO webauthn_user (username, handle) VALUES (?, ?) ON CONFLICT (username) DO NOTHING`
	sqlSelectWebAuthnUser   = `SELECT username FROM webauthn_user WHERE handle = ?`

	sqlInsertWebAuthnCeremony = `INSERT INTO webauthn_ceremony (id_hash, data, expires_at) VALUES (?, ?, ?)`
	sqlSelectWebAuthnCeremony = `SELECT data, expires_at FROM webauthn_ceremony WHERE id_hash = ?`
	sqlDeleteWebAuthnCeremony = `DELETE FROM webauthn_ceremony WHERE id_hash = ?`
)

// CreateWebAuthnCredential stores a newly registered credential. A credential
// ID that is already registered gives ErrWebAuthnCredentialExists.
func (db *DB) CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error {
	switch {
	case c.ID == "":
		return errors.New("store: create webauthn credential: empty id")
	case c.Username == "":
		return errors.New("store: create webauthn credential: empty username")
	case len(c.Data) == 0:
		return errors.New("store: create webauthn credential: empty data")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	n, err := db.exec(ctx, sqlInsertWebAuthnCredential, c.ID, c.Username, c.Name, string(c.Data),
		c.CreatedAt.UnixNano(), nanos(c.LastUsedAt))
	if err != nil {
		return fmt.Errorf("store: create webauthn credential of %q: %w", c.Username, err)
	}
	if n == 0 {
		return ErrWebAuthnCredentialExists
	}
	return nil
}

// WebAuthnCredential returns the credential with this ID, or ErrNotFound.
func (db *DB) WebAuthnCredential(ctx context.Context, id string) (*WebAuthnCredential, error) {
	c, err := scanWebAuthnCredential(db.queryRow(ctx, sqlSelectWebAuthnCredential, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: webauthn credential: %w", ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: webauthn credential: %w", err)
	}
	return c, nil
}

// WebAuthnCredentials returns the credentials of a user, oldest first (none is
// not an error).
func (db *DB) WebAuthnCredentials(ctx context.Context, username string) ([]WebAuthnCredential, error) {
	rows, err := db.query(ctx, sqlListWebAuthnCredentials, username)
	if err != nil {
		return nil, fmt.Errorf("store: webauthn credentials of %q: %w", username, err)
	}
	defer closeRows(rows)
	var list []WebAuthnCredential
	for rows.Next() {
		c, err := scanWebAuthnCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("store: webauthn credentials of %q: %w", username, db.wrapErr(err))
		}
		list = append(list, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: webauthn credentials of %q: %w", username, db.wrapErr(err))
	}
	return list, nil
}

func scanWebAuthnCredential(row rowScanner) (*WebAuthnCredential, error) {
	var (
		c       WebAuthnCredential
		data    string
		created int64
		used    sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.Username, &c.Name, &data, &created, &used); err != nil {
		return nil, err
	}
	c.Data = []byte(data)
	c.CreatedAt = time.Unix(0, created).UTC()
	c.LastUsedAt = fromNanos(used)
	return &c, nil
}

// UseWebAuthnCredential records a successful use of a credential: its record
// becomes data (new sign count, flags) and its last use usedAt. It is a
// compare-and-swap on the record: when the stored record is no longer old
// (another ceremony with the same credential won a race, or the credential
// was deleted) nothing changes and the error is ErrNotFound, so one
// assertion per sign count step can succeed.
func (db *DB) UseWebAuthnCredential(ctx context.Context, id string, old, data []byte, usedAt time.Time) error {
	n, err := db.exec(ctx, sqlUseWebAuthnCredential, string(data), usedAt.UnixNano(), id, string(old))
	if err != nil {
		return fmt.Errorf("store: use webauthn credential: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: use webauthn credential: %w", ErrNotFound)
	}
	return nil
}

// DeleteWebAuthnCredential deletes a credential of username. A credential
// that does not exist or belongs to someone else gives ErrNotFound, so a
// user cannot tell another user's credential from a missing one. When it
// was the user's last second factor, their unused recovery codes go in the
// same transaction (dropOrphanRecoveryCodes).
func (db *DB) DeleteWebAuthnCredential(ctx context.Context, username, id string) error {
	err := db.inTx(ctx, func(ctx context.Context) error {
		n, err := db.exec(ctx, sqlDeleteWebAuthnCredential, id, username)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return db.dropOrphanRecoveryCodes(ctx, username)
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: delete webauthn credential: %w", ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("store: delete webauthn credential of %q: %w", username, err)
	}
	return nil
}

// DeleteWebAuthnCredentialsOfUser deletes every credential of a user (an
// administrator's reset) and returns how many there were. Like
// DeleteWebAuthnCredential, it drops the user's unused recovery codes when
// no second factor is left.
func (db *DB) DeleteWebAuthnCredentialsOfUser(ctx context.Context, username string) (int64, error) {
	var n int64
	err := db.inTx(ctx, func(ctx context.Context) error {
		var err error
		if n, err = db.exec(ctx, sqlDeleteWebAuthnOfUser, username); err != nil {
			return err
		}
		return db.dropOrphanRecoveryCodes(ctx, username)
	})
	if err != nil {
		return 0, fmt.Errorf("store: delete webauthn credentials of %q: %w", username, err)
	}
	return n, nil
}

// RenameWebAuthnCredential sets the owner's label of a credential of
// username (the caller cleans and bounds it). A credential that does not
// exist or belongs to someone else gives ErrNotFound.
func (db *DB) RenameWebAuthnCredential(ctx context.Context, username, id, name string) error {
	n, err := db.exec(ctx, sqlRenameWebAuthnCredential, name, id, username)
	if err != nil {
		return fmt.Errorf("store: rename webauthn credential of %q: %w", username, err)
	}
	if n == 0 { // MySQL counts matched rows too (ClientFoundRows), so an unchanged name is no miss
		return fmt.Errorf("store: rename webauthn credential: %w", ErrNotFound)
	}
	return nil
}

// CountWebAuthnCredentials returns how many credentials a user has.
func (db *DB) CountWebAuthnCredentials(ctx context.Context, username string) (int, error) {
	var n int
	if err := db.queryRow(ctx, sqlCountWebAuthnOfUser, username).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count webauthn credentials of %q: %w", username, err)
	}
	return n, nil
}

// WebAuthnUserHasSecondFactor reports whether a user has enrolled a second
// factor: a WebAuthn credential or a confirmed TOTP secret. Enrolling or
// removing a passkey then needs a session that used one.
func (db *DB) WebAuthnUserHasSecondFactor(ctx context.Context, username string) (bool, error) {
	n, err := db.CountWebAuthnCredentials(ctx, username)
	if err != nil || n > 0 {
		return n > 0, err
	}
	if err := db.queryRow(ctx, sqlCountConfirmedTOTP, username).Scan(&n); err != nil {
		return false, fmt.Errorf("store: totp of %q: %w", username, err)
	}
	return n > 0, nil
}

// WebAuthnUserHandle returns the WebAuthn user handle of username: 32 random
// bytes created on first use and stable afterwards (never derived from the
// username, which authenticators may show or sync). Concurrent first calls
// agree on one value.
func (db *DB) WebAuthnUserHandle(ctx context.Context, username string) ([]byte, error) {
	if username == "" {
		return nil, errors.New("store: webauthn user handle: empty username")
	}
	var enc string
	err := db.queryRow(ctx, sqlSelectWebAuthnHandle, username).Scan(&enc)
	if errors.Is(err, sql.ErrNoRows) {
		h := make([]byte, webauthnHandleSize)
		_, _ = rand.Read(h) // never fails (crypto/rand panics instead)
		if _, err := db.exec(ctx, sqlInsertWebAuthnHandle, username, base64.RawURLEncoding.EncodeToString(h)); err != nil {
			return nil, fmt.Errorf("store: create webauthn user handle of %q: %w", username, err)
		}
		err = db.queryRow(ctx, sqlSelectWebAuthnHandle, username).Scan(&enc)
	}
	if err != nil {
		return nil, fmt.Errorf("store: webauthn user handle of %q: %w", username, err)
	}
	h, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("store: webauthn user handle of %q: %w", username, err)
	}
	return h, nil
}

// WebAuthnUsername returns the user whose handle this is, or ErrNotFound.
func (db *DB) WebAuthnUsername(ctx context.Context, handle []byte) (string, error) {
	if len(handle) == 0 {
		return "", fmt.Errorf("store: webauthn user: %w", ErrNotFound)
	}
	var username string
	err := db.queryRow(ctx, sqlSelectWebAuthnUser, base64.RawURLEncoding.EncodeToString(handle)).Scan(&username)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: webauthn user: %w", ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("store: webauthn user: %w", err)
	}
	return username, nil
}

// PutWebAuthnCeremony stores the state of a WebAuthn ceremony between the
// options sent to the browser and its answer. id is the random value the
// browser holds (in a cookie); only its SHA-256 is stored.
func (db *DB) PutWebAuthnCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	if id == "" || expiresAt.IsZero() {
		return errors.New("store: put webauthn ceremony: empty id or no expiry")
	}
	if _, err := db.exec(ctx, sqlInsertWebAuthnCeremony, hashKey(id), string(data), expiresAt.UnixNano()); err != nil {
		return fmt.Errorf("store: put webauthn ceremony: %w", err)
	}
	return nil
}

// TakeWebAuthnCeremony returns the state of a ceremony and deletes it, so a
// ceremony finishes at most once even when two answers race. A ceremony that
// does not exist, was already taken or expired at or before now gives
// ErrNotFound.
func (db *DB) TakeWebAuthnCeremony(ctx context.Context, id string, now time.Time) ([]byte, error) {
	if id == "" {
		return nil, fmt.Errorf("store: webauthn ceremony: %w", ErrNotFound)
	}
	key := hashKey(id)
	var (
		data    string
		expires int64
	)
	err := db.inTx(ctx, func(ctx context.Context) error {
		if err := db.queryRow(ctx, sqlSelectWebAuthnCeremony, key).Scan(&data, &expires); err != nil {
			return err
		}
		n, err := db.exec(ctx, sqlDeleteWebAuthnCeremony, key)
		if err == nil && n == 0 {
			err = sql.ErrNoRows // taken by a concurrent call
		}
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("store: webauthn ceremony: %w", ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("store: webauthn ceremony: %w", err)
	case expires <= now.UnixNano():
		return nil, fmt.Errorf("store: webauthn ceremony expired: %w", ErrNotFound)
	}
	return []byte(data), nil
}
