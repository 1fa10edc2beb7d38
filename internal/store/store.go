// Package store is the durable state of the provider: fosite's codes, tokens and
// request contexts, login sessions, and stable subject identifiers.
//
// It is a narrow layer over database/sql. The SQL is written once, portably
// (TEXT, BIGINT, BOOLEAN, ON CONFLICT; '?' placeholders rebound per dialect), so
// the PostgreSQL backend only needs its own open function beside sqlite.go.
// Times are stored as BIGINT Unix nanoseconds (NULL for "never").
//
// Every method honours a transaction started with [DB.BeginTX] (or
// [Fosite.BeginTX]) and carried in the context; without one, each statement
// runs on its own and multi-statement operations open a short transaction.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned by the DB methods (login sessions, subjects) when the
// row does not exist or has expired. The fosite storage methods return
// fosite.ErrNotFound instead, as fosite expects.
var ErrNotFound = errors.New("store: not found")

// DB is the shared database handle. It outlives configuration reloads; per
// configuration views (such as [Fosite]) are cheap wrappers around it.
// A DB is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect dialect

	stmts sync.Map // query text ('?' form) -> *sql.Stmt, prepared lazily

	// wgate, when not nil, admits one writer at a time within this process
	// (SQLite has a single write lock anyway). Waiting here is a cheap
	// channel send that honours the context, instead of SQLite's busy
	// handler, which polls with sleeps of up to 100 ms.
	wgate chan struct{}

	// group, when not nil, batches writes made outside a transaction
	// (groupcommit.go).
	group *groupCommitter
}

// dialect holds what differs between SQL backends.
type dialect struct {
	name string
	// rebind turns the '?' placeholders of the shared SQL into the
	// backend's own; nil keeps '?'.
	rebind func(string) string
	// lockMigrations, if set, runs first in the migration transaction so
	// that concurrent starters apply migrations once (SQLite needs none:
	// its transactions take the write lock up front).
	lockMigrations string
}

// rebindDollar rewrites '?' placeholders as $1, $2, ... (PostgreSQL). The
// shared SQL never contains '?' inside literals.
func rebindDollar(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// Close closes the prepared statements and the database.
func (db *DB) Close() error {
	db.stopGroupCommit()
	var errs []error
	db.stmts.Range(func(k, v any) bool {
		if err := v.(*sql.Stmt).Close(); err != nil {
			errs = append(errs, err)
		}
		db.stmts.Delete(k)
		return true
	})
	if err := db.sql.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %s: %w", db.dialect.name, err)
	}
	return nil
}

// --- transactions ---

type txKey struct{}

// txState is what BeginTX puts in the context.
type txState struct {
	db   *DB
	tx   *sql.Tx
	once sync.Once
	stop func() bool // stops the context.AfterFunc that ends an abandoned transaction
}

// end releases the write gate; it runs once, at Commit, Rollback, or when
// the transaction's context is done (database/sql then rolls it back).
func (s *txState) end() {
	s.once.Do(s.db.release)
}

// finish is end for Commit and Rollback, which also drop the AfterFunc.
func (s *txState) finish() {
	s.stop()
	s.end()
}

// writeWait bounds how long a writer waits for the write gate, like SQLite's
// busy_timeout: a writer that forgot to end its transaction, or a write made
// with a context that lacks the caller's own transaction, then fails instead
// of hanging.
var writeWait = 5 * time.Second

// errWriteBusy is returned when the write gate could not be had in writeWait.
var errWriteBusy = errors.New("database is busy: timed out waiting for the write lock")

