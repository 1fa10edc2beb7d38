package provider

import (
	"testing"

	"github.com/google/uuid"
)

func TestNewRequestIDIsUniqueAndTimeOrdered(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	prev := ""
	for range n {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 {
			t.Fatalf("request ID %q: not a version 7 UUID (%v)", id, err)
		}
		if seen[id] {
			t.Fatalf("request ID %q issued twice", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("request ID %q sorts before the one issued earlier, %q", id, prev)
		}
		prev = id
	}
}
