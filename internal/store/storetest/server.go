package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// Server is a shared database server for tests: each test gets its own
// database on it, named oidctest_<random>, dropped when the test ends.
type Server struct {
	name  string // for messages
	admin *sql.DB
	addr  string // host:port
	// dsn returns the DSN of database db through addr, with password and a
	// connect timeout if they are not zero.
	dsn    func(o dsnOptions) string
	open   func(ctx context.Context, dsn string) (*store.DB, error)
	create string // CREATE DATABASE statement, %s is the name
	drop   string // DROP DATABASE statement
}

type dsnOptions struct {
	db, addr, password string
	timeout            time.Duration
}

// Test server addresses, unless the environment names others.
const (
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test"
	DefaultMySQLDSN    = "root@tcp(127.0.0.1:3306)/test"
)

// testMaxConns keeps tests from crowding servers shared with others.
const testMaxConns = 4

// unreachable skips the test, or fails it on CI (CI=true), where the
// servers must be up.
func unreachable(t testing.TB, what, env string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s test server unreachable (set %s): %v", what, env, err)
	}
	t.Skipf("%s test server unreachable, skipping (set %s to use another): %v", what, env, err)
}

// Postgres is the PostgreSQL test server at OIDC_TEST_POSTGRES_DSN (a
// postgres:// URL; DefaultPostgresDSN if unset).
func Postgres(t testing.TB) *Server {
	const env = "OIDC_TEST_POSTGRES_DSN"
	base := os.Getenv(env)
	if base == "" {
		base = DefaultPostgresDSN
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", env)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "5432")
	}
	s := &Server{
		name: "PostgreSQL",
		addr: addr,
		dsn: func(o dsnOptions) string {
			v := *u
			v.Path = "/" + o.db
			if o.addr != "" {
				v.Host = o.addr
			}
			if o.password != "" {
				v.User = url.UserPassword(u.User.Username(), o.password)
			}
			if o.timeout != 0 {
				q := v.Query()
				q.Set("connect_timeout", strconv.Itoa(int(o.timeout/time.Second)))
				v.RawQuery = q.Encode()
			}
			return v.String()
		},
		open: func(ctx context.Context, dsn string) (*store.DB, error) {
			return store.OpenPostgres(ctx, store.PostgresConfig{DSN: dsn, MaxConns: testMaxConns})
		},
		create: `CREATE DATABASE %s`,
		drop:   `DROP DATABASE IF EXISTS %s WITH (FORCE)`,
	}
	s.connect(t, "pgx", base, env)
	return s
}

// MySQL is the MySQL or MariaDB test server at OIDC_TEST_MYSQL_DSN
// (DefaultMySQLDSN if unset).
func MySQL(t testing.TB) *Server {
	const env = "OIDC_TEST_MYSQL_DSN"
	base := os.Getenv(env)
	if base == "" {
		base = DefaultMySQLDSN
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	s := &Server{
		name: "MySQL",
		addr: cfg.Addr,
		dsn: func(o dsnOptions) string {
			c := cfg.Clone()
			c.DBName = o.db
			if o.addr != "" {
				c.Net, c.Addr = "tcp", o.addr
			}
			if o.password != "" {
				c.Passwd = o.password
			}
			if o.timeout != 0 {
				c.Timeout = o.timeout
			}
			return c.FormatDSN()
		},
		open: func(ctx context.Context, dsn string) (*store.DB, error) {
			return store.OpenMySQL(ctx, store.MySQLConfig{DSN: dsn, MaxConns: testMaxConns})
		},
		create: `CREATE DATABASE %s CHARACTER SET utf8mb4`,
		drop:   `DROP DATABASE IF EXISTS %s`,
	}
	s.connect(t, "mysql", base, env)
	return s
}

func (s *Server) connect(t testing.TB, driver, dsn, env string) {
	t.Helper()
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		unreachable(t, s.name, env, err)
	}
	admin.SetMaxOpenConns(2)
	t.Cleanup(func() { _ = admin.Close() })
	s.admin = admin
}

// FreshDSN creates an empty database and returns its DSN; the database is
// dropped when the test ends.
func (s *Server) FreshDSN(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "oidctest_" + hex.EncodeToString(b)
	if _, err := s.admin.Exec(fmt.Sprintf(s.create, name)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.admin.Exec(fmt.Sprintf(s.drop, name)); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return s.dsn(dsnOptions{db: name})
}

// Open returns a handle on a fresh database, closed when the test ends.
func (s *Server) Open(t *testing.T) *store.DB {
	t.Helper()
	db, err := s.Database(t)()
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// Database makes a fresh database and returns a function opening handles
// (instances) on it; see [Database].
func (s *Server) Database(t *testing.T) func() (*store.DB, error) {
	t.Helper()
	dsn := s.FreshDSN(t)
	return func() (*store.DB, error) { return s.openDSN(t, dsn) }
}

// openDSN opens a handle that is closed when the test ends (before its
// database is dropped).
func (s *Server) openDSN(t *testing.T, dsn string) (*store.DB, error) {
	db, err := s.open(context.Background(), dsn)
	if err == nil {
		t.Cleanup(func() { _ = db.Close() })
	}
	return db, err
}
