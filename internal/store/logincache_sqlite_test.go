package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Login sessions cached on SQLite (logincache_sqlite.go): the process
// serves the sessions it read from its cache, its own changes show at
// once, and another process's within the version poll.

// openSQLiteFile opens the SQLite database at path as a process of its own
// would (its own pool and connections).
func openSQLiteFile(t *testing.T, path string, opts store.SQLiteOptions) *store.DB {
	t.Helper()
	db, err := store.OpenSQLiteWith(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestSQLiteLoginCacheFollowsOtherProcesses: a session cached by process B
// follows what process A, or a tool working on the file directly, does to
// it, and B's own changes show at once.
func TestSQLiteLoginCacheFollowsOtherProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oidc.db")
	a := openSQLiteFile(t, path, store.SQLiteOptions{})
	b := openSQLiteFile(t, path, store.SQLiteOptions{})
	if live, _, _ := store.LoginCacheState(b); !live {
		t.Fatal("the login cache does not serve on SQLite")
	}
	other, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	followsChanges(t, a, b, func(ctx context.Context, username string) error {
		_, err := other.ExecContext(ctx, `DELETE FROM login_session WHERE username = ?`, username)
		return err
	})
	if store.LoginCacheMoves(b) == 0 {
		t.Error("B never found the database's version moved")
	}
}

// TestSQLiteLoginCacheKeepsThroughOwnWrites: the process's own writes
// (single writes sharing group commits, transactions, sessions of other
// users) never make the cache empty itself: only other connections'
// commits move the version it watches.
func TestSQLiteLoginCacheKeepsThroughOwnWrites(t *testing.T) {
	t.Parallel()
	db := openSQLiteFile(t, filepath.Join(t.TempDir(), "oidc.db"), store.SQLiteOptions{})
	ctx := bounded(t)
	exp := time.Now().Add(time.Hour)
	s := store.LoginSession{ID: "sqlite-own-writes-01234", Username: "alice", ExpiresAt: exp}
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, db, s.ID)

	// Writes for longer than several polls, from several writers.
	deadline := time.Now().Add(4 * store.SQLiteLoginPoll)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				o := store.LoginSession{ID: fmt.Sprintf("sqlite-own-%d-%06d-abcdef", w, i), Username: "bob", ExpiresAt: exp}
				if err := db.CreateLoginSession(ctx, o); err != nil {
					errs <- err
					return
				}
				tctx, err := db.BeginTX(ctx)
				if err != nil {
					errs <- err
					return
				}
				if err := db.TouchLoginSession(tctx, o.ID, time.Now()); err != nil {
					errs <- err
					return
				}
				if err := db.Commit(tctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_, before, _ := store.LoginCacheState(db)
	if _, err := db.GetLoginSession(ctx, s.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, after, _ := store.LoginCacheState(db); after != before+1 {
		t.Error("the session was not served from the cache after the process's own writes")
	}
	if n := store.LoginCacheMoves(db); n != 0 {
		t.Errorf("the cache found the version moved %d times; only this process wrote", n)
	}
}

// TestSQLiteLoginCacheDisabled: with NoLoginCache every read asks the
// file, so another process's change shows at once.
func TestSQLiteLoginCacheDisabled(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oidc.db")
	db := openSQLiteFile(t, path, store.SQLiteOptions{NoLoginCache: true})
	other := openSQLiteFile(t, path, store.SQLiteOptions{})
	ctx := bounded(t)
	s := store.LoginSession{ID: "sqlite-nocache-01234567", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if gone(t, db, s.ID) {
			t.Fatal("session not found")
		}
	}
	if err := other.DeleteLoginSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if !gone(t, db, s.ID) {
		t.Error("a session deleted by another process is still served")
	}
	if live, hits, _ := store.LoginCacheState(db); live || hits != 0 {
		t.Errorf("cache state: live %v, %d hits", live, hits)
	}
}
