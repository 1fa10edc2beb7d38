package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Device grant statuses: pending until the user decides on the user-code
// page, then approved or denied; approved becomes used when the device
// receives its tokens (once).
const (
	DeviceStatusPending  = "pending"
	DeviceStatusApproved = "approved"
	DeviceStatusDenied   = "denied"
	DeviceStatusUsed     = "used"
)

// DeviceGrant is one device authorization request (RFC 8628). The codes
// themselves are never stored: only their keyed hashes (the provider's).
type DeviceGrant struct {
	DeviceCodeHash string
	UserCodeHash   string
	ClientID       string
	Scopes         []string
	Audience       []string
	Status         string
	// Username, AuthTime and AMR are the user who approved it and how they
	// signed in (set by DecideDeviceGrant).
	Username    string
	AuthTime    time.Time
	AMR         []string
	RequestedAt time.Time
	// Interval is the least time between two polls; LastPollAt the last poll
	// (zero: none yet).
	Interval   time.Duration
	LastPollAt time.Time
	// CodeExpiresAt is when the codes stop working; ExpiresAt, later, when
	// the row is collected.
	CodeExpiresAt time.Time
	ExpiresAt     time.Time
}

const (
	sqlCreateDevice = `INSERT INTO oauth2_device (device_code_hash, user_code_hash, client_id, scopes, audience, status, username, amr, auth_time, requested_at, poll_interval, last_poll_at, code_expires_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, '', '', 0, ?, ?, 0, ?, ?)`
	sqlDeviceColumns     = `SELECT device_code_hash, user_code_hash, client_id, scopes, audience, status, username, amr, auth_time, requested_at, poll_interval, last_poll_at, code_expires_at, expires_at FROM oauth2_device`
	sqlDeviceByCode      = sqlDeviceColumns + ` WHERE device_code_hash = ?`
	sqlDeviceByUserCode  = sqlDeviceColumns + ` WHERE user_code_hash = ?`
	sqlDecideDevice      = `UPDATE oauth2_device SET status = ?, username = ?, amr = ?, auth_time = ? WHERE user_code_hash = ? AND status = 'pending' AND code_expires_at > ?`
	sqlPollDevice        = `UPDATE oauth2_device SET last_poll_at = ?, poll_interval = ? WHERE device_code_hash = ? AND last_poll_at = ?`
	sqlUseDevice         = `UPDATE oauth2_device SET status = 'used' WHERE device_code_hash = ? AND status = 'approved'`
	deviceCollectionTail = time.Hour // how long a row outlives its codes
)

// CreateDeviceGrant stores a new pending device grant. ExpiresAt, when
// zero, is CodeExpiresAt plus an hour.
func (db *DB) CreateDeviceGrant(ctx context.Context, g DeviceGrant) error {
	scopes, err := encodeList(g.Scopes)
	if err != nil {
		return fmt.Errorf("store: create device grant: %w", err)
	}
	aud, err := encodeList(g.Audience)
	if err != nil {
		return fmt.Errorf("store: create device grant: %w", err)
	}
	if g.ExpiresAt.IsZero() {
		g.ExpiresAt = g.CodeExpiresAt.Add(deviceCollectionTail)
	}
	if _, err := db.exec(ctx, sqlCreateDevice, g.DeviceCodeHash, g.UserCodeHash, g.ClientID, scopes, aud, DeviceStatusPending,
		g.RequestedAt.UnixNano(), int64(g.Interval/time.Second), g.CodeExpiresAt.UnixNano(), g.ExpiresAt.UnixNano()); err != nil {
		return fmt.Errorf("store: create device grant: %w", err)
	}
	return nil
}

// GetDeviceGrant returns the grant of a device code hash, expired or not,
// or ErrNotFound.
func (db *DB) GetDeviceGrant(ctx context.Context, deviceCodeHash string) (*DeviceGrant, error) {
	return db.getDevice(ctx, sqlDeviceByCode, deviceCodeHash)
}

// GetDeviceGrantByUserCode returns the grant of a user code hash, expired
// or not, or ErrNotFound.
func (db *DB) GetDeviceGrantByUserCode(ctx context.Context, userCodeHash string) (*DeviceGrant, error) {
	return db.getDevice(ctx, sqlDeviceByUserCode, userCodeHash)
}

func (db *DB) getDevice(ctx context.Context, q, key string) (*DeviceGrant, error) {
	var g DeviceGrant
	var scopes, aud, amr string
	var authTime, requested, interval, lastPoll, codeExp, exp int64
	err := db.queryRow(ctx, q, key).Scan(&g.DeviceCodeHash, &g.UserCodeHash, &g.ClientID, &scopes, &aud, &g.Status,
		&g.Username, &amr, &authTime, &requested, &interval, &lastPoll, &codeExp, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: device grant: %w", ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: device grant: %w", err)
	}
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&g.Scopes, scopes}, {&g.Audience, aud}, {&g.AMR, amr}} {
		v, err := decodeList(l.src)
		if err != nil {
			return nil, fmt.Errorf("store: device grant: %w", err)
		}
		*l.dst = v
	}
	if authTime != 0 {
		g.AuthTime = time.Unix(0, authTime)
	}
	if lastPoll != 0 {
		g.LastPollAt = time.Unix(0, lastPoll)
	}
	g.RequestedAt = time.Unix(0, requested)
	g.Interval = time.Duration(interval) * time.Second
	g.CodeExpiresAt, g.ExpiresAt = time.Unix(0, codeExp), time.Unix(0, exp)
	return &g, nil
}

// DecideDeviceGrant records the user's decision (DeviceStatusApproved or
// DeviceStatusDenied) on the pending, unexpired grant of a user code. It
// reports false when there is no such grant any more: the code was used,
// decided or expired meanwhile (on this instance or another).
func (db *DB) DecideDeviceGrant(ctx context.Context, userCodeHash, status, username string, authTime time.Time, amr []string, now time.Time) (bool, error) {
	if status != DeviceStatusApproved && status != DeviceStatusDenied {
		return false, fmt.Errorf("store: decide device grant: bad status %q", status)
	}
	a, err := encodeList(amr)
	if err != nil {
		return false, fmt.Errorf("store: decide device grant: %w", err)
	}
	n, err := db.exec(ctx, sqlDecideDevice, status, username, a, authTime.UnixNano(), userCodeHash, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("store: decide device grant: %w", err)
	}
	return n > 0, nil
}

// PollDeviceGrant records a poll at now with the grant's (possibly
// increased) interval, if the last poll is still prev (zero: none). It
// reports false when another poll was recorded meanwhile.
func (db *DB) PollDeviceGrant(ctx context.Context, deviceCodeHash string, prev, now time.Time, interval time.Duration) (bool, error) {
	var p int64
	if !prev.IsZero() {
		p = prev.UnixNano()
	}
	n, err := db.exec(ctx, sqlPollDevice, now.UnixNano(), int64(interval/time.Second), deviceCodeHash, p)
	if err != nil {
		return false, fmt.Errorf("store: poll device grant: %w", err)
	}
	return n > 0, nil
}

// UseDeviceGrant marks an approved grant used, and reports whether this call
// did: of concurrent token requests for one device code, one wins.
func (db *DB) UseDeviceGrant(ctx context.Context, deviceCodeHash string) (bool, error) {
	n, err := db.exec(ctx, sqlUseDevice, deviceCodeHash)
	if err != nil {
		return false, fmt.Errorf("store: use device grant: %w", err)
	}
	return n > 0, nil
}
