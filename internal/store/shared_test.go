package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// openShared opens a SQLite database whose transactions share commits.
func openShared(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "shared.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if db.shared == nil {
		t.Fatal("SQLite without a shared transaction")
	}
	return db
}

// session is a login session with a test ID.
func session(id string) LoginSession {
	return LoginSession{ID: id + "-abcdefghijklmnopqrstuvwxyz", Username: "u", ExpiresAt: time.Now().Add(time.Hour)}
}

// stored reports whether the login session id is committed, as a pooled
// connection (outside any transaction) sees it.
func stored(t *testing.T, db *DB, id string) bool {
	t.Helper()
	_, err := db.GetLoginSession(context.Background(), id+"-abcdefghijklmnopqrstuvwxyz", time.Now())
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrNotFound):
		return false
	default:
		t.Fatal(err)
		return false
	}
}

// beginWriting begins a transaction in ctx and writes the login session
// id in it.
func beginWriting(t *testing.T, db *DB, ctx context.Context, id string) context.Context {
	t.Helper()
	tctx, err := db.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginSession(tctx, session(id)); err != nil {
		t.Fatal(err)
	}
	return tctx
}

// commits returns how many shared transactions were committed.
func commits(t *testing.T, db *DB) int64 {
	t.Helper()
	if err := db.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer db.release()
	return db.shared.commits
}

// waitQueued waits until n writers wait for the write gate.
func waitQueued(t *testing.T, db *DB, n int32) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); db.queued.Load() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait for the gate, want %d", db.queued.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSharedTransactionMembersShareOneCommit(t *testing.T) {
	db := openShared(t)
	bg := context.Background()
	before := commits(t, db)

	a := beginWriting(t, db, bg, "a")
	// b and c queue for the write gate while a holds it; c rolls back.
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 3)
	member := func(name string, rollback bool) {
		ctx, err := db.BeginTX(bg)
		if err == nil {
			err = db.CreateLoginSession(ctx, session(name))
			if rollback {
				_ = db.Rollback(ctx)
			} else if err == nil {
				err = db.Commit(ctx)
			}
		}
		results <- result{name, err}
	}
	go member("b", false)
	waitQueued(t, db, 1)
	go member("c", true)
	waitQueued(t, db, 2)

	// a's commit waits for the members queued behind it.
	go func() { results <- result{"a", db.Commit(a)} }()
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Errorf("member %s: %v", r.name, r.err)
		}
	}
	if !stored(t, db, "a") || !stored(t, db, "b") {
		t.Error("a committed member's write is missing")
	}
	if stored(t, db, "c") {
		t.Error("the rolled back member's write was committed")
	}
	if n := commits(t, db) - before; n != 1 {
		t.Errorf("%d commits for three members arriving together, want 1", n)
	}

	// A member alone commits at once.
	before = commits(t, db)
	ctx := beginWriting(t, db, bg, "alone")
	if err := db.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if !stored(t, db, "alone") || commits(t, db)-before != 1 {
		t.Error("a lone member was not committed by its Commit")
	}
}

// useOnce deletes the login session "single-use", as a single-use value
// is consumed, and returns how many rows it deleted.
func useOnce(ctx context.Context, db *DB) (int64, error) {
	return db.ExecContext(ctx, "DELETE FROM login_session WHERE id_hash = ?", hashKey("single-use-abcdefghijklmnopqrstuvwxyz"))
}

func TestSharedTransactionIsolation(t *testing.T) {
	db := openShared(t)
	bg := context.Background()
	if err := db.CreateLoginSession(bg, session("single-use")); err != nil {
		t.Fatal(err)
	}

	a := beginWriting(t, db, bg, "uncommitted")
	if n, err := useOnce(a, db); err != nil || n != 1 {
		t.Fatalf("first use: %d rows, %v", n, err)
	}
	if stored(t, db, "uncommitted") {
		t.Error("a member's write is visible outside it before its commit")
	}
	// The next member, queued now, sees a's writes once a released its
	// savepoint (they are serialised), and a's commit waits for it: a
	// second deletion of the single-use row finds nothing.
	done := make(chan int64, 1)
	go func() {
		ctx, err := db.BeginTX(bg)
		if err != nil {
			t.Error(err)
			done <- -1
			return
		}
		n, err := useOnce(ctx, db)
		if err != nil {
			t.Error(err)
		}
		_ = db.Rollback(ctx)
		done <- n
	}()
	waitQueued(t, db, 1)
	if err := db.Commit(a); err != nil {
		t.Fatal(err)
	}
	if n := <-done; n != 0 {
		t.Errorf("second use of a single-use row in the same shared transaction deleted %d rows, want 0", n)
	}
	if !stored(t, db, "uncommitted") || stored(t, db, "single-use") {
		t.Error("the first member's writes were not committed")
	}
}

