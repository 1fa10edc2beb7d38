package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testLoginSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	alice := store.LoginSession{
		ID:        "cookie-value-alice",
		Username:  "alice",
		AuthTime:  now.Add(-time.Minute),
		AMR:       []string{"pwd"},
		CreatedAt: now.Add(-time.Minute),
		ExpiresAt: now.Add(time.Hour),
	}
	alice2 := alice
	alice2.ID = "cookie-value-alice-2"
	bob := store.LoginSession{ID: "cookie-value-bob", Username: "bob", ExpiresAt: now.Add(time.Hour)}
	for _, s := range []store.LoginSession{alice, alice2, bob} {
		if err := db.CreateLoginSession(ctx, s); err != nil {
			t.Fatalf("create %s: %v", s.ID, err)
		}
	}

	check := func(t *testing.T, id string, at time.Time, want *store.LoginSession) {
		t.Helper()
		got, err := db.GetLoginSession(ctx, id, at)
		if want == nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("GetLoginSession(%q) = %v, %v; want store.ErrNotFound", id, got, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("GetLoginSession(%q): %v", id, err)
		}
		if got.ID != want.ID || got.Username != want.Username || !got.AuthTime.Equal(want.AuthTime) ||
			!slices.Equal(got.AMR, want.AMR) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
			(!want.CreatedAt.IsZero() && !got.CreatedAt.Equal(want.CreatedAt)) {
			t.Errorf("GetLoginSession(%q) = %+v, want %+v", id, *got, *want)
		}
	}

	for _, tc := range []struct {
		name string
		id   string
		at   time.Time
		want *store.LoginSession
	}{
		{"valid", alice.ID, now, &alice},
		{"no auth time or amr", bob.ID, now, &bob},
		{"just before expiry", alice.ID, alice.ExpiresAt.Add(-time.Nanosecond), &alice},
		{"at expiry", alice.ID, alice.ExpiresAt, nil},
		{"after expiry", alice.ID, alice.ExpiresAt.Add(time.Second), nil},
		{"unknown", "nope", now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.id, tc.at, tc.want) })
	}

	t.Run("only the hash of the id is stored", func(t *testing.T) {
		var n int
		if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM login_session WHERE id_hash = ?", alice.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("raw cookie value stored")
		}
	})

	t.Run("duplicate id", func(t *testing.T) {
		if err := db.CreateLoginSession(ctx, alice); err == nil {
			t.Error("second create succeeded")
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, s := range []store.LoginSession{
			{Username: "x", ExpiresAt: now.Add(time.Hour)},
			{ID: "x", ExpiresAt: now.Add(time.Hour)},
			{ID: "x", Username: "x"},
		} {
			if err := db.CreateLoginSession(ctx, s); err == nil {
				t.Errorf("CreateLoginSession(%+v) succeeded", s)
			}
		}
	})

	t.Run("update (second factor)", func(t *testing.T) {
		upd := alice
		upd.AuthTime = now
		upd.AMR = []string{"pwd", "otp"}
		upd.ExpiresAt = now.Add(2 * time.Hour)
		if err := db.UpdateLoginSession(ctx, upd); err != nil {
			t.Fatal(err)
		}
		check(t, alice.ID, now.Add(90*time.Minute), &upd)
		missing := upd
		missing.ID = "nope"
		if err := db.UpdateLoginSession(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("update unknown: %v, want store.ErrNotFound", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := db.DeleteLoginSession(ctx, bob.ID); err != nil {
			t.Fatal(err)
		}
		check(t, bob.ID, now, nil)
		if err := db.DeleteLoginSession(ctx, bob.ID); err != nil {
			t.Errorf("deleting again: %v", err)
		}
	})

	t.Run("delete all of a user", func(t *testing.T) {
		carol := store.LoginSession{ID: "cookie-carol", Username: "carol", ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateLoginSession(ctx, carol); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteLoginSessionsOfUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		check(t, alice.ID, now, nil)
		check(t, alice2.ID, now, nil)
		check(t, carol.ID, now, &carol)
	})
}
