package store

// Statements: prepared once and cached, run in the context's transaction
// (a plain one, a member of SQLite's shared transaction, or a pipelined one
// on PostgreSQL) or on their own.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// stmt returns the prepared statement for query (shared form), bound to the
// context's transaction if there is one. database/sql prepares it again on
// each new connection, so it survives reconnections.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	tx := db.txFrom(ctx)
	v, ok := db.stmts.Load(query)
	if !ok && tx != nil {
		// Preparing on the pool would wait for a free connection while
		// this transaction holds one: with every connection in such a
		// transaction, nothing would move. Prepare on the transaction's
		// connection (closed with it), and for the pool in the background.
		if _, busy := db.preparing.LoadOrStore(query, true); !busy {
			db.background.Go(func() {
				defer db.preparing.Delete(query)
				// Bounded, so that Close (which waits) cannot hang on a
				// pool whose connections are all held.
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				_, _ = db.prepare(pctx, query) // an error shows at the next use
			})
		}
		st, err := tx.PrepareContext(ctx, db.dialect.prepareText(query))
		if err != nil {
			return nil, fmt.Errorf("prepare %q: %w", query, db.wrapErr(err))
		}
		return st, nil
	}
	var st *sql.Stmt
	var err error
	if ok {
		st, err = cachedStmt(v)
	} else {
		st, err = db.prepare(ctx, query)
	}
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

// prepare prepares query on the pool and caches it.
func (db *DB) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	prepared, err := db.sql.PrepareContext(context.WithoutCancel(ctx), db.dialect.prepareText(query))
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, db.wrapErr(err))
	}
	v, loaded := db.stmts.LoadOrStore(query, prepared)
	if !loaded {
		return prepared, nil
	}
	_ = prepared.Close() // another caller prepared it first
	return cachedStmt(v)
}

// cachedStmt returns a value of db.stmts as the statement it is.
func cachedStmt(v any) (*sql.Stmt, error) {
	st, ok := v.(*sql.Stmt)
	if !ok {
		return nil, fmt.Errorf("store: the statement cache holds a %T", v)
	}
	return st, nil
}

// exec runs a writing statement and returns the number of rows it affected
// (matched, for an UPDATE). Outside a transaction it takes the write gate
// for the statement's duration.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	if s := db.txStateFrom(ctx); s != nil && s.pipe != nil {
		return s.pipeExec(ctx, query, args)
	}
	if db.group != nil && db.txStateFrom(ctx) == nil {
		return db.groupExec(ctx, query, args) // groupcommit.go
	}
	ctx, unlock, err := db.memberLock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	st, err := db.stmt(ctx, query)
	if err != nil {
		return 0, err
	}
	if db.txFrom(ctx) == nil {
		if err := db.acquire(ctx); err != nil {
			return 0, db.wrapErr(err)
		}
		defer db.release()
	}
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		if db.dialect.duplicateIsNoop != nil && db.dialect.duplicateIsNoop(err) && insertsIfAbsent(query) {
			return 0, nil // ON CONFLICT DO NOTHING, MySQL style
		}
		return 0, db.wrapErr(err)
	}
	n, err := res.RowsAffected()
	return n, db.wrapErr(err)
}

// execQueued runs a write whose outcome its caller can learn as late as
// the commit: in a pipelined transaction it is queued (pipeline.go), and
// fails with noRow, if not nil, when it affects no row, failing the
// statement that sent it or Commit; elsewhere it runs at once and fails
// then.
func (db *DB) execQueued(ctx context.Context, noRow error, query string, args ...any) error {
	if s := db.txStateFrom(ctx); s != nil && s.pipe != nil {
		return s.pipeQueue(query, args, noRow)
	}
	n, err := db.exec(ctx, query, args...)
	if err != nil {
		return err
	}
	if noRow != nil && n == 0 {
		return noRow
	}
	return nil
}

// inPipe reports whether ctx carries a pipelined transaction
// (PostgreSQL), whose execQueued writes leave at its next send.
func (db *DB) inPipe(ctx context.Context) bool {
	s := db.txStateFrom(ctx)
	return s != nil && s.pipe != nil
}

