package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Shared write transactions (SQLite only).
//
// SQLite has one writer at a time, and a commit is the dearest part of a
// write: a WAL frame, two system calls, for every page the transaction
// touched. A profile of refresh-token rotation under load put 18% of the
// server's CPU in commits, one per refresh. So the transactions of BeginTX
// are members of one SQLite transaction, on a connection that only writes:
// a member runs inside a SAVEPOINT; its Commit releases the savepoint and
// waits for the shared transaction to commit, its Rollback rolls back to
// the savepoint. The shared transaction commits when a member ends and no
// other writer waits for the write gate, or when maxMembers members wait
// for it: writers arriving together share a commit (and the pages they both
// touch, such as the tail of an expiry index, are written once), and a
// writer alone commits at once.
//
// Callers still return from Commit only once their writes are durable, and a
// failed commit fails every member that waited for it, so no token is
// handed out that was not stored. Members see each other's writes as if
// they had committed one after the other (they are serialised by the write
// gate, on one connection), so single-use checks (conditional updates)
// hold. As only this connection writes, its page cache also survives the
// commits; pooled connections, which read outside transactions, lose theirs
// at each commit as before.

// maxMembers bounds how many members share one commit.
const maxMembers = 32

// flushAfter is how long a member waits for the commit before it makes sure
// one happens: normally the member that takes the write gate next ends
// with a commit, but a writer that waited for the gate may have given up.
const flushAfter = 20 * time.Millisecond

// Savepoint statements. Members run one at a time, so one name is enough.
const (
	sqlSavepoint  = "SAVEPOINT member"
	sqlRelease    = "RELEASE member"
	sqlRollbackTo = "ROLLBACK TO member"
)

// errTxEnded is returned for a statement in a member whose context ended
// (which rolled the member back) before it committed.
var errTxEnded = errors.New("store: the transaction ended: its context is done")

// sharedTx is the state of the shared transaction; the holder of the write
// gate owns it.
type sharedTx struct {
	conn    *sql.Conn     // the writing connection, held for the DB's life
	tx      *sql.Tx       // the open shared transaction, nil when none
	waiting []*commitWait // members that released their savepoint
	commits int64         // shared transactions committed (tests)
}

// commitWait is a member waiting for the shared transaction's commit.
type commitWait struct {
	done chan struct{}
	err  error
}

// beginMember opens the shared transaction if needed and starts a member in
// it. The caller holds the write gate; on error it still does.
func (db *DB) beginMember() (*sql.Tx, error) {
	tx, err := db.openShared()
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(context.Background(), sqlSavepoint); err != nil {
		db.abortShared(err)
		return nil, db.wrapErr(err)
	}
	return tx, nil
}

// openShared returns the shared transaction, opening it if needed. The
// caller holds the write gate.
func (db *DB) openShared() (*sql.Tx, error) {
	sh := db.shared
	if sh.tx == nil {
		if db.ckpt != nil {
			db.ckpt.beforeBegin(sh.conn, !db.writesWaiting())
		}
		tx, err := sh.conn.BeginTx(context.Background(), nil)
		if err != nil {
			return nil, db.wrapErr(err)
		}
		sh.tx = tx
	}
	return sh.tx, nil
}

// queueCommit adds a waiter for the shared transaction's commit. The
// caller holds the write gate.
func (db *DB) queueCommit() *commitWait {
	w := &commitWait{done: make(chan struct{})}
	db.shared.waiting = append(db.shared.waiting, w)
	return w
}

// writesWaiting reports whether a writer waits for the write gate or
// writes wait for the group committer.
func (db *DB) writesWaiting() bool {
	return db.queued.Load() > 0 || db.group != nil && len(db.group.queue) > 0
}

// commitMember releases a member's savepoint and queues it for the commit;
// endMember then commits or leaves that to a later member. The caller holds
// the write gate and gives it back through endMember.
func (db *DB) commitMember() (*commitWait, error) {
	sh := db.shared
	if _, err := sh.tx.ExecContext(context.Background(), sqlRelease); err != nil {
		db.rollbackMember()
		return nil, db.wrapErr(err)
	}
	return db.queueCommit(), nil
}

// rollbackMember undoes a member's writes. Should that fail, the whole
// shared transaction is rolled back: the member's writes must not be
// committed with the others'.
func (db *DB) rollbackMember() {
	tx := db.shared.tx
	if tx == nil {
		return
	}
	bg := context.Background()
	if _, err := tx.ExecContext(bg, sqlRollbackTo); err != nil {
		db.abortShared(err)
		return
	}
	if _, err := tx.ExecContext(bg, sqlRelease); err != nil {
		db.abortShared(err)
	}
}

// endMember gives back the write gate at the end of a member, first
// committing the shared transaction when nobody waits for the gate or
// enough members wait for the commit.
func (db *DB) endMember() {
	sh := db.shared
	if sh.tx != nil && (db.queued.Load() == 0 || len(sh.waiting) >= maxMembers) {
		db.commitShared()
	}
	db.release()
}

// commitShared commits the shared transaction and tells its members.
func (db *DB) commitShared() {
	sh := db.shared
	err := sh.tx.Commit()
	sh.commits++
	if err != nil {
		// database/sql forgets the transaction; make sure SQLite does too.
		_, _ = sh.conn.ExecContext(context.Background(), "ROLLBACK")
		err = fmt.Errorf("store: commit: %w", db.wrapErr(err))
	} else if db.ckpt != nil {
		db.ckpt.committed()
	}
	db.finishShared(err)
}

