package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// testDeviceGrants covers the device authorization grant's rows: lookup by
// either code, a decision only while pending and unexpired, polls recorded
// only over the poll they saw, and one use of an approved grant however
// many requests race for it.
func testDeviceGrants(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	g := store.DeviceGrant{
		DeviceCodeHash: "dev-hash-1", UserCodeHash: "user-hash-1", ClientID: "tv",
		Scopes: []string{"openid", "offline_access"}, Audience: []string{"api"},
		RequestedAt: now, Interval: 5 * time.Second, CodeExpiresAt: now.Add(10 * time.Minute),
	}
	if err := db.CreateDeviceGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateDeviceGrant(ctx, store.DeviceGrant{DeviceCodeHash: "dev-hash-2", UserCodeHash: "user-hash-1", ClientID: "tv", RequestedAt: now, CodeExpiresAt: now}); err == nil {
		t.Error("a second grant with the same user code was stored")
	}
	got, err := db.GetDeviceGrant(ctx, "dev-hash-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.DeviceStatusPending || got.ClientID != "tv" || !slices.Equal(got.Scopes, g.Scopes) || !slices.Equal(got.Audience, g.Audience) ||
		got.Interval != 5*time.Second || !got.LastPollAt.IsZero() || !got.CodeExpiresAt.Equal(g.CodeExpiresAt) ||
		!got.ExpiresAt.After(g.CodeExpiresAt) || !got.RequestedAt.Equal(now) || got.Username != "" {
		t.Fatalf("stored grant: %+v", got)
	}
	if byUser, err := db.GetDeviceGrantByUserCode(ctx, "user-hash-1"); err != nil || byUser.DeviceCodeHash != "dev-hash-1" {
		t.Fatalf("by user code: %+v %v", byUser, err)
	}
	for _, missing := range []func() error{
		func() error { _, err := db.GetDeviceGrant(ctx, "nope"); return err },
		func() error { _, err := db.GetDeviceGrantByUserCode(ctx, "nope"); return err },
	} {
		if err := missing(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown code: %v", err)
		}
	}

	// Polls: recorded only over the poll they saw.
	if ok, err := db.PollDeviceGrant(ctx, "dev-hash-1", time.Time{}, now.Add(time.Second), 5*time.Second); err != nil || !ok {
		t.Fatalf("first poll: %v %v", ok, err)
	}
	if ok, err := db.PollDeviceGrant(ctx, "dev-hash-1", time.Time{}, now.Add(2*time.Second), 5*time.Second); err != nil || ok {
		t.Errorf("a poll over a stale last poll was recorded: %v %v", ok, err)
	}
	if ok, err := db.PollDeviceGrant(ctx, "dev-hash-1", now.Add(time.Second), now.Add(3*time.Second), 10*time.Second); err != nil || !ok {
		t.Fatalf("second poll: %v %v", ok, err)
	}
	got, _ = db.GetDeviceGrant(ctx, "dev-hash-1")
	if !got.LastPollAt.Equal(now.Add(3*time.Second)) || got.Interval != 10*time.Second {
		t.Errorf("after polls: %+v", got)
	}

	// Nothing to use before the decision; no decision once expired.
	if ok, err := db.UseDeviceGrant(ctx, "dev-hash-1"); err != nil || ok {
		t.Errorf("a pending grant was used: %v %v", ok, err)
	}
	if ok, err := db.DecideDeviceGrant(ctx, "user-hash-1", store.DeviceStatusApproved, "alice", now, []string{"pwd", "otp"}, now.Add(11*time.Minute)); err != nil || ok {
		t.Errorf("an expired grant was approved: %v %v", ok, err)
	}
	if _, err := db.DecideDeviceGrant(ctx, "user-hash-1", store.DeviceStatusUsed, "alice", now, nil, now); err == nil {
		t.Error("decided a status that is not a decision")
	}
	if ok, err := db.DecideDeviceGrant(ctx, "user-hash-1", store.DeviceStatusApproved, "alice", now, []string{"pwd", "otp"}, now); err != nil || !ok {
		t.Fatalf("approve: %v %v", ok, err)
	}
	if ok, err := db.DecideDeviceGrant(ctx, "user-hash-1", store.DeviceStatusDenied, "bob", now, nil, now); err != nil || ok {
		t.Errorf("a decided grant was decided again: %v %v", ok, err)
	}
	got, _ = db.GetDeviceGrant(ctx, "dev-hash-1")
	if got.Status != store.DeviceStatusApproved || got.Username != "alice" || !slices.Equal(got.AMR, []string{"pwd", "otp"}) || !got.AuthTime.Equal(now) {
		t.Errorf("approved grant: %+v", got)
	}

	// Concurrent token requests: exactly one uses it.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := db.UseDeviceGrant(ctx, "dev-hash-1"); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d requests used the grant, want 1", wins.Load())
	}
	if got, _ := db.GetDeviceGrant(ctx, "dev-hash-1"); got.Status != store.DeviceStatusUsed {
		t.Errorf("status after use: %s", got.Status)
	}

	// Collected only after its tail.
	if _, err := db.DeleteExpired(ctx, now.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetDeviceGrant(ctx, "dev-hash-1"); err != nil {
		t.Errorf("collected right after its codes expired: %v", err)
	}
	if _, err := db.DeleteExpired(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetDeviceGrant(ctx, "dev-hash-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("not collected: %v", err)
	}
}
