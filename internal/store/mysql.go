package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MySQLConfig configures a MySQL or MariaDB database.
type MySQLConfig struct {
	// DSN is a go-sql-driver/mysql DSN naming the database, e.g.
	// "oidc:secret@tcp(db.internal:3306)/oidc?tls=true". Without a timeout
	// parameter, connecting times out after 10 s.
	DSN string
	// MaxConns is the pool size; 0 is a few connections per core.
	MaxConns int
}

// mysqlSession is run on every new connection: READ COMMITTED, so that
// reads inside a transaction see what other instances committed (as on
// PostgreSQL) and single-use updates take no gap locks; and a strict
// sql_mode, so that an over-long value fails instead of being truncated.
var mysqlSession = []string{
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
}

// OpenMySQL connects to a MySQL or MariaDB database and brings its schema up
// to date (InnoDB tables, utf8mb4, binary collation). Several instances may
// open the same database at once: migrations run once, under a named lock.
// It fails within about 10 s (or the DSN's timeout) when the server cannot be
// reached, with an error that names the problem but never the password.
func OpenMySQL(ctx context.Context, cfg MySQLConfig) (*DB, error) {
	password := mysqlPassword(cfg.DSN)
	mcfg, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, redact(fmt.Errorf("store: mysql: DSN: %w", err), password)
	}
	if mcfg.DBName == "" {
		return nil, errors.New("store: mysql: the DSN names no database (…/dbname)")
	}
	if mcfg.Timeout == 0 {
		mcfg.Timeout = connectTimeout
	}
	// UPDATE reports the rows matched, not only those changed: an update
	// that writes the values already there still finds its row.
	mcfg.ClientFoundRows = true
	// The driver's own log lines (a connection found broken, and so on)
	// repeat errors that are returned anyway.
	mcfg.Logger = quietLogger{}
	connector, err := mysql.NewConnector(mcfg)
	if err != nil {
		return nil, redact(fmt.Errorf("store: mysql: %w", err), password)
	}
	sqldb := sql.OpenDB(sessionConnector{connector, mysqlSession})
	what := fmt.Sprintf("database %q on %s", mcfg.DBName, mcfg.Addr)

	// Pick the collation first (it is part of the DDL): byte-exact and
	// without PAD SPACE where the server has one, so that "alice" and
	// "alice " are different keys as elsewhere.
	pctx, cancel := context.WithTimeout(ctx, mcfg.Timeout+time.Second)
	defer cancel()
	collation := "utf8mb4_bin"
	rows, err := sqldb.QueryContext(pctx, `SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN ('utf8mb4_0900_bin', 'utf8mb4_nopad_bin')`)
	if err != nil {
		_ = sqldb.Close()
		d := mysqlDialect(collation)
		return nil, redact(fmt.Errorf("store: mysql: connect to %s: %w", what, (&DB{dialect: d}).wrapErr(err)), password)
	}
	for rows.Next() {
		var c string
		if rows.Scan(&c) == nil && (collation == "utf8mb4_bin" || c == "utf8mb4_0900_bin") {
			collation = c
		}
	}
	_ = rows.Close()
	return openServer(ctx, sqldb, mysqlDialect(collation), cfg.MaxConns, mcfg.Timeout, what, password)
}

// mysqlPassword extracts the password of a DSN
// ([user[:password]@][net[(addr)]]/dbname[?params]), so that it can be
// removed from error messages; "" if there is none.
func mysqlPassword(dsn string) string {
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		slash = len(dsn)
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return ""
	}
	if _, p, ok := strings.Cut(dsn[:at], ":"); ok {
		return p
	}
	return ""
}

// quietLogger drops the driver's log lines.
type quietLogger struct{}

func (quietLogger) Print(...any) {}

// sessionConnector runs session statements on every new connection.
type sessionConnector struct {
	driver.Connector
	init []string
}

func (c sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("mysql connection cannot execute statements")
	}
	for _, q := range c.init {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return conn, nil
}

// MySQL error numbers.
const (
	mysqlErrTableExists     = 1050
	mysqlErrDupColumn       = 1060
	mysqlErrDupKeyName      = 1061
	mysqlErrDupEntry        = 1062
	mysqlErrTooManyConns    = 1040
	mysqlErrTooManyUserConn = 1203
	mysqlErrServerShutdown  = 1053
	mysqlErrLockWaitTimeout = 1205
	mysqlErrDeadlock        = 1213
	mysqlErrQueryInterrupt  = 1317
	mysqlErrConnKilled      = 1927 // MariaDB
	mysqlErrStmtTimeout     = 1969 // MariaDB max_statement_time
	mysqlErrMaxExecTime     = 3024 // MySQL max_execution_time
)

func mysqlErrNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// mysqlDuplicate recognises a unique-key violation.
func mysqlDuplicate(err error) bool { return mysqlErrNumber(err) == mysqlErrDupEntry }

// mysqlAlreadyExists recognises the errors of DDL that was already applied.
func mysqlAlreadyExists(err error) bool {
	switch mysqlErrNumber(err) {
	case mysqlErrTableExists, mysqlErrDupColumn, mysqlErrDupKeyName:
		return true
	}
	return false
}

// mysqlUnavailable recognises MySQL's connectivity errors: a connection
// that broke under a statement, too many connections, shutdowns, killed
// connections, statement and lock wait timeouts, and deadlocks (transient:
// a retry can succeed).
func mysqlUnavailable(err error) bool {
	if errors.Is(err, mysql.ErrInvalidConn) {
		return true
	}
	switch mysqlErrNumber(err) {
	case mysqlErrTooManyConns, mysqlErrTooManyUserConn, mysqlErrServerShutdown,
		mysqlErrLockWaitTimeout, mysqlErrDeadlock, mysqlErrQueryInterrupt,
		mysqlErrConnKilled, mysqlErrStmtTimeout, mysqlErrMaxExecTime:
		return true
	}
	return false
}
