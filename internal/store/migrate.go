package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Migrations run once even when several instances start at the same moment:
//   - SQLite: each step in its own transaction, which takes the write lock
//     at BEGIN (_txlock=immediate);
//   - PostgreSQL: all pending steps in one transaction holding
//     pg_advisory_xact_lock (DDL is transactional there);
//   - MySQL/MariaDB: DDL commits implicitly, so a transaction protects
//     nothing; the whole run holds a named lock (GET_LOCK) on one connection.
//
// Each refuses a database that a newer build already migrated further.

// schemaVersionTable is the DDL of the migration record.
const schemaVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (
	version BIGINT NOT NULL PRIMARY KEY,
	applied_at BIGINT NOT NULL
){table}`

// migrateLockWait bounds how long a starting instance waits for another one
// migrating the same database.
const migrateLockWait = 60 * time.Second

// appliedVersions creates the migration record if needed and returns the
// versions it lists. A version newer than this build knows is an error.
func appliedVersions(ctx context.Context, q queryer, d *dialect) (map[int64]bool, error) {
	if _, err := q.ExecContext(ctx, d.ddl(schemaVersionTable)); err != nil {
		return nil, fmt.Errorf("create schema_version: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_version`)
	if err != nil {
		return nil, fmt.Errorf("read schema_version: %w", err)
	}
	defer closeRows(rows)
	applied := map[int64]bool{}
	var newest int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_version: %w", err)
		}
		applied[v] = true
		newest = max(newest, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_version: %w", err)
	}
	if known := latestVersion(); newest > known {
		return nil, fmt.Errorf("database schema version %d is newer than this build supports (%d); upgrade caddy-oidc", newest, known)
	}
	return applied, nil
}

// applySteps runs the statements of m and records it.
func applySteps(ctx context.Context, q queryer, d *dialect, m migration, ignore func(error) bool) error {
	for _, s := range m.stmts(d) {
		if _, err := q.ExecContext(ctx, s); err != nil && (ignore == nil || !ignore(err)) {
			return fmt.Errorf("migration %d: %s: %w", m.version, firstLine(s), err)
		}
	}
	if _, err := q.ExecContext(ctx, d.prepareText(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
		m.version, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("migration %d: record: %w", m.version, err)
	}
	return nil
}

// migrateEach is SQLite's: one transaction per step.
func migrateEach(ctx context.Context, db *DB) error {
	if _, err := appliedVersions(ctx, db.sql, &db.dialect); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := db.applyInTx(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) applyInTx(ctx context.Context, m migration) error {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, db.dialect.prepareText(`SELECT COUNT(*) FROM schema_version WHERE version = ?`), m.version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if err := applySteps(ctx, tx, &db.dialect, m, nil); err != nil {
		return err
	}
	return tx.Commit()
}

// migratePostgres returns PostgreSQL's migration: one transaction under an
// advisory lock whose key depends on schema, creating schema first when it
// is not "".
func migratePostgres(schema, quotedSchema string) func(ctx context.Context, db *DB) error {
	sum := sha256.Sum256([]byte("caddy-oidc migrate " + schema))
	key := int64(binary.BigEndian.Uint64(sum[:8]))
	return func(ctx context.Context, db *DB) error {
		tx, err := db.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // no-op after Commit
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		if schema != "" {
			if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+quotedSchema); err != nil {
				return fmt.Errorf("create schema: %w", err)
			}
		}
		applied, err := appliedVersions(ctx, tx, &db.dialect)
		if err != nil {
			return err
		}
		for _, m := range migrations {
			if applied[m.version] {
				continue
			}
			if err := applySteps(ctx, tx, &db.dialect, m, nil); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
}

// migrateMySQL is MySQL's: a named lock, per database, held on one
// connection for the whole run. A step interrupted half-way (its DDL
// committed, its record not) is resumed: "already exists" errors are
// skipped.
func migrateMySQL(ctx context.Context, db *DB) (err error) {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	// Close only hands the connection back to the pool: nothing to report.
	defer func() { _ = conn.Close() }()
	var dbName sql.NullString
	if err := conn.QueryRowContext(ctx, `SELECT DATABASE()`).Scan(&dbName); err != nil {
		return err
	}
	if !dbName.Valid {
		return fmt.Errorf("no database selected: name one in the DSN")
	}
	sum := sha256.Sum256([]byte(dbName.String))
	lock := "caddy-oidc-migrate-" + hex.EncodeToString(sum[:16])
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, lock, int(migrateLockWait/time.Second)).Scan(&got); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("take the migration lock: another instance held it for %v", migrateLockWait)
	}
	defer func() {
		var released sql.NullInt64
		if rerr := conn.QueryRowContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, lock).Scan(&released); rerr != nil && err == nil {
			err = fmt.Errorf("release the migration lock: %w", rerr)
		}
	}()
	applied, err := appliedVersions(ctx, conn, &db.dialect)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		if err := applySteps(ctx, conn, &db.dialect, m, mysqlAlreadyExists); err != nil {
			return err
		}
	}
	return nil
}

// migrate brings the schema up to date. It is idempotent and safe to run
// from several processes at once.
func (db *DB) migrate(ctx context.Context) error {
	return db.dialect.migrate(ctx, db)
}
