package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testRecoveryCodes(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	count := func(t *testing.T, user string, want int) {
		t.Helper()
		if n, err := db.CountRecoveryCodes(ctx, user); err != nil || n != want {
			t.Fatalf("CountRecoveryCodes(%q) = %d, %v; want %d", user, n, err, want)
		}
	}
	use := func(t *testing.T, user, hash string, want bool) {
		t.Helper()
		if ok, err := db.UseRecoveryCode(ctx, user, hash); err != nil || ok != want {
			t.Fatalf("UseRecoveryCode(%q, %q) = %v, %v; want %v", user, hash, ok, err, want)
		}
	}

	if err := db.ReplaceRecoveryCodes(ctx, "", []string{"h"}, now); err == nil {
		t.Error("empty username accepted")
	}
	if err := db.ReplaceRecoveryCodes(ctx, "alice", []string{"h1", ""}, now); err == nil {
		t.Error("empty hash accepted")
	}
	count(t, "alice", 0)
	if err := db.ReplaceRecoveryCodes(ctx, "alice", []string{"a1", "a2", "a3"}, now); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceRecoveryCodes(ctx, "bob", []string{"a1"}, now); err != nil {
		t.Fatal(err)
	}
	count(t, "alice", 3)
	use(t, "alice", "a2", true)
	use(t, "alice", "a2", false) // once only
	use(t, "alice", "zz", false)
	use(t, "carol", "a1", false) // another user's code
	count(t, "alice", 2)
	count(t, "bob", 1)

	// Replacing drops the old codes.
	if err := db.ReplaceRecoveryCodes(ctx, "alice", []string{"b1", "b2"}, now); err != nil {
		t.Fatal(err)
	}
	use(t, "alice", "a1", false)
	count(t, "alice", 2)

	// Of concurrent uses of one code exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.UseRecoveryCode(ctx, "alice", "b1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d concurrent uses won, want 1", n)
	}

	if err := db.DeleteRecoveryCodes(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	count(t, "alice", 0)
	count(t, "bob", 1)
	if err := db.DeleteRecoveryCodes(ctx, "nobody"); err != nil {
		t.Error(fmt.Errorf("deleting nothing: %w", err))
	}
}
