package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for changes made by another tool

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// Login sessions cached on PostgreSQL (logincache.go): an instance serves
// the sessions it read from its cache, and a change made anywhere else
// reaches it within the notification's delay.

// openInstances opens n instances on one fresh PostgreSQL database and
// waits for their caches to serve; it returns them and the database's DSN.
func openInstances(t *testing.T, n int) ([]*store.DB, string) {
	t.Helper()
	dsn := storetest.Postgres(t).FreshDSN(t)
	dbs := make([]*store.DB, n)
	for i := range dbs {
		db, err := store.OpenPostgres(context.Background(), store.PostgresConfig{DSN: dsn, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
		waitFor(t, "the login cache to serve", func() bool { live, _, _ := store.LoginCacheState(db); return live })
	}
	return dbs, dsn
}

// openOther opens a plain database/sql handle on dsn: another tool, for
// changes the store does not make.
func openOther(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	return other
}

// killListener terminates db's listening connection through other, a
// plain connection to its database, and waits for db's login cache (and
// the access tokens kept with it) to stop serving.
func killListener(t *testing.T, ctx context.Context, db *store.DB, other *sql.DB) {
	t.Helper()
	var killed int
	if err := other.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN caddy_oidc_login'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate the listening connection: %d, %v", killed, err)
	}
	waitFor(t, "the cache to stop serving", func() bool { live, _, _ := store.LoginCacheState(db); return !live })
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}

// cachedRead reads session id on db twice and fails unless the second
// read came from the cache; it returns what was read.
func cachedRead(t *testing.T, db *store.DB, id string) *store.LoginSession {
	t.Helper()
	ctx := bounded(t)
	if _, err := db.GetLoginSession(ctx, id, time.Now()); err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	_, before, _ := store.LoginCacheState(db)
	s, err := db.GetLoginSession(ctx, id, time.Now())
	if err != nil {
		t.Fatalf("read %s again: %v", id, err)
	}
	if _, after, _ := store.LoginCacheState(db); after != before+1 {
		t.Fatalf("the second read of %s did not come from the cache (%d hits, then %d)", id, before, after)
	}
	return s
}

// gone reports whether session id is unknown to db.
func gone(t *testing.T, db *store.DB, id string) bool {
	t.Helper()
	_, err := db.GetLoginSession(bounded(t), id, time.Now())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("read %s: %v", id, err)
	}
	return err != nil
}

// TestPostgresLoginCacheFollowsChanges: a session cached by instance B
// follows what instance A, or any other tool, does to it, and B's own
// changes show at once.
func TestPostgresLoginCacheFollowsChanges(t *testing.T) {
	t.Parallel()
	dbs, dsn := openInstances(t, 2)
	other := openOther(t, dsn)
	followsChanges(t, dbs[0], dbs[1], func(ctx context.Context, username string) error {
		_, err := other.ExecContext(ctx, `DELETE FROM login_session WHERE username = $1`, username)
		return err
	})
}

