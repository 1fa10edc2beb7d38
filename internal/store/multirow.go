package store

import (
	"strconv"
	"strings"
)

// Multi-row inserts in PostgreSQL's group commits.
//
// Under client_credentials load a group commit's batch is mostly single
// writes of one statement: the INSERT of each caller's access token. Each
// was a statement of its own in the batch's pipeline, with its own bind,
// execution and command tag. pipelinedBatch now sends the writes of one
// plain INSERT that are alone as one statement with a row per write,
// placed where the first of them was. A write is alone when it is a single
// write, or a unit (a transaction's writes) of one write without a check,
// such as a code's INSERT at an authorization. Each comes from a caller
// waiting for it, so the writes of one batch are concurrent and their
// order among themselves is the queue's, not the callers': sending them
// together changes nothing that a caller can observe. The writes of a unit
// of several keep their order and are never merged. Should the merged
// statement fail (one of its rows a duplicate), the batch fails and each
// write runs again on its own, as for any failure, so that only the faulty
// one fails.

// batchStatements lays out the statements of a batch's live writes: each
// unit's writes in order where the unit arrived, and the writes of one
// statement that are alone (a single write, or a unit of one write without
// a check) together where the first of them arrived, as one multi-row
// INSERT when the statement is a plain INSERT. at[i] is the index in
// writes of live[i]'s statement (-1 for a unit of several writes), rows[i]
// how many writes that statement holds.
func (db *DB) batchStatements(live []*pendingWrite) (writes []queuedWrite, at []int, rows []int) {
	alone := make([]queuedWrite, len(live)) // the statement of a write alone; "" if not
	var same map[string][]int               // backend text -> the writes alone of it, in order
	for i, w := range live {
		switch {
		case w.unit == nil:
			alone[i] = queuedWrite{query: db.dialect.prepareText(w.query), args: w.args}
		case len(w.unit) == 1 && w.unit[0].noRow == nil:
			alone[i] = w.unit[0]
		default:
			continue
		}
		if same == nil {
			same = make(map[string][]int)
		}
		same[alone[i].query] = append(same[alone[i].query], i)
	}
	at, rows = make([]int, len(live)), make([]int, len(live))
	for i, w := range live {
		if alone[i].query == "" {
			at[i] = -1
			for _, q := range w.unit {
				writes = append(writes, q.failOnServer())
			}
			continue
		}
		group := same[alone[i].query]
		if group[0] != i {
			continue // laid out with the first of its group
		}
		if q, ok := db.multiRowInsert(alone, group); ok {
			args := make([]any, 0, len(group)*len(alone[i].args))
			for _, j := range group {
				args = append(args, alone[j].args...)
				at[j], rows[j] = len(writes), len(group)
			}
			writes = append(writes, queuedWrite{query: q, args: args})
			db.group.merged.Add(1)
			continue
		}
		for _, j := range group {
			at[j], rows[j] = len(writes), 1
			writes = append(writes, alone[j])
		}
	}
	return writes, at, rows
}

// multiRowInsert returns the statement inserting the rows of the group of
// writes alone at once, if there are several, their statement is a plain
// single-row INSERT of placeholders only (no ON CONFLICT: a row skipped
// could not be told from the others; no RETURNING, no expressions), and
// each write has the arguments of one row.
func (db *DB) multiRowInsert(alone []queuedWrite, group []int) (string, bool) {
	if len(group) < 2 {
		return "", false
	}
	query := alone[group[0]].query
	key := multiRowKey{query, len(group)}
	var m multiRow
	if v, ok := db.multiRow.Load(key); ok {
		m, _ = v.(multiRow)
	} else {
		if head, n, ok := singleRowInsert(query); ok && n*len(group) <= maxParams {
			var b strings.Builder
			b.WriteString(head)
			for r := range len(group) {
				if r > 0 {
					b.WriteString(", ")
				}
				b.WriteString(placeholderTuple(r*n+1, n))
			}
			m = multiRow{query: b.String(), params: n}
		}
		db.multiRow.Store(key, m)
	}
	if m.query == "" {
		return "", false
	}
	for _, j := range group {
		if len(alone[j].args) != m.params {
			return "", false // rows would shift into each other's columns
		}
	}
	return m.query, true
}

// multiRowKey names a multi-row INSERT: the single-row statement's backend
// text and the number of rows. The statements are the package's own and a
// batch holds at most maxBatch writes, so the cache is bounded.
type multiRowKey struct {
	query string
	rows  int
}

// multiRow is a cached multi-row INSERT and its parameters per row; an
// empty query says the statement cannot be merged.
type multiRow struct {
	query  string
	params int
}

// maxParams is PostgreSQL's limit on a statement's parameters.
const maxParams = 65535

// singleRowInsert splits "INSERT INTO t (a, b) VALUES ($1, $2)" into its
// head up to VALUES ("INSERT INTO t (a, b) VALUES ") and its number of
// parameters, if the statement is exactly that: the tuple of $1 to $n,
// nothing after it.
func singleRowInsert(q string) (head string, n int, ok bool) {
	const values = " VALUES ("
	i := strings.LastIndex(q, values)
	if !strings.HasPrefix(q, "INSERT INTO ") || i < 0 {
		return "", 0, false
	}
	tuple := q[i+len(values)-1:]
	n = strings.Count(tuple, "$")
	if n == 0 || tuple != placeholderTuple(1, n) {
		return "", 0, false
	}
	return q[:i+len(values)-1], n, true
}

// placeholderTuple returns "($first, ..., $first+n-1)".
func placeholderTuple(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for k := range n {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + k))
	}
	b.WriteByte(')')
	return b.String()
}
