package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LoginSession is a user's authenticated browser session at the provider.
type LoginSession struct {
	ID        string    // the opaque random value from the cookie; only its SHA-256 is stored
	Username  string    // the user it authenticates
	AuthTime  time.Time // when the user last authenticated
	AMR       []string  // authentication methods, e.g. ["pwd"], later ["pwd","otp"]
	CreatedAt time.Time // when the session was created; set to now if zero
	ExpiresAt time.Time // when it stops being valid; required
	// LastSeenAt is when the session was last used, for the inactivity
	// timeout; zero means CreatedAt.
	LastSeenAt time.Time
	// RememberMe marks a "keep me signed in" session: a longer ExpiresAt
	// and no inactivity timeout.
	RememberMe bool
	// SID is the session's public identifier, the sid claim of ID and
	// logout tokens; CreateLoginSession draws a random one when empty.
	// A re-login in the same browser may carry it over (logout.go).
	SID string
}

const (
	sqlInsertLogin       = `INSERT INTO login_session (id_hash, username, auth_time, amr, created_at, expires_at, last_seen_at, remember_me, sid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlSelectLogin       = `SELECT username, auth_time, amr, created_at, expires_at, last_seen_at, remember_me, sid FROM login_session WHERE id_hash = ? AND expires_at > ?`
	sqlUpdateLogin       = `UPDATE login_session SET username = ?, auth_time = ?, amr = ?, expires_at = ?, last_seen_at = ?, remember_me = ? WHERE id_hash = ?`
	sqlTouchLogin        = `UPDATE login_session SET last_seen_at = ? WHERE id_hash = ?`
	sqlDeleteLogin       = `DELETE FROM login_session WHERE id_hash = ?`
	sqlDeleteLoginOfUser = `DELETE FROM login_session WHERE username = ?`
)

func (s *LoginSession) validate() error {
	switch {
	case s.ID == "":
		return errors.New("empty id")
	case s.Username == "":
		return errors.New("empty username")
	case s.ExpiresAt.IsZero():
		return errors.New("no expiry")
	}
	return nil
}

// CreateLoginSession stores a new login session.
func (db *DB) CreateLoginSession(ctx context.Context, s LoginSession) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("store: create login session: %w", err)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	amr, err := encodeList(s.AMR)
	if err != nil {
		return fmt.Errorf("store: create login session: %w", err)
	}
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	if s.SID == "" {
		s.SID = NewSID()
	}
	if _, err := db.exec(ctx, sqlInsertLogin, hashKey(s.ID), s.Username, nanos(s.AuthTime), amr,
		s.CreatedAt.UnixNano(), s.ExpiresAt.UnixNano(), nanos(s.LastSeenAt), s.RememberMe, s.SID); err != nil {
		return fmt.Errorf("store: create login session for %q: %w", s.Username, err)
	}
	return nil
}

// GetLoginSession returns the login session with this cookie value, or
// ErrNotFound if there is none or it expired at or before now.
// On PostgreSQL and SQLite it may come from this instance's cache
// (logincache.go, logincache_sqlite.go).
func (db *DB) GetLoginSession(ctx context.Context, id string, now time.Time) (*LoginSession, error) {
	key := hashKey(id)
	cache, gen := db.loginCacheFor(ctx), uint64(0)
	if cache != nil {
		if s, ok := cache.get(key, now); ok {
			s.ID = id
			return s, nil
		}
		gen = cache.generation()
	}
	var (
		s                  = LoginSession{ID: id}
		authTime           sql.NullInt64
		amr                string
		created, expiresAt int64
		lastSeen           sql.NullInt64
		sid                sql.NullString
	)
	err := db.queryRow(ctx, sqlSelectLogin, key, now.UnixNano()).
		Scan(&s.Username, &authTime, &amr, &created, &expiresAt, &lastSeen, &s.RememberMe, &sid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: login session: %w", ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("store: login session: %w", err)
	}
	s.AuthTime = fromNanos(authTime)
	s.CreatedAt = time.Unix(0, created).UTC()
	s.ExpiresAt = time.Unix(0, expiresAt).UTC()
	s.LastSeenAt = fromNanos(lastSeen)
	if s.LastSeenAt.IsZero() {
		s.LastSeenAt = s.CreatedAt
	}
	s.SID = sid.String
	if s.SID == "" {
		s.SID = hashKey(id) // written by an older build after migration 6
	}
	if amr != "" {
		if s.AMR, err = decodeList(amr); err != nil {
			return nil, fmt.Errorf("store: login session: decode amr: %w", err)
		}
	}
	if cache != nil {
		cache.put(key, &s, gen)
	}
	return &s, nil
}

// loginCacheFor returns the login session cache to read through, or nil if
// there is none or ctx carries a transaction (whose own writes the cache
// does not know).
func (db *DB) loginCacheFor(ctx context.Context) *loginCache {
	if db.logins == nil || db.txStateFrom(ctx) != nil {
		return nil
	}
	return db.logins.cache
}

// forgetLogin drops a login session from the cache, after a change to it
// (whether or not the change succeeded: a failed commit may have
// committed). A change made in the transaction ctx carries is forgotten
// again when that transaction ends: until it commits, a read outside it
// still finds the session as it was and may keep it, and on SQLite no
// notice of this connection's own commit would drop it.
func (db *DB) forgetLogin(ctx context.Context, idHash string) {
	if db.logins == nil {
		return
	}
	db.logins.cache.forget(idHash)
	db.txStateFrom(ctx).atEnd(func() { db.logins.cache.forget(idHash) })
}

// forgetLoginsOfUser drops every login session of username from the cache,
// as forgetLogin does.
func (db *DB) forgetLoginsOfUser(ctx context.Context, username string) {
	if db.logins == nil {
		return
	}
	db.logins.cache.forgetUser(username)
	db.txStateFrom(ctx).atEnd(func() { db.logins.cache.forgetUser(username) })
}

// UpdateLoginSession replaces the username, AuthTime, AMR, ExpiresAt, LastSeenAt and RememberMe of
// the login session s.ID (e.g. after a second factor or re-authentication).
// ErrNotFound if it does not exist.
func (db *DB) UpdateLoginSession(ctx context.Context, s LoginSession) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("store: update login session: %w", err)
	}
	amr, err := encodeList(s.AMR)
	if err != nil {
		return fmt.Errorf("store: update login session: %w", err)
	}
	key := hashKey(s.ID)
	n, err := db.exec(ctx, sqlUpdateLogin, s.Username, nanos(s.AuthTime), amr, s.ExpiresAt.UnixNano(), nanos(s.LastSeenAt), s.RememberMe, key)
	db.forgetLogin(ctx, key)
	if err != nil {
		return fmt.Errorf("store: update login session of %q: %w", s.Username, err)
	}
	if n == 0 {
		return fmt.Errorf("store: update login session: %w", ErrNotFound)
	}
	return nil
}

// TouchLoginSession records that the session was used at now.
func (db *DB) TouchLoginSession(ctx context.Context, id string, now time.Time) error {
	key := hashKey(id)
	_, err := db.exec(ctx, sqlTouchLogin, now.UnixNano(), key)
	db.forgetLogin(ctx, key)
	if err != nil {
		return fmt.Errorf("store: touch login session: %w", err)
	}
	return nil
}

// DeleteLoginSession deletes a login session (logout). Deleting one that does
// not exist is not an error.
func (db *DB) DeleteLoginSession(ctx context.Context, id string) error {
	key := hashKey(id)
	_, err := db.exec(ctx, sqlDeleteLogin, key)
	db.forgetLogin(ctx, key)
	if err != nil {
		return fmt.Errorf("store: delete login session: %w", err)
	}
	return nil
}

// DeleteLoginSessionsOfUser deletes every login session of a user (e.g. when
// the password changes or the user is disabled).
func (db *DB) DeleteLoginSessionsOfUser(ctx context.Context, username string) error {
	_, err := db.exec(ctx, sqlDeleteLoginOfUser, username)
	db.forgetLoginsOfUser(ctx, username)
	if err != nil {
		return fmt.Errorf("store: delete login sessions of %q: %w", username, err)
	}
	return nil
}
