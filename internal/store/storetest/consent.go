package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testConsent(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	c := store.Consent{Username: "alice", ClientID: "immich", Scopes: []string{"openid", "email"}, Audience: []string{"immich"}, GrantedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.PutConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetConsent(ctx, "alice", "immich", now)
	if err != nil || !slices.Equal(got.Scopes, c.Scopes) || !slices.Equal(got.Audience, c.Audience) {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := db.GetConsent(ctx, "bob", "immich", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's consent: %v", err)
	}
	if _, err := db.GetConsent(ctx, "alice", "immich", now.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired consent: %v", err)
	}
	c.Scopes = []string{"openid"}
	if err := db.PutConsent(ctx, c); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListConsents(ctx, "alice", now)
	if err != nil || len(list) != 1 || !slices.Equal(list[0].Scopes, []string{"openid"}) {
		t.Fatalf("list after replace: %+v %v", list, err)
	}
	if err := db.DeleteConsent(ctx, "alice", "immich"); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.ListConsents(ctx, "alice", now); len(list) != 0 {
		t.Errorf("revoked consent still listed: %+v", list)
	}
}

func testLoginSessionInactivityFields(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	s := store.LoginSession{ID: "cookie-value-1234567890", Username: "alice", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), RememberMe: true}
	if err := db.CreateLoginSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetLoginSession(ctx, s.ID, now)
	if err != nil || !got.RememberMe || !got.LastSeenAt.Equal(now) {
		t.Fatalf("created: %+v %v", got, err)
	}
	later := now.Add(10 * time.Minute)
	if err := db.TouchLoginSession(ctx, s.ID, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetLoginSession(ctx, s.ID, now); !got.LastSeenAt.Equal(later) {
		t.Errorf("last seen = %v, want %v", got.LastSeenAt, later)
	}
}