// followsChanges checks that a session cached by b follows what a does to
// it and what another tool does (deleteElsewhere deletes a user's sessions
// behind the store's back), and that b's own changes, by every way of
// ending sessions, show at once.
func followsChanges(t *testing.T, a, b *store.DB, deleteElsewhere func(ctx context.Context, username string) error) {
	t.Helper()
	ctx := bounded(t)
	exp := time.Now().Add(time.Hour)
	s := store.LoginSession{ID: "cache-0123456789abcdef", Username: "alice", AMR: []string{"pwd"}, ExpiresAt: exp}
	if err := a.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, s.ID)

	// A second factor on A.
	s.AMR = []string{"pwd", "otp"}
	if err := a.UpdateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see the second factor", func() bool {
		got, err := b.GetLoginSession(ctx, s.ID, time.Now())
		return err == nil && slices.Equal(got.AMR, s.AMR)
	})
	cachedRead(t, b, s.ID)

	// A sign-out on A.
	if err := a.DeleteLoginSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see the sign-out", func() bool { return gone(t, b, s.ID) })

	// Another tool's change.
	bob := store.LoginSession{ID: "cache-bob-0123456789ab", Username: "bob", ExpiresAt: exp}
	if err := a.CreateLoginSession(ctx, bob); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, bob.ID)
	if err := deleteElsewhere(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see a session deleted by another tool", func() bool { return gone(t, b, bob.ID) })

	// B's own changes show at once: its touch, then its revocation of
	// the user's sessions.
	carol := store.LoginSession{ID: "cache-carol-0123456789", Username: "carol", ExpiresAt: exp}
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
	for i, end := range []struct {
		name string
		end  func(id string) error
	}{
		{"EndLoginSession", func(id string) error { _, err := b.EndLoginSession(ctx, id); return err }},
		{"EndLoginSessions of the user", func(string) error { _, err := b.EndLoginSessions(ctx, "dave", ""); return err }},
		{"EndLoginSessions by handle", func(string) error {
			list, err := b.ListLoginSessions(ctx, "dave", time.Now())
			if err != nil || len(list) != 1 {
				return fmt.Errorf("list: %v, %v", list, err)
			}
			_, err = b.EndLoginSessions(ctx, "dave", list[0].Handle)
			return err
		}},
	} {
		dave := store.LoginSession{ID: fmt.Sprintf("cache-dave-%d-0123456789", i), Username: "dave", ExpiresAt: exp}
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

// TestPostgresLoginCacheOffWithoutListener: when the listening connection
// is lost, the cache empties and serves nothing until it listens again, so
// a change made meanwhile, whose notice nobody heard, is not missed.
func TestPostgresLoginCacheOffWithoutListener(t *testing.T) {
	t.Parallel()
	dbs, dsn := openInstances(t, 1)
	db := dbs[0]
	ctx := bounded(t)
	s := store.LoginSession{ID: "cache-off-0123456789ab", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, db, s.ID)
	other := openOther(t, dsn)
	killListener(t, ctx, db, other)
	if _, err := other.ExecContext(ctx, `DELETE FROM login_session`); err != nil {
		t.Fatal(err)
	}
	if !gone(t, db, s.ID) {
		t.Fatal("a session deleted while nobody listened is still served")
	}
	waitFor(t, "the cache to serve again", func() bool { live, _, _ := store.LoginCacheState(db); return live })
	if _, _, listens := store.LoginCacheState(db); listens != 2 {
		t.Errorf("%d listening connections, want 2", listens)
	}
	s.ID = "cache-off-again-012345"
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, db, s.ID)
}

// TestPostgresLoginCacheHeartbeat: the listening connection passes its
// probe every heartbeat and keeps serving on the same connection.
func TestPostgresLoginCacheHeartbeat(t *testing.T) {
	t.Parallel()
	dbs, _ := openInstances(t, 2)
	a, b := dbs[0], dbs[1]
	ctx := bounded(t)
	s := store.LoginSession{ID: "cache-beat-0123456789a", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}
	if err := a.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	cachedRead(t, b, s.ID)
	time.Sleep(store.LoginHeartbeat + store.LoginProbeWait + time.Second)
	if live, _, listens := store.LoginCacheState(b); !live || listens != 1 {
		t.Fatalf("after a heartbeat: live %v, %d listening connections; want true, 1", live, listens)
	}
	cachedRead(t, b, s.ID)
	if err := a.DeleteLoginSession(bounded(t), s.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B to see the sign-out", func() bool { return gone(t, b, s.ID) })
}

// TestPostgresLoginCacheDisabled: with NoLoginCache every read asks the
// database, so a change made elsewhere shows at once.
func TestPostgresLoginCacheDisabled(t *testing.T) {
	t.Parallel()
	dsn := storetest.Postgres(t).FreshDSN(t)
	db, err := store.OpenPostgres(context.Background(), store.PostgresConfig{DSN: dsn, MaxConns: 4, NoLoginCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ctx := bounded(t)
	s := store.LoginSession{ID: "nocache-0123456789abcd", Username: "alice", ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a cache, were there one, would serve by now
	for range 2 {
		if gone(t, db, s.ID) {
			t.Fatal("session not found")
		}
	}
	other := openOther(t, dsn)
	if _, err := other.ExecContext(ctx, `DELETE FROM login_session`); err != nil {
		t.Fatal(err)
	}
	if !gone(t, db, s.ID) {
		t.Error("a session deleted elsewhere is still served")
	}
	if live, hits, listens := store.LoginCacheState(db); live || hits != 0 || listens != 0 {
		t.Errorf("cache state: live %v, %d hits, %d listening connections", live, hits, listens)
	}
}
