package storetest

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// proxy is a TCP proxy to a database server that the test can take down
// and bring back on the same address, standing for a server that goes away.
type proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: target, addr: ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	go p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
	_, _ = io.Copy(c, u)
	_ = c.Close()
}

// down stops accepting and breaks every connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// up listens again on the same address.
func (p *proxy) up(t *testing.T) {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy back up: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// RunOutage checks the behaviour when the server goes away and comes back,
// through a proxy the test takes down: every method fails fast with an
// error carrying store.ErrUnavailable (and, for fosite, not
// fosite.ErrNotFound), and the same handle works again, with its prepared
// statements, once the server is back.
func RunOutage(t *testing.T, s *Server) {
	p := startProxy(t, s.addr)
	dsn := s.FreshDSN(t)
	db, err := s.openDSN(t, strings.Replace(dsn, s.addr, p.addr, 1))
	if err != nil {
		t.Fatal(err)
	}
	f := store.NewFosite(db, Clients("c"))
	ctx := context.Background()
	now := time.Now()
	sess := store.LoginSession{ID: "outage-session-0123456789", Username: "alice", ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateLoginSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAccessTokenSession(ctx, "at", newTestRequest("r")); err != nil {
		t.Fatal(err)
	}
	// A transaction open when the server goes away.
	tx, err := db.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetLoginSession(tx, sess.ID, now); err != nil {
		t.Fatal(err)
	}

	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"get login session", func(ctx context.Context) error { _, err := db.GetLoginSession(ctx, sess.ID, now); return err }},
		{"create login session", func(ctx context.Context) error {
			return db.CreateLoginSession(ctx, store.LoginSession{ID: "outage-new-0123456789", Username: "bob", ExpiresAt: now.Add(time.Hour)})
		}},
		{"get access token", func(ctx context.Context) error {
			_, err := f.GetAccessTokenSession(ctx, "at", newSession())
			return err
		}},
		{"invalidate code", func(ctx context.Context) error { return f.InvalidateAuthorizeCodeSession(ctx, "code") }},
		{"delete pkce", func(ctx context.Context) error { return f.DeletePKCERequestSession(ctx, "pkce") }},
		{"rotate refresh token", func(ctx context.Context) error { return f.RotateRefreshToken(ctx, "r", "rt") }},
		{"begin transaction", func(ctx context.Context) error {
			tx, err := db.BeginTX(ctx)
			if err == nil {
				// Some drivers begin lazily: the first statement fails.
				_, err = db.GetLoginSession(tx, sess.ID, now)
				_ = db.Rollback(tx)
			}
			return err
		}},
		{"recent failures", func(ctx context.Context) error {
			_, err := db.RecentFailures(ctx, "alice", "", time.Time{}, 5)
			return err
		}},
		{"list consents", func(ctx context.Context) error { _, err := db.ListConsents(ctx, "alice", now); return err }},
		{"subject", func(ctx context.Context) error { _, err := db.Subject(ctx, "alice", ""); return err }},
		{"collect garbage", func(ctx context.Context) error {
			_, _, err := db.CollectGarbage(ctx, now, time.Time{}, "h", time.Minute, 0)
			return err
		}},
	}

	p.down()
	t.Run("down", func(t *testing.T) {
		if _, err := db.GetLoginSession(tx, sess.ID, now); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("in the open transaction: err = %v, want ErrUnavailable", err)
		}
		_ = db.Rollback(tx)
		for _, c := range calls {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			start := time.Now()
			err := c.call(ctx)
			cancel()
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s: err = %v, want ErrUnavailable", c.name, err)
			}
			if errors.Is(err, fosite.ErrNotFound) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: err = %v is a not-found", c.name, err)
			}
			if d := time.Since(start); d > 12*time.Second {
				t.Errorf("%s: failed after %v, want fast", c.name, d)
			}
		}
	})

	p.up(t)
	t.Run("back", func(t *testing.T) {
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := db.GetLoginSession(ctx, sess.ID, now)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not recovered: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := f.GetAccessTokenSession(ctx, "at", newSession()); err != nil {
			t.Errorf("get access token: %v", err)
		}
		for _, c := range calls {
			err := c.call(ctx)
			if errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s after recovery: %v", c.name, err)
			}
		}
	})
}

// RunOpenFailures checks that opening fails fast, with an error naming the
// problem but not the password, when the server is unreachable, does not
// answer, or has no such database.
func RunOpenFailures(t *testing.T, s *Server) {
	const password = "Hunter2-s3cret-P4ss"
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	_ = closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})

	for _, tc := range []struct {
		name        string
		dsn         string
		within      time.Duration
		unavailable bool
		says        []string // one of these must be in the error
	}{
		{"connection refused", s.dsn(dsnOptions{db: "test", addr: closedAddr, password: password}), 12 * time.Second, true,
			[]string{"refused"}},
		{"no answer", s.dsn(dsnOptions{db: "test", addr: silent.Addr().String(), password: password, timeout: time.Second}), 8 * time.Second, true,
			[]string{"timeout", "deadline", "timed out"}},
		{"missing database", s.dsn(dsnOptions{db: "oidctest_missing"}), 12 * time.Second, false,
			[]string{"oidctest_missing"}},
		{"wrong password", s.dsn(dsnOptions{db: "test", password: password}), 12 * time.Second, false,
			[]string{"password", "access denied"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			db, err := s.open(context.Background(), tc.dsn)
			if err == nil {
				_ = db.Close()
				if tc.name == "wrong password" {
					t.Skip("the server does not check passwords (trust authentication)")
				}
				t.Fatal("opened")
			}
			if d := time.Since(start); d > tc.within {
				t.Errorf("failed after %v, want within %v", d, tc.within)
			}
			msg := err.Error()
			if strings.Contains(msg, password) {
				t.Errorf("error shows the password: %s", msg)
			}
			if errors.Is(err, store.ErrUnavailable) != tc.unavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v: %v", !tc.unavailable, tc.unavailable, err)
			}
			found := false
			for _, w := range tc.says {
				found = found || strings.Contains(strings.ToLower(msg), w)
			}
			if !found {
				t.Errorf("error %q says none of %q", msg, tc.says)
			}
		})
	}
}
