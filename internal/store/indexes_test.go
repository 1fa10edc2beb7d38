package store_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestGrantIndexes: on every backend the token tables carry the indexes
// their lookups need and no other (migration 10 dropped the refresh
// tokens' index on request_id alone), and where the plan can be asked
// for, revoking a grant's tokens goes through an index rather than a scan
// of every token ever rotated.
func TestGrantIndexes(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"oauth2_refresh": {"oauth2_refresh_active_request_id", "oauth2_refresh_expires_at"},
		"oauth2_access":  {"oauth2_access_expires_at", "oauth2_access_request_id"},
	}
	for _, backend := range []struct {
		name  string
		open  func(t *testing.T) *store.DB
		plans bool
	}{
		{"sqlite", openSQLite, true},
		{"postgres", func(t *testing.T) *store.DB { return storetest.Postgres(t).Open(t) }, true},
		{"mysql", func(t *testing.T) *store.DB { return storetest.MySQL(t).Open(t) }, false},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			db := backend.open(t)
			for table, names := range want {
				got, err := store.Indexes(db, table)
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if !slices.Equal(got, names) {
					t.Errorf("%s has the indexes %q, want %q", table, got, names)
				}
			}
			if !backend.plans {
				return
			}
			for _, tc := range []struct{ query, index string }{
				{store.SQLDeactivateRefreshOfRequest, "oauth2_refresh_active_request_id"},
				{store.SQLDeleteAccessOfRequest, "oauth2_access_request_id"},
			} {
				plan, err := store.QueryPlan(db, tc.query, "01a25032-56e8-73d1-93c9-88b21ac90eba")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(plan, tc.index) {
					t.Errorf("%s:\nplan %s\ndoes not use %s", tc.query, plan, tc.index)
				}
			}
		})
	}
}

// TestPostgresWithoutBitmapScans: every connection of the pool plans
// without bitmap scans, which would not mark the index entries of a
// grant's rotated tokens dead and so revisit them at every refresh
// (postgres.go). Queries held open together take connections of their own.
func TestPostgresWithoutBitmapScans(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t).Open(t)
	const n = 4
	settings := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = db.QueryRowContext(context.Background(),
				"SELECT current_setting('enable_bitmapscan') FROM pg_sleep(0.2)").Scan(&settings[i])
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if settings[i] != "off" {
			t.Errorf("query %d: enable_bitmapscan = %s, want off", i, settings[i])
		}
	}
}
