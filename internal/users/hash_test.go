package users

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHashWith checks that every algorithm's digest is accepted by the users
// file and verifies the password, and only it.
func TestHashWith(t *testing.T) {
	prefixes := map[string]string{
		"argon2id":      "$argon2id$v=19$m=65536,t=3,p=4$",
		"pbkdf2-sha512": "$pbkdf2-sha512$310000$",
		"pbkdf2-sha384": "$pbkdf2-sha384$310000$",
		"pbkdf2-sha256": "$pbkdf2-sha256$310000$",
		"bcrypt":        "$2b$12$",
		"scrypt":        "$scrypt$ln=16,r=8,p=1$",
		"sha512crypt":   "$6$rounds=50000$",
	}
	if len(prefixes) != len(Algorithms()) {
		t.Fatalf("Algorithms() = %v, want a test for each", Algorithms())
	}
	for _, alg := range Algorithms() {
		t.Run(alg, func(t *testing.T) {
			d, err := HashWith(alg, "correct horse")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(d, prefixes[alg]) {
				t.Errorf("digest %q, want prefix %q", d, prefixes[alg])
			}
			path := filepath.Join(t.TempDir(), "users.yml")
			if err := os.WriteFile(path, []byte("users:\n  alice:\n    password: '"+d+"'\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			b, err := NewFileBackend(path)
			if err != nil {
				t.Fatalf("users file with a %s digest: %v", alg, err)
			}
			if _, err := b.Authenticate("alice", "correct horse"); err != nil {
				t.Errorf("the password does not verify: %v", err)
			}
			if _, err := b.Authenticate("alice", "correct horse!"); err == nil {
				t.Error("another password verifies")
			}
		})
	}
	if _, err := HashWith("md5", "x"); err == nil {
		t.Error("an unknown algorithm hashed")
	}
}
