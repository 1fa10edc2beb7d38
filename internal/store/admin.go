package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// What operators do to a running provider (the admin API and the CLI):
// list and end login sessions, forget consents, revoke a client's grants.

const (
	sqlListLogins        = `SELECT id_hash, auth_time, amr, created_at, expires_at, last_seen_at, remember_me FROM login_session WHERE username = ? AND expires_at > ? ORDER BY created_at, id_hash`
	sqlCountLogins       = `SELECT COUNT(*) FROM login_session WHERE expires_at > ?`
	sqlDeleteLoginHandle = `DELETE FROM login_session WHERE username = ? AND id_hash = ?`
	sqlDeleteConsentsOf  = `DELETE FROM consent WHERE username = ?`

	sqlInvalidateCodesOfClient   = `UPDATE oauth2_code SET active = FALSE WHERE client_id = ? AND active`
	sqlDeleteAccessOfClient      = `DELETE FROM oauth2_access WHERE client_id = ?`
	sqlDeactivateRefreshOfClient = `UPDATE oauth2_refresh SET active = FALSE WHERE client_id = ? AND active`
	sqlDeletePAROfClient         = `DELETE FROM oauth2_par WHERE client_id = ?`
)

// LoginSessionInfo is a login session as an operator sees it: named by its
// handle, the hex SHA-256 of the cookie value (the only form stored), which
// ends the session but cannot be used as its cookie.
type LoginSessionInfo struct {
	Handle     string
	Username   string
	AuthTime   time.Time // zero: unknown
	AMR        []string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	RememberMe bool
}

// ListLoginSessions returns the user's login sessions unexpired at now,
// oldest first. (The inactivity timeout is the pages' decision; a session
// listed here may already be idle for longer.)
func (db *DB) ListLoginSessions(ctx context.Context, username string, now time.Time) ([]LoginSessionInfo, error) {
	rows, err := db.query(ctx, sqlListLogins, username, now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: list login sessions of %q: %w", username, err)
	}
	defer closeRows(rows)
	var out []LoginSessionInfo
	for rows.Next() {
		s := LoginSessionInfo{Username: username}
		var (
			authTime, lastSeen sql.NullInt64
			amr                string
			created, expires   int64
		)
		if err := rows.Scan(&s.Handle, &authTime, &amr, &created, &expires, &lastSeen, &s.RememberMe); err != nil {
			return nil, fmt.Errorf("store: list login sessions: %w", db.wrapErr(err))
		}
		s.AuthTime = fromNanos(authTime)
		s.CreatedAt = time.Unix(0, created).UTC()
		s.ExpiresAt = time.Unix(0, expires).UTC()
		s.LastSeenAt = fromNanos(lastSeen)
		if s.LastSeenAt.IsZero() {
			s.LastSeenAt = s.CreatedAt
		}
		if amr != "" {
			if s.AMR, err = decodeList(amr); err != nil {
				return nil, fmt.Errorf("store: list login sessions: decode amr: %w", err)
			}
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list login sessions: %w", db.wrapErr(err))
	}
	return out, nil
}

// RevokeLoginSessions ends the user's login session with the handle (from
// ListLoginSessions), or every one of the user's sessions when handle is
// empty, and returns how many ended. Their cookies are useless from now on.
func (db *DB) RevokeLoginSessions(ctx context.Context, username, handle string) (int64, error) {
	var (
		n   int64
		err error
	)
	if handle == "" {
		n, err = db.exec(ctx, sqlDeleteLoginOfUser, username)
		db.forgetLoginsOfUser(ctx, username)
	} else {
		n, err = db.exec(ctx, sqlDeleteLoginHandle, username, handle)
		db.forgetLogin(ctx, handle)
	}
	if err != nil {
		return 0, fmt.Errorf("store: revoke login sessions of %q: %w", username, err)
	}
	return n, nil
}

// CountLoginSessions returns how many login sessions are unexpired at now.
func (db *DB) CountLoginSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	if err := db.queryRow(ctx, sqlCountLogins, now.UnixNano()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count login sessions: %w", err)
	}
	return n, nil
}

// RevokeConsents forgets the user's remembered consent for the client, or
// for every client when clientID is empty, and returns how many it forgot.
func (db *DB) RevokeConsents(ctx context.Context, username, clientID string) (int64, error) {
	var (
		n   int64
		err error
	)
	if clientID == "" {
		n, err = db.exec(ctx, sqlDeleteConsentsOf, username)
	} else {
		n, err = db.exec(ctx, sqlDeleteConsent, username, clientID)
	}
	if err != nil {
		return 0, fmt.Errorf("store: revoke consents of %q: %w", username, err)
	}
	return n, nil
}

// RevokedGrants counts what RevokeClientGrants ended.
type RevokedGrants struct {
	Codes          int64 `json:"authorization_codes"`
	AccessTokens   int64 `json:"access_tokens"`
	RefreshTokens  int64 `json:"refresh_tokens"`
	PushedRequests int64 `json:"pushed_requests"`
}

// RevokeClientGrants ends every grant of a client, in one transaction: its
// unused authorization codes are invalidated (a later use also revokes what
// the code issued), its access tokens deleted, its refresh tokens
// deactivated (kept until they expire, so that reuse is still detected)
// and its pushed authorization requests deleted.
func (db *DB) RevokeClientGrants(ctx context.Context, clientID string) (RevokedGrants, error) {
	var out RevokedGrants
	forgetKept := func() { // before and after the DELETE (accessrows.go)
		if db.accesses != nil {
			db.accesses.forgetWhere(func(c *recentRow) bool { return c.request.clientID == clientID })
		}
	}
	forgetKept()
	defer forgetKept()
	err := db.inTx(ctx, func(ctx context.Context) error {
		for _, step := range []struct {
			query string
			n     *int64
		}{
			{sqlInvalidateCodesOfClient, &out.Codes},
			{sqlDeleteAccessOfClient, &out.AccessTokens},
			{sqlDeactivateRefreshOfClient, &out.RefreshTokens},
			{sqlDeletePAROfClient, &out.PushedRequests},
		} {
			n, err := db.exec(ctx, step.query, clientID)
			if err != nil {
				return err
			}
			*step.n = n
		}
		return nil
	})
	if err != nil {
		return RevokedGrants{}, fmt.Errorf("store: revoke grants of client %q: %w", clientID, err)
	}
	return out, nil
}