// acquire takes the in-process write gate, if the dialect has one.
func (db *DB) acquire(ctx context.Context) error {
	if db.wgate == nil {
		return nil
	}
	select {
	case db.wgate <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(writeWait)
	defer t.Stop()
	select {
	case db.wgate <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errWriteBusy
	}
}

// release gives back the write gate taken by acquire.
func (db *DB) release() {
	if db.wgate != nil {
		<-db.wgate
	}
}

// txFrom returns the transaction of db carried by ctx, or nil.
func (db *DB) txFrom(ctx context.Context) *sql.Tx {
	if s := db.txStateFrom(ctx); s != nil {
		return s.tx
	}
	return nil
}

// BeginTX starts a transaction and returns a context carrying it; every store
// method called with that context runs inside it. On SQLite the transaction
// takes the write lock immediately (BEGIN IMMEDIATE), so concurrent writers
// queue (up to the busy timeout) instead of failing or deadlocking on a lock
// upgrade. Nested transactions are not supported. Finish with [DB.Commit] or
// [DB.Rollback] on the returned context.
func (db *DB) BeginTX(ctx context.Context) (context.Context, error) {
	if db.txFrom(ctx) != nil {
		return ctx, errors.New("store: begin transaction: a transaction is already in progress in this context")
	}
	if err := db.acquire(ctx); err != nil {
		return ctx, fmt.Errorf("store: begin transaction: %w", err)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		db.release()
		return ctx, fmt.Errorf("store: begin transaction: %w", err)
	}
	s := &txState{db: db, tx: tx}
	s.stop = context.AfterFunc(ctx, s.end)
	return context.WithValue(ctx, txKey{}, s), nil
}

// txStateFrom returns the transaction state of db carried by ctx, or nil.
func (db *DB) txStateFrom(ctx context.Context) *txState {
	if s, ok := ctx.Value(txKey{}).(*txState); ok && s.db == db {
		return s
	}
	return nil
}

// Commit commits the transaction carried by ctx.
func (db *DB) Commit(ctx context.Context) error {
	s := db.txStateFrom(ctx)
	if s == nil {
		return errors.New("store: commit: no transaction in context")
	}
	defer s.finish()
	if err := s.tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Rollback rolls back the transaction carried by ctx. Rolling back a
// transaction that already ended (committed, failed to commit, or rolled back)
// is not an error, so it can be deferred unconditionally.
func (db *DB) Rollback(ctx context.Context) error {
	s := db.txStateFrom(ctx)
	if s == nil {
		return errors.New("store: rollback: no transaction in context")
	}
	defer s.finish()
	if err := s.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("store: rollback: %w", err)
	}
	return nil
}

// inTx runs fn inside the context's transaction, or inside a new short one
// that it commits when fn succeeds and rolls back otherwise.
func (db *DB) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.txFrom(ctx) != nil {
		return fn(ctx)
	}
	ctx, err := db.BeginTX(ctx)
	if err != nil {
		return err
	}
	if err := fn(ctx); err != nil {
		_ = db.Rollback(ctx)
		return err
	}
	return db.Commit(ctx)
}

// --- statements ---

// stmt returns the prepared statement for query ('?' placeholders), bound to
// the context's transaction if there is one.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	var st *sql.Stmt
	if v, ok := db.stmts.Load(query); ok {
		st = v.(*sql.Stmt)
	} else {
		q := query
		if db.dialect.rebind != nil {
			q = db.dialect.rebind(q)
		}
		prepared, err := db.sql.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		if v, loaded := db.stmts.LoadOrStore(query, prepared); loaded {
			_ = prepared.Close()
			st = v.(*sql.Stmt)
		} else {
			st = prepared
		}
	}
	if tx := db.txFrom(ctx); tx != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// exec runs a writing statement and returns the number of rows it affected.
