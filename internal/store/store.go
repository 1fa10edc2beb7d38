// Package store is the durable state of the provider: fosite's codes, tokens and
// request contexts, login sessions, second factors, remembered consent,
// authentication attempts, and stable subject identifiers.
//
// It is a narrow layer over database/sql with three backends: SQLite
// ([OpenSQLite], the embedded default), PostgreSQL ([OpenPostgres]) and
// MySQL or MariaDB ([OpenMySQL]); the last two let several Caddy instances
// share one state. The SQL is written once ('?' placeholders, standard
// types, ON CONFLICT upserts); a dialect (dialect.go) rebinds placeholders,
// translates upserts and fills in the column types of the one schema
// (schema.go). Times are stored as BIGINT Unix nanoseconds (NULL for
// "never").
//
// Single-use values (authorization codes, refresh tokens, TOTP steps,
// ceremonies, request URIs) are consumed with one conditional UPDATE or
// DELETE whose affected-row count decides the winner, which holds across
// instances at READ COMMITTED. Errors caused by the database being out of
// reach carry [ErrUnavailable].
//
// Every method honours a transaction started with [DB.BeginTX] (or
// [Fosite.BeginTX]) and carried in the context; without one, each statement
// runs on its own and multi-statement operations open a short transaction.
// On SQLite, transactions that run one after the other share one commit
// (shared.go); Commit still returns only once the writes are durable. On
// PostgreSQL a transaction's writes travel together in one pipeline, and
// writes made at once outside transactions share one (pipeline.go).
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DB is the shared database handle. It outlives configuration reloads; per
// configuration views (such as [Fosite]) are cheap wrappers around it.
// A DB is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect dialect

	stmts     sync.Map // query text (shared form) -> *sql.Stmt, prepared lazily
	preparing sync.Map // query text -> true while prepared in the background
	// background counts those preparations: Close waits for them, or one
	// could open a connection (for SQLite, files beside the database)
	// after Close returned.
	background sync.WaitGroup

	// wgate, when not nil, admits one writer at a time within this process
	// (SQLite only: it has a single write lock anyway; the server backends
	// run pooled transactions concurrently). Waiting here is a cheap
	// channel send that honours the context, instead of SQLite's busy
	// handler, which polls with sleeps of up to 100 ms.
	wgate chan struct{}
	// queued counts the writers waiting for wgate.
	queued atomic.Int32

	// shared, when not nil, is the SQLite transaction that BeginTX's
	// transactions are members of (shared.go).
	shared *sharedTx
	// ckpt, when not nil, runs SQLite's checkpoints (checkpoint.go).
	ckpt *checkpointer

	// subjects caches committed subjects (subject.go): username, NUL,
	// sector -> subject; cachedSubjects counts its entries, roughly.
	subjects       sync.Map
	cachedSubjects atomic.Int64

	// group, when not nil, batches writes made outside a transaction
	// (groupcommit.go; SQLite, and PostgreSQL through pipeline.go).
	group *groupCommitter

	// pipelined: transactions queue their writes and send them in
	// pipelines (pipeline.go; PostgreSQL only).
	pipelined bool
	// logins, when not nil, keeps login sessions (logincache.go;
	// PostgreSQL and SQLite).
	logins *loginKeeper
	// accesses, when not nil, keeps the access tokens issued at code
	// exchanges until their first use (accessrows.go; SQLite only).
	accesses *recentRows

	// multiRow caches the multi-row INSERTs of group commits
	// (multirow.go): multiRowKey -> multiRow.
	multiRow sync.Map
}

