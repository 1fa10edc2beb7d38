package store

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Each write outside an explicit transaction used to be a
// transaction of its own: on SQLite one commit (WAL frames for the table and
// every index page it touched, several system calls) per access token.
// Writes arriving together now share a transaction: one writer goroutine
// takes whatever is queued, up to maxBatch statements, runs them in the
// shared transaction (shared.go) and answers each caller after its commit.
// Callers still return only once their write is durable (as durable as
// synchronous=NORMAL makes any commit), so read-your-writes and error
// reporting are unchanged; a statement that fails (a unique violation, say)
// fails alone, as SQLite rolls back only that statement. On PostgreSQL
// the writer hands each batch to pipelinedBatch (pipeline.go) instead.

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// errClosed is returned for a write after Close.
var errClosed = errors.New("store: database is closed")

// pendingWrite is one queued statement and, once done is closed, its result.
type pendingWrite struct {
	ctx   context.Context
	query string
	args  []any
	// unit, when not nil, stands for query: the writes of a pipelined
	// transaction, committed together or not at all (pipeline.go).
	unit []queuedWrite
	n    int64
	err  error
	done chan struct{}
}

// groupCommitter owns the queue and its writer goroutine.
type groupCommitter struct {
	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	queue  chan *pendingWrite
	done   chan struct{} // closed when the writer has stopped

	// inflight, when not nil, bounds the batches running at once, each
	// on a pooled connection (pipelinedBatch; PostgreSQL), by as many
	// workers taking them from batches; running counts the workers, for
	// the writer to wait for before it stops.
	inflight chan struct{}
	batches  chan []*pendingWrite
	running  sync.WaitGroup
	// finished is signalled (buffered, 1) when a pipelined batch ends;
	// overlap is overlapAfter (awaitBatch).
	finished chan struct{}
	overlap  time.Duration
	// shared and retried count the batches of several writes sent as one
	// transaction, and those run again write by write after a failure;
	// merged counts the multi-row INSERTs sent (multirow.go); writes the
	// writes queued (tests).
	shared, retried, merged, writes atomic.Int64
}

// startGroupCommit starts the writer for db.
func (db *DB) startGroupCommit() {
	g := &groupCommitter{queue: make(chan *pendingWrite, maxBatch), done: make(chan struct{})}
	if db.pipelined {
		g.inflight = make(chan struct{}, pipelinedBatches)
		g.batches = make(chan []*pendingWrite)
		g.finished, g.overlap = make(chan struct{}, 1), overlapAfter
		for range pipelinedBatches {
			g.running.Go(func() { db.batchWorker(g) })
		}
	}
	db.group = g
	go db.writeLoop(g)
}

// batchWorker runs the pipelined batches the writer hands it until the
// writer stops. The workers live as long as the database: a goroutine per
// batch started on a small stack and copied it as it grew to pgx's depth,
// 3% of the CPU of a refresh on PostgreSQL (pprof, in-process benchmark).
func (db *DB) batchWorker(g *groupCommitter) {
	for batch := range g.batches {
		db.pipelinedBatch(batch)
		<-g.inflight
		select {
		case g.finished <- struct{}{}:
		default:
		}
	}
}

// stopGroupCommit stops accepting writes and waits for the queued ones.
func (db *DB) stopGroupCommit() {
	g := db.group
	if g == nil {
		return
	}
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	<-g.done
}

// groupExec queues a write and waits for its result.
func (db *DB) groupExec(ctx context.Context, query string, args []any) (int64, error) {
	w := &pendingWrite{ctx: ctx, query: query, args: args, done: make(chan struct{})}
	if err := db.enqueue(ctx, w); err != nil {
		return 0, err
	}
	return w.n, nil
}

// enqueue queues w and waits for its result, which it returns as w.err.
func (db *DB) enqueue(ctx context.Context, w *pendingWrite) error {
	g := db.group
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errClosed
	}
	select {
	case g.queue <- w:
		g.writes.Add(1)
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	g.mu.RUnlock()
	<-w.done // bounded: the writer finishes every batch it takes
	return w.err
}

