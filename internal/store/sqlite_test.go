package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// Tests of the SQLite backend's own machinery (file modes, pragmas, the
// write gate) and of pure functions. The behaviour of the store is tested
// on every backend by storetest (store_*_test.go).

// openTestDB opens a fresh SQLite database in a temporary directory (a
// subdirectory, so OpenSQLite has to create it) and closes it at the end.
func openTestDB(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "oidc.sqlite")
	db, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	db, path := openTestDB(t)

	for _, tc := range []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"database file", path, 0o600},
		{"write-ahead log", path + "-wal", 0o600},
		{"parent directory", filepath.Dir(path), 0o700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.mode {
				t.Errorf("mode = %v, want %v", got, tc.mode)
			}
		})
	}

	ctx := context.Background()
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "5000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"mmap_size", "0"},   // see sqliteParams: no map under concurrent load
		{"temp_store", "2"},  // MEMORY: statement journals of savepoints stay in memory
	} {
		t.Run("pragma "+tc.pragma, func(t *testing.T) {
			var got string
			if err := db.sql.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s = %q, want %q", tc.pragma, got, tc.want)
			}
		})
	}

	t.Run("migrations are idempotent", func(t *testing.T) {
		if err := db.migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db2, err := OpenSQLite(path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer func() { _ = db2.Close() }()
		var n, max int64
		if err := db2.sql.QueryRowContext(ctx, "SELECT COUNT(*), MAX(version) FROM schema_version").Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		if n != int64(len(migrations)) || max != migrations[len(migrations)-1].version {
			t.Errorf("schema_version: %d rows, max %d; want %d rows", n, max, len(migrations))
		}
	})

	t.Run("rejects URI-like paths", func(t *testing.T) {
		for _, p := range []string{"", "file:x.db", filepath.Join(t.TempDir(), "x.db?mode=ro")} {
			if db, err := OpenSQLite(p); err == nil {
				_ = db.Close()
				t.Errorf("OpenSQLite(%q) succeeded", p)
			}
		}
	})
}