// Close closes the prepared statements and the database.
func (db *DB) Close() error {
	db.stopGroupCommit()
	db.stopLoginCache()
	if db.shared != nil {
		db.flushShared()
	}
	db.background.Wait()
	var errs []error
	if db.ckpt != nil {
		if err := db.ckpt.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	db.stmts.Range(func(k, v any) bool {
		if st, ok := v.(*sql.Stmt); ok {
			if err := st.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		db.stmts.Delete(k)
		return true
	})
	if db.shared != nil {
		if err := db.shared.conn.Close(); err != nil {
			errs = append(errs, err)
		}
	}
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

	// shared: a member of the shared transaction (shared.go), whose
	// statements, end and abandonment mu serialises; ended once it
	// committed, rolled back or was abandoned.
	shared bool
	mu     sync.Mutex
	ended  bool
	// lazyWritten: a lazy member ended by claimLazyWrite, whose code's
	// INSERT is all it commits.
	lazyWritten bool

	// onEnd runs once the transaction has committed or rolled back
	// (atEnd); guarded by hooksMu, as statements of a shared member run
	// under mu.
	hooksMu sync.Mutex
	onEnd   []func()

	// pipe, when not nil, is the pipelined transaction (pipeline.go)
	// this state stands for instead of tx; mu guards it too.
	pipe *pipeTx
}

// end releases the write gate; it runs once, at Commit, Rollback, or when
// the transaction's context is done (database/sql then rolls it back).
// A member of the shared transaction is rolled back to its savepoint.
func (s *txState) end() {
	if s.pipe != nil {
		s.rollbackPipe()
		return
	}
	if s.shared {
		s.abandon()
		return
	}
	s.once.Do(s.db.release)
}

// atEnd has fn run after the transaction ends by Commit or Rollback
// (whatever their outcome); outside a transaction (a nil state) it does
// nothing.
func (s *txState) atEnd(fn func()) {
	if s == nil {
		return
	}
	s.hooksMu.Lock()
	s.onEnd = append(s.onEnd, fn)
	s.hooksMu.Unlock()
}

// runEndHooks runs, once, what atEnd registered.
func (s *txState) runEndHooks() {
	s.hooksMu.Lock()
	hooks := s.onEnd
	s.onEnd = nil
	s.hooksMu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// lock holds the lock of a shared member's or pipelined transaction's
// state for a statement (released by the returned function), so that
// abandonment cannot roll back under it; it fails once the transaction
// ended.
func (s *txState) lock() (func(), error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil, errTxEnded
	}
	return s.mu.Unlock, nil
}

// endOnce runs fn, which ends a shared member or a pipelined transaction,
// under the state's lock, unless the transaction already ended.
func (s *txState) endOnce(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	fn()
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
	db.queued.Add(1)
	defer db.queued.Add(-1)
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
// [DB.Rollback] on the returned context. On SQLite the transaction holds
// the in-process write gate until then, and is a member of the shared
// transaction (shared.go): Commit waits for the shared commit. An
// authorization's transaction (a context of WithCodeBundle) takes the gate
// only at its first statement, if any (shared.go, lazy members).
func (db *DB) BeginTX(ctx context.Context) (context.Context, error) {
	if db.txStateFrom(ctx) != nil {
		return ctx, errors.New("store: begin transaction: a transaction is already in progress in this context")
	}
	if db.pipelined {
		s := &txState{db: db, pipe: db.beginPipe()}
		s.stop = context.AfterFunc(ctx, s.end)
		return context.WithValue(ctx, txKey{}, s), nil
	}
	if db.shared != nil && codeBundleFrom(ctx) != nil {
		s := &txState{db: db, shared: true} // begun by lockMember
		s.stop = context.AfterFunc(ctx, s.end)
		return context.WithValue(ctx, txKey{}, s), nil
	}
	if err := db.acquire(ctx); err != nil {
		return ctx, fmt.Errorf("store: begin transaction: %w", db.wrapErr(err))
	}
	if db.shared != nil {
		tx, err := db.beginMember()
		if err != nil {
			db.endMember()
			return ctx, fmt.Errorf("store: begin transaction: %w", err)
		}
		s := &txState{db: db, tx: tx, shared: true}
		s.stop = context.AfterFunc(ctx, s.end)
		return context.WithValue(ctx, txKey{}, s), nil
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		db.release()
		return ctx, fmt.Errorf("store: begin transaction: %w", db.wrapErr(err))
	}
	s := &txState{db: db, tx: tx}
	s.stop = context.AfterFunc(ctx, s.end)
	return context.WithValue(ctx, txKey{}, s), nil
}

// txStateFrom returns the transaction state of db carried by ctx, or nil.
func (db *DB) txStateFrom(ctx context.Context) *txState {
	if s, ok := ctx.Value(txKey{}).(*txState); ok && s != nil && s.db == db {
		return s
	}
	return nil
}

// outsideTx returns ctx without its transaction: statements run in it on
// their own.
func outsideTx(ctx context.Context) context.Context {
	return context.WithValue(ctx, txKey{}, (*txState)(nil))
}

// Commit commits the transaction carried by ctx.
func (db *DB) Commit(ctx context.Context) error {
	s := db.txStateFrom(ctx)
	if s == nil {
		return errors.New("store: commit: no transaction in context")
	}
	defer s.runEndHooks()
	if s.pipe != nil {
		return s.commitPipe(ctx)
	}
	if s.shared {
		return s.commitMember()
	}
	defer s.finish()
	if err := s.tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", db.wrapErr(err))
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
	defer s.runEndHooks()
	if s.pipe != nil {
		s.stop()
		s.rollbackPipe()
		return nil
	}
	if s.shared {
		s.rollbackMember()
		return nil
	}
	defer s.finish()
	if err := s.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return fmt.Errorf("store: rollback: %w", db.wrapErr(err))
	}
	return nil
}

// inTx runs fn inside the context's transaction, or inside a new short one
// that it commits when fn succeeds and rolls back otherwise.
func (db *DB) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if db.txStateFrom(ctx) != nil {
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
