package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testWebAuthnCredentials(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	a1 := store.WebAuthnCredential{ID: "cred-a1", Username: "alice", Name: "Laptop", Data: []byte(`{"n":1}`), CreatedAt: now.Add(-2 * time.Minute)}
	a2 := store.WebAuthnCredential{ID: "cred-a2", Username: "alice", Name: "Phone", Data: []byte(`{"n":2}`), CreatedAt: now.Add(-time.Minute)}
	b1 := store.WebAuthnCredential{ID: "cred-b1", Username: "bob", Name: "Key", Data: []byte(`{"n":3}`), CreatedAt: now}
	for _, c := range []store.WebAuthnCredential{a2, a1, b1} {
		if err := db.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatalf("create %s: %v", c.ID, err)
		}
	}
	dup := b1
	dup.Username = "alice"
	if err := db.CreateWebAuthnCredential(ctx, dup); !errors.Is(err, store.ErrWebAuthnCredentialExists) {
		t.Fatalf("duplicate id: err = %v, want store.ErrWebAuthnCredentialExists", err)
	}
	for _, bad := range []store.WebAuthnCredential{{Username: "x", Data: []byte("{}")}, {ID: "x", Data: []byte("{}")}, {ID: "x", Username: "x"}} {
		if err := db.CreateWebAuthnCredential(ctx, bad); err == nil {
			t.Errorf("create %+v: want an error", bad)
		}
	}

	list, err := db.WebAuthnCredentials(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "cred-a1" || list[1].ID != "cred-a2" {
		t.Fatalf("alice's credentials = %+v, want a1, a2 (oldest first)", list)
	}
	if !list[0].CreatedAt.Equal(a1.CreatedAt) || !list[0].LastUsedAt.IsZero() || list[0].Name != "Laptop" || string(list[0].Data) != `{"n":1}` {
		t.Errorf("a1 = %+v", list[0])
	}
	if none, err := db.WebAuthnCredentials(ctx, "nobody"); err != nil || len(none) != 0 {
		t.Errorf("nobody's credentials = %v, %v", none, err)
	}
	if n, err := db.CountWebAuthnCredentials(ctx, "alice"); err != nil || n != 2 {
		t.Errorf("count = %d, %v; want 2", n, err)
	}

	// Use: compare-and-swap on the record.
	used := now.Add(time.Second)
	if err := db.UseWebAuthnCredential(ctx, "cred-a1", []byte(`{"n":1}`), []byte(`{"n":11}`), used); err != nil {
		t.Fatal(err)
	}
	if err := db.UseWebAuthnCredential(ctx, "cred-a1", []byte(`{"n":1}`), []byte(`{"n":12}`), used); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale use: err = %v, want store.ErrNotFound", err)
	}
	c, err := db.WebAuthnCredential(ctx, "cred-a1")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Data) != `{"n":11}` || !c.LastUsedAt.Equal(used) || c.Username != "alice" {
		t.Errorf("after use: %+v", c)
	}
	if _, err := db.WebAuthnCredential(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing credential: err = %v", err)
	}

	// Delete: only the owner's.
	if err := db.DeleteWebAuthnCredential(ctx, "alice", "cred-b1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleting bob's credential as alice: err = %v, want store.ErrNotFound", err)
	}
	if _, err := db.WebAuthnCredential(ctx, "cred-b1"); err != nil {
		t.Errorf("bob's credential is gone: %v", err)
	}
	if err := db.DeleteWebAuthnCredential(ctx, "alice", "cred-a2"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebAuthnCredential(ctx, "alice", "cred-a2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: err = %v, want store.ErrNotFound", err)
	}
	if n, err := db.DeleteWebAuthnCredentialsOfUser(ctx, "bob"); err != nil || n != 1 {
		t.Errorf("delete bob's: %d, %v", n, err)
	}
}

func testWebAuthnSecondFactor(t *testing.T, db *store.DB) {
	ctx := context.Background()
	check := func(user string, want bool) {
		t.Helper()
		if got, err := db.WebAuthnUserHasSecondFactor(ctx, user); err != nil || got != want {
			t.Errorf("WebAuthnUserHasSecondFactor(%q) = %v, %v; want %v", user, got, err, want)
		}
	}
	check("alice", false)
	if err := db.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "c", Username: "alice", Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	check("alice", true)
	// A TOTP secret counts once confirmed.
	if _, err := db.ExecContext(ctx, `INSERT INTO totp_secret (username, secret_sealed, confirmed, created_at) VALUES (?, ?, ?, ?)`, "bob", "x", false, 1); err != nil {
		t.Fatal(err)
	}
	check("bob", false)
	if _, err := db.ExecContext(ctx, `UPDATE totp_secret SET confirmed = ? WHERE username = ?`, true, "bob"); err != nil {
		t.Fatal(err)
	}
	check("bob", true)
}

