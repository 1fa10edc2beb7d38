package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Attempt is one authentication attempt, kept for regulation (brute-force
// protection): a password, TOTP or WebAuthn verification that succeeded or
// failed.
type Attempt struct {
	Username string    // the username as the regulator keys it (may be empty)
	RemoteIP string    // the client IP key, e.g. "192.0.2.7" or "2001:db8::/64" (may be empty)
	Factor   string    // "password", "totp", "webauthn"
	Success  bool      // whether the factor was verified
	At       time.Time // when it happened; required
}

// The failure lookups are one query per key, not one OR query, so that each
// uses its own (key, at) index on every backend. The subquery finds the most
// recent success of the same key in the window: failures at or before it no
// longer count. A failure in the very nanosecond of a success does not count.
const (
	sqlInsertAttempt = `INSERT INTO auth_attempt (username, remote_ip, factor, success, at) VALUES (?, ?, ?, ?, ?)`

	sqlFailuresOfUser = `SELECT username, remote_ip, factor, at FROM auth_attempt
WHERE username = ? AND success = FALSE AND at >= ?
	AND at > COALESCE((SELECT MAX(at) FROM auth_attempt WHERE username = ? AND success = TRUE AND at >= ?), ?)
ORDER BY at DESC LIMIT ?`

	sqlFailuresOfIP = `SELECT username, remote_ip, factor, at FROM auth_attempt
WHERE remote_ip = ? AND success = FALSE AND at >= ?
	AND at > COALESCE((SELECT MAX(at) FROM auth_attempt WHERE remote_ip = ? AND success = TRUE AND at >= ?), ?)
ORDER BY at DESC LIMIT ?`

	sqlDeleteAttemptsBefore = `DELETE FROM auth_attempt WHERE at < ?`
)

// RecordAttempt stores an authentication attempt.
func (db *DB) RecordAttempt(ctx context.Context, a Attempt) error {
	if a.At.IsZero() {
		return errors.New("store: record attempt: no time")
	}
	if _, err := db.exec(ctx, sqlInsertAttempt, a.Username, a.RemoteIP, a.Factor, a.Success, a.At.UnixNano()); err != nil {
		return fmt.Errorf("store: record attempt of %q: %w", a.Username, err)
	}
	return nil
}

// RecentFailures returns the failed attempts for the username (if non-empty)
// or the IP (if non-empty), at or after since and after the most recent
// success of that same key (a success resets the count, as in Authelia),
// newest first, at most limit (which must be positive).
//
// With both keys it returns the union: a failure of that user from that IP
// is listed once. With neither it returns nothing. A zero since means no
// lower bound.
func (db *DB) RecentFailures(ctx context.Context, username, remoteIP string, since time.Time, limit int) ([]Attempt, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: recent failures: limit %d is not positive", limit)
	}
	from := int64(math.MinInt64)
	if !since.IsZero() {
		from = since.UnixNano()
	}
	var byUser, byIP []Attempt
	if username != "" {
		var err error
		if byUser, err = db.failures(ctx, sqlFailuresOfUser, username, from, limit); err != nil {
			return nil, fmt.Errorf("store: recent failures of %q: %w", username, err)
		}
	}
	if remoteIP != "" {
		var err error
		if byIP, err = db.failures(ctx, sqlFailuresOfIP, remoteIP, from, limit); err != nil {
			return nil, fmt.Errorf("store: recent failures from %s: %w", remoteIP, err)
		}
	}
	switch {
	case username == "":
		return byIP, nil
	case remoteIP == "":
		return byUser, nil
	}
	return unionAttempts(byUser, byIP, limit), nil
}

// failures runs one of the failure lookups for key.
func (db *DB) failures(ctx context.Context, query, key string, from int64, limit int) ([]Attempt, error) {
	// Failures must come after the last success, and successes before from
	// do not matter, so "no success" is from-1 (from itself is included).
	floor := from
	if floor > math.MinInt64 {
		floor--
	}
	rows, err := db.query(ctx, query, key, from, key, from, floor, limit)
	if err != nil {
		return nil, err
	}
	defer closeRows(rows)
	var out []Attempt
	for rows.Next() {
		var (
			a  Attempt
			at int64
		)
		if err := rows.Scan(&a.Username, &a.RemoteIP, &a.Factor, &at); err != nil {
			return nil, db.wrapErr(err)
		}
		a.At = time.Unix(0, at).UTC()
		out = append(out, a)
	}
	return out, db.wrapErr(rows.Err())
}

// unionAttempts merges two newest-first lists into one, newest first, at
// most limit long. Rows carry no identity, so equal rows are counted as a
// multiset: n equal rows found by both lookups are the same n rows (equal
// rows have the same time, so both lookups see all of them or none).
func unionAttempts(a, b []Attempt, limit int) []Attempt {
	out := make([]Attempt, 0, min(limit, len(a)+len(b)))
	i, j := 0, 0
	for len(out) < limit && (i < len(a) || j < len(b)) {
		switch {
		case j == len(b) || (i < len(a) && a[i].At.After(b[j].At)):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].At.After(a[i].At):
			out = append(out, b[j])
			j++
		default:
			// Same instant: take the rows of this instant from both lists,
			// keeping each distinct row max(count in a, count in b) times.
			at := a[i].At
			ei, ej := i, j
			for ei < len(a) && a[ei].At.Equal(at) {
				ei++
			}
			for ej < len(b) && b[ej].At.Equal(at) {
				ej++
			}
			fromB := append([]Attempt(nil), b[j:ej]...)
			for _, x := range a[i:ei] {
				out = append(out, x)
				for k, y := range fromB {
					if sameAttempt(x, y) {
						fromB = append(fromB[:k], fromB[k+1:]...)
						break
					}
				}
			}
			out = append(out, fromB...)
			i, j = ei, ej
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func sameAttempt(x, y Attempt) bool {
	return x.Username == y.Username && x.RemoteIP == y.RemoteIP && x.Factor == y.Factor &&
		x.Success == y.Success && x.At.Equal(y.At)
}

// DeleteAttemptsBefore removes the attempts made before t and returns how
// many it removed.
func (db *DB) DeleteAttemptsBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := db.exec(ctx, sqlDeleteAttemptsBefore, t.UnixNano())
	if err != nil {
		return n, fmt.Errorf("store: delete attempts: %w", err)
	}
	return n, nil
}
