package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// wantRecoveryCodes fails the test unless user has want unused recovery codes.
func wantRecoveryCodes(t *testing.T, db *store.DB, user string, want int) {
	t.Helper()
	if n, err := db.CountRecoveryCodes(context.Background(), user); err != nil || n != want {
		t.Fatalf("CountRecoveryCodes(%q) = %d, %v; want %d", user, n, err, want)
	}
}

func testRecoveryCodes(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	count := func(t *testing.T, user string, want int) {
		t.Helper()
		wantRecoveryCodes(t, db, user, want)
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

// testRecoveryCodeHygiene: removing a user's last second factor (TOTP or
// passkeys, one by one or all at once) drops their unused recovery codes;
// removing one of several keeps them.
func testRecoveryCodeHygiene(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	count := func(t *testing.T, user string, want int) {
		t.Helper()
		wantRecoveryCodes(t, db, user, want)
	}
	codes := func(t *testing.T, user string) {
		t.Helper()
		if err := db.ReplaceRecoveryCodes(ctx, user, []string{user + "-1", user + "-2"}, now); err != nil {
			t.Fatal(err)
		}
	}
	passkey := func(t *testing.T, user, id string) {
		t.Helper()
		if err := db.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: id, Username: user, Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	totp := func(t *testing.T, user string, confirmed bool) {
		t.Helper()
		if err := db.PutTOTPSecret(ctx, store.TOTPSecret{Username: user, Sealed: "x", Confirmed: confirmed, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("TOTPThenPasskey", func(t *testing.T) {
		totp(t, "alice", true)
		passkey(t, "alice", "alice-1")
		codes(t, "alice")
		codes(t, "other") // someone else's codes stay throughout
		if err := db.DeleteTOTPSecret(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		count(t, "alice", 2) // the passkey is left
		if err := db.DeleteWebAuthnCredential(ctx, "alice", "alice-1"); err != nil {
			t.Fatal(err)
		}
		count(t, "alice", 0)
		count(t, "other", 2)
	})
	t.Run("PasskeysOneByOne", func(t *testing.T) {
		passkey(t, "bob", "bob-1")
		passkey(t, "bob", "bob-2")
		codes(t, "bob")
		if err := db.DeleteWebAuthnCredential(ctx, "bob", "bob-1"); err != nil {
			t.Fatal(err)
		}
		count(t, "bob", 2)
		// A failed removal (not bob's) changes nothing.
		if err := db.DeleteWebAuthnCredential(ctx, "bob", "alice-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("removing a missing passkey: err = %v, want store.ErrNotFound", err)
		}
		count(t, "bob", 2)
		if err := db.DeleteWebAuthnCredential(ctx, "bob", "bob-2"); err != nil {
			t.Fatal(err)
		}
		count(t, "bob", 0)
	})
	t.Run("AllPasskeysTOTPLeft", func(t *testing.T) {
		passkey(t, "carol", "carol-1")
		passkey(t, "carol", "carol-2")
		totp(t, "carol", true)
		codes(t, "carol")
		if n, err := db.DeleteWebAuthnCredentialsOfUser(ctx, "carol"); err != nil || n != 2 {
			t.Fatalf("DeleteWebAuthnCredentialsOfUser = %d, %v; want 2", n, err)
		}
		count(t, "carol", 2) // the authenticator app is left
		if err := db.DeleteTOTPSecret(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		count(t, "carol", 0)
	})
	t.Run("AllPasskeysOnlyUnconfirmedTOTP", func(t *testing.T) {
		passkey(t, "dave", "dave-1")
		totp(t, "dave", false) // an enrolment never confirmed is no second factor
		codes(t, "dave")
		if _, err := db.DeleteWebAuthnCredentialsOfUser(ctx, "dave"); err != nil {
			t.Fatal(err)
		}
		count(t, "dave", 0)
	})
}
