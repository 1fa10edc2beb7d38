package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestSubjectCacheKeepsOnlyCommittedSubjects(t *testing.T) {
	db, err := OpenSQLite(filepath.Join(t.TempDir(), "subjects.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	bg := context.Background()

	// A subject created inside a transaction that rolls back is not kept:
	// the next call creates (and stores) another one.
	tctx, err := db.BeginTX(bg)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack, err := db.Subject(tctx, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Rollback(tctx); err != nil {
		t.Fatal(err)
	}
	sub, err := db.Subject(bg, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	if sub == rolledBack {
		t.Fatalf("the subject of a rolled back transaction was kept: %s", sub)
	}
	var stored string
	if err := db.QueryRowContext(bg, sqlSelectSubject, "alice", "").Scan(&stored); err != nil || stored != sub {
		t.Fatalf("stored subject %q (%v), Subject said %q", stored, err, sub)
	}

	// A committed subject is answered from memory: a change behind the
	// store's back (which never happens) does not show.
	if _, err := db.ExecContext(bg, "UPDATE subject SET subject = 'changed' WHERE username = 'alice'"); err != nil {
		t.Fatal(err)
	}
	if again, err := db.Subject(bg, "alice", ""); err != nil || again != sub {
		t.Fatalf("Subject = %q, %v; want the kept %q", again, err, sub)
	}
	// Sectors are kept apart.
	pairwise, err := db.Subject(bg, "alice", "apps.example.com")
	if err != nil || pairwise == sub {
		t.Fatalf("pairwise subject %q (%v) equals the public one", pairwise, err)
	}
}
