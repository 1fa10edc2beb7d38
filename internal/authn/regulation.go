package authn

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/caddy-oidc/caddy-oidc/internal/store"
)

// RegulationConfig is Authelia's regulation (brute-force protection): a user
// or client IP with MaxRetries failed attempts within FindTime is banned for
// BanTime after the last of them.
type RegulationConfig struct {
	// MaxRetries is how many failed attempts within FindTime ban a user
	// (Authelia's max_retries). A client IP is banned at
	// MaxRetries × 5 failures (see [Regulator]). 0 disables regulation.
	// Default 3.
	MaxRetries int
	// FindTime is the window the MaxRetries failures must fall within
	// (Authelia's find_time). Default 2 minutes.
	FindTime time.Duration
	// BanTime is how long a ban lasts after the last failure that caused it
	// (Authelia's ban_time). Default 5 minutes.
	BanTime time.Duration
}

// DefaultRegulation returns Authelia's defaults: 3 retries, find_time 2m,
// ban_time 5m.
func DefaultRegulation() RegulationConfig {
	return RegulationConfig{MaxRetries: 3, FindTime: 2 * time.Minute, BanTime: 5 * time.Minute}
}

// Validate rejects negative values. Zero durations are allowed and mean the
// default (see [NewRegulator]).
func (c RegulationConfig) Validate() error {
	switch {
	case c.MaxRetries < 0:
		return fmt.Errorf("regulation: max_retries %d is negative", c.MaxRetries)
	case c.FindTime < 0:
		return fmt.Errorf("regulation: find_time %s is negative", c.FindTime)
	case c.BanTime < 0:
		return fmt.Errorf("regulation: ban_time %s is negative", c.BanTime)
	}
	return nil
}

// ErrBanned is returned by [Regulator.Check] while a user or client IP is
// banned. The error is a *[BanError]; get the details with errors.As.
var ErrBanned = errors.New("authn: too many failed authentication attempts")

// Ban reasons of a [BanError].
const (
	BanReasonUser = "user" // the username has too many failures
	BanReasonIP   = "ip"   // the client IP (or its IPv6 /64) has too many failures
)

// BanError is the error of a ban: errors.Is(err, ErrBanned) holds. Show the
// user the same page as for a wrong password: the ban reveals nothing about
// whether the username exists, and the page should not either.
type BanError struct {
	Until  time.Time // when the ban ends (the last failure + BanTime)
	Reason string    // BanReasonUser or BanReasonIP
}

