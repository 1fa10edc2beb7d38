package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints off the write path (SQLite only).
//
// In WAL mode SQLite copies the log back into the database file (a
// checkpoint) once a commit leaves more than wal_autocheckpoint pages in
// it, and it does so inside that commit: the writing connection copies and
// syncs about a thousand pages while it holds the write gate, and the
// members of that shared transaction and every writer queued behind it
// wait. Under load those commits made the slowest requests: with
// client_credentials at c=64, p99 was 17 to 19 ms with automatic
// checkpoints and 13 to 15 ms with none at all (a 4 000-page threshold:
// 39 to 43 ms, longer stalls; 250 pages: 16 to 17 ms and fewer tokens).
//
// So automatic checkpoints are off (sqliteParams) and a goroutine with a
// connection of its own runs passive checkpoints, which copy what they can
// without blocking the writer, at most every checkpointEvery while writes
// happen. Those cannot start the log over while frames keep arriving:
// SQLite restarts the log at the first write of a transaction that began
// when every frame had been copied. So once the log is longer than
// restartFrames, the writer finishes the job before it begins its next
// transaction, with a passive checkpoint on its own connection that
// copies only the frames written since the last background one (a few
// milliseconds: a short stall, but one in 8 000 frames rather than in
// 1 000). It waits for a moment when no other write is queued, unless the
// log has grown to four times that.

// Variables, for tests.
var (
	// checkpointEvery spaces the background checkpoints.
	checkpointEvery = 100 * time.Millisecond
	// restartFrames is the log length (frames, one per page written, so
	// 8 000 frames are 32 MiB) past which the writer makes the log start
	// over when no other write waits; past 4 * restartFrames it does even
	// when they do.
	restartFrames int64 = 8000
)

// sqlCheckpoint returns busy (1 when another checkpoint ran), the frames in
// the log and the frames copied to the database file.
const sqlCheckpoint = "PRAGMA wal_checkpoint(PASSIVE)"

// checkpointer runs the background checkpoints of a SQLite DB.
type checkpointer struct {
	conn *sql.Conn // its own connection, held until stop
	// every and restartAt are checkpointEvery and restartFrames when it
	// started.
	every     time.Duration
	restartAt int64
	wake      chan struct{} // a commit happened (buffered, 1)
	quit      chan struct{}
	done      sync.WaitGroup
	// stopped makes stop idempotent, as DB.Close is.
	stopped sync.Once
	stopErr error

	// restart asks the writer for a checkpoint before its next
	// transaction, to start a long log over.
	restart atomic.Bool
	// frames is the log's length at the last background checkpoint.
	frames atomic.Int64
	// runs and restarts count background checkpoints and the writer's
	// checkpoints (tests).
	runs, restarts atomic.Int64
}

// startCheckpointer starts db's background checkpoints on conn.
func (db *DB) startCheckpointer(conn *sql.Conn) {
	c := &checkpointer{
		conn: conn, every: checkpointEvery, restartAt: restartFrames,
		wake: make(chan struct{}, 1), quit: make(chan struct{}),
	}
	db.ckpt = c
	c.done.Go(c.loop)
}

// loop checkpoints after commits, at most every checkpointEvery.
func (c *checkpointer) loop() {
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		if frames, ok := c.checkpoint(c.conn); ok {
			c.runs.Add(1)
			c.frames.Store(frames)
			c.restart.Store(frames >= c.restartAt)
		}
		select {
		case <-c.quit:
			return
		case <-time.After(c.every):
		}
	}
}

// checkpoint runs a passive checkpoint on conn and returns the frames in
// the log. It reports false when the checkpoint failed or another one was
// running (a checkpoint of another process on the same file, say).
func (c *checkpointer) checkpoint(conn *sql.Conn) (frames int64, ok bool) {
	var busy, copied int64
	err := conn.QueryRowContext(context.Background(), sqlCheckpoint).Scan(&busy, &frames, &copied)
	if err != nil || busy != 0 {
		return 0, false
	}
	return frames, true
}

// committed wakes the background checkpoints after a commit.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// beforeBegin runs on the writing connection, holding the write gate, with
// no transaction open: when the log is due to start over, it copies the
// frames the background checkpoint left, so that the next write restarts
// the log. A failure leaves that to a later transaction.
func (c *checkpointer) beforeBegin(conn *sql.Conn, idle bool) {
	if !c.restart.Load() || !idle && c.frames.Load() < 4*c.restartAt {
		return
	}
	if _, ok := c.checkpoint(conn); ok {
		c.restart.Store(false)
		c.restarts.Add(1)
	}
}

// stop ends the background checkpoints and closes their connection.
func (c *checkpointer) stop() error {
	c.stopped.Do(func() {
		close(c.quit)
		c.done.Wait()
		c.stopErr = c.conn.Close()
	})
	return c.stopErr
}
