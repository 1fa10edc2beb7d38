package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testTOTPSecret(t *testing.T, db *store.DB) {
	ctx := context.Background()
	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	get := func(t *testing.T, user string) *store.TOTPSecret {
		t.Helper()
		s, err := db.GetTOTPSecret(ctx, user)
		if err != nil {
			t.Fatalf("GetTOTPSecret(%q): %v", user, err)
		}
		return s
	}

	t.Run("not found", func(t *testing.T) {
		if _, err := db.GetTOTPSecret(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("err = %v, want store.ErrNotFound", err)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, s := range []store.TOTPSecret{{Sealed: "x"}, {Username: "alice"}} {
			if err := db.PutTOTPSecret(ctx, s); err == nil {
				t.Errorf("PutTOTPSecret(%+v) accepted", s)
			}
		}
	})

	t.Run("put and get", func(t *testing.T) {
		want := store.TOTPSecret{Username: "alice", Sealed: "v1.sealed-1", CreatedAt: created}
		if err := db.PutTOTPSecret(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "alice"); *got != want {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
	})

	t.Run("created at defaults to now", func(t *testing.T) {
		before := time.Now()
		if err := db.PutTOTPSecret(ctx, store.TOTPSecret{Username: "dave", Sealed: "s"}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "dave").CreatedAt; got.Before(before.Add(-time.Second)) || got.After(time.Now()) {
			t.Errorf("CreatedAt = %v, want about now", got)
		}
	})

	t.Run("advance before confirmation", func(t *testing.T) {
		ok, err := db.AdvanceTOTPStep(ctx, "alice", 100)
		if err != nil || ok {
			t.Fatalf("AdvanceTOTPStep on unconfirmed = %v, %v; want false", ok, err)
		}
	})

	t.Run("confirm", func(t *testing.T) {
		if err := db.ConfirmTOTPSecret(ctx, "alice", 100); err != nil {
			t.Fatal(err)
		}
		got := get(t, "alice")
		if !got.Confirmed || got.LastStep != 100 {
			t.Fatalf("after confirm: %+v", got)
		}
		// Only an unconfirmed secret can be confirmed.
		if err := db.ConfirmTOTPSecret(ctx, "alice", 200); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second confirm: err = %v, want store.ErrNotFound", err)
		}
		if err := db.ConfirmTOTPSecret(ctx, "nobody", 1); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("confirm unknown: err = %v, want store.ErrNotFound", err)
		}
	})

	for _, tc := range []struct {
		name string
		user string
		step int64
		want bool
		last int64
	}{
		{"step already used at confirmation", "alice", 100, false, 100},
		{"earlier step", "alice", 99, false, 100},
		{"later step", "alice", 101, true, 101},
		{"same step again", "alice", 101, false, 101},
		{"much later step", "alice", 150, true, 150},
		{"step before the latest", "alice", 149, false, 150},
		{"unknown user", "nobody", 1000, false, 0},
	} {
		t.Run("advance/"+tc.name, func(t *testing.T) {
			ok, err := db.AdvanceTOTPStep(ctx, tc.user, tc.step)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Errorf("AdvanceTOTPStep(%q, %d) = %v, want %v", tc.user, tc.step, ok, tc.want)
			}
			if tc.user != "nobody" {
				if got := get(t, tc.user).LastStep; got != tc.last {
					t.Errorf("LastStep = %d, want %d", got, tc.last)
				}
			}
		})
	}

	t.Run("concurrent advance of one step", func(t *testing.T) {
		const n = 8
		var wins atomic.Int32
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				ok, err := db.AdvanceTOTPStep(ctx, "alice", 200)
				errs[i] = err
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if wins.Load() != 1 {
			t.Fatalf("%d calls advanced to the same step, want exactly 1", wins.Load())
		}
	})

	t.Run("re-enrolment replaces a confirmed secret", func(t *testing.T) {
		want := store.TOTPSecret{Username: "alice", Sealed: "v1.sealed-2", CreatedAt: created.Add(time.Hour)}
		if err := db.PutTOTPSecret(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "alice"); *got != want {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
	})

	t.Run("put confirmed", func(t *testing.T) {
		want := store.TOTPSecret{Username: "bob", Sealed: "v1.b", Confirmed: true, LastStep: 7, CreatedAt: created}
		if err := db.PutTOTPSecret(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "bob"); *got != want {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := db.DeleteTOTPSecret(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetTOTPSecret(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: err = %v, want store.ErrNotFound", err)
		}
		if err := db.DeleteTOTPSecret(ctx, "bob"); err != nil {
			t.Fatalf("deleting again: %v", err)
		}
		if get(t, "alice").Sealed != "v1.sealed-2" {
			t.Error("deleting bob's secret touched alice's")
		}
	})

	t.Run("inside a transaction", func(t *testing.T) {
		tctx, err := db.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PutTOTPSecret(tctx, store.TOTPSecret{Username: "carol", Sealed: "c"}); err != nil {
			t.Fatal(err)
		}
		if err := db.Rollback(tctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.GetTOTPSecret(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled back put is visible: err = %v", err)
		}
	})
}
