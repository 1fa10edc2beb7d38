package users

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOnUsersRemoved: after a re-read, the hook hears of the users who
// could sign in before and cannot now (disabled or deleted), and of no one
// else; an invalid file removes nobody.
func TestOnUsersRemoved(t *testing.T) {
	d := fastArgon2id(t, "pw")
	file := func(users ...string) string {
		s := "users:\n"
		for _, u := range users {
			name, disabled := strings.CutSuffix(u, "!")
			s += fmt.Sprintf("  %s:\n    displayname: %q\n    password: '%s'\n    disabled: %v\n", name, name, d, disabled)
		}
		return s
	}
	b, path := newBackend(t, file("john", "jane", "joe", "jim!"))
	got := make(chan []string, 4)
	b.OnUsersRemoved(func(names []string) { got <- names })

	// john deleted, jane disabled, joe unchanged, jim (disabled already) deleted, jack added.
	writeUsers(t, path, file("jane!", "joe", "jack"))
	if _, err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case names := <-got:
		if !slices.Equal(names, []string{"jane", "john"}) {
			t.Errorf("removed %v, want jane and john", names)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hook was not called")
	}

	// Nothing removed, an invalid file: no call.
	writeUsers(t, path, file("joe", "jack", "jill"))
	_, _ = b.Reload()
	writeUsers(t, path, "users: [not, a, map]\n")
	if _, err := b.Reload(); err == nil {
		t.Fatal("an invalid file loaded")
	}
	select {
	case names := <-got:
		t.Errorf("hook called with %v", names)
	case <-time.After(100 * time.Millisecond):
	}
}
