package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pipelined transactions (PostgreSQL only).
//
// Every statement used to be a round trip to the server, and a round trip
// costs the server more than the statement: a refresh-token rotation was
// seven of them (BEGIN, three statements retiring the old token, two
// inserts, COMMIT), and under load PostgreSQL spent 1.2 ms of CPU per
// refresh, more than Caddy spent on the whole request. So a transaction on
// PostgreSQL queues the writes whose outcome its caller does not need at
// once (execQueued: inserts, clean-ups, and conditional updates that must
// affect a row). They leave together in one pipeline (pgx's batch: one
// write, one read), on a pooled connection taken at the first send:
//
//   - at Commit, when nothing was sent yet, as a unit of a group commit
//     (below): the writes of concurrent transactions share one pipeline
//     and one commit;
//   - at Commit otherwise, with COMMIT at its end; when a queued write
//     must affect a row, its result must be seen first, so COMMIT or
//     ROLLBACK follows in a second round trip;
//   - before any statement whose result is needed now (a read, or exec),
//     preceded by BEGIN if not sent yet; exec's statement ends that
//     pipeline.
//
// A queued write that fails, or whose check fails, dooms the transaction:
// its error is returned by the statement that sent it (or by Commit), and
// the transaction can only roll back. The caller learns of a queued write's
// failure later than it would have, but never less: Commit fails, so no
// token is handed out unstored.

// pipeTx is the state of a pipelined transaction; its txState's mu guards
// it.
type pipeTx struct {
	conn  *sql.Conn     // taken from the pool at the first send; nil before
	begun bool          // BEGIN has been sent
	queue []queuedWrite // writes not sent yet
	err   error         // a sent write or its check failed: only Rollback is left
	alone bool          // commits on its own connection, never in a group commit (a unit run again)
}

// queuedWrite is a write waiting for its pipeline.
type queuedWrite struct {
	query string // the backend's text
	args  []any
	noRow error // if not nil, the write fails with it when it affects no row
}

// rollbackWait bounds the ROLLBACK of an ended transaction, which runs
// without the caller's context (it may be what ended).
const rollbackWait = 5 * time.Second

// beginPipe starts a pipelined transaction. Nothing is sent to the server
// yet, and it takes a pooled connection only when it sends something: a
// transaction that only writes commits in a group commit (see below) and
// never holds one, so transactions waiting for a group commit cannot hold
// every connection the group commit needs.
func (db *DB) beginPipe() *pipeTx { return &pipeTx{} }

// pipeQueue queues a write, or, if the transaction is doomed, fails.
func (s *txState) pipeQueue(query string, args []any, noRow error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if s.pipe.err != nil {
		return s.pipe.err
	}
	s.pipe.queue = append(s.pipe.queue, queuedWrite{query: s.db.dialect.prepareText(query), args: args, noRow: noRow})
	return nil
}

// pipeExec sends the queued writes with query at the end and returns the
// rows query affected.
func (s *txState) pipeExec(ctx context.Context, query string, args []any) (int64, error) {
	unlock, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	last := queuedWrite{query: s.db.dialect.prepareText(query), args: args}
	return s.pipe.flush(ctx, s.db, &last)
}

// pipeRead sends the queued writes, then runs read on the transaction's
// connection, under the transaction's lock.
func (s *txState) pipeRead(ctx context.Context, read func(conn *sql.Conn) error) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := s.pipe.flush(ctx, s.db, nil); err != nil {
		return err
	}
	return read(s.pipe.conn)
}

// flush sends BEGIN (if not sent yet), the queued writes and last (if not
// nil) in one pipeline, judges the writes, and returns the rows last
// affected.
func (p *pipeTx) flush(ctx context.Context, db *DB, last *queuedWrite) (int64, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.begun && len(p.queue) == 0 && last == nil {
		return 0, nil
	}
	writes := p.queue
	p.queue = nil
	if last != nil {
		writes = append(writes, *last)
	}
	ns, err := p.send(ctx, db, !p.begun, writes, false)
	p.begun = p.conn != nil // else nothing could be sent
	if err != nil {
		p.err = err
		return 0, err
	}
	if last == nil {
		return 0, nil
	}
	return ns[len(ns)-1], nil
}

