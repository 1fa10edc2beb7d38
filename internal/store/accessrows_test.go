package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestKeptAccessTokens (accessrows.go): an access token issued at the
// token endpoint is served as written at its first use, once; every way of
// deleting access tokens, by this instance, another one or a tool working
// on the database, stops it being served.
func TestKeptAccessTokens(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "oidc.db")
		db := openSQLiteFile(t, path, store.SQLiteOptions{})
		second := openSQLiteFile(t, path, store.SQLiteOptions{}) // another process on the file
		tool, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tool.Close() })
		keptAccessTokens(t, db, second, tool, true)
		revokedAsIssued(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dbs, dsn := openInstances(t, 2)
		tool := openOther(t, dsn)
		keptAccessTokens(t, dbs[0], dbs[1], tool, false)
		// Only the rows kept are announced when deleted.
		for sig, want := range map[string]bool{"at-first": true, "at-outside": false, "at-after-refresh": false} {
			var announced bool
			if err := tool.QueryRow(`SELECT announce FROM oauth2_access WHERE signature = $1`, sig).Scan(&announced); err != nil {
				t.Fatalf("%s: %v", sig, err)
			}
			if announced != want {
				t.Errorf("%s announced: %v, want %v", sig, announced, want)
			}
		}
	})
}

// exchange issues access token sig for r as a code exchange does: it
// stores a code, then invalidates it and writes the token in the token
// endpoint's transaction.
func exchange(ctx context.Context, f *store.Fosite, sig string, r fosite.Requester) error {
	if err := f.CreateAuthorizeCodeSession(ctx, "code-"+sig, r); err != nil {
		return err
	}
	return commitSteps(store.WithDeferredDeletes(ctx), f,
		func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, "code-"+sig) },
		func(tx context.Context) error { return f.CreateAccessTokenSession(tx, sig, r) })
}

