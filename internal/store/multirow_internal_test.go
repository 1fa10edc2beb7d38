package store

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// TestSingleRowInsert: only an INSERT of one tuple of placeholders, $1 to
// $n in order with nothing after it, can be merged with others.
func TestSingleRowInsert(t *testing.T) {
	for _, tc := range []struct {
		query, head string
		n           int
	}{
		{"INSERT INTO t (a, b) VALUES ($1, $2)", "INSERT INTO t (a, b) VALUES ", 2},
		{rebindDollar(sqlInsertAccess), sqlInsertAccess[:len(sqlInsertAccess)-len("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")], 11},
		{rebindDollar(sqlInsertJTI), "", 0},                            // ON CONFLICT: a skipped row has no result of its own
		{"INSERT INTO t (a) VALUES ($1) RETURNING a", "", 0},           // RETURNING
		{"INSERT INTO t (a, b) VALUES ($1, FALSE)", "", 0},             // an expression
		{"INSERT INTO t (a, b) VALUES ($2, $1)", "", 0},                // out of order
		{"INSERT INTO t (a) SELECT a FROM u WHERE b = $1", "", 0},      // no VALUES
		{"INSERT INTO t (a) VALUES (1)", "", 0},                        // no placeholder
		{"UPDATE t SET a = $1 WHERE b IN (SELECT VALUES ($2))", "", 0}, // not an INSERT
	} {
		head, n, ok := singleRowInsert(tc.query)
		if ok != (tc.n > 0) || head != tc.head || n != tc.n {
			t.Errorf("singleRowInsert(%q) = %q, %d, %v; want %q, %d", tc.query, head, n, ok, tc.head, tc.n)
		}
	}
}

// TestBatchStatements: a batch's writes alone (single writes, units of
// one unchecked write) of one plain INSERT become one statement at the
// first of them, with the rows' arguments in order; other writes alone
// keep one statement each, beside the first of their kind; units of
// several writes, or of a checked one, keep their writes, in order, and are
// never merged.
func TestBatchStatements(t *testing.T) {
	db := &DB{dialect: postgresDialect, group: &groupCommitter{}}
	single := func(q string, args ...any) *pendingWrite { return &pendingWrite{query: q, args: args} }
	const ins = "INSERT INTO t (a, b) VALUES (?, ?)"
	const upd = "UPDATE t SET b = ? WHERE a = ?"
	unit := &pendingWrite{unit: []queuedWrite{
		{query: "INSERT INTO t (a, b) VALUES ($1, $2)", args: []any{"u", 0}},
		{query: "INSERT INTO t (a, b) VALUES ($1, $2)", args: []any{"v", 0}},
	}}
	// A unit of one write without a check is as alone as a single write;
	// one with a check is not.
	unitOfOne := &pendingWrite{unit: []queuedWrite{{query: "INSERT INTO t (a, b) VALUES ($1, $2)", args: []any{"w", 4}}}}
	checked := &pendingWrite{unit: []queuedWrite{{query: "UPDATE t SET b = $1 WHERE a = $2", args: []any{0, "c"}, noRow: errNotActive}}}
	live := []*pendingWrite{
		single(ins, "x", 1),
		single(upd, 2, "x"),
		unit,
		single(ins, "y", 2),
		single(upd, 3, "y"),
		unitOfOne,
		checked,
		single(ins, "z", 3),
		single("INSERT INTO s (a) VALUES (?)", "alone"),
	}
	writes, at, rows := db.batchStatements(live)
	want := []queuedWrite{
		{query: "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8)", args: []any{"x", 1, "y", 2, "w", 4, "z", 3}},
		{query: "UPDATE t SET b = $1 WHERE a = $2", args: []any{2, "x"}},
		{query: "UPDATE t SET b = $1 WHERE a = $2", args: []any{3, "y"}},
		unit.unit[0],
		unit.unit[1],
		checked.unit[0].failOnServer(),
		{query: "INSERT INTO s (a) VALUES ($1)", args: []any{"alone"}},
	}
	if !sameWrites(writes, want) {
		t.Errorf("writes:\n got %v\nwant %v", writes, want)
	}
	if wantAt := []int{0, 1, -1, 0, 2, 0, -1, 0, 6}; !reflect.DeepEqual(at, wantAt) {
		t.Errorf("at = %v, want %v", at, wantAt)
	}
	if wantRows := []int{4, 1, 0, 4, 1, 4, 0, 4, 1}; !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("rows = %v, want %v", rows, wantRows)
	}
	if n := db.group.merged.Load(); n != 1 {
		t.Errorf("merged = %d, want 1", n)
	}

	// A write whose arguments are not one row's is not merged: its
	// neighbours' values would shift into each other's columns.
	writes, _, rows = db.batchStatements([]*pendingWrite{single(ins, "x"), single(ins, "y", 2, "extra")})
	if len(writes) != 2 || rows[0] != 1 || rows[1] != 1 {
		t.Errorf("writes with wrong arguments merged: %v", writes)
	}
}

// sameWrites reports whether two lists of writes have the same statements,
// arguments and checks.
func sameWrites(a, b []queuedWrite) bool {
	return slices.EqualFunc(a, b, func(x, y queuedWrite) bool {
		return x.query == y.query && reflect.DeepEqual(x.args, y.args) && errors.Is(x.noRow, y.noRow)
	})
}
