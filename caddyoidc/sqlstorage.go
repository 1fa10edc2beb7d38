package caddyoidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func init() {
	caddy.RegisterModule(PostgresStorage{})
	caddy.RegisterModule(MySQLStorage{})
}

// PostgresStorage keeps the provider's state in a PostgreSQL database, so
// that several Caddy instances share one identity state: any instance can
// exchange a code issued by another, refresh its tokens, and see its
// sign-outs. The schema is created and migrated when Caddy starts; instances
// starting at the same moment migrate once (an advisory lock).
//
// Caddyfile:
//
//	storage postgres <dsn>
//	storage postgres {
//		dsn       <dsn>
//		max_conns <n>
//		schema    <name>
//		disable_login_cache
//	}
type PostgresStorage struct {
	// DSN is the connection string, as a URL
	// (postgres://user:password@host:5432/db?sslmode=verify-full) or in
	// key=value form. It usually holds a password: give it as
	// {env.OIDC_POSTGRES_DSN} or {file./run/secrets/oidc_dsn}, which are
	// resolved when the config loads and never appear in `caddy adapt`
	// output. Required.
	DSN string `json:"dsn,omitempty"`
	// MaxConns is the size of the connection pool of this instance.
	// Default: 4 per CPU core, at least 8.
	MaxConns int `json:"max_conns,omitempty"`
	// Schema is a schema to use instead of the user's default one; it is
	// created if it does not exist. Default: the server's search_path.
	Schema string `json:"schema,omitempty"`
	// DisableLoginCache makes every authorization request read its login
	// session from the database. By default each instance keeps the
	// sessions it read and hears of every change to one through
	// PostgreSQL's LISTEN/NOTIFY, so that a sign-out or a revocation on
	// another instance holds here within milliseconds; with the cache off
	// it holds at once, at the cost of a round trip per authorization.
	DisableLoginCache bool `json:"disable_login_cache,omitempty"`

	pooled
}

// CaddyModule returns the Caddy module information.
func (PostgresStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc.storage.postgres",
		New: func() caddy.Module { return new(PostgresStorage) },
	}
}

// Provision connects, or takes the already open pool from a previous
// configuration: a reload must not drop connections under running requests.
func (s *PostgresStorage) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	cfg := store.PostgresConfig{
		DSN:          strings.TrimSpace(repl.ReplaceKnown(s.DSN, "")),
		MaxConns:     s.MaxConns,
		Schema:       repl.ReplaceKnown(s.Schema, ""),
		NoLoginCache: s.DisableLoginCache,
	}
	if cfg.DSN == "" {
		return fmt.Errorf("dsn: required (e.g. {env.OIDC_POSTGRES_DSN})")
	}
	key := dsnKey(cfg.DSN, cfg.Schema)
	if cfg.NoLoginCache {
		key += "/no-login-cache" // a pool opened otherwise is not this one
	}
	err := s.open(ctx, "postgres", key, func(c context.Context) (*store.DB, error) {
		return store.OpenPostgres(c, cfg)
	})
	if err != nil {
		return fmt.Errorf("dsn: %w", err) // the store's errors never carry the password
	}
	return nil
}

// Validate checks the options that need no connection.
func (s *PostgresStorage) Validate() error {
	if s.MaxConns < 0 {
		return fmt.Errorf("max_conns: must not be negative")
	}
	return nil
}

// UnmarshalCaddyfile reads `storage postgres <dsn>` or its block form.
func (s *PostgresStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalSQLStorage(d, &s.DSN, &s.MaxConns, func(opt string) error {
		switch opt {
		case "schema":
			if !d.NextArg() || d.CountRemainingArgs() > 0 {
				return d.ArgErr()
			}
			s.Schema = d.Val()
		case "disable_login_cache":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.DisableLoginCache = true
		default:
			return d.Errf("storage postgres: unknown option %q (dsn, max_conns, schema, disable_login_cache)", opt)
		}
		return nil
	})
}

