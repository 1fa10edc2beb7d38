package usersfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

// A cheap bcrypt digest of "pw" (cost 10), valid for the users file.
const digest = "$2b$10$cy.ah2u2oDvxqRgjuX4GZOeKwJC3Rynl8lpnLUmj/L0HhHlfscjtu"

const original = `# The users of the provider.
users:
  # Alice runs the place.
  alice:
    displayname: Alice # her full name
    password: '` + digest + `'
    email: alice@example.com
    groups: [admins]
  bob:
    displayname: Bob
    password: '` + digest + `'
# end of file
`

func write(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users_database.yml")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEdit(t *testing.T) {
	if err := users.CheckFile([]byte(original)); err != nil {
		t.Fatalf("the test file itself: %v", err)
	}
	path := write(t, original, 0o640)
	f, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add("carol", User{DisplayName: "Carol", Email: "carol@example.com", Groups: []string{"dev", "ops"}, Password: digest}); err != nil {
		t.Fatal(err)
	}
	if err := f.Add("alice", User{Password: digest}); !errors.Is(err, ErrUserExists) {
		t.Errorf("adding alice again: %v", err)
	}
	if err := f.SetDisabled("bob", true); err != nil {
		t.Fatal(err)
	}
	if err := f.SetPassword("alice", digest); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete("nobody"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("deleting an unknown user: %v", err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(data)
	for _, want := range []string{"# The users of the provider.", "# Alice runs the place.", "displayname: Alice # her full name", "# end of file", "carol:", "- dev", "carol@example.com"} {
		if !strings.Contains(got, want) {
			t.Errorf("the saved file lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "alice:") > strings.Index(got, "bob:") || strings.Index(got, "bob:") > strings.Index(got, "carol:") {
		t.Errorf("order changed:\n%s", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after save: %v, %v; want 0640", fi.Mode(), err)
	}
	b, err := users.NewFileBackend(path)
	if err != nil {
		t.Fatalf("the provider cannot load the saved file: %v", err)
	}
	if u, err := b.Lookup("bob"); err != nil || !u.Disabled {
		t.Errorf("bob: %+v, %v; want disabled", u, err)
	}
	if _, err := b.Authenticate("carol", "pw"); err != nil {
		t.Errorf("carol cannot sign in: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	f, err = Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.List()
	if err != nil || len(list) != 3 || list[2].Name != "carol" || !list[1].Disabled || list[0].Groups[0] != "admins" {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, content, want string
	}{
		{"not YAML", "users: [\n", "not valid YAML"},
		{"a list", "- alice\n", "users key"},
		{"users a list", "users:\n  - alice\n", "not a map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.content, 0o600)
			if _, err := Open(path, false); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want %q", err, tc.want)
			}
		})
	}

	// A result the provider would not load is not written.
	path := write(t, original, 0o600)
	f, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetPassword("bob", "not-a-digest"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Errorf("Save with a bad digest: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != original {
		t.Error("the file changed")
	}

	// A missing file only with create.
	missing := filepath.Join(t.TempDir(), "new.yml")
	if _, err := Open(missing, false); err == nil {
		t.Error("opened a missing file without create")
	}
	f, err = Open(missing, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add("alice", User{DisplayName: "Alice", Password: digest}); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := users.NewFileBackend(missing); err != nil {
		t.Errorf("new file: %v", err)
	}
	if fi, _ := os.Stat(missing); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v", fi.Mode())
	}
}

// TestConcurrentEdits: editors that lock the file do not lose each other's
// changes.
func TestConcurrentEdits(t *testing.T) {
	path := write(t, original, 0o600)
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			unlock, err := Lock(path)
			if err != nil {
				errs <- err
				return
			}
			defer unlock()
			f, err := Open(path, false)
			if err == nil {
				err = f.Add(fmt.Sprintf("user%d", i), User{Password: digest})
			}
			if err == nil {
				err = f.Save()
			}
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := f.List()
	if len(list) != n+2 {
		t.Errorf("%d users after %d concurrent adds to 2, want %d", len(list), n, n+2)
	}
}
