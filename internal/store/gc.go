package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// expiringTables are the tables DeleteExpired sweeps. Inactive (rotated or
// revoked) refresh tokens stay until they expire, so that reuse is still
// detected and the whole grant revoked.
var expiringTables = []string{
	"oauth2_code", "oauth2_access", "oauth2_refresh", "oauth2_pkce",
	"oauth2_oidc", "oauth2_par", "oauth2_jti", "login_session",
	"webauthn_ceremony", "consent",
	"oauth2_device", // device.go
	"login_session_client",
	"oauth2_refresh_rotated", // rotated refresh tokens (fosite.go)
}

// DeleteExpired removes the rows that expired at or before now: authorization
// codes, access and refresh tokens, PKCE and OpenID Connect request contexts,
// pushed authorization requests, client assertion JTIs, login sessions,
// WebAuthn ceremonies and remembered consents. Rows without an expiry are
// kept. Each table is swept in its own statement. It returns the number of
// rows removed. With several instances on one database, prefer
// [DB.CollectGarbage]: one instance at a time, in small batches.
func (db *DB) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, t := range expiringTables {
		n, err := db.exec(ctx, `DELETE FROM `+t+` WHERE expires_at <= ?`, now.UnixNano())
		total += n
		if err != nil {
			return total, fmt.Errorf("store: delete expired %s: %w", t, err)
		}
	}
	return total, nil
}

// DefaultGCBatch is the batch size CollectGarbage uses when given none: small
// enough that a batch holds its locks (and, on SQLite, the write lock) for
// milliseconds.
const DefaultGCBatch = 500

// gcLease is the name of the garbage collector's lease.
const gcLease = "gc"

const (
	sqlRenewLease = `UPDATE lease SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at <= ?)`
	sqlTakeLease  = `INSERT INTO lease (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`
)

// CollectGarbage deletes what DeleteExpired covers and the authentication
// attempts made before attemptsBefore (none if it is zero), at most batch
// rows per statement (DefaultGCBatch if batch <= 0), so writers are never
// held up for long. It runs only if holder gets the "gc" lease: free, expired
// at now, or already holder's; the lease then lasts until now+leaseFor. So
// among instances sharing a database, each calling it every leaseFor with
// its own holder name, one collects per period. It returns the rows deleted
// and whether it held the lease (and so ran).
func (db *DB) CollectGarbage(ctx context.Context, now, attemptsBefore time.Time, holder string, leaseFor time.Duration, batch int) (deleted int64, ran bool, err error) {
	if holder == "" || leaseFor <= 0 {
		return 0, false, errors.New("store: collect garbage: empty holder or no lease length")
	}
	if batch <= 0 {
		batch = DefaultGCBatch
	}
	ran, err = db.TakeLease(ctx, gcLease, holder, now, leaseFor)
	if err != nil || !ran {
		return 0, ran, err
	}
	for _, t := range expiringTables {
		n, err := db.deleteBatches(ctx, t, "expires_at <= ?", now.UnixNano(), batch)
		deleted += n
		if err != nil {
			return deleted, true, fmt.Errorf("store: collect garbage: %s: %w", t, err)
		}
	}
	if !attemptsBefore.IsZero() {
		n, err := db.deleteBatches(ctx, "auth_attempt", "at < ?", attemptsBefore.UnixNano(), batch)
		deleted += n
		if err != nil {
			return deleted, true, fmt.Errorf("store: collect garbage: auth_attempt: %w", err)
		}
	}
	return deleted, true, nil
}

// deleteBatches deletes the rows of table matching cond (with one argument)
// in statements of at most batch rows, until one deletes fewer.
func (db *DB) deleteBatches(ctx context.Context, table, cond string, arg any, batch int) (int64, error) {
	q := db.dialect.deleteBatch(table, cond)
	var total int64
	for {
		n, err := db.exec(ctx, q, arg, batch)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// TakeLease takes or renews the lease name for holder until now+leaseFor, if
// it is free, expired at now, or already holder's, and reports whether it
// did. The check and the update are one conditional statement (an UPDATE, or
// an INSERT of a lease never taken), so of concurrent takers exactly one wins
// on every backend. Times are the callers' clocks: keep them in sync to well
// within leaseFor.
func (db *DB) TakeLease(ctx context.Context, name, holder string, now time.Time, leaseFor time.Duration) (bool, error) {
	until := now.Add(leaseFor).UnixNano()
	n, err := db.exec(ctx, sqlRenewLease, holder, until, name, holder, now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("store: lease %q: %w", name, err)
	}
	if n > 0 {
		return true, nil
	}
	n, err = db.exec(ctx, sqlTakeLease, name, holder, until)
	if err != nil {
		return false, fmt.Errorf("store: lease %q: %w", name, err)
	}
	return n > 0, nil
}
