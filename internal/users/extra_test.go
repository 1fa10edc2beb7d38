package users

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestExtraIsJSONSafe: custom attributes come out of Lookup as values
// encoding/json can write, even a YAML map with non-string keys, and as a
// copy the caller may change.
func TestExtraIsJSONSafe(t *testing.T) {
	digest, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users.yml")
	body := "users:\n  alice:\n    password: \"" + digest + "\"\n    extra:\n      team: photos\n      floors:\n        1: lobby\n        2: [desk, lab]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := NewFileBackend(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := b.Lookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(u.Extra)
	if err != nil {
		t.Fatalf("extra is not JSON-safe: %v", err)
	}
	if string(out) != `{"floors":{"1":"lobby","2":["desk","lab"]},"team":"photos"}` {
		t.Errorf("extra as JSON: %s", out)
	}
	u.Extra["team"] = "changed"
	if again, _ := b.Lookup("alice"); again.Extra["team"] != "photos" {
		t.Error("Lookup must return a copy")
	}
}
