package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Automatic rotation of generated keys. A generated key signs for the
// rotation period from its activated_at. A lead before the period ends, the
// next key of its algorithm is generated and stored as pending with
// activates_at: every instance publishes it from its next refresh on, and
// switches to it by its own clock at activates_at, when the old key is
// retired (retired_at = activates_at) and stays published for the
// retention. The transitions are a function of the stored set and the time
// (promote), so instances agree without talking to each other; the one
// that finds a transition due writes it under the storage lock (advance),
// and only generating the next key needs that lock to be taken by exactly
// one instance.

// RotationLead is how long before it starts signing the next generated key
// is published: a quarter of the period, at most MaxRotationLead, and at
// least two refresh intervals (so that every instance has read the key
// before any signs with it, and relying parties that refetch the JWKS on
// an unknown kid or on a schedule have seen it). Options.withDefaults keeps
// it within half of the period.
func RotationLead(period, refresh time.Duration) time.Duration {
	return max(min(period/4, MaxRotationLead), 2*refresh)
}

// policy is what advance needs of the options.
type policy struct {
	period    time.Duration // zero: no rotation
	lead      time.Duration
	retention time.Duration
}

func (m *Manager) policy() policy {
	p := policy{period: m.opts.RotationPeriod, retention: m.opts.Retention}
	if p.period > 0 {
		p.lead = RotationLead(p.period, m.opts.RefreshInterval)
	}
	return p
}

// promote applies the transitions that follow from the set and the time
// alone, the same on every instance: a pending key whose activates_at has
// come becomes active, and the generated key it replaces is retired at that
// time; a retired key whose last token has expired drops out. It returns
// the keys at now (copies where they changed; keys is not modified) and
// whether any changed.
func promote(keys []*signingKey, now time.Time, retention time.Duration) ([]*signingKey, bool) {
	configuredAlg := map[string]bool{} // a configured key signs: nothing to promote
	due := map[string]*signingKey{}    // the pending key that signs from now, by alg
	for _, k := range keys {
		if k.state == stateActive && k.configured {
			configuredAlg[k.alg] = true
		}
	}
	for _, k := range keys {
		if k.state == statePending && !now.Before(k.activatesAt) && !configuredAlg[k.alg] {
			due[k.alg] = k
		}
	}
	changed := false
	out := make([]*signingKey, 0, len(keys))
	for _, k := range keys {
		switch next := due[k.alg]; {
		case next == k:
			c := *k
			c.state, c.activatedAt, c.activatesAt = stateActive, k.activatesAt, time.Time{}
			k, changed = &c, true
		case next != nil && k.state == stateActive && !k.configured:
			c := *k
			c.state, c.retiredAt, c.expires = stateRetired, next.activatesAt, ceilSecond(next.activatesAt.Add(retention))
			k, changed = &c, true
		}
		if k.state == stateRetired && !k.expires.IsZero() && !now.Before(k.expires) {
			changed = true // its last token has expired
			continue
		}
		out = append(out, k)
	}
	return out, changed
}

