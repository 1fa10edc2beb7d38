package store

import (
	"context"
	"fmt"
	"strings"
)

// GroupCommitStats returns how many batches of several writes the group
// committer of db sent as one transaction, and how many of them failed and
// were run again write by write (PostgreSQL's pipelined group commit).
func GroupCommitStats(db *DB) (shared, retried int64) {
	return db.group.shared.Load(), db.group.retried.Load()
}

// GroupWrites returns how many writes the group committer of db took.
func GroupWrites(db *DB) int64 { return db.group.writes.Load() }

// WriteGateHeld reports whether a writer holds db's write gate (SQLite).
func WriteGateHeld(db *DB) bool { return len(db.wgate) > 0 }

// MultiRowInserts returns how many multi-row INSERTs the group committer of
// db sent in its batches (PostgreSQL).
func MultiRowInserts(db *DB) int64 { return db.group.merged.Load() }

// The statements whose plans the tests check.
var (
	SQLDeactivateRefreshOfRequest = sqlDeactivateRefreshOfRequest
	SQLDeleteAccessOfRequest      = sqlDeleteAccessOfRequest
)

// Indexes returns the names of table's secondary indexes, in no order.
func Indexes(db *DB, table string) ([]string, error) {
	var q string
	switch db.dialect.name {
	case "sqlite":
		q = `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`
	case "postgres":
		q = `SELECT indexname FROM pg_indexes WHERE tablename = $1 AND schemaname = current_schema() AND indexname <> tablename || '_pkey'`
	case "mysql":
		q = `SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY'`
	default:
		return nil, fmt.Errorf("indexes: unknown dialect %q", db.dialect.name)
	}
	rows, err := db.sql.Query(q, table)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// QueryPlan returns the plan SQLite or PostgreSQL makes for query (shared
// form) with args, one line per step. PostgreSQL is told to avoid
// sequential scans, which it prefers on small tables, so that the plan
// shows whether an index can serve the query at all.
func QueryPlan(db *DB, query string, args ...any) (string, error) {
	ctx := context.Background()
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	explain := "EXPLAIN QUERY PLAN "
	col := 3 // id, parent, notused, detail
	if db.dialect.name == "postgres" {
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			return "", err
		}
		defer func() { _, _ = conn.ExecContext(ctx, "RESET enable_seqscan") }() // the connection goes back to the pool either way
		explain, col = "EXPLAIN ", 0
	}
	rows, err := conn.QueryContext(ctx, explain+db.dialect.prepareText(query), args...)
	if err != nil {
		return "", err
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var lines []string
	for rows.Next() {
		vals, dests := make([]any, len(cols)), make([]any, len(cols))
		for i := range vals {
			dests[i] = &vals[i]
		}
		if err := rows.Scan(dests...); err != nil {
			return "", err
		}
		lines = append(lines, fmt.Sprint(vals[col]))
	}
	return strings.Join(lines, "\n"), rows.Err()
}

// KeptRows returns the numbers of codes and refresh tokens f keeps for
// their use (recentrows.go).
func KeptRows(f *Fosite) (codes, refreshes int) { return f.codes.len(), f.refreshes.len() }

// RowPage returns the heap page that holds the row of table with the
// given signature (PostgreSQL only).
func RowPage(db *DB, table, signature string) (int64, error) {
	var page int64
	err := db.sql.QueryRow(`SELECT (ctid::text::point)[0]::bigint FROM `+table+` WHERE signature = $1`, signature).Scan(&page)
	return page, err
}

// LoginCacheState returns whether db's login session cache serves, how
// many sessions it served, and how many listening connections it started
// (PostgreSQL; logincache.go).
func LoginCacheState(db *DB) (live bool, hits uint64, listens int64) {
	if db.logins == nil {
		return false, 0, 0
	}
	c := db.logins.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live, c.hits, db.logins.listens.Load()
}

// LoginCacheMoves returns how often db's login cache found the SQLite
// database's version moved by another connection and emptied itself
// (logincache_sqlite.go).
func LoginCacheMoves(db *DB) int64 {
	if db.logins == nil {
		return 0
	}
	return db.logins.moves.Load()
}

// KeptAccesses returns how many access tokens db keeps for their first
// use (accessrows.go).
func KeptAccesses(db *DB) int {
	if db.accesses == nil {
		return 0
	}
	return db.accesses.len()
}

// SQLiteLoginPoll is how often the SQLite login cache reads the version.
const SQLiteLoginPoll = sqliteLoginPoll

// The login cache's probe timing.
const (
	LoginHeartbeat = loginHeartbeat
	LoginProbeWait = loginProbeWait
)
