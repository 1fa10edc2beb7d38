package authn

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	rc := NewRecoveryCodes(db, []byte("k"))
	now := time.Now()

	codes, err := rc.Generate(ctx, "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	format := regexp.MustCompile(`^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !format.MatchString(c) || seen[c] {
			t.Fatalf("code %q: bad format or repeated", c)
		}
		seen[c] = true
	}
	if len(codes) != RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}

	// Typed loosely, a code works once, and only for its user.
	if err := rc.Use(ctx, "bob", codes[0]); !errors.Is(err, ErrInvalidRecoveryCode) {
		t.Errorf("another user's code: %v", err)
	}
	if err := rc.Use(ctx, "alice", " "+strings.ToUpper(strings.ReplaceAll(codes[0], "-", " "))); err != nil {
		t.Fatalf("use: %v", err)
	}
	if err := rc.Use(ctx, "alice", codes[0]); !errors.Is(err, ErrInvalidRecoveryCode) {
		t.Errorf("second use: %v", err)
	}
	for _, bad := range []string{"", "x", "äöü", strings.Repeat("0", 12)} {
		if err := rc.Use(ctx, "alice", bad); !errors.Is(err, ErrInvalidRecoveryCode) {
			t.Errorf("Use(%q) = %v", bad, err)
		}
	}
	if n, _ := rc.Remaining(ctx, "alice"); n != RecoveryCodeCount-1 {
		t.Errorf("remaining %d", n)
	}

	// Another key does not accept the codes (the key is part of the hash).
	if err := NewRecoveryCodes(db, []byte("other")).Use(ctx, "alice", codes[1]); !errors.Is(err, ErrInvalidRecoveryCode) {
		t.Errorf("other key: %v", err)
	}
	// Regenerating drops the old codes.
	if _, err := rc.Generate(ctx, "alice", now); err != nil {
		t.Fatal(err)
	}
	if err := rc.Use(ctx, "alice", codes[1]); !errors.Is(err, ErrInvalidRecoveryCode) {
		t.Errorf("old code after regeneration: %v", err)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ab12-cd34-ef56":   "ab12cd34ef56",
		" AB12 CD34 EF56 ": "ab12cd34ef56",
		"oIlL":             "0111",
		"ab12-cd34-ef5!":   "",
		"u":                "",
	} {
		if got := normalizeRecoveryCode(in); got != want {
			t.Errorf("normalizeRecoveryCode(%q) = %q, want %q", in, got, want)
		}
	}
}
