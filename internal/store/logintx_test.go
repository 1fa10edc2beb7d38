package store_test

// A login session changed in a caller's transaction: the cache must not
// serve it as it was once the transaction has committed.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// TestSQLiteLoginChangeInTransaction: a login session deleted in a
// caller's transaction is forgotten by the cache when the DELETE runs,
// before the commit. A read in between reads the database, which does not
// show the deletion yet, and keeps the session with a generation taken
// after the forgetting; on SQLite nothing announces this connection's own
// commit, so the session is forgotten again when the transaction ends
// (txState.atEnd). Found by review: without that, the deleted session was
// served from the cache after the commit, until loginMaxAge (30 s). No
// caller in the provider changes login sessions in a transaction of its
// own yet; the store's methods all take one.
func TestSQLiteLoginChangeInTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(ctx context.Context, db *store.DB, id string) error
	}{
		{"DeleteLoginSession", func(ctx context.Context, db *store.DB, id string) error {
			return db.DeleteLoginSession(ctx, id)
		}},
		{"EndLoginSession", func(ctx context.Context, db *store.DB, id string) error {
			_, err := db.EndLoginSession(ctx, id)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openSQLite(t)
			bg := context.Background()
			now := time.Now()
			id := "cookie-" + tc.name
			if err := db.CreateLoginSession(bg, store.LoginSession{ID: id, Username: "alice", AMR: []string{"pwd"}, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			tx, err := db.BeginTX(bg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.change(tx, db, id); err != nil {
				_ = db.Rollback(tx)
				t.Fatal(err)
			}
			// A concurrent request reads the session while the sign-out's
			// transaction is still open: it still exists for it.
			if _, err := db.GetLoginSession(bg, id, time.Now()); err != nil {
				_ = db.Rollback(tx)
				t.Fatalf("read before the commit: %v", err)
			}
			if err := db.Commit(tx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.GetLoginSession(bg, id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted login session still served after its transaction committed: %v", err)
			}
			// Well past the version poll: still served from the cache.
			time.Sleep(3 * store.SQLiteLoginPoll)
			if _, err := db.GetLoginSession(bg, id, time.Now()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted login session still served %v after its transaction committed: %v", 3*store.SQLiteLoginPoll, err)
			}
		})
	}
}

// TestPostgresLoginChangeInTransaction is its PostgreSQL counterpart: the
// session read and kept while the deleting transaction was open is
// forgotten when the trigger's notification arrives after the commit (and
// by the end of the transaction already).
func TestPostgresLoginChangeInTransaction(t *testing.T) {
	t.Parallel()
	dbs, _ := openInstances(t, 1)
	db := dbs[0]
	bg := context.Background()
	const id = "cookie-pg-tx"
	if err := db.CreateLoginSession(bg, store.LoginSession{ID: id, Username: "alice", AMR: []string{"pwd"}, ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTX(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteLoginSession(tx, id); err != nil {
		_ = db.Rollback(tx)
		t.Fatal(err)
	}
	if _, err := db.GetLoginSession(bg, id, time.Now()); err != nil {
		_ = db.Rollback(tx)
		t.Fatalf("read before the commit: %v", err)
	}
	if err := db.Commit(tx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted session to stop being served", func() bool { return gone(t, db, id) })
}
