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

// TestRecentRowsByRequest: a set that indexes requests forgets a grant's
// rows, and only them, including after rows were dropped for room, taken,
// or put again under the same signature.
func TestRecentRowsByRequest(t *testing.T) {
	expires := sql.NullInt64{Int64: time.Now().Add(time.Hour).UnixNano(), Valid: true}
	row := func(sig, req, client string) *recentRow {
		return &recentRow{signature: sig, request: storedRequest{requestID: req, clientID: client}, expires: expires}
	}
	rc := recentRows{indexRequests: true}
	rc.put(row("a1", "A", "c"))
	rc.put(row("a2", "A", "c"))
	rc.put(row("b1", "B", "d"))
	rc.put(row("a1", "A", "c")) // again
	rc.forgetRequest("A")
	if n := rc.len(); n != 1 || rc.byKey["b1"] == nil {
		t.Fatalf("after forgetting A: %d kept, want b1 alone", n)
	}
	if len(rc.byRequest) != 1 || len(rc.byRequest["B"]) != 1 {
		t.Errorf("index after forgetting A: %v", rc.byRequest)
	}
	rc.forgetWhere(func(c *recentRow) bool { return c.request.clientID == "d" })
	if rc.len() != 0 || len(rc.byRequest) != 0 {
		t.Fatalf("after forgetting client d: %d kept, index %v", rc.len(), rc.byRequest)
	}

	// Rows dropped for room and taken leave the index.
	for i := range recentRowsMax + 10 {
		rc.put(row(fmt.Sprint("r", i), fmt.Sprint("req", i%3), "c"))
	}
	if rc.take("r20", time.Now()) == nil {
		t.Fatal("r20 not kept")
	}
	indexed := 0
	for _, rows := range rc.byRequest {
		indexed += len(rows)
	}
	if indexed != rc.len() || indexed != recentRowsMax-1 {
		t.Fatalf("%d rows indexed, %d kept, want %d", indexed, rc.len(), recentRowsMax-1)
	}
	rc.forgetRequest("req0")
	for _, c := range rc.byKey {
		if c.request.requestID == "req0" {
			t.Fatalf("%s of req0 still kept", c.signature)
		}
	}
}
