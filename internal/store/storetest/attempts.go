package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

func testRecentFailures(t *testing.T, db *store.DB) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	// Attempts, oldest first. IP x is shared by alice and bob.
	const x, y, z = "192.0.2.1", "198.51.100.2", "203.0.113.3"
	attempts := []store.Attempt{
		att("alice", x, "password", false, at(0)),
		att("alice", y, "password", false, at(10)),
		att("bob", x, "password", false, at(20)),
		att("alice", x, "totp", false, at(30)),
		att("bob", x, "password", true, at(40)), // resets IP x and bob, not alice
		att("alice", x, "password", false, at(50)),
		att("alice", y, "webauthn", false, at(60)),
		att("carol", y, "password", false, at(60)), // same instant as the row above
		att("carol", y, "password", false, at(60)), // identical rows are distinct attempts
		att("dave", z, "password", true, at(70)),
		att("dave", z, "password", false, at(70)), // at the instant of a success: does not count
	}
	for _, a := range attempts {
		if err := db.RecordAttempt(ctx, a); err != nil {
			t.Fatalf("RecordAttempt(%+v): %v", a, err)
		}
	}
	idx := func(is ...int) []store.Attempt {
		out := make([]store.Attempt, len(is))
		for k, i := range is {
			out[k] = attempts[i]
		}
		return out
	}

	for _, tc := range []struct {
		name     string
		user, ip string
		since    time.Time
		limit    int
		want     []store.Attempt
	}{
		{"user, newest first", "alice", "", time.Time{}, 10, idx(6, 5, 3, 1, 0)},
		{"user, limit", "alice", "", time.Time{}, 2, idx(6, 5)},
		{"user, since is inclusive", "alice", "", at(30), 10, idx(6, 5, 3)},
		{"user, success resets", "bob", "", time.Time{}, 10, nil},
		{"ip, success of another user resets", "", x, time.Time{}, 10, idx(5)},
		{"ip with identical rows", "", y, time.Time{}, 10, idx(8, 7, 6, 1)},
		{"failure at the instant of a success", "dave", "", time.Time{}, 10, nil},
		{"unknown user", "mallory", "", time.Time{}, 10, nil},
		{"neither key", "", "", time.Time{}, 10, nil},
		{"both keys: union without duplicates", "alice", y, time.Time{}, 10, idx(8, 7, 6, 5, 3, 1, 0)},
		{"both keys, limit", "alice", y, time.Time{}, 3, idx(8, 7, 6)},
		{"both keys, since", "carol", x, at(50), 10, idx(8, 7, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.RecentFailures(ctx, tc.user, tc.ip, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !newestFirst(got) {
				t.Errorf("not newest first: %v", got)
			}
			// The order of attempts made in the same instant is unspecified.
			if !slices.EqualFunc(sortAttempts(got), sortAttempts(tc.want), sameAttempt) {
				t.Errorf("RecentFailures(%q, %q, %v, %d) =\n%v\nwant\n%v", tc.user, tc.ip, tc.since, tc.limit, got, tc.want)
			}
			for _, a := range got {
				if a.At.Location() != time.UTC {
					t.Errorf("At %v not in UTC", a.At)
				}
			}
		})
	}

	t.Run("limit must be positive", func(t *testing.T) {
		if _, err := db.RecentFailures(ctx, "alice", "", time.Time{}, 0); err == nil {
			t.Error("limit 0: no error")
		}
	})
	t.Run("zero time refused", func(t *testing.T) {
		if err := db.RecordAttempt(ctx, store.Attempt{Username: "alice", Factor: "password"}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("inside a transaction", func(t *testing.T) {
		txCtx, err := db.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Rollback(txCtx) //nolint:errcheck
		if err := db.RecordAttempt(txCtx, att("erin", x, "password", false, at(80))); err != nil {
			t.Fatal(err)
		}
		got, err := db.RecentFailures(txCtx, "erin", "", time.Time{}, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("inside: %v, %v; want 1 attempt", got, err)
		}
		if err := db.Rollback(txCtx); err != nil {
			t.Fatal(err)
		}
		got, err = db.RecentFailures(ctx, "erin", "", time.Time{}, 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("after rollback: %v, %v; want none", got, err)
		}
	})
}

func newestFirst(as []store.Attempt) bool {
	return slices.IsSortedFunc(as, func(a, b store.Attempt) int { return b.At.Compare(a.At) })
}

// sortAttempts returns a copy of as sorted newest first, then by the other
// fields, for comparisons that ignore the order within an instant.
func sortAttempts(as []store.Attempt) []store.Attempt {
	out := slices.Clone(as)
	slices.SortStableFunc(out, func(a, b store.Attempt) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		if c := strings.Compare(a.Username, b.Username); c != 0 {
			return c
		}
		if c := strings.Compare(a.RemoteIP, b.RemoteIP); c != 0 {
			return c
		}
		return strings.Compare(a.Factor, b.Factor)
	})
	return out
}

func testDeleteAttemptsBefore(t *testing.T, db *store.DB) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		a := store.Attempt{Username: fmt.Sprint("user", i%3), RemoteIP: "192.0.2.1", Factor: "password", Success: i%4 == 0,
			At: t0.Add(time.Duration(i) * time.Minute)}
		if err := db.RecordAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		cut  time.Duration
		want int64
	}{
		{-time.Minute, 0},
		{0, 0},
		{4*time.Minute + time.Nanosecond, 5}, // minutes 0..4
		{4 * time.Minute, 0},                 // already gone
		{time.Hour, 5},
	} {
		n, err := db.DeleteAttemptsBefore(ctx, t0.Add(tc.cut))
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("DeleteAttemptsBefore(t0%+v) = %d, want %d", tc.cut, n, tc.want)
		}
	}
}

func sameAttempt(x, y store.Attempt) bool {
	return x.Username == y.Username && x.RemoteIP == y.RemoteIP && x.Factor == y.Factor &&
		x.Success == y.Success && x.At.Equal(y.At)
}

func att(user, ip, factor string, success bool, at time.Time) store.Attempt {
	return store.Attempt{Username: user, RemoteIP: ip, Factor: factor, Success: success, At: at}
}
