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

// Logout notifications (OpenID Connect Back-Channel and Front-Channel
// Logout 1.0): which clients took part in a login session, so that they
// can be told when it ends, and ending sessions in a way that says so.

// EndedSession is a login session that ended, with what its clients must
// be told.
type EndedSession struct {
	SID      string   // the session's sid claim
	Username string   // whose session it was
	Clients  []string // the clients that took part in it (AddSessionClient), sorted
}

const (
	sqlAddSessionClient     = `INSERT INTO login_session_client (sid, client_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (sid, client_id) DO NOTHING`
	sqlSessionClients       = `SELECT client_id FROM login_session_client WHERE sid = ? ORDER BY client_id`
	sqlDeleteSessionClients = `DELETE FROM login_session_client WHERE sid = ?`
	sqlSelectLoginByHash    = `SELECT COALESCE(sid, id_hash), username FROM login_session WHERE id_hash = ?`
	sqlSelectLoginsOfUser   = `SELECT COALESCE(sid, id_hash), id_hash FROM login_session WHERE username = ?`
	sqlSelectLoginOfUser    = `SELECT COALESCE(sid, id_hash), id_hash FROM login_session WHERE username = ? AND id_hash = ?`
	sqlCountSIDs            = `SELECT COUNT(*) FROM login_session WHERE sid = ?`
)

// NewSID returns a random session identifier (128 bits, base64url), the
// sid of a new login session.
func NewSID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// AddSessionClient records that clientID took part in the login session
// sid (it received tokens of it); the record lasts until expiresAt, the
// session's expiry. Recording it twice is not an error.
func (db *DB) AddSessionClient(ctx context.Context, sid, clientID string, now, expiresAt time.Time) error {
	if _, err := db.exec(ctx, sqlAddSessionClient, sid, clientID, now.UnixNano(), expiresAt.UnixNano()); err != nil {
		return fmt.Errorf("store: record client %q in a login session: %w", clientID, err)
	}
	return nil
}

// SessionClients returns the clients that took part in the login session
// sid, sorted.
func (db *DB) SessionClients(ctx context.Context, sid string) ([]string, error) {
	rows, err := db.query(ctx, sqlSessionClients, sid)
	if err != nil {
		return nil, fmt.Errorf("store: clients of a login session: %w", err)
	}
	defer closeRows(rows)
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("store: clients of a login session: %w", db.wrapErr(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: clients of a login session: %w", db.wrapErr(err))
	}
	return out, nil
}

// EndLoginSession deletes the login session with this cookie value (as
// DeleteLoginSession) and returns it with its clients, or nil when there
// was none.
func (db *DB) EndLoginSession(ctx context.Context, id string) (*EndedSession, error) {
	var ended *EndedSession
	err := db.inTx(ctx, func(ctx context.Context) error {
		var e EndedSession
		err := db.queryRow(ctx, sqlSelectLoginByHash, hashKey(id)).Scan(&e.SID, &e.Username)
		if isNoRows(err) {
			return nil
		} else if err != nil {
			return err
		}
		if _, err := db.exec(ctx, sqlDeleteLogin, hashKey(id)); err != nil {
			return err
		}
		if e.Clients, err = db.endSID(ctx, e.SID); err != nil {
			return err
		}
		ended = &e
		return nil
	})
	db.forgetLogin(ctx, hashKey(id))
	if err != nil {
		return nil, fmt.Errorf("store: end login session: %w", err)
	}
	return ended, nil
}

// EndLoginSessions deletes the user's login session with the handle (from
// ListLoginSessions), or every one of the user's sessions when handle is
// empty (as RevokeLoginSessions), and returns them with their clients.
func (db *DB) EndLoginSessions(ctx context.Context, username, handle string) ([]EndedSession, error) {
	var ended []EndedSession
	defer func() { // after the commit, whether or not it succeeded
		if handle == "" {
			db.forgetLoginsOfUser(ctx, username)
		} else {
			db.forgetLogin(ctx, handle)
		}
	}()
	err := db.inTx(ctx, func(ctx context.Context) error {
		ended = nil
		type row struct{ sid, hash string }
		var list []row
		var (
			rowsErr error
			q       = sqlSelectLoginsOfUser
			args    = []any{username}
		)
		if handle != "" {
			q, args = sqlSelectLoginOfUser, []any{username, handle}
		}
		rows, err := db.query(ctx, q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.sid, &r.hash); err != nil {
				closeRows(rows)
				return db.wrapErr(err)
			}
			list = append(list, r)
		}
		rowsErr = rows.Err()
		closeRows(rows)
		if rowsErr != nil {
			return db.wrapErr(rowsErr)
		}
		for _, r := range list {
			if _, err := db.exec(ctx, sqlDeleteLogin, r.hash); err != nil {
				return err
			}
			clients, err := db.endSID(ctx, r.sid)
			if err != nil {
				return err
			}
			ended = append(ended, EndedSession{SID: r.sid, Username: username, Clients: clients})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: end login sessions of %q: %w", username, err)
	}
	return ended, nil
}

// endSID returns the clients of the session sid and forgets them, unless
// another login session still carries the sid (a re-login in the same
// browser carries it over): then the session goes on and there is no one
// to tell.
func (db *DB) endSID(ctx context.Context, sid string) ([]string, error) {
	var n int64
	if err := db.queryRow(ctx, sqlCountSIDs, sid).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, nil
	}
	clients, err := db.SessionClients(ctx, sid)
	if err != nil {
		return nil, err
	}
	if _, err := db.exec(ctx, sqlDeleteSessionClients, sid); err != nil {
		return nil, err
	}
	return clients, nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
