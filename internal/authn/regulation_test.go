package authn

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// openRegulationDB opens a fresh SQLite database for one test.
func openRegulationDB(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.OpenSQLite(filepath.Join(t.TempDir(), "oidc.sqlite"))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// regT0 is the start of every regulation scenario; steps are offsets from it.
var regT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// regStep is one step of a regulation scenario: record an attempt, or check
// and expect either no ban (reason "") or a ban of reason until regT0+until.
type regStep struct {
	at       time.Duration
	check    bool
	user, ip string
	factor   string
	success  bool
	reason   string
	until    time.Duration
}

func regFail(at time.Duration, user, ip string) regStep {
	return regStep{at: at, user: user, ip: ip, factor: "password"}
}

func regFailFactor(at time.Duration, user, ip, factor string) regStep {
	return regStep{at: at, user: user, ip: ip, factor: factor}
}

func regSucceed(at time.Duration, user, ip string) regStep {
	return regStep{at: at, user: user, ip: ip, factor: "password", success: true}
}

func regAllowed(at time.Duration, user, ip string) regStep {
	return regStep{at: at, check: true, user: user, ip: ip}
}

func regBanned(at time.Duration, user, ip, reason string, until time.Duration) regStep {
	return regStep{at: at, check: true, user: user, ip: ip, reason: reason, until: until}
}

// regFailMany records n failures from ip, each by a different user (user0,
// user1, ...), every gap apart starting at start.
func regFailMany(n int, start, gap time.Duration, ip string) []regStep {
	steps := make([]regStep, n)
	for i := range steps {
		steps[i] = regFail(start+time.Duration(i)*gap, fmt.Sprint("user", i), ip)
	}
	return steps
}

// run plays the step against r.
func (s regStep) run(t *testing.T, r *Regulator) {
	t.Helper()
	ctx := context.Background()
	now := regT0.Add(s.at)
	if !s.check {
		if err := r.Record(ctx, s.user, s.ip, s.factor, s.success, now); err != nil {
			t.Fatalf("Record(%q, %q, %q, %v) at %v: %v", s.user, s.ip, s.factor, s.success, s.at, err)
		}
		return
	}
	err := r.Check(ctx, s.user, s.ip, now)
	if s.reason == "" {
		if err != nil {
			t.Errorf("Check(%q, %q) at %v = %v, want allowed", s.user, s.ip, s.at, err)
		}
		return
	}
	var ban *BanError
	if !errors.Is(err, ErrBanned) || !errors.As(err, &ban) {
		t.Errorf("Check(%q, %q) at %v = %v, want banned (%s)", s.user, s.ip, s.at, err, s.reason)
		return
	}
	if want := regT0.Add(s.until); !ban.Until.Equal(want) || ban.Reason != s.reason {
		t.Errorf("Check(%q, %q) at %v: banned (%s) until +%v, want (%s) until +%v",
			s.user, s.ip, s.at, ban.Reason, ban.Until.Sub(regT0), s.reason, s.until)
	}
}

func TestRegulator(t *testing.T) {
	const (
		ip4   = "192.0.2.7"
		other = "198.51.100.9"
		s     = time.Second
		m     = time.Minute
	)
	cat := func(parts ...[]regStep) []regStep {
		var out []regStep
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []regStep
	}{
		{"under the limit", []regStep{
			regFail(0, "alice", ip4),
			regFail(10*s, "alice", ip4),
			regAllowed(20*s, "alice", ip4),
		}},
		{"max retries within find time ban until the last failure + ban time", []regStep{
			regFail(0, "alice", ip4),
			regFail(30*s, "alice", ip4),
			regAllowed(59*s, "alice", ip4),
			regFail(60*s, "alice", ip4),
			regBanned(61*s, "alice", ip4, BanReasonUser, 6*m),
			regBanned(61*s, "alice", "", BanReasonUser, 6*m),    // IP unknown
			regBanned(61*s, "alice", other, BanReasonUser, 6*m), // from elsewhere
			regAllowed(61*s, "bob", ip4),                        // the IP is not banned
			regBanned(6*m-time.Nanosecond, "alice", ip4, BanReasonUser, 6*m),
			regAllowed(6*m, "alice", ip4),
		}},
		{"span of exactly find time bans", []regStep{
			regFail(0, "alice", ip4),
			regFail(1*m, "alice", ip4),
			regFail(2*m, "alice", ip4),
			regBanned(2*m+s, "alice", ip4, BanReasonUser, 7*m),
			regAllowed(7*m, "alice", ip4),
		}},
		{"failures spread beyond find time", []regStep{
			regFail(0, "alice", ip4),
			regFail(90*s, "alice", ip4),
			regFail(3*m, "alice", ip4),
			regAllowed(3*m+s, "alice", ip4),
			regFail(4*m, "alice", ip4), // 90s, 3m, 4m: within 2m30s
			regAllowed(4*m+s, "alice", ip4),
			regFail(4*m+30*s, "alice", ip4), // 3m, 4m, 4m30s
			regBanned(4*m+31*s, "alice", ip4, BanReasonUser, 9*m+30*s),
		}},
		{"a success resets", []regStep{
			regFail(0, "alice", ip4),
			regFail(10*s, "alice", ip4),
			regSucceed(20*s, "alice", ip4),
			regFail(30*s, "alice", ip4),
			regAllowed(31*s, "alice", ip4),
			regFail(40*s, "alice", ip4),
			regFail(50*s, "alice", ip4),
			regBanned(51*s, "alice", ip4, BanReasonUser, 5*m+50*s),
		}},
		{"a success after the ban's failures lifts it", []regStep{
			regFail(0, "alice", ip4),
			regFail(1*s, "alice", ip4),
			regFail(2*s, "alice", ip4),
			regBanned(3*s, "alice", ip4, BanReasonUser, 5*m+2*s),
			regSucceed(4*s, "alice", other), // e.g. a passkey login the integration allowed
			regAllowed(5*s, "alice", ip4),
		}},
		{"every factor counts together", []regStep{
			regFail(0, "alice", ip4),
			regFailFactor(10*s, "alice", ip4, "totp"),
			regFailFactor(20*s, "alice", ip4, "webauthn"),
			regBanned(21*s, "alice", ip4, BanReasonUser, 5*m+20*s),
		}},
		{"usernames differing in case are one key", []regStep{
			regFail(0, "Alice", ip4),
			regFail(1*s, "ALICE", ip4),
			regFail(2*s, "alice", ip4),
			regBanned(3*s, "aLiCe", "", BanReasonUser, 5*m+2*s),
		}},
		{"a failure recorded during a ban does not lift it", []regStep{
			regFail(0, "alice", ip4),
			regFail(10*s, "alice", ip4),
			regFail(20*s, "alice", ip4),
			regFail(4*m, "alice", ip4), // newest three span 3m50s
			regBanned(4*m+s, "alice", ip4, BanReasonUser, 5*m+20*s),
			regAllowed(5*m+20*s, "alice", ip4),
		}},
		{"IP ban across many usernames", cat(
			regFailMany(14, 0, 5*s, ip4),
			[]regStep{
				regAllowed(70*s, "zed", ip4),
				regFail(70*s, "user14", ip4), // the 15th, 70s after the first
				regBanned(71*s, "zed", ip4, BanReasonIP, 6*m+10*s),
				regBanned(71*s, "", ip4, BanReasonIP, 6*m+10*s),
				regAllowed(71*s, "zed", other),
				regAllowed(71*s, "user0", other), // one failure each: users not banned
				regAllowed(6*m+10*s, "zed", ip4),
			},
		)},
		{"IP failures spread beyond find time", cat(
			regFailMany(15, 0, 10*s, ip4), // 140s from first to last
			[]regStep{regAllowed(141*s, "zed", ip4)},
		)},
		{"a success from the IP resets its count", cat(
			regFailMany(14, 0, s, ip4),
			[]regStep{
				regSucceed(14*s, "zed", ip4),
				regFail(15*s, "user99", ip4),
				regAllowed(16*s, "zed", ip4),
			},
		)},
		{"IPv6 clients are grouped by /64", cat(
			[]regStep{
				regFail(0, "u0", "2001:db8:1:2::1"),
				regFail(s, "u1", "2001:db8:1:2:ffff:ffff:ffff:ffff"),
				regFail(2*s, "u2", "[2001:db8:1:2::3]:51234"),
				regFail(3*s, "u3", "2001:db8:1:2::4%eth0"),
			},
			regFailMany(11, 4*s, s, "2001:db8:1:2:abcd::5"),
			[]regStep{
				regBanned(15*s, "zed", "2001:db8:1:2:1234:5678:9abc:def0", BanReasonIP, 5*m+14*s),
				regAllowed(15*s, "zed", "2001:db8:1:3::1"), // the next /64
				regAllowed(15*s, "zed", "2001:db8:1::1"),
			},
		)},
		{"IPv4-mapped IPv6 is IPv4", cat(
			regFailMany(15, 0, s, "::ffff:192.0.2.7"),
			[]regStep{regBanned(15*s, "zed", ip4, BanReasonIP, 5*m+14*s)},
		)},
		{"both banned: the later ban is reported", cat(
			[]regStep{
				regFail(0, "alice", ip4),
				regFail(s, "alice", ip4),
				regFail(2*s, "alice", ip4),
			},
			regFailMany(12, 3*s, s, ip4), // 15 from ip4, last at 14s
			[]regStep{
				regBanned(15*s, "alice", ip4, BanReasonIP, 5*m+14*s),
				regBanned(15*s, "alice", other, BanReasonUser, 5*m+2*s),
				regBanned(5*m+3*s, "alice", ip4, BanReasonIP, 5*m+14*s),
			},
		)},
		{"empty keys are not checked", []regStep{
			regFail(0, "", ""),
			regFail(s, "", ""),
			regFail(2*s, "", ""),
			regAllowed(3*s, "", ""),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegulator(openRegulationDB(t), DefaultRegulation())
			for _, st := range tc.steps {
				st.run(t, r)
			}
		})
	}
}

// TestRegulatorUnknownUsers plays the same attempts for a username that
// exists in the user backend and one that does not: the Regulator never
// looks users up, and its answers (error, end of ban) must be the same.
func TestRegulatorUnknownUsers(t *testing.T) {
	outcomes := func(user string) []string {
		r := NewRegulator(openRegulationDB(t), DefaultRegulation())
		ctx := context.Background()
		var out []string
		for i := range 5 {
			now := regT0.Add(time.Duration(i) * 10 * time.Second)
			err := r.Check(ctx, user, "192.0.2.7", now)
			out = append(out, fmt.Sprint(err))
			if err == nil {
				if err := r.Record(ctx, user, "192.0.2.7", "password", false, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		return out
	}
	known, unknown := outcomes("alice"), outcomes("no-such-user")
	if fmt.Sprint(known) != fmt.Sprint(unknown) {
		t.Errorf("known user: %q\nunknown user: %q", known, unknown)
	}
	if known[3] == "<nil>" {
		t.Errorf("not banned after three failures: %q", known)
	}
}

func TestRegulatorDisabled(t *testing.T) {
	db := openRegulationDB(t)
	r := NewRegulator(db, RegulationConfig{MaxRetries: 0, FindTime: time.Minute, BanTime: time.Minute})
	ctx := context.Background()
	for i := range 10 {
		if err := r.Record(ctx, "alice", "192.0.2.7", "password", false, regT0.Add(time.Duration(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Check(ctx, "alice", "192.0.2.7", regT0.Add(time.Second)); err != nil {
		t.Errorf("Check = %v, want nil", err)
	}
	got, err := db.RecentFailures(ctx, "alice", "192.0.2.7", time.Time{}, 100)
	if err != nil || len(got) != 0 {
		t.Errorf("recorded %d attempts (%v), want none", len(got), err)
	}
	var nilRegulator *Regulator
	if err := nilRegulator.Check(ctx, "alice", "", regT0); err != nil {
		t.Errorf("nil Regulator: Check = %v", err)
	}
}

func TestRegulatorPrune(t *testing.T) {
	db := openRegulationDB(t)
	r := NewRegulator(db, DefaultRegulation()) // keeps find_time + ban_time = 7m
	ctx := context.Background()
	for i := range 10 { // one attempt a minute, minutes 0..9
		if err := r.Record(ctx, "alice", "192.0.2.7", "password", i%3 == 0, regT0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		now  time.Duration
		want int64
	}{
		{7 * time.Minute, 0},                  // nothing before minute 0
		{9*time.Minute + time.Nanosecond, 3},  // minutes 0, 1, 2
		{10 * time.Minute, 0},                 // minute 3 is exactly 7m old: kept
		{16*time.Minute + time.Nanosecond, 7}, // the rest
		{100 * time.Minute, 0},
	} {
		n, err := r.Prune(ctx, regT0.Add(tc.now))
		if err != nil {
			t.Fatal(err)
		}
		if n != tc.want {
			t.Errorf("Prune at +%v removed %d, want %d", tc.now, n, tc.want)
		}
	}
}

// TestRegulatorConcurrent records failures from many goroutines at once:
// none may be lost, and the ban follows.
func TestRegulatorConcurrent(t *testing.T) {
	const n = 20
	db := openRegulationDB(t)
	r := NewRegulator(db, RegulationConfig{MaxRetries: n, FindTime: time.Minute, BanTime: time.Minute})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			now := regT0.Add(time.Duration(i%4) * time.Millisecond) // some in the same instant
			if err := r.Record(ctx, "alice", fmt.Sprint("192.0.2.", i), "password", false, now); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := db.RecentFailures(ctx, "alice", "", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("recorded %d failures, want %d", len(got), n)
	}
	var ban *BanError
	if err := r.Check(ctx, "alice", "", regT0.Add(time.Second)); !errors.As(err, &ban) || ban.Reason != BanReasonUser {
		t.Errorf("Check after %d concurrent failures = %v, want a user ban", n, err)
	}
}

func TestRegulationKeys(t *testing.T) {
	long := string(make([]byte, 300))
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"  ", ""},
		{"192.0.2.7", "192.0.2.7"},
		{" 192.0.2.7 ", "192.0.2.7"},
		{"192.0.2.7:443", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2::", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"[2001:db8::1]:8443", "2001:db8::/64"},
		{"::1", "::/64"},
		{"not-an-ip", "not-an-ip"},
		{long, long[:regulationMaxKey]},
	} {
		if got := regulationIPKey(tc.in); got != tc.want {
			t.Errorf("regulationIPKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"Alice", "alice"},
		{long, long[:regulationMaxKey]},
	} {
		if got := regulationUserKey(tc.in); got != tc.want {
			t.Errorf("regulationUserKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRegulationConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg RegulationConfig
		ok  bool
	}{
		{DefaultRegulation(), true},
		{RegulationConfig{}, true},
		{RegulationConfig{MaxRetries: -1}, false},
		{RegulationConfig{MaxRetries: 3, FindTime: -time.Second}, false},
		{RegulationConfig{MaxRetries: 3, BanTime: -time.Second}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
	want := RegulationConfig{MaxRetries: 3, FindTime: 2 * time.Minute, BanTime: 5 * time.Minute}
	if got := DefaultRegulation(); got != want {
		t.Errorf("DefaultRegulation() = %+v, want %+v", got, want)
	}
	r := NewRegulator(nil, RegulationConfig{MaxRetries: 5})
	if r.cfg != (RegulationConfig{MaxRetries: 5, FindTime: 2 * time.Minute, BanTime: 5 * time.Minute}) || r.ipLimit != 25 {
		t.Errorf("NewRegulator defaults: %+v, ip limit %d", r.cfg, r.ipLimit)
	}
}
