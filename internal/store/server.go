package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"time"
)

// Settings shared by the server backends (PostgreSQL, MySQL).
const (
	// connectTimeout bounds a connection attempt when the DSN sets none, so
	// that opening an unreachable database fails fast.
	connectTimeout = 10 * time.Second
	// connMaxLifetime and connMaxIdleTime recycle pooled connections, so
	// that a failover, a proxy or a server-side idle timeout never leaves
	// the pool with connections that all fail at once.
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// defaultMaxConns is the pool size when the configuration gives none.
// Statements wait on the network, not the CPU: a few per core.
func defaultMaxConns() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// openServer finishes opening a server backend: pool limits, a first
// connection within timeout (and a second more), and migrations. what names
// the database in errors; password is removed from them.
func openServer(ctx context.Context, sqldb *sql.DB, d dialect, maxConns int, timeout time.Duration, what, password string) (*DB, error) {
	if maxConns < 0 {
		_ = sqldb.Close()
		return nil, fmt.Errorf("store: %s: negative pool size %d", d.name, maxConns)
	}
	if maxConns == 0 {
		maxConns = defaultMaxConns()
	}
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxLifetime(connMaxLifetime)
	sqldb.SetConnMaxIdleTime(connMaxIdleTime)
	db := &DB{sql: sqldb, dialect: d} // no write gate: the server handles concurrency

	fail := func(step string, err error) (*DB, error) {
		_ = sqldb.Close()
		return nil, redact(fmt.Errorf("store: %s: %s %s: %w", d.name, step, what, db.wrapErr(err)), password)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		return fail("connect to", err)
	}
	mctx, cancel := context.WithTimeout(ctx, 2*migrateLockWait)
	defer cancel()
	if err := db.migrate(mctx); err != nil {
		return fail("migrate", err)
	}
	return db, nil
}
