package store_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// sqliteDatabase is a fresh SQLite file (in a subdirectory, so OpenSQLite
// has to create it); each call of the returned function opens one more
// handle on it, as another process would.
func sqliteDatabase(t *testing.T) func() (*store.DB, error) {
	path := filepath.Join(t.TempDir(), "data", "oidc.sqlite")
	return func() (*store.DB, error) {
		db, err := store.OpenSQLite(path)
		if err == nil {
			t.Cleanup(func() { _ = db.Close() })
		}
		return db, err
	}
}

func openSQLite(t *testing.T) *store.DB {
	db, err := sqliteDatabase(t)()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, openSQLite)
}

func TestSQLiteShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, sqliteDatabase)
}

func BenchmarkAccessToken(b *testing.B) {
	db, err := store.OpenSQLite(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	f := store.NewFosite(db, storetest.Clients("c"))
	ctx := context.Background()
	r := storetest.NewRequest("bench")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sig := "bench-" + strconv.Itoa(i)
		if err := f.CreateAccessTokenSession(ctx, sig, r); err != nil {
			b.Fatal(err)
		}
		if _, err := f.GetAccessTokenSession(ctx, sig, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetAccessToken(b *testing.B) {
	db, err := store.OpenSQLite(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	f := store.NewFosite(db, storetest.Clients("c"))
	ctx := context.Background()
	if err := f.CreateAccessTokenSession(ctx, "bench", storetest.NewRequest("bench")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.GetAccessTokenSession(ctx, "bench", nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
