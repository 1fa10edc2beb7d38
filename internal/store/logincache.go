package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Login sessions cached on PostgreSQL (and SQLite, logincache_sqlite.go).
//
// Every authorization request reads the browser's login session, and on
// PostgreSQL that read was a round trip of its own: a quarter of the
// server's CPU per code flow, and about a tenth of Caddy's. An instance now
// keeps the sessions it read or created, and asks the database only for
// those it does not hold. What it holds must never outlive a change made
// elsewhere (a sign-out or a second factor on another instance, a session
// revoked through the admin API), so:
//
//   - A trigger on login_session (schema migration 12) sends a
//     notification on channel loginChannel, with the session's id_hash, for
//     every row updated or deleted, whoever changed it; PostgreSQL delivers
//     it when that transaction commits. Each instance LISTENs on a
//     connection of its own and forgets the session named. The same
//     channel carries the deletions of the access tokens kept
//     (accessPrefix, accessrows.go), which the probe vouches for too.
//   - The cache serves only while that connection is known to work: after
//     LISTEN, and then every loginHeartbeat, the instance notifies itself
//     through its pool and must hear that probe back within loginProbeWait.
//     A connection that fails, or a probe that does not come back (say,
//     through a pooler that does not keep LISTEN), empties the cache and
//     turns it off until a new connection passes the probe. So a
//     notification can be lost only together with the whole cache.
//   - This instance's own changes forget the session at once, after their
//     commit, so that it reads its own writes without waiting for the
//     notification.
//   - A read that began before a change was forgotten is not kept: every
//     forgetting bumps a generation, and a session read from the database
//     is kept only if the generation did not move meanwhile.
//   - Nothing is kept longer than loginMaxAge, and an expired session is
//     never served.
//
// A change made on another instance is thus seen here within the
// notification's delay, milliseconds on a working connection, as RFC 7009
// allows of revocation in a distributed system. SQLite keeps them too, and
// learns of other processes' changes otherwise (logincache_sqlite.go);
// MySQL (no notifications) reads the database every time.

const (
	// loginChannel is the notification channel of login session changes.
	loginChannel = "caddy_oidc_login"
	// loginProbePrefix starts a probe's payload; an id_hash is hex.
	loginProbePrefix = "probe:"
	// accessPrefix starts the payload that names an access token deleted
	// (by its signature; schema migration 13, accessrows.go).
	accessPrefix = "access:"
	// loginHeartbeat is how often the listening connection is probed.
	loginHeartbeat = 10 * time.Second
	// loginProbeWait bounds how long a probe may take to come back.
	loginProbeWait = 5 * time.Second
	// loginMaxAge bounds how long a session is kept.
	loginMaxAge = 30 * time.Second
	// loginCacheSize bounds the sessions kept; past it, one is dropped
	// for each added.
	loginCacheSize = 10000
	// loginRetryMax bounds the wait between attempts to listen again.
	loginRetryMax = 30 * time.Second
)

// loginCache holds the login sessions of one instance (see above).
type loginCache struct {
	mu      sync.Mutex
	live    bool   // notifications are known to arrive
	gen     uint64 // bumped by every forgetting
	entries map[string]cachedLogin
	hits    uint64 // sessions served from the cache (tests)
	now     func() time.Time
	// reset, when not nil, empties what is kept beside the sessions and
	// served only while the cache is live (the access tokens kept,
	// accessrows.go); it runs, under mu, whenever the cache is emptied
	// whole: turned off or on, or forgetAll.
	reset func()
}

// cachedLogin is a kept session and when it was kept.
type cachedLogin struct {
	s    LoginSession
	kept time.Time
}

func newLoginCache() *loginCache {
	return &loginCache{entries: make(map[string]cachedLogin), now: time.Now}
}

// get returns a copy of the session kept under idHash, if it is kept, the
// cache is live, and the session has not expired at now.
func (c *loginCache) get(idHash string, now time.Time) (*LoginSession, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[idHash]
	if !ok || !c.live {
		return nil, false
	}
	if !e.s.ExpiresAt.After(now) || c.now().Sub(e.kept) > loginMaxAge {
		delete(c.entries, idHash)
		return nil, false
	}
	c.hits++
	s := cloneLogin(e.s)
	return &s, true
}

// cloneLogin copies a session, down to its AMR list, so that the cache and
// its callers never share one.
func cloneLogin(s LoginSession) LoginSession {
	s.AMR = append([]string(nil), s.AMR...)
	return s
}

// generation returns the generation to pass to put for a session about to
// be read.
func (c *loginCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps a copy of s under idHash if the cache is live and nothing was
// forgotten since generation gen was taken.
func (c *loginCache) put(idHash string, s *LoginSession, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if _, ok := c.entries[idHash]; !ok && len(c.entries) >= loginCacheSize {
		for k := range c.entries { // an arbitrary one
			delete(c.entries, k)
			break
		}
	}
	c.entries[idHash] = cachedLogin{s: cloneLogin(*s), kept: c.now()}
}

// forget drops the session kept under idHash.
func (c *loginCache) forget(idHash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, idHash)
}

