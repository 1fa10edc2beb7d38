package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testTransactions(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()

	t.Run("rollback discards", func(t *testing.T) {
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CreateAccessTokenSession(tx, "rolled-back", newTestRequest("r-rb")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.GetAccessTokenSession(tx, "rolled-back", newSession()); err != nil {
			t.Fatalf("read own write in transaction: %v", err)
		}
		if err := f.Rollback(tx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.GetAccessTokenSession(ctx, "rolled-back", newSession()); !isNotFound(err) {
			t.Fatalf("after rollback: err = %v, want not found", err)
		}
		if err := f.Rollback(tx); err != nil {
			t.Errorf("second rollback: %v", err)
		}
	})

	t.Run("commit keeps", func(t *testing.T) {
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.CreateAccessTokenSession(tx, "committed", newTestRequest("r-c")); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(tx); err != nil {
			t.Fatal(err)
		}
		if err := f.Rollback(tx); err != nil {
			t.Errorf("rollback after commit: %v", err)
		}
		if _, err := f.GetAccessTokenSession(ctx, "committed", newSession()); err != nil {
			t.Fatalf("after commit: %v", err)
		}
	})

	t.Run("misuse", func(t *testing.T) {
		if err := f.Commit(ctx); err == nil {
			t.Error("Commit without transaction succeeded")
		}
		if err := f.Rollback(ctx); err == nil {
			t.Error("Rollback without transaction succeeded")
		}
		tx, err := f.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = f.Rollback(tx) }() // only ends the test's transaction
		if _, err := f.BeginTX(tx); err == nil {
			t.Error("nested BeginTX succeeded")
		}
	})

	t.Run("cancelled context releases the writer", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		if _, err := f.BeginTX(cctx); err != nil {
			t.Fatal(err)
		}
		cancel() // abandoned: never committed nor rolled back
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := f.CreateAccessTokenSession(wctx, "after-abandoned", newTestRequest("r-ab")); err != nil {
			t.Fatalf("write after abandoned transaction: %v", err)
		}
	})
}

// TestConcurrentWriters checks that transactions and single writes from many
// goroutines neither deadlock nor fail with SQLITE_BUSY.
func testConcurrentWriters(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for j := range 5 {
				sig := "w-" + string(rune('a'+i)) + "-" + string(rune('a'+j))
				if i%2 == 0 {
					errs <- f.CreateAccessTokenSession(ctx, sig, newTestRequest(sig))
					continue
				}
				tx, err := f.BeginTX(ctx)
				if err != nil {
					errs <- err
					continue
				}
				if err := f.CreateRefreshTokenSession(tx, sig, "a-"+sig, newTestRequest(sig)); err != nil {
					_ = f.Rollback(tx)
					errs <- err
					continue
				}
				errs <- f.Commit(tx)
			}
		})
	}
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func testDeleteExpired(t *testing.T, db *store.DB) {
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	now := time.Now()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)

	noExpiry := func(id string) *fosite.Request {
		r := newTestRequest(id)
		r.Session = newSession() // no expiry at all: kept
		return r
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetClientAssertionJWT(ctx, "jti-new", future)) // before jti-old: inserting sweeps expired JTIs
	// Expired: 7 rows.
	must(f.CreateAuthorizeCodeSession(ctx, "code-old", withExpiry("1", fosite.AuthorizeCode, past)))
	must(f.CreateAccessTokenSession(ctx, "at-old", withExpiry("2", fosite.AccessToken, past)))
	must(f.CreateRefreshTokenSession(ctx, "rt-old", "at-old", withExpiry("3", fosite.RefreshToken, past)))
	must(f.CreatePKCERequestSession(ctx, "pkce-old", withExpiry("4", fosite.AuthorizeCode, past)))
	must(f.CreateOpenIDConnectSession(ctx, "oidc-old", withExpiry("5", fosite.AuthorizeCode, past)))
	must(f.SetClientAssertionJWT(ctx, "jti-old", past))
	must(db.CreateLoginSession(ctx, store.LoginSession{ID: "ls-old", Username: "alice", ExpiresAt: past}))
	// Kept.
	must(f.CreateAuthorizeCodeSession(ctx, "code-new", withExpiry("6", fosite.AuthorizeCode, future)))
	must(f.CreateAccessTokenSession(ctx, "at-new", withExpiry("7", fosite.AccessToken, future)))
	must(f.CreateRefreshTokenSession(ctx, "rt-inactive", "at-new", withExpiry("8", fosite.RefreshToken, future)))
	must(f.RevokeRefreshToken(ctx, "8"))
	must(f.CreateRefreshTokenSession(ctx, "rt-forever", "at-new", noExpiry("9")))
	must(db.CreateLoginSession(ctx, store.LoginSession{ID: "ls-new", Username: "alice", ExpiresAt: future}))
	must(f.CreatePARSession(ctx, "urn:par:new", newTestAuthorizeRequest("10")))

	n, err := db.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("DeleteExpired removed %d rows, want 7", n)
	}
	for _, tc := range []struct {
		name string
		get  func() error
		gone bool
	}{
		{"old code", func() error { _, err := f.GetAuthorizeCodeSession(ctx, "code-old", newSession()); return err }, true},
		{"old access", func() error { _, err := f.GetAccessTokenSession(ctx, "at-old", newSession()); return err }, true},
		{"old refresh", func() error { _, err := f.GetRefreshTokenSession(ctx, "rt-old", newSession()); return err }, true},
		{"old pkce", func() error { _, err := f.GetPKCERequestSession(ctx, "pkce-old", newSession()); return err }, true},
		{"old login", func() error { _, err := db.GetLoginSession(ctx, "ls-old", past.Add(-time.Hour)); return err }, true},
		{"new code", func() error { _, err := f.GetAuthorizeCodeSession(ctx, "code-new", newSession()); return err }, false},
		{"new access", func() error { _, err := f.GetAccessTokenSession(ctx, "at-new", newSession()); return err }, false},
		{"inactive refresh kept for reuse detection", func() error {
			_, err := f.GetRefreshTokenSession(ctx, "rt-inactive", newSession())
			if isInactive(err) {
				return nil
			}
			return err
		}, false},
		{"refresh without expiry", func() error { _, err := f.GetRefreshTokenSession(ctx, "rt-forever", newSession()); return err }, false},
		{"new jti", func() error {
			if err := f.ClientAssertionJWTValid(ctx, "jti-new"); err != fosite.ErrJTIKnown {
				return err
			}
			return nil
		}, false},
		{"new login", func() error { _, err := db.GetLoginSession(ctx, "ls-new", now); return err }, false},
		{"new par", func() error { _, err := f.GetPARSession(ctx, "urn:par:new"); return err }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.get()
			if tc.gone && !isNotFound(err) {
				t.Errorf("err = %v, want not found", err)
			}
			if !tc.gone && err != nil {
				t.Errorf("err = %v, want kept", err)
			}
		})
	}
}