// send runs writes in one pipeline, BEGIN before them if begin, COMMIT after
// them if commit, and judges each write by its check. It returns the rows
// each write affected.
func (p *pipeTx) send(ctx context.Context, db *DB, begin bool, writes []queuedWrite, commit bool) ([]int64, error) {
	var b pgx.Batch
	if begin {
		b.Queue("BEGIN")
	}
	for _, w := range writes {
		b.Queue(w.query, w.args...)
	}
	if commit {
		b.Queue("COMMIT")
	}
	ns := make([]int64, len(writes))
	if p.conn == nil {
		conn, err := db.sql.Conn(ctx)
		if err != nil {
			return nil, db.wrapErr(err)
		}
		p.conn = conn
	}
	err := p.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: pipeline on a %T connection", dc)
		}
		br := c.Conn().SendBatch(ctx, &b)
		err := readBatch(br, begin, writes, commit, ns)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return nil, db.wrapErr(err)
	}
	return ns, nil
}

// readBatch reads a pipeline's results in order; the first failure stops
// it (the server skips the rest of a failed pipeline).
func readBatch(br pgx.BatchResults, begin bool, writes []queuedWrite, commit bool, ns []int64) error {
	if begin {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
	}
	for i, w := range writes {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		ns[i] = tag.RowsAffected()
		if w.noRow != nil && ns[i] == 0 {
			return w.noRow
		}
	}
	if commit {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// commitPipe is Commit for a pipelined transaction.
func (s *txState) commitPipe(ctx context.Context) error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return fmt.Errorf("store: commit: %w", errTxEnded)
	}
	s.ended = true
	p := s.pipe
	if err := p.commit(ctx, s.db); err != nil {
		p.close(s.db)
		return fmt.Errorf("store: commit: %w", err)
	}
	p.release()
	return nil
}

// commit sends what is queued and commits, in as few round trips as the
// checks allow; on error the transaction is left to close to roll back.
func (p *pipeTx) commit(ctx context.Context, db *DB) error {
	if p.err != nil {
		return p.err
	}
	checked := false
	for _, w := range p.queue {
		checked = checked || w.noRow != nil
	}
	switch {
	case !p.begun && len(p.queue) == 0:
		return nil // nothing was written
	case !p.begun && db.group != nil && !p.alone:
		// Nothing sent yet: the writes share a group commit with
		// others, as a unit.
		unit := p.queue
		p.queue = nil
		return db.enqueue(ctx, &pendingWrite{ctx: ctx, unit: unit, done: make(chan struct{})})
	case !checked && !p.begun:
		// One implicit transaction: the server commits at the end of
		// the pipeline, or rolls all of it back.
		writes := p.queue
		p.queue = nil
		_, err := p.send(ctx, db, false, writes, false)
		return err
	case !checked:
		writes := p.queue
		p.queue = nil
		if _, err := p.send(ctx, db, false, writes, true); err != nil {
			p.err = err
			return err
		}
		p.begun = false
		return nil
	}
	if _, err := p.flush(ctx, db, nil); err != nil {
		return err
	}
	if _, err := p.send(ctx, db, false, []queuedWrite{{query: "COMMIT"}}, false); err != nil {
		p.err = err
		return err
	}
	p.begun = false
	return nil
}

// close rolls back what was begun and gives the connection back to the
// pool; a connection that could not be rolled back is discarded, so that
// the server ends its transaction. (pgx's database/sql driver would also
// discard a connection given back inside a transaction, at the cost of a
// new connection.)
func (p *pipeTx) close(db *DB) {
	if p.begun && p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), rollbackWait)
		_, err := p.send(ctx, db, false, []queuedWrite{{query: "ROLLBACK"}}, false)
		cancel()
		p.begun = false
		if err != nil {
			_ = p.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	p.release()
}

// release gives the connection back to the pool.
func (p *pipeTx) release() {
	p.queue = nil
	if p.conn != nil {
		_ = p.conn.Close()
		p.conn = nil
	}
}

// rollbackPipe is Rollback for a pipelined transaction, and what ends one
// whose context is done; rolling back an ended one does nothing.
func (s *txState) rollbackPipe() {
	s.endOnce(func() { s.pipe.close(s.db) })
}

// pipeRow is a single-row query in a pipelined transaction, run when
// scanned (database/sql reads the row then), under the transaction's lock.
type pipeRow struct {
	s     *txState
	ctx   context.Context
	query string // the backend's text
	args  []any
}

func (r pipeRow) Scan(dest ...any) error {
	err := r.s.pipeRead(r.ctx, func(conn *sql.Conn) error {
		return conn.QueryRowContext(r.ctx, r.query, r.args...).Scan(dest...)
	})
	return r.s.db.wrapErr(err) // sql.ErrNoRows passes through
}

