package store_test

import (
	"context"
	"testing"

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
