package usersfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/users"
	"github.com/caddy-oidc/caddy-oidc/internal/usersfile"
)

func TestChangerKeepsOtherEntriesAndComments(t *testing.T) {
	d1, err := users.HashWith("bcrypt", "old-password")
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := users.HashWith("bcrypt", "bob-password")
	path := filepath.Join(t.TempDir(), "users.yml")
	src := "# our users\nusers:\n  alice:  # the admin\n    displayname: Alice\n    password: \"" + d1 + "\"\n  bob:\n    displayname: Bob\n    password: \"" + d2 + "\"\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := users.NewFileBackend(path)
	if err != nil {
		t.Fatal(err)
	}
	c := usersfile.Changer{Path: path, Users: b}
	if err := c.ChangePassword("alice", "wrong", "new-password"); !errors.Is(err, users.ErrInvalidCredentials) {
		t.Fatalf("wrong current password: %v", err)
	}
	if err := c.ChangePassword("alice", "old-password", ""); !errors.Is(err, users.ErrPasswordRejected) {
		t.Fatalf("empty new password: %v", err)
	}
	if err := c.ChangePassword("alice", "old-password", "new-password"); err != nil {
		t.Fatal(err)
	}
	// Effective at once, without waiting for the file check.
	if _, err := b.Authenticate("alice", "new-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := b.Authenticate("alice", "old-password"); err == nil {
		t.Error("old password still works")
	}
	if _, err := b.Authenticate("bob", "bob-password"); err != nil {
		t.Errorf("bob: %v", err)
	}
	out, _ := os.ReadFile(path)
	s := string(out)
	for _, want := range []string{"# our users", "# the admin", "$argon2id$", d2} {
		if !strings.Contains(s, want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, d1) {
		t.Error("old digest still in the file")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
}
