package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// testAdminLoginSessions: operators list a user's sessions by handle and end
// one or all of them; the cookie of an ended session no longer works.
func testAdminLoginSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(id, user string, created time.Time, expires time.Duration) store.LoginSession {
		return store.LoginSession{ID: id, Username: user, AuthTime: created.Truncate(time.Second), AMR: []string{"pwd"},
			CreatedAt: created, ExpiresAt: now.Add(expires)}
	}
	sessions := []store.LoginSession{
		mk("alice-laptop", "alice", now.Add(-2*time.Hour), time.Hour),
		mk("alice-phone", "alice", now.Add(-time.Hour), time.Hour),
		mk("alice-expired", "alice", now.Add(-3*time.Hour), -time.Minute),
		mk("bob-laptop", "bob", now.Add(-time.Hour), time.Hour),
	}
	for _, s := range sessions {
		if err := db.CreateLoginSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	list, err := db.ListLoginSessions(ctx, "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].CreatedAt.Equal(sessions[0].CreatedAt) || !list[1].CreatedAt.Equal(sessions[1].CreatedAt) {
		t.Fatalf("ListLoginSessions(alice) = %+v, want the laptop then the phone session", list)
	}
	for _, s := range list {
		if s.Handle == "" || s.Handle == "alice-laptop" || s.Handle == "alice-phone" || s.Username != "alice" || !slices.Equal(s.AMR, []string{"pwd"}) {
			t.Errorf("listed session %+v: want a handle that is not the cookie, and the session's fields", s)
		}
	}
	if n, err := db.CountLoginSessions(ctx, now); err != nil || n != 3 {
		t.Errorf("CountLoginSessions = %d, %v; want 3 (the expired one left out)", n, err)
	}

	// A handle of another user's session ends nothing.
	if n, err := db.RevokeLoginSessions(ctx, "bob", list[0].Handle); err != nil || n != 0 {
		t.Errorf("revoking alice's session as bob's: %d, %v; want 0", n, err)
	}
	if n, err := db.RevokeLoginSessions(ctx, "alice", list[0].Handle); err != nil || n != 1 {
		t.Fatalf("revoke one: %d, %v", n, err)
	}
	if _, err := db.GetLoginSession(ctx, "alice-laptop", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked session still loads: %v", err)
	}
	if _, err := db.GetLoginSession(ctx, "alice-phone", now); err != nil {
		t.Errorf("the other session was ended too: %v", err)
	}
	if n, err := db.RevokeLoginSessions(ctx, "alice", ""); err != nil || n != 2 { // the phone and the expired one
		t.Fatalf("revoke all: %d, %v; want 2", n, err)
	}
	if list, _ := db.ListLoginSessions(ctx, "alice", now); len(list) != 0 {
		t.Errorf("sessions left after revoking all: %+v", list)
	}
	if _, err := db.GetLoginSession(ctx, "bob-laptop", now); err != nil {
		t.Errorf("bob's session was ended: %v", err)
	}
}

// testAdminConsents: revoking one client's consent, then all of a user's.
func testAdminConsents(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()
	for _, c := range []store.Consent{
		{Username: "alice", ClientID: "a", GrantedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Username: "alice", ClientID: "b", GrantedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Username: "alice", ClientID: "c", GrantedAt: now, ExpiresAt: now.Add(time.Hour)},
		{Username: "bob", ClientID: "a", GrantedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := db.PutConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.RevokeConsents(ctx, "alice", "a"); err != nil || n != 1 {
		t.Fatalf("revoke one: %d, %v", n, err)
	}
	if list, _ := db.ListConsents(ctx, "alice", now); len(list) != 2 || list[0].ClientID != "b" {
		t.Errorf("after revoking a: %+v", list)
	}
	if n, err := db.RevokeConsents(ctx, "alice", ""); err != nil || n != 2 {
		t.Fatalf("revoke all: %d, %v", n, err)
	}
	if list, _ := db.ListConsents(ctx, "bob", now); len(list) != 1 {
		t.Errorf("bob's consent was revoked too: %+v", list)
	}
}

// testRevokeClientGrants: every code, access and refresh token of one client
// stops working; another client's keep working.
func testRevokeClientGrants(t *testing.T, db *store.DB) {
	ctx := context.Background()
	f := store.NewFosite(db, Clients("c", "other"))
	req := func(client, id string) *fosite.Request {
		r := newTestRequest(id)
		r.Client = &fosite.DefaultClient{ID: client}
		return r
	}
	for _, client := range []string{"c", "other"} {
		r := req(client, client+"-grant")
		if err := f.CreateAuthorizeCodeSession(ctx, client+"-code", r); err != nil {
			t.Fatal(err)
		}
		if err := f.CreateAccessTokenSession(ctx, client+"-access", r); err != nil {
			t.Fatal(err)
		}
		if err := f.CreateRefreshTokenSession(ctx, client+"-refresh", client+"-access", r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.RevokeClientGrants(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if got.Codes != 1 || got.AccessTokens != 1 || got.RefreshTokens != 1 {
		t.Errorf("RevokeClientGrants = %+v, want one of each", got)
	}
	if _, err := f.GetAuthorizeCodeSession(ctx, "c-code", newSession()); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		t.Errorf("code after revocation: %v, want fosite.ErrInvalidatedAuthorizeCode", err)
	}
	if _, err := f.GetAccessTokenSession(ctx, "c-access", newSession()); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("access token after revocation: %v, want fosite.ErrNotFound", err)
	}
	if _, err := f.GetRefreshTokenSession(ctx, "c-refresh", newSession()); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Errorf("refresh token after revocation: %v, want fosite.ErrInactiveToken", err)
	}
	if _, err := f.GetAccessTokenSession(ctx, "other-access", newSession()); err != nil {
		t.Errorf("another client's access token: %v", err)
	}
	if _, err := f.GetRefreshTokenSession(ctx, "other-refresh", newSession()); err != nil {
		t.Errorf("another client's refresh token: %v", err)
	}
	if again, err := db.RevokeClientGrants(ctx, "c"); err != nil || again != (store.RevokedGrants{}) {
		t.Errorf("revoking again = %+v, %v; want nothing left to revoke", again, err)
	}
}