// keptAccessTokens is TestKeptAccessTokens on one backend: db keeps the
// tokens, second is another instance on the same database, and tool a
// plain connection to it. A refresh's access token is kept on SQLite, not
// on PostgreSQL (keepsAccess).
func keptAccessTokens(t *testing.T, db, second *store.DB, tool *sql.DB, refreshKept bool) {
	f := store.NewFosite(db, storetest.Clients("c", "d"))
	bg := context.Background()
	session := func() fosite.Session { return storetest.NewRequest("x").GetSession() }

	// issue stores access token sig of a new grant of client, as the
	// token endpoint does, and returns the grant's request.
	issue := func(t *testing.T, sig, client string) fosite.Requester {
		t.Helper()
		r := storetest.NewRequest("req-" + sig)
		r.Client = &fosite.DefaultClient{ID: client}
		before := store.KeptAccesses(db)
		if err := exchange(bg, f, sig, r); err != nil {
			t.Fatal(err)
		}
		if after := store.KeptAccesses(db); after != before+1 {
			t.Fatalf("%d access tokens kept after an issuance, want %d", after, before+1)
		}
		return r
	}
	served := func(sig string) bool {
		_, err := f.GetAccessTokenSession(bg, sig, session())
		if err != nil && !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("read %s: %v", sig, err)
		}
		return err == nil
	}

	// Its first use takes it; the next reads the database.
	want := issue(t, "at-first", "c")
	got, err := f.GetAccessTokenSession(bg, "at-first", session())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetID() != want.GetID() || got.GetClient().GetID() != "c" || !got.GetGrantedScopes().Has("openid") {
		t.Errorf("served request %q of client %q, scopes %v; want %q of c", got.GetID(), got.GetClient().GetID(), got.GetGrantedScopes(), want.GetID())
	}
	if n := store.KeptAccesses(db); n != 0 {
		t.Fatalf("%d access tokens kept after the first use, want 0", n)
	}
	if !served("at-first") {
		t.Fatal("the second use does not find the token in the database")
	}

	// Not kept by a write outside the token endpoint, nor by one that
	// rolled back.
	if err := f.CreateAccessTokenSession(bg, "at-outside", storetest.NewRequest("req-outside")); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("the exchange failed")
	rb := storetest.NewRequest("req-rb")
	if err := f.CreateAuthorizeCodeSession(bg, "code-rb", rb); err != nil {
		t.Fatal(err)
	}
	if err := commitSteps(store.WithDeferredDeletes(bg), f,
		func(tx context.Context) error { return f.InvalidateAuthorizeCodeSession(tx, "code-rb") },
		func(tx context.Context) error { return f.CreateAccessTokenSession(tx, "at-rolled-back", rb) },
		func(context.Context) error { return failed }); !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if n := store.KeptAccesses(db); n != 0 {
		t.Fatalf("%d access tokens kept, want 0", n)
	}
	if served("at-rolled-back") {
		t.Fatal("a rolled back access token is served")
	}

	// Every deletion by this instance before the first use, outside the
	// token endpoint's transaction and in one.
	for _, tc := range []struct {
		name   string
		client string
		del    func(ctx context.Context, r fosite.Requester, sig string) error
	}{
		{"deleted", "c", func(ctx context.Context, _ fosite.Requester, sig string) error {
			return f.DeleteAccessTokenSession(ctx, sig)
		}},
		{"revoked with its grant", "c", func(ctx context.Context, r fosite.Requester, _ string) error {
			return f.RevokeAccessToken(ctx, r.GetID())
		}},
		{"rotated away", "c", func(ctx context.Context, r fosite.Requester, sig string) error {
			if err := f.CreateRefreshTokenSession(ctx, "rt-"+sig, "", r); err != nil {
				return err
			}
			return f.RotateRefreshToken(ctx, r.GetID(), "rt-"+sig)
		}},
		{"revoked with its client's grants", "d", func(ctx context.Context, _ fosite.Requester, _ string) error {
			_, err := db.RevokeClientGrants(ctx, "d")
			return err
		}},
	} {
		for _, inTx := range []bool{false, true} {
			sig := fmt.Sprintf("at-%s-%v", tc.name, inTx)
			r := issue(t, sig, tc.client)
			del := func(ctx context.Context) error { return tc.del(ctx, r, sig) }
			if inTx {
				err = commitSteps(store.WithDeferredDeletes(bg), f, del)
			} else {
				err = del(bg)
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if served(sig) {
				t.Errorf("an access token %s (in a transaction: %v) is served", tc.name, inTx)
			}
		}
	}
	if n := store.KeptAccesses(db); n != 0 {
		t.Fatalf("%d access tokens kept after their deletions, want 0", n)
	}

	// A refresh's new access token outlives the deletion of the grant's
	// older ones by the same transaction, and is kept where refreshKept.
	r := issue(t, "at-before-refresh", "c")
	if err := f.CreateRefreshTokenSession(bg, "rt-refreshed", "", r); err != nil {
		t.Fatal(err)
	}
	if err := commitSteps(store.WithDeferredDeletes(bg), f,
		func(tx context.Context) error { return f.RotateRefreshToken(tx, r.GetID(), "rt-refreshed") },
		func(tx context.Context) error { return f.CreateAccessTokenSession(tx, "at-after-refresh", r) },
	); err != nil {
		t.Fatal(err)
	}
	if n, want := store.KeptAccesses(db), map[bool]int{true: 1, false: 0}[refreshKept]; n != want {
		t.Fatalf("%d access tokens kept after a refresh, want %d", n, want)
	}
	if served("at-before-refresh") {
		t.Error("an access token rotated away is served")
	}
	if !served("at-after-refresh") || store.KeptAccesses(db) != 0 {
		t.Error("a refresh's new access token is not served")
	}

	// Deleted elsewhere: by another instance, and by a tool.
	for _, tc := range []struct {
		name string
		del  func(r fosite.Requester, sig string) error
	}{
		{"another instance", func(r fosite.Requester, _ string) error {
			return store.NewFosite(second, storetest.Clients("c")).RevokeAccessToken(bg, r.GetID())
		}},
		{"a tool", func(_ fosite.Requester, sig string) error {
			_, err := tool.ExecContext(bg, `DELETE FROM oauth2_access WHERE signature = '`+sig+`'`)
			return err
		}},
	} {
		sig := "at-deleted-by-" + tc.name
		r := issue(t, sig, "c")
		issue(t, sig+"-kept", "c")
		if err := tc.del(r, sig); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// SQLite forgets every token kept; PostgreSQL the one deleted.
		waitFor(t, "the deleted access token to be dropped", func() bool { return store.KeptAccesses(db) <= 1 })
		if served(sig) {
			t.Errorf("an access token deleted by %s is served", tc.name)
		}
		if !served(sig + "-kept") {
			t.Errorf("the access token %s did not delete is not served", tc.name)
		}
	}
}