// Group commit on PostgreSQL. Writes outside a transaction (an access token
// of client_credentials, a consent, an attempt) were each a round trip and
// a commit of their own. The group committer's writer (groupcommit.go)
// hands what is queued, single writes and the units of transactions that
// only wrote, to pipelinedBatch, which sends it as one pipeline in one
// transaction, so that concurrent writes share a round trip and a commit
// (one WAL flush). Up to pipelinedBatches batches run at once, each
// on its own pooled connection, so that a batch waiting for a row lock does
// not hold up the others. Callers are answered after the commit. Should a
// batch fail (one bad write aborts the transaction, or a deadlock), each of
// its writes runs again on its own, so that it fails alone.

// pipelinedBatches bounds the batches in flight at once.
const pipelinedBatches = 2

// overlapAfter is how long a batch in flight holds back the next one
// (groupCommitter.awaitBatch).
const overlapAfter = 2 * time.Millisecond

// batchWait bounds a batch: its callers wait for it, without their own
// contexts (a write shared with others is not cancelled by one of them).
const batchWait = 30 * time.Second

// pipelinedBatch runs a group commit batch (see above) and reports to each
// of its callers.
func (db *DB) pipelinedBatch(batch []*pendingWrite) {
	defer func() {
		for _, w := range batch {
			close(w.done)
		}
	}()
	live := make([]*pendingWrite, 0, len(batch))
	for _, w := range batch {
		if err := w.ctx.Err(); err != nil {
			w.err = err // the caller gave up before its turn: not written
			continue
		}
		live = append(live, w)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), batchWait)
	defer cancel()
	if len(live) == 1 && live[0].unit == nil {
		db.runAlone(ctx, live[0])
		return
	}
	db.group.shared.Add(1)
	writes, at, rows := db.batchStatements(live) // multirow.go
	p := &pipeTx{}
	ns, err := p.send(ctx, db, true, writes, true)
	if err == nil {
		p.release()
		for i, w := range live {
			if w.unit == nil {
				w.n = ns[at[i]] / int64(rows[i])
			}
		}
		return
	}
	// The transaction failed, and with it every write: end it on the
	// connection, and run each write (or unit) on its own, so that what
	// failed fails alone, with its own error.
	db.group.retried.Add(1)
	p.begun = p.conn != nil // a connection was had: end the transaction on it
	p.close(db)
	for _, w := range live {
		db.runAlone(ctx, w)
	}
}

// failOnServer returns w for a shared pipeline, where a failed write must
// abort the transaction on the server (its result is read only after the
// commit): a write that must affect a row becomes a statement that fails
// when it affects none. The error it fails with is never shown: the batch
// is run again write by write, where noRow is judged as usual.
// A write that starts with its own WITH list keeps it at the top level
// (PostgreSQL allows data-modifying WITH only there), with w added to it.
func (w queuedWrite) failOnServer() queuedWrite {
	if w.noRow == nil {
		return w
	}
	with, main := splitWith(w.query)
	if with != "" {
		with += ", "
	}
	return queuedWrite{
		query: "WITH " + with + "w AS (" + main + " RETURNING 1) SELECT CAST(CASE WHEN count(*) > 0 THEN '0' ELSE 'no row affected' END AS INTEGER) FROM w",
		args:  w.args,
	}
}

// splitWith splits a statement "WITH a AS (...), b AS (...) MAIN" into its
// WITH list ("a AS (...), b AS (...)") and MAIN; a statement without one is
// all MAIN. The package's SQL has no parentheses inside literals, so
// counting them finds where each definition ends.
func splitWith(q string) (with, main string) {
	const kw = "WITH "
	if !strings.HasPrefix(q, kw) {
		return "", q
	}
	depth := 0
	for i := len(kw); i < len(q); i++ {
		switch q[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				rest := strings.TrimLeft(q[i+1:], " ")
				if !strings.HasPrefix(rest, ",") {
					return q[len(kw) : i+1], rest
				}
			}
		}
	}
	return "", q
}

// runAlone runs one write of a batch, or one unit as its own transaction,
// on a connection of its own.
func (db *DB) runAlone(ctx context.Context, w *pendingWrite) {
	p := &pipeTx{alone: true}
	if w.unit == nil {
		var ns []int64
		if ns, w.err = p.send(ctx, db, false, []queuedWrite{{query: db.dialect.prepareText(w.query), args: w.args}}, false); w.err == nil {
			w.n = ns[0]
		}
		p.release()
		return
	}
	p.queue = w.unit
	if w.err = p.commit(ctx, db); w.err != nil {
		p.close(db)
		return
	}
	p.release()
}