// forgetUser drops every session of username.
func (c *loginCache) forgetUser(username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.entries {
		if e.s.Username == username {
			delete(c.entries, k)
		}
	}
}

// forgetAll drops every session kept, and what reset empties.
func (c *loginCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
	if c.reset != nil {
		c.reset()
	}
}

// turnOff empties the cache and stops it serving until turnOn.
func (c *loginCache) turnOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = false
	clear(c.entries)
	if c.reset != nil {
		c.reset()
	}
}

// turnOn lets an empty cache serve (a probe came back); a cache that
// serves already keeps what it holds.
func (c *loginCache) turnOn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		c.gen++
		c.live = true
		clear(c.entries)
		if c.reset != nil {
			c.reset()
		}
	}
}

// whileLive runs fn, under mu, if the cache is live: what fn serves
// cannot have missed a notification that turned the cache off before.
func (c *loginCache) whileLive(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		fn()
	}
}

// loginKeeper is the login session cache of a DB and the goroutine that
// keeps it honest: a listener on PostgreSQL, a watch of the database's
// version on SQLite.
type loginKeeper struct {
	cache *loginCache
	stop  context.CancelFunc
	done  chan struct{}
	// listens counts the connections that started listening (PostgreSQL;
	// tests).
	listens atomic.Int64
	// moves counts the times the database's version was found moved
	// (SQLite; tests).
	moves atomic.Int64
}

// startLoginKeeper turns on the login session cache of db, kept by run
// until Close.
func (db *DB) startLoginKeeper(run func(context.Context, *loginKeeper)) {
	ctx, cancel := context.WithCancel(context.Background())
	k := &loginKeeper{cache: newLoginCache(), stop: cancel, done: make(chan struct{})}
	if db.accesses != nil { // accessrows.go
		k.cache.reset = func() { db.accesses.forgetWhere(func(*recentRow) bool { return true }) }
	}
	db.logins = k
	go func() {
		defer close(k.done)
		run(ctx, k)
	}()
}

// stopLoginCache stops the keeper and turns the cache off.
func (db *DB) stopLoginCache() {
	if db.logins == nil {
		return
	}
	db.logins.stop()
	<-db.logins.done
	db.logins.cache.turnOff()
}

// loginListener keeps a connection listening on loginChannel and tells the
// cache what it hears (see above).
type loginListener struct {
	db     *DB
	keeper *loginKeeper // its cache and count of listening connections
	config *pgx.ConnConfig
}

// startLoginCache turns on the login session cache of db, listening with a
// connection made from config.
func (db *DB) startLoginCache(config *pgx.ConnConfig) {
	db.startLoginKeeper(func(ctx context.Context, k *loginKeeper) {
		l := &loginListener{db: db, keeper: k, config: config}
		l.run(ctx)
	})
}

// run listens until ctx ends, connecting again after a failure, with a
// wait that doubles up to loginRetryMax.
func (l *loginListener) run(ctx context.Context) {
	wait := time.Second
	for {
		started := time.Now()
		_ = l.listen(ctx) // there is no one to tell but the cache, which is off now
		l.keeper.cache.turnOff()
		if time.Since(started) > loginRetryMax {
			wait = time.Second // it worked for a while: try again soon
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, loginRetryMax)
	}
}

// listen runs one listening connection: LISTEN, a first probe before the
// cache goes live, then notifications and a probe every loginHeartbeat,
// until something fails.
func (l *loginListener) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.config)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+loginChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	l.keeper.listens.Add(1)
	var (
		probe    string    // the payload awaited, "" if none
		deadline time.Time // when it must have come back
		next     time.Time // when the next probe is sent
	)
	for {
		now := time.Now()
		if probe == "" && !now.Before(next) {
			if probe, err = l.sendProbe(ctx); err != nil {
				return err
			}
			deadline, next = now.Add(loginProbeWait), now.Add(loginHeartbeat)
		}
		until := next
		if probe != "" {
			if !now.Before(deadline) {
				return errors.New("probe not heard back")
			}
			until = deadline
		}
		wctx, cancel := context.WithDeadline(ctx, until)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n != nil:
			switch {
			case probe != "" && n.Payload == probe:
				probe = ""
				l.keeper.cache.turnOn()
			case strings.HasPrefix(n.Payload, accessPrefix):
				l.db.forgetAccess(strings.TrimPrefix(n.Payload, accessPrefix))
			case !strings.HasPrefix(n.Payload, loginProbePrefix): // another instance's probe otherwise
				l.keeper.cache.forget(n.Payload)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Time to probe, or to find the probe late.
		case err != nil:
			return fmt.Errorf("wait for notifications: %w", err)
		}
	}
}

// sendProbe notifies loginChannel through the pool with a new probe and
// returns its payload.
func (l *loginListener) sendProbe(ctx context.Context) (string, error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails
	p := loginProbePrefix + hex.EncodeToString(b)
	pctx, cancel := context.WithTimeout(ctx, loginProbeWait)
	defer cancel()
	if _, err := l.db.sql.ExecContext(pctx, "SELECT pg_notify($1, $2)", loginChannel, p); err != nil {
		return "", fmt.Errorf("probe: %w", l.db.wrapErr(err))
	}
	return p, nil
}
