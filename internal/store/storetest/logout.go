package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// testLogoutSessions: a login session has a sid; the clients that took part
// in it come back, once, when it ends (one session, one of a user's, all of
// a user's); a session whose sid a re-login carried over has nobody to
// tell.
func testLogoutSessions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(id, user, sid string) store.LoginSession {
		s := store.LoginSession{ID: id, Username: user, AuthTime: now.Truncate(time.Second), AMR: []string{"pwd"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), SID: sid}
		if err := db.CreateLoginSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetLoginSession(ctx, id, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.SID == "" || got.SID == id || (sid != "" && got.SID != sid) {
			t.Fatalf("sid of %s = %q", id, got.SID)
		}
		return *got
	}
	add := func(s store.LoginSession, clients ...string) {
		for _, c := range clients {
			for range 2 { // twice: not an error
				if err := db.AddSessionClient(ctx, s.SID, c, now, s.ExpiresAt); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	laptop := mk("alice-laptop", "alice", "")
	phone := mk("alice-phone", "alice", "")
	tablet := mk("alice-tablet", "alice", "")
	bob := mk("bob-laptop", "bob", "")
	if laptop.SID == phone.SID {
		t.Fatal("two sessions share a sid")
	}
	add(laptop, "grafana", "immich")
	add(phone, "immich")
	add(bob, "grafana")

	// One session by cookie.
	ended, err := db.EndLoginSession(ctx, "alice-laptop")
	if err != nil || ended == nil {
		t.Fatalf("EndLoginSession = %v, %v", ended, err)
	}
	if ended.SID != laptop.SID || ended.Username != "alice" || !slices.Equal(ended.Clients, []string{"grafana", "immich"}) {
		t.Errorf("ended %+v", ended)
	}
	if _, err := db.GetLoginSession(ctx, "alice-laptop", now); err == nil {
		t.Error("the ended session still works")
	}
	if again, err := db.EndLoginSession(ctx, "alice-laptop"); err != nil || again != nil {
		t.Errorf("ending it again = %v, %v; want nil, nil", again, err)
	}

	// A re-login carrying the sid over: the old row goes, nobody is told.
	if err := db.DeleteLoginSession(ctx, "alice-tablet"); err != nil {
		t.Fatal(err)
	}
	add(tablet, "nextcloud")
	relogin := mk("alice-tablet-2", "alice", tablet.SID)
	if c, err := db.SessionClients(ctx, relogin.SID); err != nil || !slices.Equal(c, []string{"nextcloud"}) {
		t.Errorf("clients after a re-login = %v, %v", c, err)
	}

	// One of a user's by handle, then all.
	list, err := db.ListLoginSessions(ctx, "alice", now)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListLoginSessions = %v, %v", list, err)
	}
	for _, l := range list {
		if s, _ := db.EndLoginSessions(ctx, "bob", l.Handle); len(s) != 0 {
			t.Error("ended another user's session by handle")
		}
	}
	all, err := db.EndLoginSessions(ctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, e := range all {
		if e.Username != "alice" {
			t.Errorf("ended %+v", e)
		}
		got[e.SID] = e.Clients
	}
	if len(all) != 2 || !slices.Equal(got[phone.SID], []string{"immich"}) || !slices.Equal(got[relogin.SID], []string{"nextcloud"}) {
		t.Errorf("EndLoginSessions(alice) = %+v", all)
	}
	if c, err := db.SessionClients(ctx, phone.SID); err != nil || len(c) != 0 {
		t.Errorf("clients of an ended session = %v, %v", c, err)
	}
	// bob's one, by handle.
	bl, err := db.ListLoginSessions(ctx, "bob", now)
	if err != nil || len(bl) != 1 {
		t.Fatal(bl, err)
	}
	one, err := db.EndLoginSessions(ctx, "bob", bl[0].Handle)
	if err != nil || len(one) != 1 || one[0].SID != bob.SID || !slices.Equal(one[0].Clients, []string{"grafana"}) {
		t.Errorf("EndLoginSessions(bob, handle) = %+v, %v", one, err)
	}
}