// revokedAsIssued: on SQLite a revocation waiting for the write gate, held
// by the transaction issuing a token of the grant, deletes the token once
// that transaction committed, and the token is not served.
func revokedAsIssued(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, storetest.Clients("c"))
	bg := context.Background()
	r := storetest.NewRequest("req-race")
	tx, err := f.BeginTX(store.WithDeferredDeletes(bg))
	if err != nil {
		t.Fatal(err)
	}
	revoked := make(chan error, 1)
	go func() { revoked <- f.RevokeAccessToken(bg, r.GetID()) }()
	time.Sleep(50 * time.Millisecond) // it waits for the gate this transaction holds
	if err := f.CreateAccessTokenSession(tx, "at-race", r); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if err := <-revoked; err != nil {
		t.Fatal(err)
	}
	_, err = f.GetAccessTokenSession(bg, "at-race", r.GetSession())
	if !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("an access token revoked as it was issued: %v, want not found", err)
	}
}

// TestKeptAccessTokensWithoutListener (PostgreSQL): when the listening
// connection is lost, the access tokens kept are dropped and none is
// served from what is kept until it listens again, so a deletion whose
// notice nobody heard is not missed.
func TestKeptAccessTokensWithoutListener(t *testing.T) {
	t.Parallel()
	dbs, dsn := openInstances(t, 1)
	db := dbs[0]
	f := store.NewFosite(db, storetest.Clients("c"))
	ctx := bounded(t)
	issue := func(sig string) {
		t.Helper()
		if err := exchange(ctx, f, sig, storetest.NewRequest("req-"+sig)); err != nil {
			t.Fatal(err)
		}
	}
	issue("at-before")
	if n := store.KeptAccesses(db); n != 1 {
		t.Fatalf("%d access tokens kept, want 1", n)
	}
	other := openOther(t, dsn)
	killListener(t, ctx, db, other)
	if n := store.KeptAccesses(db); n != 0 {
		t.Errorf("%d access tokens kept without a listener, want 0", n)
	}
	issue("at-meanwhile")
	if _, err := other.ExecContext(ctx, `DELETE FROM oauth2_access`); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"at-before", "at-meanwhile"} {
		if _, err := f.GetAccessTokenSession(ctx, sig, storetest.NewRequest("x").GetSession()); !errors.Is(err, fosite.ErrNotFound) {
			t.Errorf("%s, deleted while nobody listened: %v, want not found", sig, err)
		}
	}
	waitFor(t, "the cache to serve again", func() bool { live, _, _ := store.LoginCacheState(db); return live })
	issue("at-after")
	if n := store.KeptAccesses(db); n != 1 {
		t.Errorf("%d access tokens kept once listening again, want 1", n)
	}
}

// TestKeptAccessTokensOff: with the login cache off, access tokens are
// not kept.
func TestKeptAccessTokensOff(t *testing.T) {
	t.Parallel()
	for _, backend := range []struct {
		name string
		open func(t *testing.T) *store.DB
	}{
		{"sqlite", func(t *testing.T) *store.DB {
			return openSQLiteFile(t, filepath.Join(t.TempDir(), "oidc.db"), store.SQLiteOptions{NoLoginCache: true})
		}},
		{"postgres", func(t *testing.T) *store.DB {
			db, err := store.OpenPostgres(context.Background(), store.PostgresConfig{
				DSN: storetest.Postgres(t).FreshDSN(t), NoLoginCache: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			db := backend.open(t)
			f := store.NewFosite(db, storetest.Clients("c"))
			if err := exchange(context.Background(), f, "at-x", storetest.NewRequest("req-x")); err != nil {
				t.Fatal(err)
			}
			if n := store.KeptAccesses(db); n != 0 {
				t.Errorf("%d access tokens kept, want 0", n)
			}
		})
	}
}
