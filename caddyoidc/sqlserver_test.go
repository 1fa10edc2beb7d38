package caddyoidc_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// sqlBackend is a database server the provider can share between instances.
type sqlBackend struct {
	name string // the storage module's name: postgres or mysql
	// create makes a fresh database on the test server (storetest's: the
	// shared server of the machine, or OIDC_TEST_*_DSN), dropped when the
	// test ends, and returns its DSN.
	create func(t *testing.T) string
}

var sqlBackends = []sqlBackend{
	{"postgres", newPostgresDatabase},
	{"mysql", newMySQLDatabase},
}

func newPostgresDatabase(t *testing.T) string { return storetest.Postgres(t).FreshDSN(t) }

func newMySQLDatabase(t *testing.T) string { return storetest.MySQL(t).FreshDSN(t) }

// unreachable fails the test under CI, where what it needs must be there,
// and skips it elsewhere.
func unreachable(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable (CI needs it): %v", what, err)
	}
	t.Skipf("%s is not reachable: %v", what, err)
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
