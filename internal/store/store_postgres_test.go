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
// new index entries), as migration 11 leaves room there; on full pages
// (the table without it) the versions move to other pages.
func TestPostgresCodeInvalidationStaysOnPage(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t).Open(t)
	f := store.NewFosite(db, storetest.Clients("c"))
	ctx := context.Background()
	const n = 200 // several pages of codes
	pages := make([]int64, n)
	for i := range n {
		sig := fmt.Sprint("code-", i)
		if err := f.CreateAuthorizeCodeSession(ctx, sig, storetest.NewRequest(fmt.Sprint("grant-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		var err error
		if pages[i], err = store.RowPage(db, "oauth2_code", fmt.Sprint("code-", i)); err != nil {
			t.Fatal(err)
		}
	}
	if pages[n-1] == pages[0] {
		t.Fatalf("all %d codes on page %d: too few to fill a page", n, pages[0])
	}
	moved := 0
	for i := range n {
		sig := fmt.Sprint("code-", i)
		if err := f.InvalidateAuthorizeCodeSession(ctx, sig); err != nil {
			t.Fatal(err)
		}
		page, err := store.RowPage(db, "oauth2_code", sig)
		if err != nil {
			t.Fatal(err)
		}
		if page != pages[i] {
			moved++
		}
		if _, err := f.GetAuthorizeCodeSession(ctx, sig, nil); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Fatalf("%s after its invalidation: %v, want fosite.ErrInvalidatedAuthorizeCode", sig, err)
		}
	}
	if moved > 0 {
		t.Errorf("%d of %d invalidated codes moved to another page", moved, n)
	}
}
