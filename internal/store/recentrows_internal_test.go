package store

import (
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// TestRecentRowsBound: the set keeps at most recentRowsMax codes,
// dropping the oldest; a code taken frees its place; an expired code is
// not handed out.
func TestRecentRowsBound(t *testing.T) {
	now := time.Now()
	code := func(sig string, expires time.Time) *recentRow {
		return &recentRow{signature: sig, expires: sql.NullInt64{Int64: expires.UnixNano(), Valid: true}}
	}
	var rc recentRows
	for i := range recentRowsMax + 1 {
		rc.put(code(fmt.Sprint("c", i), now.Add(time.Minute)))
	}
	if n := rc.len(); n != recentRowsMax {
		t.Fatalf("%d kept, want %d", n, recentRowsMax)
	}
	if rc.take("c0", now) != nil {
		t.Error("the oldest code was not dropped")
	}
	if c := rc.take("c1", now); c == nil || c.signature != "c1" {
		t.Fatalf("take c1 = %v", c)
	}
	if rc.take("c1", now) != nil {
		t.Error("a code was taken twice")
	}
	if rc.ring[1] != nil && rc.ring[1].signature == "c1" {
		t.Error("a taken code still holds its place in the ring")
	}
	rc.put(code("expired", now.Add(-time.Second)))
	if rc.take("expired", now) != nil {
		t.Error("an expired code was handed out")
	}
	if rc.take("c2", now) == nil {
		t.Error("c2 was dropped though a place was free")
	}
}

// TestRecentRowOf: the row rebuilt from an INSERT's arguments is the row
// read back; arguments of another shape are not kept.
func TestRecentRowOf(t *testing.T) {
	args := []any{"sig", "req", int64(7), "client", "openid", "openid", "", "", "state=x", "{}", sql.NullInt64{Int64: 9, Valid: true}}
	c, ok := recentRowOf(args, codeExtras{})
	if !ok {
		t.Fatal("not rebuilt")
	}
	want := storedRequest{requestID: "req", requestedAt: 7, clientID: "client", scopes: "openid", grantedScopes: "openid", form: "state=x", session: []byte("{}")}
	if c.signature != "sig" || c.expires.Int64 != 9 || fmt.Sprint(c.request) != fmt.Sprint(want) {
		t.Errorf("rebuilt %+v, want %+v", c, want)
	}
	if _, ok := recentRowOf(args[:10], codeExtras{}); ok {
		t.Error("10 arguments rebuilt")
	}
	bad := append([]any(nil), args...)
	bad[9] = []byte("{}")
	if _, ok := recentRowOf(bad, codeExtras{}); ok {
		t.Error("a session of another type rebuilt")
	}
}
