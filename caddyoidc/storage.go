package caddyoidc

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func init() {
	caddy.RegisterModule(SQLiteStorage{})
}

// SQLiteStorage keeps the provider's state in an embedded SQLite database
// (pure Go, no C compiler needed). It is the default: nothing to set up, and
// grants, tokens and login sessions survive restarts and reloads. For several
// Caddy instances sharing one state, use a PostgreSQL backend instead.
type SQLiteStorage struct {
	// Path of the database file. Default: oidc/<issuer>.db in Caddy's data
	// directory, a file per issuer (filled in by the handler).
	Path string `json:"path,omitempty"`

	db   *store.DB
	path string
}

// CaddyModule returns the Caddy module information.
func (SQLiteStorage) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "oidc.storage.sqlite",
		New: func() caddy.Module { return new(SQLiteStorage) },
	}
}

// Provision opens the database, or takes the already open one from the pool:
// a reload must not close and reopen it under running requests.
func (s *SQLiteStorage) Provision(ctx caddy.Context) error {
	path := caddy.NewReplacer().ReplaceKnown(s.Path, "")
	if path == "" {
		// The handler fills in the default (storageConfig), so only an
		// empty placeholder gets here.
		return fmt.Errorf("path: empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("path: %w", err)
	}
	logger := ctx.Logger()
	val, _, err := databases.LoadOrNew("sqlite:"+abs, func() (caddy.Destructor, error) {
		db, err := store.OpenSQLite(abs)
		if err != nil {
			return nil, err
		}
		return newPooledDB(db, logger), nil
	})
	if err != nil {
		return fmt.Errorf("opening %s: %w", abs, err)
	}
	s.path = "sqlite:" + abs // from here on, Cleanup releases it
	pooled, ok := val.(*pooledDB)
	if !ok { // only this function fills the pool under "sqlite:" keys
		return fmt.Errorf("opening %s: pooled database is a %T", abs, val)
	}
	s.db = pooled.db
	return nil
}

// UnmarshalCaddyfile reads the SQLite backend's Caddyfile form:
//
//	storage sqlite [<path>]
func (s *SQLiteStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		s.Path = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("storage sqlite: unrecognized option %q", d.Val())
	}
	return nil
}

// DB returns the open database.
func (s *SQLiteStorage) DB() *store.DB { return s.db }

// Cleanup releases this instance's use of the database; the last user closes it.
func (s *SQLiteStorage) Cleanup() error {
	if s.path == "" {
		return nil
	}
	_, err := databases.Delete(s.path)
	return err
}

// databases holds open databases across reloads, keyed by backend and address.
var databases = caddy.NewUsagePool()

// pooledDB is an open database with its garbage collector.
type pooledDB struct {
	db   *store.DB
	stop context.CancelFunc
	done chan struct{}
}

// gcInterval is how often expired rows are deleted.
const gcInterval = 15 * time.Minute

// attemptRetention is how long authentication attempts are kept for
// regulation.
const attemptRetention = 7 * 24 * time.Hour

func newPooledDB(db *store.DB, logger *zap.Logger) *pooledDB {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pooledDB{db: db, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(gcInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				n, err := db.DeleteExpired(ctx, now)
				if err == nil {
					// Regulation needs attempts for find_time + ban_time;
					// a week covers any sensible setting.
					var m int64
					m, err = db.DeleteAttemptsBefore(ctx, now.Add(-attemptRetention))
					n += m
				}
				if err != nil && ctx.Err() == nil {
					logger.Error("deleting expired grants and sessions", zap.Error(err))
				} else if n > 0 {
					logger.Debug("deleted expired grants and sessions", zap.Int64("rows", n))
				}
			}
		}
	}()
	return p
}

// Destruct stops the collector and closes the database.
func (p *pooledDB) Destruct() error {
	p.stop()
	<-p.done
	return p.db.Close()
}

// Interface guards
var (
	_ caddy.Provisioner     = (*SQLiteStorage)(nil)
	_ caddy.CleanerUpper    = (*SQLiteStorage)(nil)
	_ caddyfile.Unmarshaler = (*SQLiteStorage)(nil)
	_ StorageSource         = (*SQLiteStorage)(nil)
)
