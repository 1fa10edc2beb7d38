package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite" // pure-Go SQLite driver "sqlite": no cgo, so xcaddy needs no C compiler
)

// sqliteParams configures every pooled connection (modernc.org/sqlite DSN
// keys, see its Driver.Open documentation):
//   - WAL: readers never block the writer or each other;
//   - synchronous=NORMAL: durable across application crashes, and in WAL
//     mode only the last transactions can be lost on power failure;
//   - busy_timeout 5 s: another process holding the write lock is waited for;
//   - foreign_keys on;
//   - _txlock=immediate: BEGIN IMMEDIATE takes the write lock at the start
//     of a transaction, so two transactions never both read and then fail to
//     upgrade to writing (SQLITE_BUSY without waiting, or a deadlock).
//   - mmap_size 0: no memory map. Under concurrent load a connection starts
//     almost every read transaction after another connection's commit, and
//     SQLite then drops that connection's page cache and, with a map,
//     unmaps the whole file (munmap, then page faults to map it again):
//     with a 256 MiB map that was 7% of a code flow's CPU in profiles under
//     the harness's load, and turning the map off gave 1.2 to 1.4 times the
//     code flows and refreshes per CPU-second (ES256, c=16). Only a lone
//     client, whose reads follow its own writes, read faster through the map;
//   - cache_size 8 MiB per connection;
//   - temp_store MEMORY: the members of a shared transaction (shared.go)
//     run in savepoints, so SQLite keeps the original of every page they
//     change in a statement journal until the transaction commits; past
//     64 KiB that journal spilled to a temporary file, and its writes were
//     2-3% of a refresh's CPU (pprof, refresh ES256, c=16). In memory it is
//     bounded by one shared transaction's pages;
//   - wal_autocheckpoint 0: no checkpoints inside commits; a goroutine
//     runs them (checkpoint.go).
const sqliteParams = "_busy_timeout=5000&_journal_mode=WAL&_synchronous=NORMAL&_foreign_keys=1&_txlock=immediate" +
	"&_pragma=mmap_size(0)&_pragma=cache_size(-8192)&_pragma=temp_store(memory)&_pragma=wal_autocheckpoint(0)"

// SQLiteOptions are the settings of OpenSQLiteWith.
type SQLiteOptions struct {
	// NoLoginCache turns off the cache of login sessions
	// (logincache_sqlite.go): every authorization reads its session from
	// the file, so a change another process makes holds at once rather
	// than within a quarter of a second.
	NoLoginCache bool
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. The parent directory is created with mode
// 0700 and a new database file with mode 0600: it holds grants and sessions.
func OpenSQLite(path string) (*DB, error) {
	return OpenSQLiteWith(path, SQLiteOptions{})
}

// OpenSQLiteWith is OpenSQLite with settings.
func OpenSQLiteWith(path string, opts SQLiteOptions) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: sqlite: database path %q must be a plain file name", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: sqlite: create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: sqlite: create %s: %w", path, err)
	}

	sqldb, err := sql.Open("sqlite", path+"?"+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite: open %s: %w", path, err)
	}
	// Readers run in parallel in WAL mode; more connections than a few per
	// core only cost memory (each has its own page cache and prepared
	// statements, so idle connections are kept rather than re-opened).
	// Two more are the writing connection (shared.go) and the one that
	// runs checkpoints (checkpoint.go).
	conns := max(4, 2*runtime.GOMAXPROCS(0)) + 2
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)

	db := &DB{
		sql:     sqldb,
		dialect: sqliteDialect,
		wgate:   make(chan struct{}, 1),
	}
	ctx := context.Background()
	// A new connection switches a new file to WAL, which takes an exclusive
	// lock without waiting: when several processes create the file at once,
	// all but one get SQLITE_BUSY. Wait as busy_timeout would.
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := sqldb.PingContext(ctx)
		if err == nil {
			break
		}
		if !sqliteUnavailable(err) || time.Now().After(deadline) {
			_ = sqldb.Close()
			return nil, fmt.Errorf("store: sqlite: open %s: %w", path, db.wrapErr(err))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := db.migrate(ctx); err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("store: sqlite: %s: %w", path, db.wrapErr(err))
	}
	// SQLite has one writer: transactions share commits on one writing
	// connection (shared.go), and short writes share transactions
	// (groupcommit.go).
	wconn, err := sqldb.Conn(ctx)
	if err != nil {
		_ = sqldb.Close()
		return nil, fmt.Errorf("store: sqlite: %s: %w", path, db.wrapErr(err))
	}
	db.shared = &sharedTx{conn: wconn}
	cconn, err := sqldb.Conn(ctx)
	if err != nil {
		_ = wconn.Close()
		_ = sqldb.Close()
		return nil, fmt.Errorf("store: sqlite: %s: %w", path, db.wrapErr(err))
	}
	db.startCheckpointer(cconn)
	db.startGroupCommit()
	if !opts.NoLoginCache {
		db.accesses = &recentRows{indexRequests: true} // accessrows.go
		db.startSQLiteLoginCache()                     // logincache_sqlite.go
	}
	return db, nil
}

// sqliteStatementOnly reports whether err, from a statement in a
// transaction, undid that statement alone: a constraint violation. After
// any other error (a full disk, an I/O error, no memory) SQLite may have
// rolled back the whole transaction, and the connection then runs every
// later statement in a transaction of its own, committed at once.
func sqliteStatementOnly(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == 19 // SQLITE_CONSTRAINT
}

// sqliteUnavailable recognises SQLITE_BUSY and SQLITE_LOCKED: another
// process held the write lock for longer than the busy timeout.
func sqliteUnavailable(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED
		return true
	}
	return false
}