func testWebAuthnUserHandle(t *testing.T, db *store.DB) {
	ctx := context.Background()

	// Concurrent first calls agree.
	var wg sync.WaitGroup
	handles := make([][]byte, 8)
	for i := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := db.WebAuthnUserHandle(ctx, "alice")
			if err != nil {
				t.Error(err)
			}
			handles[i] = h
		}()
	}
	wg.Wait()
	for _, h := range handles[1:] {
		if !bytes.Equal(h, handles[0]) {
			t.Fatalf("handles differ: %x vs %x", h, handles[0])
		}
	}
	if len(handles[0]) != 32 || bytes.Contains(handles[0], []byte("alice")) {
		t.Errorf("handle %x: want 32 random bytes", handles[0])
	}
	bob, err := db.WebAuthnUserHandle(ctx, "bob")
	if err != nil || bytes.Equal(bob, handles[0]) {
		t.Fatalf("bob's handle %x, %v", bob, err)
	}
	if u, err := db.WebAuthnUsername(ctx, handles[0]); err != nil || u != "alice" {
		t.Errorf("WebAuthnUsername(alice's) = %q, %v", u, err)
	}
	for _, h := range [][]byte{nil, []byte("unknown")} {
		if _, err := db.WebAuthnUsername(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WebAuthnUsername(%q): err = %v, want store.ErrNotFound", h, err)
		}
	}
	if _, err := db.WebAuthnUserHandle(ctx, ""); err == nil {
		t.Error("empty username: want an error")
	}
}

func testWebAuthnCeremony(t *testing.T, db *store.DB) {
	ctx := context.Background()
	now := time.Now()

	if err := db.PutWebAuthnCeremony(ctx, "id-1", []byte(`{"challenge":"x"}`), now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.PutWebAuthnCeremony(ctx, "", nil, now); err == nil {
		t.Error("empty id: want an error")
	}
	// The raw id is not stored.
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_ceremony WHERE id_hash = ?`, "id-1").Scan(&n); err != nil || n != 0 {
		t.Errorf("raw id stored: %d, %v", n, err)
	}

	data, err := db.TakeWebAuthnCeremony(ctx, "id-1", now)
	if err != nil || string(data) != `{"challenge":"x"}` {
		t.Fatalf("take = %q, %v", data, err)
	}
	if _, err := db.TakeWebAuthnCeremony(ctx, "id-1", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second take: err = %v, want store.ErrNotFound (single use)", err)
	}
	if _, err := db.TakeWebAuthnCeremony(ctx, "", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("empty id: err = %v", err)
	}

	// Expired: refused, and gone.
	if err := db.PutWebAuthnCeremony(ctx, "id-2", []byte(`{}`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TakeWebAuthnCeremony(ctx, "id-2", now.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired take: err = %v, want store.ErrNotFound", err)
	}
	if _, err := db.TakeWebAuthnCeremony(ctx, "id-2", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired ceremony still there: %v", err)
	}

	// Concurrent takers: exactly one wins.
	if err := db.PutWebAuthnCeremony(ctx, "id-3", []byte(`{}`), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.TakeWebAuthnCeremony(ctx, "id-3", now)
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent takes succeeded, want 1", wins)
	}

	// DeleteExpired sweeps ceremonies.
	if err := db.PutWebAuthnCeremony(ctx, "id-4", []byte(`{}`), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DeleteExpired(ctx, now); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webauthn_ceremony`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d ceremonies left after DeleteExpired, %v", n, err)
	}
}

func testWebAuthnRename(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, c := range []store.WebAuthnCredential{
		{ID: "cred-a", Username: "alice", Name: "Passkey", Data: []byte(`{"n":1}`)},
		{ID: "cred-b", Username: "bob", Name: "Key", Data: []byte(`{"n":2}`)},
	} {
		if err := db.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	name := func(id string) string {
		t.Helper()
		c, err := db.WebAuthnCredential(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Name
	}
	if err := db.RenameWebAuthnCredential(ctx, "alice", "cred-a", "Läptop 💻"); err != nil {
		t.Fatal(err)
	}
	if got := name("cred-a"); got != "Läptop 💻" {
		t.Errorf("after rename: name %q", got)
	}
	// The same name again is no miss (MySQL reports changed rows unless told otherwise).
	if err := db.RenameWebAuthnCredential(ctx, "alice", "cred-a", "Läptop 💻"); err != nil {
		t.Errorf("renaming to the same name: %v", err)
	}
	// Only the owner's credential.
	if err := db.RenameWebAuthnCredential(ctx, "alice", "cred-b", "Mine"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("renaming bob's credential as alice: err = %v, want store.ErrNotFound", err)
	}
	if got := name("cred-b"); got != "Key" {
		t.Errorf("bob's credential renamed to %q", got)
	}
	if err := db.RenameWebAuthnCredential(ctx, "alice", "missing", "X"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("renaming a missing credential: err = %v, want store.ErrNotFound", err)
	}
}
