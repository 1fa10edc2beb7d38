package store

import (
	"context"
	"database/sql"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// dialect holds what differs between SQL backends. The statements of the
// package are written once, in the shared form: '?' placeholders, standard
// types, and PostgreSQL/SQLite's ON CONFLICT; each dialect translates them
// when they are prepared.
type dialect struct {
	name string
	// rebind turns the '?' placeholders of the shared SQL into the
	// backend's own; nil keeps '?'.
	rebind func(string) string
	// translate rewrites what the backend spells differently (upserts);
	// nil keeps the shared text.
	translate func(string) string
	// types fills the type placeholders of the schema's DDL: {key} for text
	// that is a key or indexed, {text} for other text, {table} for table
	// options after the closing parenthesis.
	types *strings.Replacer
	// partialIndexes is whether CREATE INDEX ... WHERE is supported.
	partialIndexes bool
	// duplicateIsNoop, if set, recognises a unique-key violation. The
	// backend's translation of ON CONFLICT ... DO NOTHING is a plain
	// INSERT, and such a violation means "nothing inserted" (MySQL: a
	// failed statement does not abort the transaction around it).
	duplicateIsNoop func(error) bool
	// deleteBatch returns a statement deleting at most ? rows (the last
	// argument) of table matching cond.
	deleteBatch func(table, cond string) string
	// migrate brings the schema up to date, taking whatever lock makes
	// concurrent starters apply each migration once.
	migrate func(ctx context.Context, db *DB) error
	// unavailable recognises the driver's connectivity errors, beyond the
	// generic ones (see isUnavailable).
	unavailable func(error) bool
	// retireRefresh, if set, is the statement with which a rotation retires
	// the refresh token being used (its one argument, the signature): it
	// must affect one row if the token was active and none otherwise.
	// Unset, the token's row is updated to inactive (sqlDeactivateRefresh).
	retireRefresh string
	// announcesAccess: oauth2_access has the column announce, and deleting
	// a row with it set notifies every instance (schema migration 13,
	// accessrows.go).
	announcesAccess bool
	// texts caches prepareText's results by shared text (nil: no cache).
	// The statements are the package's own, a bounded set, as in
	// DB.stmts; rewritten at every execution, the placeholders of a
	// refresh's statements cost 2% of its instructions on PostgreSQL
	// (rebindDollar), and MySQL's translation runs regular expressions.
	texts *sync.Map
}

// prepareText returns the text to prepare for a shared statement.
func (d *dialect) prepareText(q string) string {
	if d.translate == nil && d.rebind == nil {
		return q
	}
	if d.texts != nil {
		if v, ok := d.texts.Load(q); ok {
			if t, ok := v.(string); ok {
				return t
			}
		}
	}
	t := q
	if d.translate != nil {
		t = d.translate(t)
	}
	if d.rebind != nil {
		t = d.rebind(t)
	}
	if d.texts != nil {
		d.texts.Store(q, t)
	}
	return t
}

// ddl returns a schema statement with this dialect's types.
func (d *dialect) ddl(s string) string { return d.types.Replace(s) }

// rebindDollar rewrites '?' placeholders as $1, $2, ... (PostgreSQL). The
// shared SQL never contains '?' inside literals.
func rebindDollar(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

var (
	onConflictNothing = regexp.MustCompile(`\s*ON CONFLICT \([^)]*\) DO NOTHING\s*$`)
	onConflictUpdate  = regexp.MustCompile(`ON CONFLICT \([^)]*\) DO UPDATE SET`)
	excludedColumn    = regexp.MustCompile(`excluded\.(\w+)`)
)

// translateMySQL spells the shared upserts the MySQL way: DO NOTHING
// becomes a plain INSERT whose duplicate-key error counts as no row (not
// INSERT IGNORE, which would also turn strict-mode errors such as an
// over-long value into warnings and truncation), DO UPDATE becomes ON
// DUPLICATE KEY UPDATE with VALUES(column) for excluded.column.
func translateMySQL(q string) string {
	if onConflictNothing.MatchString(q) {
		return onConflictNothing.ReplaceAllString(q, "")
	}
	if onConflictUpdate.MatchString(q) {
		q = onConflictUpdate.ReplaceAllString(q, "ON DUPLICATE KEY UPDATE")
		return excludedColumn.ReplaceAllString(q, "VALUES($1)")
	}
	return q
}

// insertsIfAbsent reports whether a shared statement is an INSERT ... ON
// CONFLICT DO NOTHING.
func insertsIfAbsent(q string) bool { return onConflictNothing.MatchString(q) }

// sqliteDialect is SQLite's: the shared SQL as written.
var sqliteDialect = dialect{
	name:           "sqlite",
	types:          strings.NewReplacer("{key}", "TEXT", "{ascii_key}", "TEXT", "{text}", "TEXT", "{table}", ""),
	partialIndexes: true,
	deleteBatch: func(table, cond string) string {
		return "DELETE FROM " + table + " WHERE rowid IN (SELECT rowid FROM " + table + " WHERE " + cond + " LIMIT ?)"
	},
	migrate:     migrateEach,
	unavailable: sqliteUnavailable,
}

// postgresDialect is PostgreSQL's: $n placeholders.
var postgresDialect = dialect{
	name:           "postgres",
	rebind:         rebindDollar,
	texts:          new(sync.Map),
	types:          strings.NewReplacer("{key}", "TEXT", "{ascii_key}", "TEXT", "{text}", "TEXT", "{table}", ""),
	partialIndexes: true,
	deleteBatch: func(table, cond string) string {
		// ctid: auth_attempt has no key. A row updated meanwhile has a new
		// ctid and is skipped; the next batch sees it.
		return "DELETE FROM " + table + " WHERE ctid IN (SELECT ctid FROM " + table + " WHERE " + cond + " LIMIT ?)"
	},
	migrate:     migratePostgres("", ""),
	unavailable: pgUnavailable,
	// Updating active would copy the whole row (its session is most of
	// it) with new entries in every index, since active is in the partial
	// index's predicate: the most expensive statement of a refresh. The
	// token's row is deleted instead, and its few columns that reuse
	// detection needs go to oauth2_refresh_rotated, in one statement.
	retireRefresh:   sqlRetireRefreshReturning,
	announcesAccess: true,
}

// mysqlDialect returns the dialect of MySQL and MariaDB. Text that is a key
// or indexed must have a length: VARCHAR(255) (the index limit of 3072
// bytes allows two such utf8mb4 columns in a key). Tables use collation, a
// binary one so that comparisons are byte-exact as on the other backends.
func mysqlDialect(collation string) dialect {
	return dialect{
		name:      "mysql",
		translate: translateMySQL,
		types: strings.NewReplacer(
			"{key}", "VARCHAR(255)",
			"{ascii_key}", "VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin",
			"{text}", "MEDIUMTEXT",
			"{table}", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE="+collation,
		),
		duplicateIsNoop: mysqlDuplicate,
		deleteBatch: func(table, cond string) string {
			return "DELETE FROM " + table + " WHERE " + cond + " LIMIT ?"
		},
		migrate:     migrateMySQL,
		unavailable: mysqlUnavailable,
		texts:       new(sync.Map),
	}
}

// queryer is what migrations run statements on: a *sql.DB, *sql.Tx or
// *sql.Conn.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}