func TestRebindDollar(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c > ?", "SELECT a FROM t WHERE b = $1 AND c > $2"},
		{insertRequest("t", "x"), "INSERT INTO t (signature, " + requestColumns + ", expires_at, x) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"},
	} {
		if got := rebindDollar(tc.in); got != tc.want {
			t.Errorf("rebindDollar(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestWriteGate checks that a write made outside the open transaction (with
// the wrong context) fails after writeWait instead of waiting forever.
func TestWriteGate(t *testing.T) {
	t.Parallel()
	db, _ := openTestDB(t)
	ctx := context.Background()
	defer func(d time.Duration) { writeWait = d }(writeWait)
	writeWait = 50 * time.Millisecond
	tx, err := db.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Rollback(tx) //nolint:errcheck
	// ctx, not tx: this write would wait for the transaction forever.
	err = db.CreateLoginSession(ctx, LoginSession{ID: "outside", Username: "u", ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, errWriteBusy) || !errors.Is(err, ErrUnavailable) {
		t.Errorf("err = %v, want errWriteBusy, unavailable", err)
	}
}

// TestDeleteBatch checks that one batch deletes at most its size.
func TestDeleteBatch(t *testing.T) {
	t.Parallel()
	db, _ := openTestDB(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	for i := range 12 {
		if err := db.PutWebAuthnCeremony(ctx, strings.Repeat("x", i+1), []byte("{}"), past); err != nil {
			t.Fatal(err)
		}
	}
	q := db.dialect.deleteBatch("webauthn_ceremony", "expires_at <= ?")
	for _, want := range []int64{5, 5, 2, 0} {
		if n, err := db.exec(ctx, q, time.Now().UnixNano(), 5); err != nil || n != want {
			t.Fatalf("batch deleted %d, %v; want %d", n, err, want)
		}
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ms := Migrations()
	if len(ms) != len(migrations) {
		t.Fatalf("%d migrations listed, want %d", len(ms), len(migrations))
	}
	for i, m := range ms {
		if m.Version != int64(i+1) || m.Description == "" || strings.Contains(m.Description, "\n") {
			t.Errorf("migration %d: %+v", i, m)
		}
	}
	// On SQLite and PostgreSQL every step is the text it was released with:
	// no placeholders left, no MySQL types.
	for _, d := range []dialect{sqliteDialect, postgresDialect} {
		for _, m := range migrations {
			for _, s := range m.stmts(&d) {
				if strings.ContainsAny(s, "{}") || strings.Contains(s, "VARCHAR") || strings.Contains(s, "ENGINE") {
					t.Errorf("%s, migration %d: %s", d.name, m.version, s)
				}
			}
		}
	}
	my := mysqlDialect("utf8mb4_bin")
	for _, m := range migrations {
		for _, s := range m.stmts(&my) {
			if strings.ContainsAny(s, "{}") || strings.Contains(s, " WHERE ") || strings.Contains(s, " TEXT") {
				t.Errorf("mysql, migration %d: %s", m.version, s)
			}
			if strings.HasPrefix(s, "CREATE TABLE") && !strings.Contains(s, "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4") {
				t.Errorf("mysql, migration %d: no table options: %s", m.version, s)
			}
		}
	}
}

func TestTranslateMySQL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{sqlInsertJTI, "INSERT INTO oauth2_jti (signature, expires_at) VALUES (?, ?)"},
		{sqlInsertSubject, "INSERT INTO subject (username, sector, subject, created_at) VALUES (?, ?, ?, ?)"},
		{sqlPutTOTP, "INSERT INTO totp_secret (username, secret_sealed, confirmed, last_step, created_at) VALUES (?, ?, ?, ?, ?)\n" +
			"ON DUPLICATE KEY UPDATE secret_sealed = VALUES(secret_sealed), confirmed = VALUES(confirmed), last_step = VALUES(last_step), created_at = VALUES(created_at)"},
		{sqlPutConsent, "INSERT INTO consent (username, client_id, scopes, audience, granted_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)\n" +
			"ON DUPLICATE KEY UPDATE scopes = VALUES(scopes), audience = VALUES(audience), granted_at = VALUES(granted_at), expires_at = VALUES(expires_at)"},
	} {
		if got := translateMySQL(tc.in); got != tc.want {
			t.Errorf("translateMySQL(%q) =\n%q, want\n%q", tc.in, got, tc.want)
		}
		if insertsIfAbsent(tc.in) != strings.Contains(tc.in, "DO NOTHING") {
			t.Errorf("insertsIfAbsent(%q) = %v", tc.in, !strings.Contains(tc.in, "DO NOTHING"))
		}
	}
}

// TestPrepareTextCached: each dialect's cache of rewritten statements
// answers every statement with its own rewriting, the first time and after,
// and SQLite's statements pass through as written.
func TestPrepareTextCached(t *testing.T) {
	t.Parallel()
	mysql := mysqlDialect("utf8mb4_bin")
	queries := []string{sqlInsertJTI, sqlPutTOTP, sqlSelectRotatedRefresh, sqlDeleteAccessOfRequest, "SELECT 1"}
	for _, tc := range []struct {
		d    *dialect
		want func(string) string
	}{
		{&postgresDialect, rebindDollar},
		{&mysql, translateMySQL},
		{&sqliteDialect, func(q string) string { return q }},
	} {
		for round := range 2 {
			for _, q := range queries {
				if got, want := tc.d.prepareText(q), tc.want(q); got != want {
					t.Errorf("%s, round %d: prepareText(%q) = %q, want %q", tc.d.name, round, q, got, want)
				}
			}
		}
	}
	if _, ok := postgresDialect.texts.Load(sqlInsertJTI); !ok {
		t.Error("PostgreSQL's rewriting of sqlInsertJTI is not cached")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	const pw = "p@ss word"
	for _, tc := range []struct {
		err         error
		unavailable bool
	}{
		{errors.New("cannot parse `postgres://u:p@ss word@h/db`"), false},
		{&unavailableError{errors.New("dial p%40ss+word")}, true},
		{&unavailableError{errors.New("dial p@ss%20word")}, true},
	} {
		got := redact(tc.err, pw)
		if msg := got.Error(); strings.Contains(msg, "ss word") || strings.Contains(msg, "ss+word") || strings.Contains(msg, "ss%20word") {
			t.Errorf("redact(%q) = %q", tc.err, msg)
		}
		if errors.Is(got, ErrUnavailable) != tc.unavailable {
			t.Errorf("redact(%q): unavailable = %v", tc.err, !tc.unavailable)
		}
	}
	plain := errors.New("no secret here")
	if redact(plain, pw) != plain {
		t.Error("an error without the password was replaced")
	}
}

func TestListEncoding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     []string
		stored string
	}{
		{nil, ""},
		{[]string{}, ""},
		{[]string{"openid"}, "openid"},
		{[]string{"openid", "offline", "email"}, "openid offline email"},
		{[]string{"https://api.example/a b"}, `["https://api.example/a b"]`},
		{[]string{""}, `[""]`},
		{[]string{"a", ""}, `["a",""]`},
		{[]string{"[weird", "x"}, `["[weird","x"]`},
		{[]string{"x", "[fine"}, "x [fine"},
	} {
		enc, err := encodeList(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if enc != tc.stored {
			t.Errorf("encodeList(%q) = %q, want %q", tc.in, enc, tc.stored)
		}
		dec, err := decodeList(enc)
		if err != nil {
			t.Fatalf("decodeList(%q): %v", enc, err)
		}
		if dec == nil || !slices.Equal(dec, fosite.Arguments(tc.in)) {
			t.Errorf("round trip of %q = %q", tc.in, dec)
		}
	}
}

func TestUnionAttempts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	a := func(user string, s int) Attempt {
		return Attempt{Username: user, RemoteIP: "ip", Factor: "password", At: t0.Add(time.Duration(s) * time.Second)}
	}
	for _, tc := range []struct {
		name  string
		x, y  []Attempt
		limit int
		want  []Attempt
	}{
		{"empty", nil, nil, 5, []Attempt{}},
		{"one side", []Attempt{a("u", 2), a("u", 1)}, nil, 5, []Attempt{a("u", 2), a("u", 1)}},
		{"interleaved", []Attempt{a("u", 3), a("u", 1)}, []Attempt{a("v", 2), a("v", 0)}, 5,
			[]Attempt{a("u", 3), a("v", 2), a("u", 1), a("v", 0)}},
		{"shared rows once", []Attempt{a("u", 2), a("u", 1)}, []Attempt{a("u", 2), a("v", 1)}, 5,
			[]Attempt{a("u", 2), a("u", 1), a("v", 1)}},
		{"identical rows keep their count", []Attempt{a("u", 1), a("u", 1)}, []Attempt{a("u", 1), a("u", 1), a("u", 1)}, 5,
			[]Attempt{a("u", 1), a("u", 1), a("u", 1)}},
		{"limit", []Attempt{a("u", 3), a("u", 1)}, []Attempt{a("v", 2), a("v", 0)}, 2,
			[]Attempt{a("u", 3), a("v", 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := unionAttempts(tc.x, tc.y, tc.limit); !slices.EqualFunc(got, tc.want, sameAttempt) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