func (e *BanError) Error() string {
	return fmt.Sprintf("%v: %s banned until %s", ErrBanned, e.Reason, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrBanned) true.
func (e *BanError) Unwrap() error { return ErrBanned }

// regulationIPFactor multiplies MaxRetries into the per-IP threshold.
//
// Why not MaxRetries, as Authelia does per user: an IP is often shared — a
// household or an office behind NAT, a carrier-grade NAT, a VPN exit — and
// with the per-user limit three typos by three different people would lock
// out everyone there, for users who did nothing wrong. Guessing one user's
// password is already stopped by the per-user key, whatever the IP. What the
// IP key adds is a bound on password spraying (one or two guesses at many
// usernames from one place), and 5× the per-user limit (15 per find_time by
// default) still caps that to a handful of guesses a minute.
const regulationIPFactor = 5

// regulationMaxKey bounds the length of a username key, so a client cannot
// make the table store arbitrarily long strings.
const regulationMaxKey = 256

// Regulator decides whether a login attempt may proceed (Check) and keeps the
// attempts it decides on (Record). It is safe for concurrent use and keeps no
// state of its own: everything is in the database, so it survives reloads
// and is shared by every Caddy instance using the same database.
//
// Keys. Every attempt counts for its username and its client IP:
//   - The username key is the username as typed, lower-cased (so a
//     case-insensitive user backend cannot be probed in several spellings)
//     and cut to 256 bytes. The Regulator never looks users up: unknown
//     usernames are recorded and banned exactly like existing ones, so a
//     ban says nothing about whether an account exists.
//   - The IP key is the IPv4 address as is, or the /64 of an IPv6 address
//     (one subscriber usually gets a whole /64, so rotating through it must
//     not help). IPv4-mapped IPv6 addresses count as IPv4. A user is banned
//     at MaxRetries failures, an IP at MaxRetries × 5 (regulationIPFactor
//     explains why).
//
// Failures of every factor (password, TOTP, WebAuthn) count together, so
// guessing TOTP codes after a stolen password is regulated too. A success
// resets the count of both of its keys, as in Authelia.
//
// A key is banned while, among its failures since its last success, some
// run of threshold consecutive failures spans at most FindTime and the newest
// of the run is less than BanTime ago; the ban ends BanTime after that newest
// failure. Looking at every run rather than only the latest one means a
// stray failure recorded during a ban does not lift it.
type Regulator struct {
	db      AttemptStore
	cfg     RegulationConfig
	ipLimit int
}

// NewRegulator returns a regulator storing attempts in db. MaxRetries 0
// disables it (Check always allows, Record does nothing); zero FindTime or
// BanTime take the defaults.
func NewRegulator(db AttemptStore, cfg RegulationConfig) *Regulator {
	def := DefaultRegulation()
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.FindTime <= 0 {
		cfg.FindTime = def.FindTime
	}
	if cfg.BanTime <= 0 {
		cfg.BanTime = def.BanTime
	}
	return &Regulator{db: db, cfg: cfg, ipLimit: cfg.MaxRetries * regulationIPFactor}
}

// enabled reports whether the regulator does anything.
func (r *Regulator) enabled() bool { return r != nil && r.cfg.MaxRetries > 0 }

// Check returns nil if an attempt by username from remoteIP may proceed at
// now, or a *BanError (errors.Is ErrBanned) when the username or the client
// IP is banned; with both banned it reports the ban that ends last. Either
// key may be empty (e.g. the IP is unknown) and is then not checked.
//
// Call it before verifying anything. While banned, answer as for a wrong
// password without verifying the credential and without calling Record.
func (r *Regulator) Check(ctx context.Context, username, remoteIP string, now time.Time) error {
	if !r.enabled() {
		return nil
	}
	var ban *BanError
	if u := regulationUserKey(username); u != "" {
		until, err := r.bannedUntil(ctx, u, "", r.cfg.MaxRetries, now)
		if err != nil {
			return fmt.Errorf("regulation: check user %q: %w", username, err)
		}
		if until.After(now) {
			ban = &BanError{Until: until, Reason: BanReasonUser}
		}
	}
	if ip := regulationIPKey(remoteIP); ip != "" {
		until, err := r.bannedUntil(ctx, "", ip, r.ipLimit, now)
		if err != nil {
			return fmt.Errorf("regulation: check client %s: %w", ip, err)
		}
		if until.After(now) && (ban == nil || until.After(ban.Until)) {
			ban = &BanError{Until: until, Reason: BanReasonIP}
		}
	}
	if ban != nil {
		return ban
	}
	return nil
}

// bannedUntil returns when the ban of one key ends, or the zero time if it
// has none at now. threshold is the number of failures that ban.
func (r *Regulator) bannedUntil(ctx context.Context, user, ip string, threshold int, now time.Time) (time.Time, error) {
	// Only a run whose newest failure is after now-BanTime bans at now, and
	// such a run reaches back at most FindTime further. Without failures
	// recorded during bans there are fewer than threshold failures per
	// FindTime outside banning runs, so this bound reads every run that
	// matters; beyond it, the newest runs are the ones that decide.
	runs := min(r.cfg.BanTime/r.cfg.FindTime, 1000) + 3
	limit := max(threshold, min(threshold*int(runs), 1000))
	fails, err := r.db.RecentFailures(ctx, user, ip, now.Add(-(r.cfg.FindTime + r.cfg.BanTime)), limit)
	if err != nil {
		return time.Time{}, err
	}
	earliest := now.Add(-r.cfg.BanTime)
	for k := 0; k+threshold <= len(fails); k++ {
		newest := fails[k].At
		if !newest.After(earliest) {
			break // newest first: no later run can end a ban after now
		}
		if newest.Sub(fails[k+threshold-1].At) <= r.cfg.FindTime {
			return newest.Add(r.cfg.BanTime), nil
		}
	}
	return time.Time{}, nil
}

// Record stores an attempt by username from remoteIP at now. factor is
// "password", "totp" or "webauthn"; failures of every factor count together.
// Record both failures and successes (a success resets the count), for
// unknown usernames as for known ones. It does nothing when regulation is
// disabled or both keys are empty.
func (r *Regulator) Record(ctx context.Context, username, remoteIP, factor string, success bool, now time.Time) error {
	if !r.enabled() {
		return nil
	}
	if factor == "" {
		return errors.New("regulation: record attempt: empty factor")
	}
	a := store.Attempt{
		Username: regulationUserKey(username),
		RemoteIP: regulationIPKey(remoteIP),
		Factor:   factor,
		Success:  success,
		At:       now,
	}
	if a.Username == "" && a.RemoteIP == "" {
		return nil
	}
	if err := r.db.RecordAttempt(ctx, a); err != nil {
		return fmt.Errorf("regulation: %w", err)
	}
	return nil
}

// Prune deletes the attempts older than FindTime+BanTime, which can no longer
// cause or extend a ban. Call it from the periodic collector.
func (r *Regulator) Prune(ctx context.Context, now time.Time) (int64, error) {
	n, err := r.db.DeleteAttemptsBefore(ctx, now.Add(-(r.cfg.FindTime + r.cfg.BanTime)))
	if err != nil {
		return n, fmt.Errorf("regulation: prune: %w", err)
	}
	return n, nil
}

// regulationUserKey is the username key: lower-cased, at most
// regulationMaxKey bytes.
func regulationUserKey(username string) string {
	k := strings.ToLower(username)
	if len(k) > regulationMaxKey {
		k = strings.ToValidUTF8(k[:regulationMaxKey], "")
	}
	return k
}

// regulationIPKey is the client IP key: an IPv4 address as is (also when
// written IPv4-mapped), an IPv6 address as its /64 ("2001:db8::/64"). An
// "ip:port" is accepted. Anything else is kept as given (cut to
// regulationMaxKey bytes), so it still counts as a key of its own.
func regulationIPKey(remoteIP string) string {
	s := strings.TrimSpace(remoteIP)
	if s == "" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			if len(s) > regulationMaxKey {
				s = strings.ToValidUTF8(s[:regulationMaxKey], "")
			}
			return s
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil { // unreachable for a valid IPv6 address
		return addr.String()
	}
	return p.String()
}
