package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Refresh brings the manager up to date with the stored key set, which
// other instances sharing the storage may have changed: it reads
// signing_keys.json (without the lock) and, when it changed, swaps in a new
// view. Then, when a stored transition is due (the next key of a rotation
// to generate, a pending key that signs from now on, a retired key that
// expired), it takes the storage lock, reads the set again and applies what
// is still due, so that of several instances only the first writes.
//
// A stored set that contradicts this manager's configured keys (written by
// an instance with another configuration) is reported once and otherwise
// ignored: the manager keeps its keys until it is loaded again. On any
// error the current view stays. Refresh is safe for concurrent use; Start
// calls it at every refresh interval.
func (m *Manager) Refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	if m.st == nil {
		return nil
	}
	data, err := m.st.Load(ctx, m.storageKey)
	if err != nil {
		return fmt.Errorf("keys: load %q: %w", m.storageKey, err)
	}
	now := m.opts.Now()
	if !bytes.Equal(data, m.seen) {
		if err := m.adopt(data, now); err != nil {
			return err
		}
	}
	if m.conflict {
		return nil
	}
	if due := nextDue(m.seenKeys, now, m.policy()); due.IsZero() || now.Before(due) {
		return nil
	}
	return m.maintain(ctx, now)
}

// adopt makes the stored set data (as read from storage) the manager's
// view, unless it conflicts with the configuration. Under refreshMu.
func (m *Manager) adopt(data []byte, now time.Time) error {
	stored, err := decodeKeySet(data)
	if err == nil {
		err = checkSet(stored)
	}
	if err != nil {
		return fmt.Errorf("keys: stored key set %q: %w", m.storageKey, err)
	}
	m.seen, m.seenKeys = data, stored
	if err := conflicts(stored, m.cfgActive, m.wanted()); err != nil {
		m.conflict = true
		return fmt.Errorf("keys: stored key set %q was changed by an instance with other signing keys; keeping this configuration's keys until a reload: %w", m.storageKey, err)
	}
	m.conflict = false
	all := inMemory(stored, m.opts.Configured, m.cfgActive)
	if err := checkSet(all); err != nil {
		return fmt.Errorf("keys: stored key set %q: %w", m.storageKey, err)
	}
	v, err := buildView(all, now, m.opts.Retention)
	if err != nil {
		return fmt.Errorf("keys: stored key set %q: %w", m.storageKey, err)
	}
	m.mu.Lock()
	m.view.Store(v)
	m.mu.Unlock()
	m.logger.Load().Info("signing keys reloaded from storage", zap.Strings("published", kidsOf(v.keys)))
	return nil
}

// maintain applies, under the storage lock, the stored transitions due at
// now, and adopts the result. Under refreshMu.
func (m *Manager) maintain(ctx context.Context, now time.Time) (err error) {
	if err := m.st.Lock(ctx, m.lockName); err != nil {
		return fmt.Errorf("keys: lock %q: %w", m.lockName, err)
	}
	defer func() {
		if uerr := m.st.Unlock(context.WithoutCancel(ctx), m.lockName); uerr != nil && err == nil {
			err = fmt.Errorf("keys: unlock %q: %w", m.lockName, uerr)
		}
	}()
	// Read again under the lock: another instance may have done it.
	data, err := m.st.Load(ctx, m.storageKey)
	if err != nil {
		return fmt.Errorf("keys: load %q: %w", m.storageKey, err)
	}
	if !bytes.Equal(data, m.seen) {
		if err := m.adopt(data, now); err != nil || m.conflict {
			return err
		}
	}
	next, changed, err := advance(m.seenKeys, now, m.policy())
	if err != nil || !changed {
		return err
	}
	if err := checkSet(next); err != nil {
		return fmt.Errorf("keys: rotate: %w", err)
	}
	if data, err = encodeKeySet(next); err != nil {
		return fmt.Errorf("keys: encode key set: %w", err)
	}
	if err := m.st.Store(ctx, m.storageKey, data); err != nil {
		return fmt.Errorf("keys: store %q: %w", m.storageKey, err)
	}
	for _, k := range next {
		if k.state == statePending && !slices.ContainsFunc(m.seenKeys, func(o *signingKey) bool { return o.kid == k.kid }) {
			m.logger.Load().Info("next signing key published",
				zap.String("alg", k.alg), zap.String("kid", k.kid), zap.Time("signs_from", k.activatesAt))
		}
	}
	return m.adopt(data, now)
}

func kidsOf(keys []*signingKey) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.kid)
	}
	return out
}

// Attach makes the manager read and write the key set in st, and report to
// logger (nil: no reports), from now on: the storage and logger of the
// newest configuration, when the manager outlives the one it was loaded
// with.
func (m *Manager) Attach(st Storage, logger *zap.Logger) {
	if logger == nil {
		logger = zap.NewNop()
	}
	m.logger.Store(logger)
	m.refreshMu.Lock()
	m.st = st
	m.refreshMu.Unlock()
}

// Start runs Refresh in the background every refresh interval (real time,
// whatever Options.Now says) until Close. Errors are logged and retried at
// the next tick. Start is a no-op after the first call.
func (m *Manager) Start() {
	m.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel, m.done = cancel, make(chan struct{})
		go m.run(ctx)
	})
}

func (m *Manager) run(ctx context.Context) {
	defer close(m.done)
	tick := time.NewTicker(m.opts.RefreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := m.Refresh(ctx); err != nil && !errors.Is(err, context.Canceled) {
			m.logger.Load().Warn("refreshing the signing keys", zap.Error(err))
		}
	}
}

// Close stops the refresher started by Start and waits for it to return.
// The manager keeps signing and verifying with its last view.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.startOnce.Do(func() {}) // a later Start does nothing
		if m.cancel != nil {
			m.cancel()
			<-m.done
		}
	})
	return nil
}
