package storetest

import (
	"context"
	"regexp"
	"sync"
	"testing"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func testSubject(t *testing.T, db *store.DB) {
	ctx := context.Background()
	sub := func(user, sector string) string {
		t.Helper()
		s, err := db.Subject(ctx, user, sector)
		if err != nil {
			t.Fatalf("Subject(%q, %q): %v", user, sector, err)
		}
		if !uuidV4.MatchString(s) {
			t.Fatalf("Subject(%q, %q) = %q, not a UUIDv4", user, sector, s)
		}
		return s
	}
	alice := sub("alice", "")
	for _, tc := range []struct {
		name       string
		user       string
		sector     string
		sameAsPubl bool
	}{
		{"stable", "alice", "", true},
		{"other sector", "alice", "photos.example.com", false},
		{"other user", "bob", "", false},
		{"other user, other sector", "bob", "photos.example.com", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := sub(tc.user, tc.sector)
			if (got == alice) != tc.sameAsPubl {
				t.Errorf("Subject(%q, %q) = %q; alice's public subject %q", tc.user, tc.sector, got, alice)
			}
			if again := sub(tc.user, tc.sector); again != got {
				t.Errorf("not stable: %q then %q", got, again)
			}
		})
	}

	t.Run("empty username", func(t *testing.T) {
		if _, err := db.Subject(ctx, "", ""); err == nil {
			t.Error("empty username accepted")
		}
	})

	t.Run("concurrent first use", func(t *testing.T) {
		const n = 8
		var wg sync.WaitGroup
		got := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { got[i], errs[i] = db.Subject(ctx, "carol", "app.example") })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got[i] != got[0] {
				t.Fatalf("concurrent calls disagree: %q vs %q", got[i], got[0])
			}
		}
	})
}