// queryRow runs a single-row query. Errors (including preparation errors)
// surface from Scan, as with database/sql.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	switch s := db.txStateFrom(ctx); {
	case s != nil && s.pipe != nil:
		return pipeRow{s, ctx, db.dialect.prepareText(query), args}
	case s != nil && s.shared:
		return memberRow{s, ctx, func(ctx context.Context) rowScanner { return db.queryRowUnlocked(ctx, query, args...) }}
	}
	return db.queryRowUnlocked(ctx, query, args...)
}

// queryRowUnlocked is queryRow without a member's lock.
func (db *DB) queryRowUnlocked(ctx context.Context, query string, args ...any) rowScanner {
	st, err := db.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return wrappedRow{db, st.QueryRowContext(ctx, args...)}
}

// query runs a query returning rows; the caller closes them and passes
// rows.Err() through db.wrapErr.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := db.txStateFrom(ctx); s != nil && s.pipe != nil {
		var rows *sql.Rows
		err := s.pipeRead(ctx, func(conn *sql.Conn) error {
			var err error
			rows, err = conn.QueryContext(ctx, db.dialect.prepareText(query), args...)
			return err
		})
		return rows, db.wrapErr(err)
	}
	// The rows are read after the member's lock is given back: reading is
	// harmless, only a write after abandonment would not be.
	ctx, unlock, err := db.memberLock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, db.wrapErr(err)
}

// closeRows closes rows, for a defer. Its error is dropped: rows.Err, which
// every caller checks after the loop, reports the query's errors.
func closeRows(rows *sql.Rows) { _ = rows.Close() }

// Row is one row of a query's result, as from [DB.QueryRowContext]: Scan
// returns sql.ErrNoRows when there is none.
type Row interface {
	Scan(dest ...any) error
}

// rowScanner is *sql.Row (through wrappedRow), *sql.Rows, or errRow
// carrying a preparation error.
type rowScanner = Row

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// wrappedRow marks connectivity errors from Scan as ErrUnavailable;
// sql.ErrNoRows passes through.
type wrappedRow struct {
	db  *DB
	row *sql.Row
}

func (r wrappedRow) Scan(dest ...any) error { return r.db.wrapErr(r.row.Scan(dest...)) }

// memberRow is a single-row query in a member of the shared transaction,
// run when scanned, under the member's lock.
type memberRow struct {
	s   *txState
	ctx context.Context // the caller's, carrying the transaction
	run func(ctx context.Context) rowScanner
}

func (r memberRow) Scan(dest ...any) error {
	ctx, unlock, err := r.s.lockMember(r.ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return r.run(ctx).Scan(dest...)
}

// QueryRowContext runs a read-only query written in the shared form ('?'
// placeholders), in the context's transaction if there is one. It is meant
// for diagnostics and tests (such as storetest's checks that secrets are
// stored hashed), not for the provider, which uses the typed methods.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) Row {
	q := db.dialect.prepareText(query)
	switch s := db.txStateFrom(ctx); {
	case s != nil && s.pipe != nil:
		return pipeRow{s, ctx, q, args}
	case s != nil && s.shared:
		return memberRow{s, ctx, func(ctx context.Context) rowScanner { return wrappedRow{db, s.tx.QueryRowContext(ctx, q, args...)} }}
	}
	if tx := db.txFrom(ctx); tx != nil {
		return wrappedRow{db, tx.QueryRowContext(ctx, q, args...)}
	}
	return wrappedRow{db, db.sql.QueryRowContext(ctx, q, args...)}
}

// ExecContext runs a statement written in the shared form ('?'
// placeholders, ON CONFLICT upserts), in the context's transaction if there
// is one, and returns the number of rows it affected. Like QueryRowContext
// it is for maintenance and tests; the provider uses the typed methods.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (int64, error) {
	return db.exec(ctx, query, args...)
}

// Backend names the database backend: "sqlite", "postgres" or "mysql"
// (which includes MariaDB).
func (db *DB) Backend() string { return db.dialect.name }