// advance is promote plus what only the instance holding the storage lock
// may do: generate the next key of each generated active key whose period
// ends within the lead (activates_at = the end of its period, or now plus
// the lead if that is later, e.g. after a downtime), and date the active
// generated keys stored without activated_at (by an older version) from
// now. Keys of stored are not modified.
func advance(stored []*signingKey, now time.Time, p policy) ([]*signingKey, bool, error) {
	out, changed := promote(stored, now, p.retention)
	if p.period <= 0 {
		return out, changed, nil
	}
	pending := map[string]bool{}
	for _, k := range out {
		if k.state == statePending {
			pending[k.alg] = true
		}
	}
	for i, k := range out {
		if k.state != stateActive || k.configured || pending[k.alg] {
			continue
		}
		if k.activatedAt.IsZero() {
			c := *k
			c.activatedAt = now.Truncate(time.Second)
			out[i], changed = &c, true
			continue
		}
		end := k.activatedAt.Add(p.period)
		if now.Before(end.Add(-p.lead)) {
			continue
		}
		next, err := generateKey(k.alg)
		if err != nil {
			return nil, false, err
		}
		next.state = statePending
		next.activatesAt = ceilSecond(later(end, now.Add(p.lead)))
		out = append(out, next)
		changed = true
	}
	return out, changed, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// nextDue returns when advance next changes the stored set; zero: never.
func nextDue(stored []*signingKey, now time.Time, p policy) time.Time {
	var due time.Time
	soonest := func(t time.Time) {
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	pending := map[string]bool{}
	for _, k := range stored {
		switch k.state {
		case statePending:
			pending[k.alg] = true
			soonest(k.activatesAt)
		case stateRetired:
			if !k.expires.IsZero() {
				soonest(k.expires)
			}
		}
	}
	if p.period <= 0 {
		return due
	}
	for _, k := range stored {
		switch {
		case k.state != stateActive || k.configured || pending[k.alg]:
		case k.activatedAt.IsZero():
			soonest(now)
		default:
			soonest(k.activatedAt.Add(p.period - p.lead))
		}
	}
	return due
}

// conflicts reports why a stored set, written by another instance, does not
// fit this configuration (cfgActive): then this instance keeps its own keys
// until it is reloaded, rather than fight over the set. Both configurations
// agree when each algorithm's active key is this configuration's key, or a
// generated key where this configuration has none.
func conflicts(stored []*signingKey, cfgActive map[string]*ConfiguredKey, algs []string) error {
	active := map[string]bool{}
	for _, k := range stored {
		c := cfgActive[k.alg]
		switch {
		case k.state == stateActive && c == nil && k.configured:
			return fmt.Errorf("%s signs with configured key %q, which this configuration does not have", k.alg, k.kid)
		case k.state == stateActive && c != nil && !matchesConfig(k, cfgActive):
			return fmt.Errorf("%s signs with key %q, not with the configured key %q", k.alg, k.kid, c.KeyID)
		case k.state == statePending && c != nil:
			return fmt.Errorf("a generated %s key is pending, but a configured key signs", k.alg)
		case k.state == stateRetired && matchesConfig(k, cfgActive):
			return fmt.Errorf("the configured %s key %q is retired", k.alg, k.kid)
		}
		if k.state == stateActive {
			active[k.alg] = true
		}
	}
	for _, alg := range algs {
		if !active[alg] {
			return fmt.Errorf("no active %s key", alg)
		}
	}
	return nil
}

// ErrNothingToRotate is returned by RotateNow when every signing key comes
// from the configuration: those change with the configuration only.
var ErrNothingToRotate = errors.New("keys: every signing key comes from the configuration (jwks or issuer_private_key); change the configuration to replace them")

// RotateNow replaces every generated signing key at once (an operator's
// "rotate now", e.g. after a suspected leak): for each algorithm whose
// active key is generated, the pending next key, or a new one, signs from
// now on, and the old key is retired and stays published for the retention
// so that tokens it signed still verify. The new set is written under the
// storage lock, so instances sharing the storage adopt it at their next
// refresh. It returns the key IDs that sign from now on.
func (m *Manager) RotateNow(ctx context.Context) (kids []string, err error) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	if m.st == nil {
		return nil, errors.New("keys: rotate: not backed by storage")
	}
	if err := m.st.Lock(ctx, m.lockName); err != nil {
		return nil, fmt.Errorf("keys: lock %q: %w", m.lockName, err)
	}
	defer func() {
		if uerr := m.st.Unlock(context.WithoutCancel(ctx), m.lockName); uerr != nil && err == nil {
			kids, err = nil, fmt.Errorf("keys: unlock %q: %w", m.lockName, uerr)
		}
	}()
	now := m.opts.Now()
	data, err := m.st.Load(ctx, m.storageKey)
	if err != nil {
		return nil, fmt.Errorf("keys: load %q: %w", m.storageKey, err)
	}
	if !bytes.Equal(data, m.seen) {
		if err := m.adopt(data, now); err != nil {
			return nil, err
		}
	}
	if m.conflict {
		return nil, errors.New("keys: rotate: the stored key set belongs to an instance with other signing keys; reload this one first")
	}
	at := now.Truncate(time.Second) // stored with second precision; not after now
	var next []*signingKey
	pending := map[string]*signingKey{}
	for _, k := range m.seenKeys {
		if k.state == statePending {
			pending[k.alg] = k
		}
	}
	rotating := map[string]bool{}
	for _, k := range m.seenKeys {
		if k.state == stateActive && !k.configured && m.cfgActive[k.alg] == nil {
			rotating[k.alg] = true
		}
	}
	if len(rotating) == 0 {
		return nil, ErrNothingToRotate
	}
	for _, k := range m.seenKeys {
		if p := pending[k.alg]; p == k && rotating[k.alg] {
			c := *k
			c.activatesAt = at
			k = &c
		}
		next = append(next, k)
	}
	for _, alg := range Algorithms {
		if !rotating[alg] || pending[alg] != nil {
			continue
		}
		k, err := generateKey(alg)
		if err != nil {
			return nil, err
		}
		k.state, k.activatesAt = statePending, at
		next = append(next, k)
	}
	next, _ = promote(next, now, m.opts.Retention)
	if err := checkSet(next); err != nil {
		return nil, fmt.Errorf("keys: rotate: %w", err)
	}
	if data, err = encodeKeySet(next); err != nil {
		return nil, fmt.Errorf("keys: encode key set: %w", err)
	}
	if err := m.st.Store(ctx, m.storageKey, data); err != nil {
		return nil, fmt.Errorf("keys: store %q: %w", m.storageKey, err)
	}
	if err := m.adopt(data, now); err != nil {
		return nil, err
	}
	for _, k := range next {
		if k.state == stateActive && rotating[k.alg] {
			kids = append(kids, k.kid)
		}
	}
	m.logger.Load().Info("signing keys rotated on request", zap.Strings("signing", kids))
	return kids, nil
}
