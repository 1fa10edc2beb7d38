package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // pgx's database/sql driver: all SQL stays in database/sql
)

// PostgresConfig configures a PostgreSQL database.
type PostgresConfig struct {
	// DSN is a libpq URL or key=value string, as pgx accepts it, e.g.
	// "postgres://oidc:secret@db.internal:5432/oidc?sslmode=verify-full".
	// Without connect_timeout, connecting times out after 10 s.
	DSN string
	// MaxConns is the pool size; 0 is a few connections per core.
	MaxConns int
	// Schema, if not "", is a schema created if missing and used (through
	// search_path) for every table; "" uses the server's default.
	Schema string
	// NoLoginCache turns off the cache of login sessions (logincache.go)
	// and the access tokens kept for their first use (accessrows.go):
	// every authorization request reads its session, and every use of an
	// access token its row, from the database, so that a sign-out or a
	// revocation on another instance holds at once rather than within the
	// notification's delay.
	NoLoginCache bool
}

// OpenPostgres connects to a PostgreSQL database and brings its schema up to
// date. Several instances may open the same database at once: migrations run
// once, under an advisory lock. It fails within about 10 s (or the DSN's
// connect_timeout) when the server cannot be reached, with an error that
// names the problem but never the password.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*DB, error) {
	password := pgPassword(cfg.DSN)
	pcfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, redact(fmt.Errorf("store: postgres: DSN: %w", err), password)
	}
	if pcfg.ConnectTimeout == 0 {
		pcfg.ConnectTimeout = connectTimeout
	}
	if _, ok := pcfg.RuntimeParams["application_name"]; !ok {
		pcfg.RuntimeParams["application_name"] = "caddy-oidc"
	}
	d := postgresDialect
	var quoted string
	if cfg.Schema != "" {
		if strings.ContainsRune(cfg.Schema, 0) || len(cfg.Schema) > 63 {
			return nil, fmt.Errorf("store: postgres: invalid schema name %q", cfg.Schema)
		}
		quoted = pgx.Identifier{cfg.Schema}.Sanitize()
		pcfg.RuntimeParams["search_path"] = quoted
	}
	d.migrate = migratePostgres(cfg.Schema, quoted)
	what := fmt.Sprintf("database %q on %s", pcfg.Database, pcfg.Host)
	if cfg.Schema != "" {
		what += fmt.Sprintf(" (schema %q)", cfg.Schema)
	}
	db, err := openServer(ctx, stdlib.OpenDB(*pcfg, stdlib.OptionAfterConnect(noBitmapScans)), d, cfg.MaxConns, pcfg.ConnectTimeout, what, password)
	if err != nil {
		return nil, err
	}
	db.pipelined = true // pipeline.go
	db.startGroupCommit()
	if !cfg.NoLoginCache {
		db.accesses = &recentRows{indexRequests: true} // accessrows.go
		db.startLoginCache(pcfg.Copy())                // logincache.go
	}
	return db, nil
}

// noBitmapScans turns bitmap scans off for the session. Every query of the
// store finds its rows through an index by key (a grant's request ID, a
// token's signature) or by expiry, where a plain index scan serves as well
// as a bitmap scan, and only a plain index scan marks the index entries of
// dead rows as dead when it meets them. The token tables are churned: a
// refresh deletes the grant's access token and rotates its refresh token,
// so a grant's key gathers dead entries until vacuum runs. A bitmap scan
// visits the heap page of every one of them, on every lookup of that key:
// when PostgreSQL cached a bitmap plan for a prepared statement (it costs
// both plans alike for a key lookup, and which one a connection keeps is a
// coin toss), deactivating a grant's refresh tokens read about 100 heap
// pages per refresh instead of 4, and the server spent three times the CPU
// per refresh. A SET after connecting, rather than a startup parameter,
// which connection poolers such as PgBouncer refuse.
func noBitmapScans(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SET enable_bitmapscan = off"); err != nil {
		return fmt.Errorf("set enable_bitmapscan: %w", err)
	}
	return nil
}

var pgKeywordPassword = regexp.MustCompile(`(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// pgPassword extracts the password of a DSN (URL or key=value), so that it
// can be removed from error messages; "" if there is none.
func pgPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	}
	if m := pgKeywordPassword.FindStringSubmatch(dsn); m != nil {
		p := m[1]
		if strings.HasPrefix(p, "'") && strings.HasSuffix(p, "'") && len(p) >= 2 {
			p = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(p[1 : len(p)-1])
		}
		return p
	}
	return ""
}

// pgUnavailable recognises PostgreSQL's connectivity errors: a failed
// connection attempt, a timeout, and the server's SQLSTATEs for connection
// exceptions (class 08), too many connections, shutdowns, statement and
// lock timeouts, and deadlocks (transient: a retry can succeed).
func pgUnavailable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// No answer from the server: a failed connection attempt (network)
		// or a timeout.
		var ce *pgconn.ConnectError
		return errors.As(err, &ce) || pgconn.Timeout(err)
	}
	// The server answered: a missing database or a wrong password is not
	// an outage.
	if strings.HasPrefix(pe.Code, "08") {
		return true
	}
	switch pe.Code {
	case "53300", // too_many_connections
		"57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"57P05", // idle_session_timeout
		"57014", // query_canceled (statement_timeout)
		"55P03", // lock_not_available (lock_timeout)
		"40P01": // deadlock_detected
		return true
	}
	return false
}
