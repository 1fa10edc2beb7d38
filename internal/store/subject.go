package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

const (
	sqlSelectSubject = `SELECT subject FROM subject WHERE username = ? AND sector = ?`
	sqlInsertSubject = `INSERT INTO subject (username, sector, subject, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (username, sector) DO NOTHING`
)

// maxCachedSubjects bounds the subjects a DB keeps in memory; past it the
// cache starts again empty.
const maxCachedSubjects = 10000

// Subject returns the OpenID Connect subject ("sub") of username for a
// sector: a random UUIDv4 created on first use and stable afterwards. Each
// sector gets its own value (pairwise subjects); sector "" is the public
// subject. Concurrent first calls agree on one value.
//
// A subject never changes once committed, so those read outside a
// transaction are kept in memory (every sign-in asks for one); inside a
// transaction a subject may yet be rolled back, and is not kept.
func (db *DB) Subject(ctx context.Context, username, sector string) (string, error) {
	if username == "" {
		return "", errors.New("store: subject: empty username")
	}
	key := username + "\x00" + sector
	if v, ok := db.subjects.Load(key); ok {
		if sub, ok := v.(string); ok {
			return sub, nil
		}
	}
	sub, err := db.subject(ctx, username, sector)
	if err != nil || db.txStateFrom(ctx) != nil {
		return sub, err
	}
	if db.cachedSubjects.Add(1) > maxCachedSubjects {
		db.subjects.Clear()
		db.cachedSubjects.Store(1)
	}
	db.subjects.Store(key, sub)
	return sub, nil
}

// subject is Subject without the cache.
func (db *DB) subject(ctx context.Context, username, sector string) (string, error) {
	var sub string
	err := db.queryRow(ctx, sqlSelectSubject, username, sector).Scan(&sub)
	if err == nil {
		return sub, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: subject of %q: %w", username, err)
	}
	// First use: whoever inserts first wins; everyone reads the winner.
	if _, err := db.exec(ctx, sqlInsertSubject, username, sector, newUUID(), time.Now().UnixNano()); err != nil {
		return "", fmt.Errorf("store: create subject of %q: %w", username, err)
	}
	if err := db.queryRow(ctx, sqlSelectSubject, username, sector).Scan(&sub); err != nil {
		return "", fmt.Errorf("store: subject of %q: %w", username, err)
	}
	return sub, nil
}

// newUUID returns a random (version 4, RFC 9562) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand panics instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
