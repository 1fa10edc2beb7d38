package store_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
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
	ctx := bounded(t)
	exp := time.Now().Add(time.Hour)
	s := store.LoginSession{ID: "sqlite-cache-0123456789", Username: "alice", AMR: []string{"pwd"}, ExpiresAt: exp}
	if err := a.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, s.ID)

	// A second factor in A.
	s.AMR = []string{"pwd", "otp"}
	if err := a.UpdateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see the second factor", func() bool {
		got, err := b.GetLoginSession(ctx, s.ID, time.Now())
		return err == nil && slices.Equal(got.AMR, s.AMR)
	})
	cachedRead(t, b, s.ID)

	// A sign-out in A.
	if err := a.DeleteLoginSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see the sign-out", func() bool { return gone(t, b, s.ID) })

	// Another tool's change: plain SQL on the file.
	bob := store.LoginSession{ID: "sqlite-cache-bob-012345", Username: "bob", ExpiresAt: exp}
	if err := a.CreateLoginSession(ctx, bob); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, bob.ID)
	other, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := other.ExecContext(ctx, `DELETE FROM login_session WHERE username = 'bob'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see a session deleted by another tool", func() bool { return gone(t, b, bob.ID) })
	if store.LoginCacheMoves(b) == 0 {
		t.Error("B never found the database's version moved")
	}

	// B's own changes show at once: its touch, then its revocation of
	// the user's sessions.
	carol := store.LoginSession{ID: "sqlite-cache-carol-0123", Username: "carol", ExpiresAt: exp}
	if err := a.CreateLoginSession(ctx, carol); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, carol.ID)
	later := time.Now().Add(time.Minute).Truncate(time.Microsecond)
	if err := b.TouchLoginSession(ctx, carol.ID, later); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetLoginSession(ctx, carol.ID, time.Now()); err != nil || !got.LastSeenAt.Equal(later) {
		t.Errorf("B's own touch: %v, %v; want last seen %v", got, err, later)
	}
	cachedRead(t, b, carol.ID)
	if _, err := b.RevokeLoginSessions(ctx, "carol", ""); err != nil {
		t.Fatal(err)
	}
	if !gone(t, b, carol.ID) {
		t.Error("B serves a session it revoked itself")
	}

	// The sign-outs and revocations that tell the session's clients.
	for _, end := range []struct {
		name string
		end  func(id string) error
	}{
		{"EndLoginSession", func(id string) error { _, err := b.EndLoginSession(ctx, id); return err }},
		{"EndLoginSessions of the user", func(string) error { _, err := b.EndLoginSessions(ctx, "dave", ""); return err }},
		{"EndLoginSessions by handle", func(id string) error {
			list, err := b.ListLoginSessions(ctx, "dave", time.Now())
			if err != nil || len(list) != 1 {
				return fmt.Errorf("list: %v, %v", list, err)
			}
			_, err = b.EndLoginSessions(ctx, "dave", list[0].Handle)
			return err
		}},
	} {
		dave := store.LoginSession{ID: "sqlite-cache-dave-" + strconv.Itoa(len(end.name)), Username: "dave", ExpiresAt: exp}
		if err := a.CreateLoginSession(ctx, dave); err != nil {
			t.Fatal(err)
		}
		cachedRead(t, b, dave.ID)
		if err := end.end(dave.ID); err != nil {
			t.Fatalf("%s: %v", end.name, err)
		}
		if !gone(t, b, dave.ID) {
			t.Errorf("B serves a session it ended itself (%s)", end.name)
		}
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
