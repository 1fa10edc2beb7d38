package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// The PostgreSQL server is OIDC_TEST_POSTGRES_DSN (default
// storetest.DefaultPostgresDSN); without it the tests are skipped, unless
// CI=true.

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Postgres(t).Open)
}

func TestPostgresShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, storetest.Postgres(t).Database)
}

func TestPostgresOutage(t *testing.T) {
	t.Parallel()
	storetest.RunOutage(t, storetest.Postgres(t))
}

func TestPostgresOpenFailures(t *testing.T) {
	t.Parallel()
	storetest.RunOpenFailures(t, storetest.Postgres(t))
}

// TestPostgresSchema checks the Schema option: two schemas in one database
// are two separate stores.
func TestPostgresSchema(t *testing.T) {
	t.Parallel()
	dsn := storetest.Postgres(t).FreshDSN(t)
	ctx := context.Background()
	open := func(schema string) *store.DB {
		db, err := store.OpenPostgres(ctx, store.PostgresConfig{DSN: dsn, MaxConns: 2, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	a, b, a2 := open("tenant a"), open("tenant_b"), open("tenant a")
	sa, err := a.Subject(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if sb, err := b.Subject(ctx, "alice", ""); err != nil || sb == sa {
		t.Errorf("schemas share a subject: %q, %q, %v", sa, sb, err)
	}
	if s2, err := a2.Subject(ctx, "alice", ""); err != nil || s2 != sa {
		t.Errorf("same schema, other subject: %q, %q, %v", sa, s2, err)
	}
}

// TestPostgresCodeInvalidationStaysOnPage: a code's invalidation writes
// the row's new version on the page that holds it (a heap-only tuple, no
// new index entries), as migration 11 leaves room there. One code per page
// is invalidated, so that the room is all the update can use: pruning the
// dead versions of earlier updates (which depends on every other
// transaction on the server) never comes into it. On full pages (the
// table without the step) each of these updates has to move.
func TestPostgresCodeInvalidationStaysOnPage(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t).Open(t)
	f := store.NewFosite(db, storetest.Clients("c"))
	ctx := context.Background()
	const n = 200 // several pages of codes
	for i := range n {
		if err := f.CreateAuthorizeCodeSession(ctx, fmt.Sprint("code-", i), storetest.NewRequest(fmt.Sprint("grant-", i))); err != nil {
			t.Fatal(err)
		}
	}
	firstOnPage := map[int64]string{} // page -> its first code
	last := int64(-1)
	for i := range n {
		sig := fmt.Sprint("code-", i)
		page, err := store.RowPage(db, "oauth2_code", sig)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := firstOnPage[page]; !ok {
			firstOnPage[page] = sig
		}
		last = max(last, page)
	}
	delete(firstOnPage, last) // the last page may have room either way
	if len(firstOnPage) < 3 {
		t.Fatalf("%d codes filled %d pages: too few", n, len(firstOnPage)+1)
	}
	moved := 0
	for page, sig := range firstOnPage {
		if err := f.InvalidateAuthorizeCodeSession(ctx, sig); err != nil {
			t.Fatal(err)
		}
		now, err := store.RowPage(db, "oauth2_code", sig)
		if err != nil {
			t.Fatal(err)
		}
		if now != page {
			moved++
		}
		if _, err := f.GetAuthorizeCodeSession(ctx, sig, nil); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("%s after its invalidation: %v, want fosite.ErrInvalidatedAuthorizeCode", sig, err)
		}
	}
	if moved > 0 {
		t.Errorf("%d of %d invalidated codes, one per page, moved to another page", moved, len(firstOnPage))
	}
}