// Outside a transaction it takes the write gate for the statement's duration.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if db.group != nil && db.txFrom(ctx) == nil {
		return db.groupExec(ctx, query, args) // groupcommit.go
	}
	st, err := db.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	if db.txFrom(ctx) == nil {
		if err := db.acquire(ctx); err != nil {
			return 0, err
		}
		defer db.release()
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// queryRow runs a single-row query. Errors (including preparation errors)
// surface from Scan, as with database/sql.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// rowScanner is *sql.Row, or errRow carrying a preparation error.
type rowScanner interface {
	Scan(dest ...any) error
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// --- encoding helpers ---

// nanos encodes t as Unix nanoseconds; the zero time becomes NULL.
func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// fromNanos decodes a column written by nanos, in UTC; NULL is the zero time.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// hashKey is the stored form of a lookup key that is itself a credential
// (login session IDs, raw authorization codes, request URIs, JTIs): hex
// SHA-256, so a copy of the database does not hand out usable values.
func hashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// --- schema ---

// migration is one schema step; steps are applied in order, once, each in
// its own transaction, and recorded in schema_version.
type migration struct {
	version int64
	stmts   []string
}

// migrations is the schema history. Never edit a released step; append one.
// Request tables share these columns: request_id, requested_at, client_id,
// scopes, granted_scopes, audience, granted_audience (JSON string arrays),
// form (URL-encoded, secrets removed), session (JSON of the fosite.Session).
var migrations = []migration{
	{version: 1, stmts: []string{
		requestTable("oauth2_code", "active BOOLEAN NOT NULL DEFAULT TRUE,"),
		`CREATE INDEX oauth2_code_request_id ON oauth2_code (request_id)`,
		`CREATE INDEX oauth2_code_expires_at ON oauth2_code (expires_at)`,

		requestTable("oauth2_access", ""),
		`CREATE INDEX oauth2_access_request_id ON oauth2_access (request_id)`,
		`CREATE INDEX oauth2_access_expires_at ON oauth2_access (expires_at)`,

		requestTable("oauth2_refresh", "active BOOLEAN NOT NULL DEFAULT TRUE,\n\taccess_signature TEXT NOT NULL,"),
		`CREATE INDEX oauth2_refresh_request_id ON oauth2_refresh (request_id)`,
		`CREATE INDEX oauth2_refresh_expires_at ON oauth2_refresh (expires_at)`,

		requestTable("oauth2_pkce", ""),
		`CREATE INDEX oauth2_pkce_expires_at ON oauth2_pkce (expires_at)`,

		requestTable("oauth2_oidc", ""),
		`CREATE INDEX oauth2_oidc_expires_at ON oauth2_oidc (expires_at)`,

		requestTable("oauth2_par", `response_types TEXT NOT NULL,
	redirect_uri TEXT NOT NULL,
	state TEXT NOT NULL,
	response_mode TEXT NOT NULL,
	default_response_mode TEXT NOT NULL,`),
		`CREATE INDEX oauth2_par_expires_at ON oauth2_par (expires_at)`,

		`CREATE TABLE oauth2_jti (
	signature TEXT NOT NULL PRIMARY KEY,
	expires_at BIGINT NOT NULL
)`,
		`CREATE INDEX oauth2_jti_expires_at ON oauth2_jti (expires_at)`,

		`CREATE TABLE login_session (
	id_hash TEXT NOT NULL PRIMARY KEY,
	username TEXT NOT NULL,
	auth_time BIGINT,
	amr TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
)`,
		`CREATE INDEX login_session_username ON login_session (username)`,
		`CREATE INDEX login_session_expires_at ON login_session (expires_at)`,

		`CREATE TABLE subject (
	username TEXT NOT NULL,
	sector TEXT NOT NULL,
	subject TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (username, sector)
)`,
	}},
	// Second factors, remembered consent, regulation and session
	// inactivity. Times are unix nanoseconds like everywhere else.
	{version: 2, stmts: []string{
		// last_seen_at drives the inactivity timeout; remember_me sessions
		// use the longer lifetime and no inactivity timeout.
		`ALTER TABLE login_session ADD COLUMN last_seen_at BIGINT`,
		`ALTER TABLE login_session ADD COLUMN remember_me BOOLEAN NOT NULL DEFAULT FALSE`,

		// One TOTP secret per user, sealed with a key from Caddy's storage.
		// last_step is the last accepted time step: a code is accepted once.
		`CREATE TABLE totp_secret (
	username TEXT NOT NULL PRIMARY KEY,
	secret_sealed TEXT NOT NULL,
	confirmed BOOLEAN NOT NULL DEFAULT FALSE,
	last_step BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
)`,

		// WebAuthn credentials (passkeys and security keys); data is the
		// JSON of the library's credential record.
		`CREATE TABLE webauthn_credential (
	id TEXT NOT NULL PRIMARY KEY,
	username TEXT NOT NULL,
	name TEXT NOT NULL,
	data TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT
)`,
		`CREATE INDEX webauthn_credential_username ON webauthn_credential (username)`,
		// A WebAuthn user handle per user: random, never the username.
		`CREATE TABLE webauthn_user (
	username TEXT NOT NULL PRIMARY KEY,
	handle TEXT NOT NULL UNIQUE
)`,
		// Ceremony state between the options and the browser's answer.
		`CREATE TABLE webauthn_ceremony (
	id_hash TEXT NOT NULL PRIMARY KEY,
	data TEXT NOT NULL,
	expires_at BIGINT NOT NULL
)`,
		`CREATE INDEX webauthn_ceremony_expires_at ON webauthn_ceremony (expires_at)`,

		// Remembered (pre-configured) consent: valid only for the same user,
		// client, scopes and audience, until expires_at.
		`CREATE TABLE consent (
	username TEXT NOT NULL,
	client_id TEXT NOT NULL,
	scopes TEXT NOT NULL,
	audience TEXT NOT NULL,
	granted_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (username, client_id)
)`,
		`CREATE INDEX consent_expires_at ON consent (expires_at)`,

		// Authentication attempts for regulation (max_retries within
		// find_time bans for ban_time), per username and per client IP.
		`CREATE TABLE auth_attempt (
	username TEXT NOT NULL,
	remote_ip TEXT NOT NULL,
	factor TEXT NOT NULL,
	success BOOLEAN NOT NULL,
	at BIGINT NOT NULL
)`,
		`CREATE INDEX auth_attempt_username_at ON auth_attempt (username, at)`,
		`CREATE INDEX auth_attempt_remote_ip_at ON auth_attempt (remote_ip, at)`,
	}},
	// Rotation keeps every rotated refresh token of a grant (inactive) until
	// it expires, for reuse detection; deactivating "the active ones of this
	// grant" must not visit the whole chain on every refresh.
	{version: 3, stmts: []string{
		`CREATE INDEX oauth2_refresh_active_request_id ON oauth2_refresh (request_id) WHERE active`,
	}},
}

// requestTable is the DDL of a table holding a persisted fosite requester,
// keyed by signature, with the extra columns given.
func requestTable(name, extra string) string {
	return `CREATE TABLE ` + name + ` (
	signature TEXT NOT NULL PRIMARY KEY,
	request_id TEXT NOT NULL,
	requested_at BIGINT NOT NULL,
	client_id TEXT NOT NULL,
	scopes TEXT NOT NULL,
	granted_scopes TEXT NOT NULL,
	audience TEXT NOT NULL,
	granted_audience TEXT NOT NULL,
	form TEXT NOT NULL,
	session TEXT NOT NULL,
	` + extra + `
	expires_at BIGINT
)`
}

// migrate brings the schema up to date. It is idempotent and safe to run
// from several processes at once.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	version BIGINT NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	for _, m := range migrations {
		if err := db.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, m migration) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if db.dialect.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.lockMigrations); err != nil {
			return err
		}
	}
	var n int
	q := `SELECT COUNT(*) FROM schema_version WHERE version = ?`
	if db.dialect.rebind != nil {
		q = db.dialect.rebind(q)
	}
	if err := tx.QueryRowContext(ctx, q, m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	q = `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`
	if db.dialect.rebind != nil {
		q = db.dialect.rebind(q)
	}
	if _, err := tx.ExecContext(ctx, q, m.version, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// --- garbage collection ---

// expiringTables are the tables DeleteExpired sweeps. Inactive (rotated or
// revoked) refresh tokens stay until they expire, so that reuse is still
// detected and the whole grant revoked.
var expiringTables = []string{
	"oauth2_code", "oauth2_access", "oauth2_refresh", "oauth2_pkce",
	"oauth2_oidc", "oauth2_par", "oauth2_jti", "login_session",
	"webauthn_ceremony", "consent",
}

// DeleteExpired removes the rows that expired at or before now: authorization
// codes, access and refresh tokens, PKCE and OpenID Connect request contexts,
// pushed authorization requests, client assertion JTIs and login sessions.
// Rows without an expiry are kept. Each table is swept in its own short
// statement so writers are not held up. It returns the number of rows removed.
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
