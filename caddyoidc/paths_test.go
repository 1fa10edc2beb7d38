package caddyoidc

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestStorageDefaultPathPerIssuer: no storage, and a bare `storage sqlite`,
// give each issuer its own database file, the same for both forms; the
// databases really open there.
func TestStorageDefaultPathPerIssuer(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	issuers := []string{"https://a.example.com", "https://b.example.com"}
	opened := map[string]string{} // path -> issuer
	for _, iss := range issuers {
		want := defaultDatabasePath(iss)
		for _, raw := range []json.RawMessage{nil, json.RawMessage(`{"backend":"sqlite"}`), json.RawMessage(`{"backend":"sqlite","path":""}`)} {
			var got SQLiteStorage
			if err := json.Unmarshal(storageConfig(raw, iss), &got); err != nil {
				t.Fatal(err)
			}
			if got.Path != want {
				t.Errorf("%s, storage %s: path %q, want %q", iss, raw, got.Path, want)
			}
		}

		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		h := &Handler{StorageRaw: storageConfig(json.RawMessage(`{"backend":"sqlite"}`), iss)}
		mod, err := ctx.LoadModule(h, "StorageRaw")
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", iss, err)
		}
		st, ok := mod.(*SQLiteStorage)
		cancel() // closes the database
		if !ok {
			t.Fatalf("%s: storage module is a %T", iss, mod)
		}
		path := st.key
		if other, dup := opened[path]; dup {
			t.Errorf("%s and %s share the database %s", other, iss, path)
		}
		opened[path] = iss
		if _, err := os.Stat(want); err != nil {
			t.Errorf("%s: database not at the default path: %v", iss, err)
		}
	}
	if len(opened) != len(issuers) {
		t.Errorf("databases opened: %v", opened)
	}
}

func TestStorageConfigKeepsExplicitChoices(t *testing.T) {
	for _, raw := range []string{
		`{"backend":"sqlite","path":"/var/lib/oidc.db"}`,
		`{"backend":"postgres","dsn":"postgres://x"}`,
		`not json`,
	} {
		if got := string(storageConfig(json.RawMessage(raw), "https://a")); got != raw {
			t.Errorf("%s became %s", raw, got)
		}
	}
}

func TestIssuerPaths(t *testing.T) {
	a, b := issuerSlug("https://a.example.com"), issuerSlug("https://a.example.com:8443")
	if a == b {
		t.Errorf("issuers on other ports share the slug %q", a)
	}
	if got := totpKeyName("https://a.example.com"); got != "oidc/"+a+"/totp_key" {
		t.Errorf("totpKeyName = %q", got)
	}
	if got := filepath.Base(defaultDatabasePath("https://a.example.com")); got != a+".db" {
		t.Errorf("defaultDatabasePath = %q", got)
	}
}
