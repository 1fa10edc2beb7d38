package store

import (
	"testing"
	"time"
)

// TestLoginCache: what the cache serves, and what it refuses to keep.
func TestLoginCache(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	newCache := func() *loginCache {
		c := newLoginCache()
		c.now = func() time.Time { return clock }
		c.turnOn()
		return c
	}
	session := LoginSession{Username: "alice", AMR: []string{"pwd"}, ExpiresAt: clock.Add(time.Hour)}

	t.Run("serves a copy", func(t *testing.T) {
		c := newCache()
		c.put("h", &session, c.generation())
		got, ok := c.get("h", clock)
		if !ok || got.Username != "alice" {
			t.Fatalf("get = %v, %v", got, ok)
		}
		got.AMR[0] = "changed"
		if again, _ := c.get("h", clock); again.AMR[0] != "pwd" {
			t.Errorf("a caller's change reached the cache: %v", again.AMR)
		}
	})
	t.Run("a read older than a forgetting is not kept", func(t *testing.T) {
		c := newCache()
		gen := c.generation()
		c.forget("other") // any change, while the read was under way
		c.put("h", &session, gen)
		if _, ok := c.get("h", clock); ok {
			t.Error("kept a read that began before a change")
		}
	})
	t.Run("forget and forgetUser", func(t *testing.T) {
		c := newCache()
		bob := session
		bob.Username = "bob"
		c.put("a1", &session, c.generation())
		c.put("a2", &session, c.generation())
		c.put("b1", &bob, c.generation())
		c.forget("a1")
		if _, ok := c.get("a1", clock); ok {
			t.Error("forgotten session served")
		}
		c.forgetUser("alice")
		if _, ok := c.get("a2", clock); ok {
			t.Error("session of a forgotten user served")
		}
		if _, ok := c.get("b1", clock); !ok {
			t.Error("another user's session was dropped")
		}
	})
	t.Run("not past expiry or age", func(t *testing.T) {
		c := newCache()
		c.put("h", &session, c.generation())
		if _, ok := c.get("h", session.ExpiresAt); ok {
			t.Error("served at its expiry")
		}
		c.put("h", &session, c.generation())
		clock = clock.Add(loginMaxAge + time.Second)
		defer func() { clock = clock.Add(-loginMaxAge - time.Second) }()
		if _, ok := c.get("h", clock); ok {
			t.Error("served past loginMaxAge")
		}
	})
	t.Run("off: keeps and serves nothing", func(t *testing.T) {
		c := newCache()
		c.put("h", &session, c.generation())
		c.turnOff()
		if _, ok := c.get("h", clock); ok {
			t.Error("served while off")
		}
		c.put("h", &session, c.generation())
		c.turnOn()
		if _, ok := c.get("h", clock); ok {
			t.Error("kept while off")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newCache()
		for i := range loginCacheSize + 10 {
			c.put(string(rune(i)), &session, c.generation())
		}
		if n := len(c.entries); n != loginCacheSize {
			t.Errorf("%d sessions kept, want %d", n, loginCacheSize)
		}
	})
}
