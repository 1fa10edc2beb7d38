package store_test

import (
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store/storetest"
)

// The MySQL or MariaDB server is OIDC_TEST_MYSQL_DSN (default
// storetest.DefaultMySQLDSN); without it the tests are skipped, unless
// CI=true.

func TestMySQL(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.MySQL(t).Open)
}

func TestMySQLShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, storetest.MySQL(t).Database)
}

func TestMySQLOutage(t *testing.T) {
	t.Parallel()
	storetest.RunOutage(t, storetest.MySQL(t))
}

func TestMySQLOpenFailures(t *testing.T) {
	t.Parallel()
	storetest.RunOpenFailures(t, storetest.MySQL(t))
}
