package caddyoidc

import (
	"sync/atomic"
	"time"
)

// clockOffset is how far the tests moved the handler's clock ahead of the
// system clock. fosite's own expiry checks still read the system clock.
var clockOffset atomic.Int64

// The clock is replaced once, before any test starts Caddy, so the running
// servers only ever read clockOffset (atomically).
func init() {
	now = func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }
}

// AdvanceClock moves the clock of every handler (engine and key manager)
// forward by d.
func AdvanceClock(d time.Duration) { clockOffset.Add(int64(d)) }

// ResetClock puts the clock back on the system clock.
func ResetClock() { clockOffset.Store(0) }

// Now reads the handlers' clock.
func Now() time.Time { return now() }
