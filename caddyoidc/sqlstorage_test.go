package caddyoidc_test

// The PostgreSQL and MySQL storage modules: their Caddyfile, secrets in
// their DSN, and configuration errors that name the option but never the
// password.

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-oidc/caddy-oidc/caddyoidc"
	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func TestSQLStorageCaddyfile(t *testing.T) {
	tests := []struct {
		name, input string
		want        string // the storage JSON
		wantErr     string
	}{
		{"postgres one line", `storage postgres postgres://oidc@db:5432/oidc`,
			`{"backend":"postgres","dsn":"postgres://oidc@db:5432/oidc"}`, ""},
		{"postgres block", "storage postgres {\n dsn {env.OIDC_DSN}\n max_conns 16\n schema idp\n}",
			`{"backend":"postgres","dsn":"{env.OIDC_DSN}","max_conns":16,"schema":"idp"}`, ""},
		{"postgres without login cache", "storage postgres {\n dsn {env.OIDC_DSN}\n disable_login_cache\n}",
			`{"backend":"postgres","disable_login_cache":true,"dsn":"{env.OIDC_DSN}"}`, ""},
		{"disable_login_cache takes no argument", "storage postgres {\n disable_login_cache yes\n}", "", "wrong argument count"},
		{"mysql one line", `storage mysql "oidc:{env.PW}@tcp(db:3306)/oidc"`,
			`{"backend":"mysql","dsn":"oidc:{env.PW}@tcp(db:3306)/oidc"}`, ""},
		{"mysql block", "storage mysql {\n dsn {file./run/secrets/dsn}\n max_conns 4\n}",
			`{"backend":"mysql","dsn":"{file./run/secrets/dsn}","max_conns":4}`, ""},
		{"mysql has no schema", "storage mysql {\n schema x\n}", "", `unknown option "schema"`},
		{"max_conns zero", "storage postgres {\n max_conns 0\n}", "", "max_conns"},
		{"two DSNs", "storage postgres a b", "", "wrong argument count"},
		{"unknown backend", "storage redis", "", `unknown backend "redis"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser("oidc_provider https://auth.example.com {\n users_file /u.yml\n " + tc.input + "\n}")
			var h caddyoidc.Handler
			err := h.UnmarshalCaddyfile(d)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(h.StorageRaw); got != tc.want {
				t.Errorf("storage = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestSQLStorageErrors loads configs whose database cannot be used: Caddy
// refuses each, with an error that names the option, and the password of the
// DSN appears nowhere.
func TestSQLStorageErrors(t *testing.T) {
	const password = "Sup3r-s3cret-pw"
	pgDSN := newPostgresDatabase(t) // also fails or skips when no server is up
	_ = newMySQLDatabase(t)
	missing := withDatabase(pgDSN, "oidc_no_such_database")
	cases := []struct{ name, storage string }{
		{"unreachable server", "storage postgres postgres://postgres:" + password + "@127.0.0.1:1/test?connect_timeout=2"},
		{"missing database", "storage postgres " + strings.Replace(missing, "postgres://postgres@", "postgres://postgres:"+password+"@", 1)},
		{"wrong password", `storage mysql "root:` + password + `@tcp(127.0.0.1:3306)/test"`},
		{"unreachable mysql", `storage mysql "root:` + password + `@tcp(127.0.0.1:1)/test?timeout=2s"`},
	}
	e := newEnv(t, standardClients)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := strings.Replace(e.caddyfile(), "storage sqlite "+e.dir+"/oidc.db", tc.storage, 1)
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = caddy.Load(cfgJSON, true)
			if err == nil {
				_ = caddy.Stop()
				t.Fatal("Caddy loaded a config whose database cannot be used")
			}
			msg := err.Error()
			if !strings.Contains(msg, "storage") || !strings.Contains(msg, "dsn") {
				t.Errorf("the error does not name the option: %s", msg)
			}
			if strings.Contains(msg, password) || strings.Contains(e.logText(), password) {
				t.Errorf("the password reached the error or the log: %s", msg)
			}
		})
	}
}

// TestSQLStorageDSNPlaceholder keeps the DSN out of `caddy adapt` and uses
// its value at run time.
func TestSQLStorageDSNPlaceholder(t *testing.T) {
	dsn := newPostgresDatabase(t)
	t.Setenv("CADDY_OIDC_TEST_DSN", dsn)
	e := newEnv(t, standardClients)
	cfg := strings.Replace(e.caddyfile(), "storage sqlite "+e.dir+"/oidc.db", "storage postgres {env.CADDY_OIDC_TEST_DSN}", 1)
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), dsn) || !strings.Contains(string(out), "{env.CADDY_OIDC_TEST_DSN}") {
		t.Fatalf("caddy adapt output: %s", out)
	}
	if err := caddy.Load(out, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caddy.Stop() })
	e.waitReady()
	var meta map[string]any
	p := newBrowser(t, e.issuer).get(e.issuer + "/.well-known/openid-configuration")
	if err := json.Unmarshal([]byte(p.body), &meta); err != nil || meta["issuer"] != e.issuer {
		t.Fatalf("discovery on the PostgreSQL-backed provider: %v %.200s", err, p.body)
	}
}

// TestSQLStorageREADME checks that README.md's "Running several instances"
// table documents every JSON field of the two modules, in their Caddyfile
// block form and in JSON.
func TestSQLStorageREADME(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## Running several instances\n")
	if !ok {
		t.Fatal(`README.md: no "Running several instances" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, m := range []struct {
		backend string
		typ     any
	}{{"postgres", caddyoidc.PostgresStorage{}}, {"mysql", caddyoidc.MySQLStorage{}}} {
		var row string
		for line := range strings.SplitSeq(section, "\n") {
			if strings.HasPrefix(line, "| `storage "+m.backend+" ") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("README.md: no table row for storage %s", m.backend)
			continue
		}
		rt := reflect.TypeOf(m.typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			// In the Caddyfile column an option takes its argument
			// (name <…>), or, a flag, none (name; or name }).
			caddyfileForm := strings.Contains(row, name+" <") || strings.Contains(row, name+";") || strings.Contains(row, name+" }")
			if !strings.Contains(row, `"`+name+`"`) || !caddyfileForm {
				t.Errorf("README.md: the storage %s row does not document %q (Caddyfile and JSON)", m.backend, name)
			}
		}
	}
}

// TestREADMEMigrations keeps README.md's list of schema migrations in step
// with the store's.
func TestREADMEMigrations(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n### Schema migrations\n")
	if !ok {
		t.Fatal(`README.md: no "Schema migrations" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	var rows []string
	for line := range strings.SplitSeq(section, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| version") {
			rows = append(rows, line)
		}
	}
	var want []string
	for _, m := range store.Migrations() {
		want = append(want, fmt.Sprintf("| %d | %s |", m.Version, m.Description))
	}
	if !slices.Equal(rows, want) {
		t.Errorf("README.md lists the migrations\n%s\nthe store has\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}
