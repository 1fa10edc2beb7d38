package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// TestCheckpointsStartTheLogOver checks that commits leave checkpoints to
// the background and that the write-ahead log still starts over, so that it
// stays short while the database grows, and that nothing written is lost.
//
// How long the log grows between restarts depends on how long a checkpoint
// takes to sync, which another process's disk writes can stretch to
// hundreds of milliseconds (the whole test suite runs beside it in CI), so
// a round whose log grew too long is run again on a fresh database, up to
// logOverTries rounds. A log that never starts over fails every round.
func TestCheckpointsStartTheLogOver(t *testing.T) {
	// Not parallel: it shortens the package's checkpoint settings, which
	// a DB reads when it opens.
	defer func(e time.Duration, f int64) { checkpointEvery, restartFrames = e, f }(checkpointEvery, restartFrames)
	checkpointEvery, restartFrames = time.Millisecond, 50

	const logOverTries = 3
	for try := 1; ; try++ {
		wal, main := logOverRound(t)
		// Had the log never started over it would hold every page
		// written, more than the database file.
		if wal <= main/2 {
			return
		}
		if try == logOverTries {
			t.Fatalf("log %d bytes, database %d, in each of %d rounds: the log did not start over", wal, main, try)
		}
		t.Logf("round %d: log %d bytes, database %d; again on a fresh database", try, wal, main)
	}
}

// logOverRound writes about 4 000 pages (16 MiB) through a fresh
// database's log from 8 writers (each row about a page, each write its own
// commit or a share of one), checks that checkpoints ran in the background
// and by the writer, reopens the database and reads every row back, and
// returns the sizes of the log and database files after the writes.
func logOverRound(t *testing.T) (wal, main int64) {
	t.Helper()
	db, path := openTestDB(t)
	ctx := context.Background()
	var auto int
	if err := db.sql.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("wal_autocheckpoint = %d, %v; want 0 (no checkpoints inside commits)", auto, err)
	}

	const writers, each = 8, 250
	payload := func(w, i int) []byte { return bytes.Repeat([]byte{byte(w*each + i)}, 3000) }
	expires := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := db.PutWebAuthnCeremony(ctx, fmt.Sprintf("c-%d-%d", w, i), payload(w, i), expires); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if db.ckpt.runs.Load() == 0 || db.ckpt.restarts.Load() == 0 {
		t.Fatalf("%d background checkpoints, %d by the writer; want some of each", db.ckpt.runs.Load(), db.ckpt.restarts.Load())
	}
	walInfo, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	mainInfo, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db2.Close() }()
	for w := range writers {
		for i := range each {
			got, err := db2.TakeWebAuthnCeremony(ctx, fmt.Sprintf("c-%d-%d", w, i), time.Now())
			if err != nil || !bytes.Equal(got, payload(w, i)) {
				t.Fatalf("ceremony %d-%d after reopening: %d bytes, %v", w, i, len(got), err)
			}
		}
	}
	return walInfo.Size(), mainInfo.Size()
}