// writeLoop runs batches until the queue is closed.
func (db *DB) writeLoop(g *groupCommitter) {
	defer close(g.done)
	defer g.running.Wait()
	if g.batches != nil {
		defer close(g.batches) // before the wait for the workers
	}
	for w := range g.queue {
		// A new slice each time: the batch is reported on after its
		// commit, while the next one runs.
		batch := append(make([]*pendingWrite, 0, maxBatch), w)
		if g.inflight != nil {
			g.awaitBatch()
		}
		// The first write woke this loop while the writers behind it
		// were still making their tokens: yield once so that they queue
		// theirs and share this commit. Under load a batch grows (fewer
		// commits and WAL frames per write; client_credentials +15 to 18%
		// per CPU-second on SQLite in alternated runs, at the same p99);
		// a lone writer loses one scheduler round.
		runtime.Gosched()
	collect:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-g.queue:
				if !ok {
					break collect
				}
				batch = append(batch, more)
			default:
				break collect
			}
		}
		if g.inflight != nil {
			g.inflight <- struct{}{} // a worker is free, or soon will be
			g.batches <- batch
			continue
		}
		db.runBatch(batch)
	}
}

// awaitBatch waits, while a pipelined batch is in flight, for it to end or
// for g.overlap to pass, whichever comes first, so that the writes
// arriving meanwhile go out together. On PostgreSQL a batch's commit costs
// the server about 100 µs of CPU whatever its size (a pipeline of single-row
// inserts in one transaction: 125 µs per row alone, 46 in fours, 26 in
// sixteens), and starting a second batch as soon as a write came made
// batches of one or two at c=16. A batch held up longer (waiting for a row
// lock, say) no longer holds up the next one: up to pipelinedBatches run
// at once.
func (g *groupCommitter) awaitBatch() {
	if len(g.inflight) == 0 {
		return
	}
	t := time.NewTimer(g.overlap)
	defer t.Stop()
	select {
	case <-g.finished:
	case <-t.C:
	}
}

// runBatch runs the writes in the shared transaction (shared.go), without
// a savepoint of their own (a failing statement fails alone, and nothing
// here rolls back), and reports to each caller after its commit, which it
// does not wait for: the next batch can run meanwhile.
func (db *DB) runBatch(batch []*pendingWrite) {
	report := func(err error) {
		for _, w := range batch {
			if w.err == nil && err != nil {
				w.n, w.err = 0, err
			}
			close(w.done)
		}
	}
	if err := db.acquire(context.Background()); err != nil {
		report(db.wrapErr(err))
		return
	}
	tx, err := db.openShared()
	if err != nil {
		db.endMember()
		report(err)
		return
	}
	ctx := context.WithValue(context.Background(), txKey{}, &txState{db: db, tx: tx})
	var fatal error // an error after which the transaction cannot go on
	for _, w := range batch {
		if fatal != nil {
			w.err = fatal // not run
			continue
		}
		if err := w.ctx.Err(); err != nil {
			w.err = err // the caller gave up before its turn: not written
			continue
		}
		st, err := db.stmt(ctx, w.query)
		if err != nil {
			w.err = err
			continue
		}
		res, err := st.ExecContext(ctx, w.args...)
		if err != nil {
			w.err = db.wrapErr(err)
			if !sqliteStatementOnly(err) {
				fatal = w.err
			}
			continue
		}
		w.n, w.err = res.RowsAffected()
		w.err = db.wrapErr(w.err)
	}
	if fatal != nil {
		// SQLite may have rolled the whole transaction back (a full
		// disk) and gone on with each later statement committed on its
		// own: the rest of the batch is not run, and the transaction,
		// with the members waiting for its commit, ends rolled back, so
		// that no write is both reported failed and kept.
		db.abortShared(fatal)
		db.endMember()
		report(fatal)
		return
	}
	cw := db.queueCommit()
	db.endMember()
	go func() { report(db.awaitCommit(cw)) }()
}
