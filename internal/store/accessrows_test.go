package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestKeptAccessTokens (SQLite, accessrows.go): an access token issued at
// the token endpoint is served as written at its first use, once; every
// way of deleting access tokens, in this process or another, stops it
// being served.
func TestKeptAccessTokens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oidc.db")
	db := openSQLiteFile(t, path, store.SQLiteOptions{})
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
		if err := commitSteps(store.WithDeferredDeletes(bg), f,
			func(tx context.Context) error { return f.CreateAccessTokenSession(tx, sig, r) }); err != nil {
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
	if err := commitSteps(store.WithDeferredDeletes(bg), f,
		func(tx context.Context) error {
			return f.CreateAccessTokenSession(tx, "at-rolled-back", storetest.NewRequest("req-rb"))
		},
		func(context.Context) error { return failed }); !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if n := store.KeptAccesses(db); n != 0 {
		t.Fatalf("%d access tokens kept, want 0", n)
	}
	if served("at-rolled-back") {
		t.Fatal("a rolled back access token is served")
	}

	// Every deletion before the first use.
	for _, tc := range []struct {
		name   string
		client string
		del    func(r fosite.Requester, sig string) error
	}{
		{"deleted", "c", func(_ fosite.Requester, sig string) error { return f.DeleteAccessTokenSession(bg, sig) }},
		{"revoked with its grant", "c", func(r fosite.Requester, _ string) error { return f.RevokeAccessToken(bg, r.GetID()) }},
		{"rotated away", "c", func(r fosite.Requester, _ string) error {
			if err := f.CreateRefreshTokenSession(bg, "rt-rotated", "", r); err != nil {
				return err
			}
			return f.RotateRefreshToken(bg, r.GetID(), "rt-rotated")
		}},
		{"revoked with its client's grants", "d", func(fosite.Requester, string) error {
			_, err := db.RevokeClientGrants(bg, "d")
			return err
		}},
	} {
		sig := "at-" + tc.name
		r := issue(t, sig, tc.client)
		if err := tc.del(r, sig); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if served(sig) {
			t.Errorf("an access token %s is served", tc.name)
		}
	}
	if n := store.KeptAccesses(db); n != 0 {
		t.Fatalf("%d access tokens kept after their deletions, want 0", n)
	}

	// Revoked while being issued: the revocation, waiting for the write
	// gate, deletes the token once its transaction committed.
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
	if served("at-race") {
		t.Error("an access token revoked as it was issued is served")
	}

	// Deleted by another process (a tool on the file).
	issue(t, "at-elsewhere", "c")
	other, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := other.ExecContext(bg, `DELETE FROM oauth2_access WHERE signature = 'at-elsewhere'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the kept access tokens to be dropped", func() bool { return store.KeptAccesses(db) == 0 })
	if served("at-elsewhere") {
		t.Error("an access token deleted by another process is served")
	}
}

// TestKeptAccessTokensOff: with the login cache off, and on PostgreSQL,
// access tokens are not kept.
func TestKeptAccessTokensOff(t *testing.T) {
	t.Parallel()
	for _, backend := range []struct {
		name string
		open func(t *testing.T) *store.DB
	}{
		{"sqlite without login cache", func(t *testing.T) *store.DB {
			return openSQLiteFile(t, filepath.Join(t.TempDir(), "oidc.db"), store.SQLiteOptions{NoLoginCache: true})
		}},
		{"postgres", func(t *testing.T) *store.DB { return storetest.Postgres(t).Open(t) }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			db := backend.open(t)
			f := store.NewFosite(db, storetest.Clients("c"))
			if err := commitSteps(store.WithDeferredDeletes(context.Background()), f,
				func(tx context.Context) error {
					return f.CreateAccessTokenSession(tx, "at-x", storetest.NewRequest("req-x"))
				}); err != nil {
				t.Fatal(err)
			}
			if n := store.KeptAccesses(db); n != 0 {
				t.Errorf("%d access tokens kept, want 0", n)
			}
		})
	}
}
