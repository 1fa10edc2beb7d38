package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// TestLazyMember (shared.go): on SQLite an authorization's transaction (a
// context of WithCodeBundle) holds the write gate only from its first
// statement; one that ran none writes its code through the group commit.
// One that did is a member like any other: rolled back whole, and given
// back when abandoned.
func TestLazyMember(t *testing.T) {
	t.Parallel()
	db := openSQLiteFile(t, filepath.Join(t.TempDir(), "oidc.db"), store.SQLiteOptions{})
	f := store.NewFosite(db, storetest.Clients("c"))
	bg := context.Background()
	found := func(sig string) bool {
		t.Helper()
		_, err := f.GetAuthorizeCodeSession(bg, sig, storetest.NewRequest("x").GetSession())
		if err != nil && !errors.Is(err, fosite.ErrNotFound) {
			t.Fatalf("read %s: %v", sig, err)
		}
		return err == nil
	}
	begin := func(ctx context.Context) context.Context {
		t.Helper()
		tx, err := f.BeginTX(store.WithCodeBundle(ctx))
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	code := func(tx context.Context, sig string) {
		t.Helper()
		if err := f.CreateAuthorizeCodeSession(tx, sig, storetest.NewRequest("req-"+sig)); err != nil {
			t.Fatal(err)
		}
	}

	// Open and holding its code, it holds no gate: another transaction
	// begins and commits meanwhile. Its commit is one group write.
	tx := begin(bg)
	code(tx, "code-alone")
	if store.WriteGateHeld(db) {
		_ = f.Rollback(tx) // or Close waits for it
		t.Fatal("an authorization's transaction holds the write gate before its first statement")
	}
	other, err := db.BeginTX(bg)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateLoginSession(other, store.LoginSession{ID: "lazy-member-0123456789", Username: "u", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Commit(other); err != nil {
		t.Fatal(err)
	}
	writes := store.GroupWrites(db)
	if err := f.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if n := store.GroupWrites(db) - writes; n != 1 {
		t.Errorf("%d group writes for a lone code's commit, want 1", n)
	}
	if !found("code-alone") {
		t.Fatal("the code committed through the group commit is not stored")
	}

	// A statement begins it: a second code is stored at once, which takes
	// the gate, and the two then commit or roll back together.
	for _, commit := range []bool{false, true} {
		tx := begin(bg)
		first, second := "code-held-"+map[bool]string{true: "c", false: "r"}[commit], "code-at-once-"+map[bool]string{true: "c", false: "r"}[commit]
		code(tx, first)
		code(tx, second)
		if !store.WriteGateHeld(db) {
			t.Fatal("a transaction that ran a statement does not hold the write gate")
		}
		if commit {
			err = f.Commit(tx)
		} else {
			err = f.Rollback(tx)
		}
		if err != nil {
			t.Fatal(err)
		}
		if store.WriteGateHeld(db) {
			t.Fatal("the write gate is still held after the transaction ended")
		}
		if found(first) != commit || found(second) != commit {
			t.Errorf("committed %v: codes stored %v and %v", commit, found(first), found(second))
		}
	}

	// Abandoned before its first statement: nothing to give back, and it
	// commits nothing. Abandoned after: rolled back, the gate given back.
	ctx, cancel := context.WithCancel(bg)
	tx = begin(ctx)
	code(tx, "code-abandoned-early")
	cancel()
	if err := f.Commit(tx); err == nil {
		t.Error("an abandoned transaction committed")
	}
	ctx, cancel = context.WithCancel(bg)
	tx = begin(ctx)
	code(tx, "code-abandoned-held")
	code(tx, "code-abandoned-written")
	cancel()
	waitFor(t, "the abandoned transaction to give the gate back", func() bool { return !store.WriteGateHeld(db) })
	for _, sig := range []string{"code-abandoned-early", "code-abandoned-held", "code-abandoned-written"} {
		if found(sig) {
			t.Errorf("%s is stored", sig)
		}
	}
}
