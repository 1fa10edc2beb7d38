package caddyoidc_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// The database servers of the development and CI machines. Tests create
// their own database on them and drop it afterwards.
var (
	testPostgresDSN = envOr("OIDC_TEST_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	testMySQLDSN    = envOr("OIDC_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// sqlBackend is a database server the provider can share between instances.
type sqlBackend struct {
	name string // the storage module's name: postgres or mysql
	// create makes a fresh database and returns its DSN.
	create func(t *testing.T) string
}

var sqlBackends = []sqlBackend{
	{"postgres", newPostgresDatabase},
	{"mysql", newMySQLDatabase},
}

// unreachable fails the test under CI, where the servers must be up, and
// skips it elsewhere.
func unreachable(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable (CI needs it): %v", what, err)
	}
	t.Skipf("%s is not reachable: %v", what, err)
}

func uniqueDBName(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "oidcit_" + hex.EncodeToString(b[:])
}

// newPostgresDatabase creates a database on the shared PostgreSQL server and
// drops it when the test ends.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("pgx", testPostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(c); err != nil {
		unreachable(t, "PostgreSQL at "+testPostgresDSN, err)
	}
	name := uniqueDBName(t)
	if _, err := admin.ExecContext(c, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", testPostgresDSN)
		if err != nil {
			return
		}
		defer func() { _ = db.Close() }()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	return withDatabase(testPostgresDSN, name)
}

// withDatabase replaces the database of a postgres:// URL.
func withDatabase(dsn, name string) string {
	base, query, _ := strings.Cut(dsn, "?")
	i := strings.LastIndexByte(base, '/')
	out := base[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// newMySQLDatabase creates a database on the shared MariaDB/MySQL server and
// drops it when the test ends.
func newMySQLDatabase(t *testing.T) string {
	t.Helper()
	admin, err := sql.Open("mysql", testMySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(c); err != nil {
		unreachable(t, "MariaDB at "+testMySQLDSN, err)
	}
	name := uniqueDBName(t)
	if _, err := admin.ExecContext(c, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", testMySQLDSN)
		if err != nil {
			return
		}
		defer func() { _ = db.Close() }()
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Logf("dropping %s: %v", name, err)
		}
	})
	base, _, _ := strings.Cut(testMySQLDSN, "?")
	return base[:strings.LastIndexByte(base, '/')+1] + name
}

// throwawayPostgres is a PostgreSQL server of the test's own, in a temporary
// directory on a free loopback port, that the test may stop and start
// without touching the shared server.
type throwawayPostgres struct {
	t    *testing.T
	bin  string // the server's bin directory
	data string
	port int
}

// newThrowawayPostgres initialises and starts a server. PostgreSQL refuses
// to run as root, so as root it runs as the postgres system user.
func newThrowawayPostgres(t *testing.T) *throwawayPostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		unreachable(t, "PostgreSQL server binaries (pg_ctl)", os.ErrNotExist)
	}
	dir, err := os.MkdirTemp("", "oidc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &throwawayPostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), data: filepath.Join(dir, "data"), port: freePort(t)}
	if os.Getuid() == 0 {
		if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "--no-sync")
	p.start()
	t.Cleanup(func() { p.pgctl("stop", "-m", "immediate") })
	return p
}

// run runs a server program, as the postgres user when we are root.
func (p *throwawayPostgres) run(prog string, args ...string) {
	p.t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	if os.Getuid() == 0 {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(p.bin, prog)}, args...)...)
	}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

func (p *throwawayPostgres) pgctl(args ...string) {
	p.t.Helper()
	p.run("pg_ctl", append([]string{"-D", p.data, "-w", "-t", "30"}, args...)...)
}

// start starts the server (again), listening on loopback only.
func (p *throwawayPostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off", p.port, filepath.Dir(p.data))
	p.pgctl("start", "-l", filepath.Join(filepath.Dir(p.data), "server.log"), "-o", opts)
}

// stop stops the server at once, as a crash or a network cut would look.
func (p *throwawayPostgres) stop() {
	p.t.Helper()
	p.pgctl("stop", "-m", "immediate")
}

// dsn is the connection string of the server's postgres database.
func (p *throwawayPostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", p.port)
}