// MySQLStorage keeps the provider's state in a MariaDB (10.6 or later) or
// MySQL (8.0 or later) database, so that several Caddy instances share one
// identity state. The schema is created and migrated when Caddy starts;
// instances starting at the same moment migrate once (GET_LOCK).
//
// Caddyfile:
//
//	storage mysql <dsn>
//	storage mysql {
//		dsn       <dsn>
//		max_conns <n>
//	}
type MySQLStorage struct {
	// DSN is the Go MySQL driver's data source name:
	// user:password@tcp(host:3306)/dbname (options such as tls=true may
	// follow a '?'). Give it as {env.OIDC_MYSQL_DSN} or
	// {file./run/secrets/oidc_dsn}. Required.
	DSN string `json:"dsn,omitempty"`
	// MaxConns is the size of the connection pool of this instance.
	// Default: 4 per CPU core, at least 8.
	MaxConns int `json:"max_conns,omitempty"`

	pooled
}

// CaddyModule returns the Caddy module information.
func (MySQLStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc.storage.mysql",
		New: func() caddy.Module { return new(MySQLStorage) },
	}
}

// Provision connects, or takes the already open pool from a previous
// configuration.
func (s *MySQLStorage) Provision(ctx caddy.Context) error {
	cfg := store.MySQLConfig{
		DSN:      strings.TrimSpace(caddy.NewReplacer().ReplaceKnown(s.DSN, "")),
		MaxConns: s.MaxConns,
	}
	if cfg.DSN == "" {
		return fmt.Errorf("dsn: required (e.g. {env.OIDC_MYSQL_DSN})")
	}
	err := s.open(ctx, "mysql", dsnKey(cfg.DSN, ""), func(c context.Context) (*store.DB, error) {
		return store.OpenMySQL(c, cfg)
	})
	if err != nil {
		return fmt.Errorf("dsn: %w", err) // the store's errors never carry the password
	}
	return nil
}

// Validate checks the options that need no connection.
func (s *MySQLStorage) Validate() error {
	if s.MaxConns < 0 {
		return fmt.Errorf("max_conns: must not be negative")
	}
	return nil
}

// UnmarshalCaddyfile reads `storage mysql <dsn>` or its block form.
func (s *MySQLStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return unmarshalSQLStorage(d, &s.DSN, &s.MaxConns, func(opt string) error {
		return d.Errf("storage mysql: unknown option %q (dsn, max_conns)", opt)
	})
}

// unmarshalSQLStorage reads what the SQL server backends share, from the
// segment that starts with the backend's name (see caddyfile.UnmarshalModule):
// an optional DSN argument, then an optional block with dsn and max_conns;
// other options go to more.
func unmarshalSQLStorage(d *caddyfile.Dispenser, dsn *string, maxConns *int, more func(opt string) error) error {
	d.Next() // the backend's name
	if d.NextArg() {
		*dsn = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch opt := d.Val(); opt {
		case "dsn":
			if !d.NextArg() || d.CountRemainingArgs() > 0 {
				return d.ArgErr()
			}
			*dsn = d.Val()
		case "max_conns":
			if !d.NextArg() || d.CountRemainingArgs() > 0 {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 1 {
				return d.Errf("max_conns: want a positive number, got %q", d.Val())
			}
			*maxConns = n
		default:
			if err := more(opt); err != nil {
				return err
			}
		}
	}
	return nil
}

// dsnKey is the pool key of a database server connection: a hash, so that
// the DSN's password never ends up in a map key that might be logged.
func dsnKey(dsn, schema string) string {
	sum := sha256.Sum256([]byte(dsn + "\x00" + schema))
	return hex.EncodeToString(sum[:12])
}

// Interface guards
var (
	_ caddy.Provisioner     = (*PostgresStorage)(nil)
	_ caddy.Validator       = (*PostgresStorage)(nil)
	_ caddy.CleanerUpper    = (*PostgresStorage)(nil)
	_ caddyfile.Unmarshaler = (*PostgresStorage)(nil)
	_ StorageSource         = (*PostgresStorage)(nil)

	_ caddy.Provisioner     = (*MySQLStorage)(nil)
	_ caddy.Validator       = (*MySQLStorage)(nil)
	_ caddy.CleanerUpper    = (*MySQLStorage)(nil)
	_ caddyfile.Unmarshaler = (*MySQLStorage)(nil)
	_ StorageSource         = (*MySQLStorage)(nil)
)
