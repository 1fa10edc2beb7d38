package caddyoidc

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
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
// Caddy instances sharing one state, use the postgres or mysql backend.
type SQLiteStorage struct {
	// Path of the database file. Default: oidc/<issuer>.db in Caddy's data
	// directory, a file per issuer (filled in by the handler).
	Path string `json:"path,omitempty"`
	// DisableLoginCache makes every authorization request read its login
	// session from the file. By default the process keeps the sessions it
	// read, forgets one at once when it changes it, and learns of changes
	// made by another process on the same file (a second Caddy, or `caddy
	// oidc sessions revoke` working on the file directly) within a quarter
	// of a second.
	DisableLoginCache bool `json:"disable_login_cache,omitempty"`

	pooled
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
	key := abs
	if s.DisableLoginCache {
		key += "/no-login-cache" // a database opened otherwise is not this one
	}
	return s.open(ctx, "sqlite", key, func(context.Context) (*store.DB, error) {
		return store.OpenSQLiteWith(abs, store.SQLiteOptions{NoLoginCache: s.DisableLoginCache})
	})
}

// pooled is what every storage module shares: the open database, taken from
// (and given back to) the databases pool.
type pooled struct {
	db  *store.DB
	key string // pool key; empty until open succeeded
}

// openTimeout bounds connecting and migrating when a configuration loads.
const openTimeout = 30 * time.Second

// open takes the database of backend at addr from the pool, or opens it
// with openDB and starts its garbage collector.
func (p *pooled) open(ctx caddy.Context, backend, addr string, openDB func(context.Context) (*store.DB, error)) error {
	logger := ctx.Logger()
	key := backend + ":" + addr
	val, _, err := databases.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, cancel := context.WithTimeout(ctx, openTimeout)
		defer cancel()
		db, err := openDB(c)
		if err != nil {
			return nil, err
		}
		return newPooledDB(db, logger), nil
	})
	if err != nil {
		return err
	}
	p.key = key // from here on, Cleanup releases it
	pdb, ok := val.(*pooledDB)
	if !ok { // only open fills the pool
		return fmt.Errorf("%s: pooled database is a %T", backend, val)
	}
	p.db = pdb.db
	return nil
}

// UnmarshalCaddyfile reads the SQLite backend's Caddyfile form:
//
//	storage sqlite [<path>] [{
//		disable_login_cache
//	}]
func (s *SQLiteStorage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the backend name
	if d.NextArg() {
		s.Path = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "disable_login_cache":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.DisableLoginCache = true
		default:
			return d.Errf("storage sqlite: unrecognized option %q (disable_login_cache)", d.Val())
		}
	}
	return nil
}

// DB returns the open database.
func (p *pooled) DB() *store.DB { return p.db }

// Cleanup releases this instance's use of the database; the last user closes
// it. Caddy calls it even after a failed Provision.
func (p *pooled) Cleanup() error {
	if p.key == "" {
		return nil
	}
	_, err := databases.Delete(p.key)
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

// gcInterval is how often an instance tries to delete expired rows; with
// several instances on one database, one of them at a time does it (a
// lease of gcLease in the database, shorter than the interval so that
// another instance takes over within one period when the holder stops), in
// batches of gcBatch rows. Every minute keeps the expired rows of a busy
// provider to about a minute's worth: with a 5-minute period, a 10-minute
// churn run with 1-minute access tokens was collected once, at about 300 s,
// and held up to five minutes of expired rows between passes
// (bench/results/20261205T190846Z-churn). With nothing expired, a pass is a
// lease update and one indexed DELETE per table.
const (
	gcInterval = time.Minute
	gcLease    = 50 * time.Second
	gcBatch    = 500
)

// attemptRetention is how long authentication attempts are kept for
// regulation: it needs them for find_time + ban_time, and a week covers any
// sensible setting.
const attemptRetention = 7 * 24 * time.Hour

func newPooledDB(db *store.DB, logger *zap.Logger) *pooledDB {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pooledDB{db: db, stop: cancel, done: make(chan struct{})}
	holder := instanceID()
	go func() {
		defer close(p.done)
		t := time.NewTicker(gcInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				n, ran, err := db.CollectGarbage(ctx, now, now.Add(-attemptRetention), holder, gcLease, gcBatch)
				switch {
				case err != nil && ctx.Err() == nil:
					logger.Error("deleting expired grants and sessions", zap.Error(err))
				case ran && n > 0:
					logger.Debug("deleted expired grants and sessions", zap.Int64("rows", n))
				}
			}
		}
	}()
	return p
}

// instanceID names this process in the garbage collector's lease: host,
// process and a random part, so two processes never take each other for
// the holder.
func instanceID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
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
