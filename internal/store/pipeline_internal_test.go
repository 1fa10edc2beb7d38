package store

import "testing"

// TestFailOnServer: a write that must affect a row becomes a statement
// that fails on the server when it affects none; a write with its own WITH
// list keeps it at the top level, where PostgreSQL requires data-modifying
// WITH (nested, every group commit holding such a write failed and was run
// again write by write).
func TestFailOnServer(t *testing.T) {
	const check = " RETURNING 1) SELECT CAST(CASE WHEN count(*) > 0 THEN '0' ELSE 'no row affected' END AS INTEGER) FROM w"
	for _, tc := range []struct {
		name, query, want string
	}{
		{"plain update", "UPDATE t SET a = FALSE WHERE k = $1 AND a",
			"WITH w AS (UPDATE t SET a = FALSE WHERE k = $1 AND a" + check},
		{"own WITH list", "WITH gone AS (DELETE FROM t WHERE k = $1 RETURNING k, v) INSERT INTO u (k, v) SELECT k, v FROM gone",
			"WITH gone AS (DELETE FROM t WHERE k = $1 RETURNING k, v), w AS (INSERT INTO u (k, v) SELECT k, v FROM gone" + check},
		{"two definitions, nested parentheses", "WITH a AS (SELECT max(x) FROM (SELECT 1 AS x) s), b AS (SELECT 2) INSERT INTO u SELECT * FROM a, b",
			"WITH a AS (SELECT max(x) FROM (SELECT 1 AS x) s), b AS (SELECT 2), w AS (INSERT INTO u SELECT * FROM a, b" + check},
		{"the rotation of PostgreSQL", rebindDollar(sqlRetireRefreshReturning),
			"WITH retired AS (DELETE FROM oauth2_refresh WHERE signature = $1 AND active RETURNING signature, request_id, client_id, expires_at), " +
				"w AS (INSERT INTO oauth2_refresh_rotated (signature, request_id, client_id, expires_at) SELECT signature, request_id, client_id, expires_at FROM retired" + check},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := queuedWrite{query: tc.query, noRow: errNotActive}.failOnServer()
			if got.query != tc.want {
				t.Errorf("failOnServer:\n got %s\nwant %s", got.query, tc.want)
			}
		})
	}
	if w := (queuedWrite{query: "INSERT INTO t VALUES ($1)"}).failOnServer(); w.query != "INSERT INTO t VALUES ($1)" {
		t.Errorf("a write without a check changed: %s", w.query)
	}
}
