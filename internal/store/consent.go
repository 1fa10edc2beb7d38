package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Consent is a remembered ("pre-configured") consent: valid only for the same
// user, client, scopes and audience until ExpiresAt.
type Consent struct {
	Username  string
	ClientID  string
	Scopes    []string
	Audience  []string
	GrantedAt time.Time
	ExpiresAt time.Time
}

const (
	sqlDeleteConsent = `DELETE FROM consent WHERE username = ? AND client_id = ?`
	sqlPutConsent    = `INSERT INTO consent (username, client_id, scopes, audience, granted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (username, client_id) DO UPDATE SET scopes = excluded.scopes, audience = excluded.audience, granted_at = excluded.granted_at, expires_at = excluded.expires_at`
	sqlSelectConsent = `SELECT scopes, audience, granted_at, expires_at FROM consent WHERE username = ? AND client_id = ? AND expires_at > ?`
	sqlListConsents  = `SELECT client_id, scopes, audience, granted_at, expires_at FROM consent WHERE username = ? AND expires_at > ? ORDER BY client_id`
)

// PutConsent remembers a consent, replacing the user's earlier one for the
// client. It is one upsert, so concurrent calls (from several instances)
// never fail on each other: the last one wins.
func (db *DB) PutConsent(ctx context.Context, c Consent) error {
	scopes, err := encodeList(c.Scopes)
	if err != nil {
		return fmt.Errorf("store: put consent: %w", err)
	}
	aud, err := encodeList(c.Audience)
	if err != nil {
		return fmt.Errorf("store: put consent: %w", err)
	}
	if _, err := db.exec(ctx, sqlPutConsent, c.Username, c.ClientID, scopes, aud, c.GrantedAt.UnixNano(), c.ExpiresAt.UnixNano()); err != nil {
		return fmt.Errorf("store: put consent: %w", err)
	}
	return nil
}

// GetConsent returns the user's unexpired remembered consent for the client,
// or ErrNotFound.
func (db *DB) GetConsent(ctx context.Context, username, clientID string, now time.Time) (*Consent, error) {
	c := Consent{Username: username, ClientID: clientID}
	var scopes, aud string
	var granted, expires int64
	err := db.queryRow(ctx, sqlSelectConsent, username, clientID, now.UnixNano()).Scan(&scopes, &aud, &granted, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: consent: %w", ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: consent: %w", err)
	}
	if err := decodeConsent(&c, scopes, aud, granted, expires); err != nil {
		return nil, err
	}
	return &c, nil
}

// ListConsents returns the user's unexpired remembered consents.
func (db *DB) ListConsents(ctx context.Context, username string, now time.Time) ([]Consent, error) {
	rows, err := db.query(ctx, sqlListConsents, username, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: list consents: %w", err)
	}
	defer closeRows(rows)
	var out []Consent
	for rows.Next() {
		c := Consent{Username: username}
		var scopes, aud string
		var granted, expires int64
		if err := rows.Scan(&c.ClientID, &scopes, &aud, &granted, &expires); err != nil {
			return nil, fmt.Errorf("store: list consents: %w", db.wrapErr(err))
		}
		if err := decodeConsent(&c, scopes, aud, granted, expires); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list consents: %w", db.wrapErr(err))
	}
	return out, nil
}

// DeleteConsent forgets the user's remembered consent for the client.
func (db *DB) DeleteConsent(ctx context.Context, username, clientID string) error {
	if _, err := db.exec(ctx, sqlDeleteConsent, username, clientID); err != nil {
		return fmt.Errorf("store: delete consent: %w", err)
	}
	return nil
}

func decodeConsent(c *Consent, scopes, aud string, granted, expires int64) error {
	var err error
	if c.Scopes, err = decodeList(scopes); err != nil {
		return fmt.Errorf("store: consent scopes: %w", err)
	}
	if c.Audience, err = decodeList(aud); err != nil {
		return fmt.Errorf("store: consent audience: %w", err)
	}
	c.GrantedAt = time.Unix(0, granted).UTC()
	c.ExpiresAt = time.Unix(0, expires).UTC()
	return nil
}