// abortShared rolls back the shared transaction after an error that left
// it unusable, failing the members waiting for its commit.
func (db *DB) abortShared(cause error) {
	sh := db.shared
	if sh.tx == nil {
		return
	}
	_ = sh.tx.Rollback()
	db.finishShared(fmt.Errorf("store: commit: the shared transaction was rolled back: %w", db.wrapErr(cause)))
}

// finishShared reports err (nil: committed) to the waiting members.
func (db *DB) finishShared(err error) {
	sh := db.shared
	for _, w := range sh.waiting {
		w.err = err
		close(w.done)
	}
	sh.tx, sh.waiting = nil, nil
}

// awaitCommit waits for the commit w waits for. If none came within
// flushAfter it commits itself, so a member never waits on a writer that
// gave up.
func (db *DB) awaitCommit(w *commitWait) error {
	t := time.NewTimer(flushAfter)
	select {
	case <-w.done:
		t.Stop()
		return w.err
	case <-t.C:
	}
	for !db.flushShared() {
		// A member held the gate for longer than writeWait; its end
		// commits (or rolls back, failing us), or we try again.
		select {
		case <-w.done:
			return w.err
		default:
		}
	}
	<-w.done
	return w.err
}

// flushShared takes the write gate and commits the shared transaction if
// one is open (awaitCommit, Close). It reports false when the gate could not
// be had within writeWait.
func (db *DB) flushShared() bool {
	if err := db.acquire(context.Background()); err != nil {
		return false
	}
	if db.shared.tx != nil {
		db.commitShared()
	}
	db.release()
	return true
}

// --- members' transaction states ---

// Lazy members. An authorization's transaction only bundles its code's
// INSERT for Commit (bundle.go), while fosite's handlers build the code;
// begun at BeginTX, it held the write gate through that work and cost a
// SAVEPOINT, a RELEASE and usually a commit of its own for one statement
// (5% of a code flow's CPU in a profile, ES256, c=16). BeginTX in a
// context of WithCodeBundle therefore returns a member not yet begun (tx
// nil): its first statement, whatever it is, takes the gate and begins it
// (lockMember), after which it is a member like any other. One that ran
// none by Commit hands its code's INSERT to the group commit (Fosite's
// writeHeldCode), which shares a transaction with whatever writes arrive
// with it and answers once it is durable; its Commit and Rollback then
// have nothing to end.

// beginLazy begins a lazy member at its first statement: it takes the
// write gate, as BeginTX does for others. The caller holds s.mu.
func (s *txState) beginLazy(ctx context.Context) error {
	if err := s.db.acquire(ctx); err != nil {
		return fmt.Errorf("store: begin transaction: %w", s.db.wrapErr(err))
	}
	tx, err := s.db.beginMember()
	if err != nil {
		s.db.endMember()
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	s.tx = tx
	return nil
}

// unbegun reports whether s is a lazy member that ran no statement yet.
func (s *txState) unbegun() bool {
	if s == nil || !s.shared {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx == nil && !s.ended
}

// claimLazyWrite ends a lazy member that ran no statement, for the code's
// INSERT that writeHeldCode hands to the group commit to be its whole
// commit: from then on neither its context nor abandonment can end it
// otherwise, and Commit answers for that write alone, so a Commit that
// fails never leaves a code written. It reports false when the member has
// begun or has ended.
func (s *txState) claimLazyWrite() bool {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.shared || s.tx != nil || s.ended {
		return false
	}
	s.ended, s.lazyWritten = true, true
	return true
}

// abandon ends a member whose context is done before Commit or Rollback:
// its writes are rolled back and the gate given back. A lazy member that
// ran no statement holds neither.
func (s *txState) abandon() {
	s.endOnce(func() {
		if s.tx == nil {
			return
		}
		s.db.rollbackMember()
		s.db.endMember()
	})
}

// commitMember is Commit for a member.
func (s *txState) commitMember() error {
	s.stop()
	s.mu.Lock()
	if s.ended {
		written := s.lazyWritten
		s.mu.Unlock()
		if written {
			return nil // writeHeldCode wrote all it had
		}
		return fmt.Errorf("store: commit: %w", errTxEnded)
	}
	s.ended = true
	if s.tx == nil { // a lazy member that ran no statement
		s.mu.Unlock()
		return nil
	}
	w, err := s.db.commitMember()
	s.db.endMember()
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return s.db.awaitCommit(w)
}

// rollbackMember is Rollback for a member: abandon, once the context can
// no longer abandon it. Rolling back an ended member is not an error.
func (s *txState) rollbackMember() {
	s.stop()
	s.abandon()
}

// memberLock is lockMember for the member of the shared transaction that
// ctx carries; without one it returns ctx as it is and an unlock that does
// nothing.
func (db *DB) memberLock(ctx context.Context) (context.Context, func(), error) {
	if s := db.txStateFrom(ctx); s != nil && s.shared {
		return s.lockMember(ctx)
	}
	return ctx, func() {}, nil
}

// lockMember prepares a statement of a member: it holds the member's lock
// (released by the returned function) so that abandon cannot roll back
// under it, fails if the member ended, begins a lazy member, and returns
// ctx without its cancellation: SQLite rolls back the whole transaction,
// every member's writes, when a write in it is interrupted.
func (s *txState) lockMember(ctx context.Context) (context.Context, func(), error) {
	unlock, err := s.lock()
	if err != nil {
		return ctx, nil, err
	}
	if s.tx == nil {
		if err := s.beginLazy(ctx); err != nil {
			unlock()
			return ctx, nil, err
		}
	}
	return context.WithoutCancel(ctx), unlock, nil
}
