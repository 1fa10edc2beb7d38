package caddyoidc_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
)

func TestUsersCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users_database.yml")
	usersCmd := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		return runBin(t, stdin, nil, append([]string{"oidc", "users"}, args...)...)
	}
	// add creates the file.
	out, stderr, code := usersCmd("first pw\n", "add", "alice", "--displayname", "Alice Doe", "--email", "alice@example.com", "--group", "admins", "--group", "dev", "--stdin", "--algorithm", "bcrypt", "--file", path)
	if code != 0 || !strings.Contains(out, "Added user alice") {
		t.Fatalf("add: exit %d, %q %s", code, out, stderr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new users file: %v, %v", fi, err)
	}
	// Comments written by hand survive the edits below.
	data, _ := os.ReadFile(path)
	data = append([]byte("# Managed by hand and by caddy oidc users.\n"), data...)
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := usersCmd("pw\n", "add", "bob", "--stdin", "--algorithm", "bcrypt", "--file", path); code != 0 {
		t.Fatalf("add bob: %s", stderr)
	}
	if _, stderr, code := usersCmd("pw\n", "add", "bob", "--stdin", "--file", path); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("adding bob twice: exit %d, %s", code, stderr)
	}
	if _, stderr, code := usersCmd("new pw\n", "passwd", "alice", "--stdin", "--algorithm", "bcrypt", "--file", path); code != 0 {
		t.Fatalf("passwd: %s", stderr)
	}
	if _, stderr, code := usersCmd("pw\n", "passwd", "nobody", "--stdin", "--file", path); code != 1 || !strings.Contains(stderr, "no such user") {
		t.Errorf("passwd of an unknown user: exit %d, %s", code, stderr)
	}
	if _, stderr, code := usersCmd("", "disable", "bob", "--file", path); code != 0 {
		t.Fatalf("disable: %s", stderr)
	}

	b, err := users.NewFileBackend(path)
	if err != nil {
		t.Fatalf("the provider cannot load the edited file: %v", err)
	}
	if _, err := b.Authenticate("alice", "new pw"); err != nil {
		t.Errorf("alice with her new password: %v", err)
	}
	if _, err := b.Authenticate("alice", "first pw"); err == nil {
		t.Error("alice's old password still works")
	}
	if _, err := b.Authenticate("bob", "pw"); err == nil {
		t.Error("disabled bob can sign in")
	}
	u, err := b.Lookup("alice")
	if err != nil || u.Email != "alice@example.com" || strings.Join(u.Groups, ",") != "admins,dev" || u.DisplayName() != "Alice Doe" {
		t.Errorf("alice: %+v, %v", u, err)
	}
	data, _ = os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# Managed by hand") {
		t.Errorf("the comment is gone:\n%s", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after edits, want 0640", fi.Mode().Perm())
	}

	// list, through the config's users_file: no digests.
	caddyfile := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte("auth.example.com {\n\toidc_provider https://auth.example.com {\n\t\tusers_file "+path+"\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = usersCmd("", "list", "--config", caddyfile)
	if code != 0 || !regexp.MustCompile(`alice +Alice Doe +alice@example.com +admins,dev +enabled`).MatchString(out) || !regexp.MustCompile(`bob +bob +disabled`).MatchString(out) || strings.Contains(out, "$") {
		t.Errorf("list: exit %d\n%s%s", code, out, stderr)
	}

	if _, stderr, code := usersCmd("", "enable", "bob", "--config", caddyfile); code != 0 {
		t.Fatalf("enable: %s", stderr)
	}
	if _, stderr, code := usersCmd("", "delete", "bob", "--file", path); code != 0 {
		t.Fatalf("delete: %s", stderr)
	}
	if out, _, _ := usersCmd("", "list", "--file", path); strings.Contains(out, "bob") {
		t.Errorf("bob still listed after delete:\n%s", out)
	}
	// The last user cannot go: the provider refuses a file without users.
	if _, stderr, code := usersCmd("", "delete", "alice", "--file", path); code != 1 || !strings.Contains(stderr, "unchanged") {
		t.Errorf("deleting the last user: exit %d, %s", code, stderr)
	}

	// A file that is not valid YAML is left alone.
	broken := filepath.Join(dir, "broken.yml")
	const brokenYAML = "users:\n  alice: [\n"
	if err := os.WriteFile(broken, []byte(brokenYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := usersCmd("", "disable", "alice", "--file", broken); code != 1 || !strings.Contains(stderr, "not valid YAML") {
		t.Errorf("editing a broken file: exit %d, %s", code, stderr)
	}
	if data, _ := os.ReadFile(broken); string(data) != brokenYAML {
		t.Error("the broken file changed")
	}
	if out, _, code := runBin(t, "", nil, "help", "oidc", "users"); code != 0 || !strings.Contains(out, "atomically") || !strings.Contains(out, "users add alice") {
		t.Errorf("caddy help oidc users: exit %d\n%s", code, out)
	}
}
