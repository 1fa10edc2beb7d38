package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// Pipelined transactions (pipeline.go): on PostgreSQL a transaction's
// inserts and rotations are queued and sent together, so their failures show
// at Commit. These tests pin what that must not change: a transaction is
// all or nothing, its reads see its own writes, others do not before the
// commit, and a connection comes back to the pool clean whatever happened.

// openPipelined opens a fresh PostgreSQL database with a pool of conns
// connections: with one, a connection not given back (or given back in a
// transaction) hangs or fails the next test step.
func openPipelined(t *testing.T, conns int) (*store.DB, *store.Fosite) {
	t.Helper()
	dsn := storetest.Postgres(t).FreshDSN(t)
	db, err := store.OpenPostgres(context.Background(), store.PostgresConfig{DSN: dsn, MaxConns: conns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, store.NewFosite(db, storetest.Clients("c"))
}

// bounded is a context for one test step: a leaked connection makes the
// step fail instead of hanging the test.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stored reports whether an access token is stored (and committed).
func stored(t *testing.T, f *store.Fosite, signature string) bool {
	t.Helper()
	_, err := f.GetAccessTokenSession(bounded(t), signature, storetest.NewRequest("x").GetSession())
	switch {
	case err == nil:
		return true
	case errors.Is(err, fosite.ErrNotFound):
		return false
	}
	t.Fatalf("read access token %q: %v", signature, err)
	return false
}

// commitSteps runs steps in one transaction of f and commits it; on the
// first error it rolls back and returns that error.
func commitSteps(ctx context.Context, f *store.Fosite, steps ...func(tx context.Context) error) error {
	tx, err := f.BeginTX(ctx)
	if err != nil {
		return err
	}
	for _, step := range steps {
		if err = step(tx); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Commit(tx)
	}
	if err != nil {
		_ = f.Rollback(tx)
	}
	return err
}

// TestPipelinedFailureAtCommit: a queued insert that fails (a duplicate
// signature) surfaces at Commit, and takes the transaction's other writes
// with it, both when nothing else was sent (one implicit transaction) and
// after a statement that had to be sent at once (an explicit one). The one
// connection of the pool is clean afterwards.
func TestPipelinedFailureAtCommit(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 1)
	if err := f.CreateAccessTokenSession(bounded(t), "taken", storetest.NewRequest("g0")); err != nil {
		t.Fatal(err)
	}
	for _, sendEarly := range []bool{false, true} {
		tx, err := f.BeginTX(bounded(t))
		if err != nil {
			t.Fatal(err)
		}
		if sendEarly {
			// exec needs its count now: the transaction is begun on
			// the server.
			if _, err := db.ExecContext(tx, `DELETE FROM oauth2_access WHERE signature = ?`, "none"); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.CreateAccessTokenSession(tx, "fresh", storetest.NewRequest("g1")); err != nil {
			t.Fatal(err)
		}
		if err := f.CreateAccessTokenSession(tx, "taken", storetest.NewRequest("g1")); err != nil {
			t.Fatalf("send early %v: the duplicate insert was not queued: %v", sendEarly, err)
		}
		if err := f.Commit(tx); err == nil {
			t.Fatalf("send early %v: a transaction with a failed insert committed", sendEarly)
		}
		if err := f.Rollback(tx); err != nil {
			t.Errorf("rolling back a failed commit: %v", err)
		}
		if stored(t, f, "fresh") {
			t.Fatalf("send early %v: the failed transaction's other insert was committed", sendEarly)
		}
	}
	// The connection is usable, outside a transaction and in a new one.
	tx, err := f.BeginTX(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAccessTokenSession(tx, "later", storetest.NewRequest("g2")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if !stored(t, f, "later") {
		t.Error("the transaction after a failed one did not commit")
	}
}

// TestPipelinedReadsAndVisibility: a read in the transaction sees its queued
// writes; another connection sees them only after the commit.
func TestPipelinedReadsAndVisibility(t *testing.T) {
	t.Parallel()
	_, f := openPipelined(t, 2)
	tx, err := f.BeginTX(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAccessTokenSession(tx, "mine", storetest.NewRequest("g")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetAccessTokenSession(tx, "mine", storetest.NewRequest("x").GetSession()); err != nil {
		t.Fatalf("the transaction does not see its own queued insert: %v", err)
	}
	if stored(t, f, "mine") {
		t.Fatal("an uncommitted insert is visible outside its transaction")
	}
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if !stored(t, f, "mine") {
		t.Fatal("a committed insert is not visible")
	}
}

// TestPipelinedRotationCheck: the rotation of a refresh token that is no
// longer active fails the transaction with fosite.ErrSerializationFailure
// (fosite's answer to a lost refresh race) at the latest at Commit, and
// nothing of it is stored.
func TestPipelinedRotationCheck(t *testing.T) {
	t.Parallel()
	_, f := openPipelined(t, 1)
	req := storetest.NewRequest("grant")
	if err := f.CreateRefreshTokenSession(bounded(t), "rt", "at", req); err != nil {
		t.Fatal(err)
	}
	if err := f.RotateRefreshToken(bounded(t), "grant", "rt"); err != nil {
		t.Fatal(err)
	}
	tx, err := f.BeginTX(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	err = f.RotateRefreshToken(tx, "grant", "rt")
	if err == nil {
		err = f.CreateAccessTokenSession(tx, "at-2", req)
	}
	if err == nil {
		err = f.Commit(tx)
	}
	if !errors.Is(err, fosite.ErrSerializationFailure) {
		t.Fatalf("rotating a rotated token: %v, want fosite.ErrSerializationFailure", err)
	}
	_ = f.Rollback(tx)
	if stored(t, f, "at-2") {
		t.Error("a token of the failed rotation was stored")
	}
}

// TestPipelinedAbandoned: a transaction whose context ends after it was
// begun on the server is rolled back and its connection given back, so the
// pool's only connection serves the next transaction.
func TestPipelinedAbandoned(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 1)
	ctx, cancel := context.WithCancel(bounded(t))
	tx, err := f.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAccessTokenSession(tx, "abandoned", storetest.NewRequest("g")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(tx, `DELETE FROM oauth2_access WHERE signature = ?`, "none"); err != nil {
		t.Fatal(err) // sends BEGIN and the insert
	}
	cancel()
	if err := f.CreateAccessTokenSession(tx, "after", storetest.NewRequest("g")); err == nil {
		// Either the end was seen at once, or the statement is queued and
		// Commit must fail.
		if err := f.Commit(tx); err == nil {
			t.Fatal("an abandoned transaction committed")
		}
	}
	next, err := f.BeginTX(bounded(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAccessTokenSession(next, "next", storetest.NewRequest("g2")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(next); err != nil {
		t.Fatalf("the transaction after an abandoned one: %v", err)
	}
	if stored(t, f, "abandoned") || stored(t, f, "after") {
		t.Error("an abandoned transaction's writes were committed")
	}
	if !stored(t, f, "next") {
		t.Error("the next transaction's write is missing")
	}
}

// TestPipelinedGroupCommit: writes made at once outside transactions share
// pipelined transactions; every one lands and answers for itself, and a
// failing one (a duplicate) fails alone when its batch is run again write
// by write.
func TestPipelinedGroupCommit(t *testing.T) {
	t.Parallel()
	db, _ := openPipelined(t, 4)
	ctx := bounded(t)
	exp := time.Now().Add(time.Hour)
	session := func(prefix string, i int) store.LoginSession {
		return store.LoginSession{ID: fmt.Sprintf("%s-%03d-abcdefghijklmnop", prefix, i), Username: "u", ExpiresAt: exp}
	}
	const n = 200
	write := func(ids func(i int) store.LoginSession) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = db.CreateLoginSession(ctx, ids(i)) })
		}
		wg.Wait()
		return errs
	}
	for i, err := range write(func(i int) store.LoginSession { return session("first", i) }) {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if shared, _ := store.GroupCommitStats(db); shared == 0 {
		t.Fatalf("%d concurrent writes never shared a transaction", n)
	}
	if store.MultiRowInserts(db) == 0 {
		t.Fatalf("%d concurrent inserts of one statement never shared a multi-row INSERT", n)
	}
	errs := write(func(i int) store.LoginSession {
		if i%2 == 0 {
			return session("first", i) // exists: unique violation
		}
		return session("second", i)
	})
	for i, err := range errs {
		if (i%2 == 0) != (err != nil) {
			t.Errorf("write %d: err = %v", i, err)
		}
	}
	for i := 1; i < n; i += 2 {
		if _, err := db.GetLoginSession(ctx, session("second", i).ID, time.Now()); err != nil {
			t.Errorf("a write beside a failing one was lost: %d: %v", i, err)
		}
	}
	if _, retried := store.GroupCommitStats(db); retried == 0 {
		t.Error("no batch with a failing write was run again write by write")
	}
}

// TestPipelinedOneInsertTransactions: transactions of one insert each (a
// code's at an authorization) share multi-row INSERTs with each other;
// a duplicate among them fails alone, and the others are stored.
func TestPipelinedOneInsertTransactions(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 4)
	if err := f.CreateAccessTokenSession(bounded(t), "at-taken", storetest.NewRequest("taken")); err != nil {
		t.Fatal(err)
	}
	insert := func(signature string) error {
		return commitSteps(bounded(t), f, func(tx context.Context) error {
			return f.CreateAccessTokenSession(tx, signature, storetest.NewRequest(signature))
		})
	}
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = insert(fmt.Sprint("at-", i)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
		if !stored(t, f, fmt.Sprint("at-", i)) {
			t.Errorf("transaction %d committed, its token not stored", i)
		}
	}
	if store.MultiRowInserts(db) == 0 {
		t.Fatalf("%d concurrent one-insert transactions never shared a multi-row INSERT", n)
	}
	for i := range n {
		wg.Go(func() {
			signature := fmt.Sprint("at-second-", i)
			if i%10 == 0 {
				signature = "at-taken"
			}
			errs[i] = insert(signature)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0) != (err != nil) {
			t.Errorf("second round, transaction %d: %v", i, err)
		}
		if i%10 != 0 && !stored(t, f, fmt.Sprint("at-second-", i)) {
			t.Errorf("second round, transaction %d: its token was lost beside a duplicate", i)
		}
	}
}

// TestPipelinedTransactionsShareCommits: transactions that only write
// commit together in group commits, each as a unit: of many concurrent
// refresh-token rotations, those of still-active tokens commit whole, and
// those of rotated ones fail with fosite.ErrSerializationFailure and store
// nothing, whichever batch they shared.
func TestPipelinedTransactionsShareCommits(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 4)
	const n = 60
	for i := range n {
		grant := fmt.Sprint("grant-", i)
		if err := f.CreateRefreshTokenSession(bounded(t), "rt-"+grant, "at-"+grant, storetest.NewRequest(grant)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := f.RotateRefreshToken(bounded(t), grant, "rt-"+grant); err != nil {
				t.Fatal(err)
			}
		}
	}
	shared0, _ := store.GroupCommitStats(db)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			grant := fmt.Sprint("grant-", i)
			errs[i] = commitSteps(bounded(t), f,
				func(tx context.Context) error { return f.RotateRefreshToken(tx, grant, "rt-"+grant) },
				func(tx context.Context) error {
					return f.CreateAccessTokenSession(tx, "at-new-"+grant, storetest.NewRequest(grant))
				})
		})
	}
	wg.Wait()
	for i, err := range errs {
		stale := i%3 == 0
		switch {
		case stale && !errors.Is(err, fosite.ErrSerializationFailure):
			t.Errorf("rotation %d of a rotated token: %v, want fosite.ErrSerializationFailure", i, err)
		case !stale && err != nil:
			t.Errorf("rotation %d: %v", i, err)
		}
		if got := stored(t, f, fmt.Sprint("at-new-grant-", i)); got == stale {
			t.Errorf("rotation %d (stale %v): its access token stored = %v", i, stale, got)
		}
	}
	if shared, _ := store.GroupCommitStats(db); shared == shared0 {
		t.Error("no transaction committed in a group commit")
	}
}

// TestPipelinedRotationsCommitTogether: rotations of active tokens share
// group commits without a failed batch (a batch that fails is run again
// write by write, which costs every write a round trip and a commit of its
// own: a rotation statement the server rejected inside a batch once halved
// the refreshes per second without a single error reaching a client).
func TestPipelinedRotationsCommitTogether(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 4)
	const n = 40
	for i := range n {
		grant := fmt.Sprint("grant-", i)
		if err := f.CreateRefreshTokenSession(bounded(t), "rt-"+grant, "at-"+grant, storetest.NewRequest(grant)); err != nil {
			t.Fatal(err)
		}
	}
	shared0, retried0 := store.GroupCommitStats(db)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			grant := fmt.Sprint("grant-", i)
			tx, err := f.BeginTX(bounded(t))
			if err == nil {
				err = f.RotateRefreshToken(tx, grant, "rt-"+grant)
			}
			if err == nil {
				err = f.CreateRefreshTokenSession(tx, "rt-new-"+grant, "at-new-"+grant, storetest.NewRequest(grant))
			}
			if err == nil {
				err = f.Commit(tx)
			}
			if err != nil {
				_ = f.Rollback(tx)
				t.Errorf("rotation %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	shared, retried := store.GroupCommitStats(db)
	if shared == shared0 {
		t.Error("no rotation committed in a group commit")
	}
	if retried != retried0 {
		t.Errorf("%d group commits of rotations failed and were run again", retried-retried0)
	}
	for i := range n {
		grant := fmt.Sprint("grant-", i)
		if _, err := f.GetRefreshTokenSession(bounded(t), "rt-"+grant, nil); !errors.Is(err, fosite.ErrInactiveToken) {
			t.Errorf("rotated token %d: %v, want fosite.ErrInactiveToken", i, err)
		}
	}
}

// TestPipelinedCodeExchanges: a code exchange (the code's invalidation and
// the tokens' inserts in one transaction) only writes, so it commits as a
// unit of a group commit; the exchange of a code used meanwhile fails at
// Commit with fosite.ErrInvalidatedAuthorizeCode and stores nothing, and the
// exchanges that shared its batch still commit.
func TestPipelinedCodeExchanges(t *testing.T) {
	t.Parallel()
	db, f := openPipelined(t, 4)
	const n = 40
	for i := range n {
		if err := f.CreateAuthorizeCodeSession(bounded(t), fmt.Sprint("code-", i), storetest.NewRequest(fmt.Sprint("grant-", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.InvalidateAuthorizeCodeSession(bounded(t), "code-0"); err != nil {
		t.Fatal(err) // used before its exchange below
	}
	shared0, _ := store.GroupCommitStats(db)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = commitSteps(bounded(t), f,
				func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, fmt.Sprint("code-", i)) },
				func(tx context.Context) error {
					return f.CreateAccessTokenSession(tx, fmt.Sprint("at-", i), storetest.NewRequest(fmt.Sprint("grant-", i)))
				})
		})
	}
	wg.Wait()
	if shared, _ := store.GroupCommitStats(db); shared == shared0 {
		t.Error("no code exchange committed in a group commit")
	}
	if !errors.Is(errs[0], fosite.ErrInvalidatedAuthorizeCode) {
		t.Errorf("exchange of a used code: %v, want fosite.ErrInvalidatedAuthorizeCode", errs[0])
	}
	if stored(t, f, "at-0") {
		t.Error("the exchange of a used code stored its access token")
	}
	for i := 1; i < n; i++ {
		if errs[i] != nil {
			t.Errorf("exchange %d: %v", i, errs[i])
		} else if !stored(t, f, fmt.Sprint("at-", i)) {
			t.Errorf("exchange %d committed without its access token", i)
		}
	}
}

// TestPipelinedBatchHeldUpDoesNotHoldNext: a write batch waiting for a row
// lock (held here by another connection's transaction) does not hold up
// the writes queued behind it; they go out in the next batch, on another
// connection, as up to two batches run at once (groupcommit.go).
func TestPipelinedBatchHeldUpDoesNotHoldNext(t *testing.T) {
	t.Parallel()
	dsn := storetest.Postgres(t).FreshDSN(t)
	ctx := bounded(t)
	db, err := store.OpenPostgres(ctx, store.PostgresConfig{DSN: dsn, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	exp := time.Now().Add(time.Hour)
	locked := store.LoginSession{ID: "locked-session-abcdefghijklmnop", Username: "u", ExpiresAt: exp}
	if err := db.CreateLoginSession(ctx, locked); err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	tx, err := other.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM login_session FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	touched := make(chan error, 1)
	go func() { touched <- db.TouchLoginSession(ctx, locked.ID, time.Now()) }()
	for waiting := 0; waiting == 0; {
		err := other.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity "+
			"WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting)
		if err != nil {
			t.Fatalf("waiting for the touch to wait for the lock: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	next, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = db.CreateLoginSession(next, store.LoginSession{ID: "next-session-abcdefghijklmnopq", Username: "u", ExpiresAt: exp})
	if err != nil {
		t.Fatalf("a write behind a batch waiting for a row lock: %v", err)
	}
	select {
	case err := <-touched:
		t.Fatalf("the touch of the locked row ended while it was locked: %v", err)
	default:
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-touched; err != nil {
		t.Fatalf("touch after the lock was released: %v", err)
	}
}