func TestSharedTransactionAbandonedMember(t *testing.T) {
	db := openShared(t)
	ctx, cancel := context.WithCancel(context.Background())
	tctx := beginWriting(t, db, ctx, "abandoned")
	cancel() // without Commit or Rollback: rolled back, the gate given back

	other, err := db.BeginTX(context.Background())
	if err != nil {
		t.Fatalf("the gate was not given back: %v", err)
	}
	if err := db.CreateLoginSession(other, session("other")); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(other); err != nil {
		t.Fatal(err)
	}
	if stored(t, db, "abandoned") {
		t.Error("the abandoned member's write was committed with the next member")
	}
	if !stored(t, db, "other") {
		t.Error("the next member's write is missing")
	}
	// The abandoned member can neither write nor commit any more.
	if err := db.CreateLoginSession(tctx, session("late")); !errors.Is(err, errTxEnded) {
		t.Errorf("write in an abandoned member: %v, want errTxEnded", err)
	}
	if err := db.Commit(tctx); !errors.Is(err, errTxEnded) {
		t.Errorf("commit of an abandoned member: %v, want errTxEnded", err)
	}
	if err := db.Rollback(tctx); err != nil {
		t.Errorf("rollback of an abandoned member: %v", err)
	}
	if stored(t, db, "late") {
		t.Error("a write after abandonment was stored")
	}
}

func TestSharedTransactionFlushesWhenTheNextWriterGivesUp(t *testing.T) {
	db := openShared(t)
	a := beginWriting(t, db, context.Background(), "flushed")
	// a's Commit sees a writer counted as waiting for the gate, who then
	// gives up without taking it (the count stands for it): nobody ends a
	// member after a, and a's commit must still happen.
	db.queued.Add(1)
	start := time.Now()
	committed := make(chan error, 1)
	go func() { committed <- db.Commit(a) }()
	select {
	case err := <-committed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Commit waits for a writer that gave up")
	}
	if waited := time.Since(start); waited < flushAfter {
		t.Errorf("committed after %v, before flushAfter: the waiting writer was not seen", waited)
	}
	db.queued.Add(-1)
	if !stored(t, db, "flushed") {
		t.Error("the write is missing")
	}
}

func TestSharedTransactionFailedCommitFailsEveryMember(t *testing.T) {
	db := openShared(t)
	bg := context.Background()
	// A deferred foreign key is checked at COMMIT: a member that breaks it
	// makes the shared commit fail.
	for _, ddl := range []string{
		`CREATE TABLE test_parent (id INTEGER PRIMARY KEY)`,
		`CREATE TABLE test_child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES test_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
	} {
		if _, err := db.ExecContext(bg, ddl); err != nil {
			t.Fatal(err)
		}
	}

	a := beginWriting(t, db, bg, "innocent")
	broken := make(chan error, 1)
	go func() {
		ctx, err := db.BeginTX(bg)
		if err == nil {
			if _, err = db.ExecContext(ctx, `INSERT INTO test_child (id, parent) VALUES (1, 42)`); err == nil {
				err = db.Commit(ctx)
			}
		}
		broken <- err
	}()
	waitQueued(t, db, 1)
	errA := db.Commit(a) // waits for the member queued behind it
	errB := <-broken
	if errA == nil || errB == nil {
		t.Fatalf("a failed shared commit must fail every member: innocent %v, breaking %v", errA, errB)
	}
	t.Logf("innocent: %v; breaking: %v", errA, errB)
	if stored(t, db, "innocent") {
		t.Error("a member of a failed commit was stored")
	}

	// The writing connection is usable again.
	ctx := beginWriting(t, db, bg, "after")
	if err := db.Commit(ctx); err != nil {
		t.Fatalf("commit after a failed one: %v", err)
	}
	if !stored(t, db, "after") {
		t.Error("the write after a failed commit is missing")
	}
}
