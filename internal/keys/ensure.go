package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Ensure makes sure each of algs has an active key, as Load does for
// Options.Algorithms: a configuration reload that adds a client with a new
// algorithm gets its key from the manager it shares, without a new one.
// Missing keys are generated under the storage lock, stored, and adopted;
// the manager keeps wanting them, so that refreshes and rotations keep them
// too.
func (m *Manager) Ensure(ctx context.Context, algs []string) (err error) {
	for _, alg := range algs {
		if !slices.Contains(Algorithms, alg) {
			return fmt.Errorf("keys: algorithm %q is not one of %s", alg, strings.Join(Algorithms, ", "))
		}
	}
	active := m.current().active
	missing := slices.DeleteFunc(slices.Clone(algs), func(alg string) bool { return active[alg] != nil })
	if len(missing) == 0 {
		return nil
	}
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	for _, alg := range missing {
		if !slices.Contains(m.extraAlgs, alg) {
			m.extraAlgs = append(m.extraAlgs, alg)
		}
	}
	if m.st == nil {
		return errors.New("keys: no storage to keep new keys in")
	}
	if err := m.st.Lock(ctx, m.lockName); err != nil {
		return fmt.Errorf("keys: lock %q: %w", m.lockName, err)
	}
	defer func() {
		if uerr := m.st.Unlock(context.WithoutCancel(ctx), m.lockName); uerr != nil && err == nil {
			err = fmt.Errorf("keys: unlock %q: %w", m.lockName, uerr)
		}
	}()
	data, err := m.st.Load(ctx, m.storageKey)
	if err != nil {
		return fmt.Errorf("keys: load %q: %w", m.storageKey, err)
	}
	stored, err := decodeKeySet(data)
	if err != nil {
		return fmt.Errorf("keys: stored key set %q: %w", m.storageKey, err)
	}
	now := m.opts.Now()
	next, changed, err := reconcile(stored, m.cfgActive, m.wanted(), m.opts.Retention, now)
	if err == nil {
		err = checkSet(next)
	}
	if err != nil {
		return fmt.Errorf("keys: stored key set %q: %w", m.storageKey, err)
	}
	if changed {
		if data, err = encodeKeySet(next); err != nil {
			return fmt.Errorf("keys: encode key set: %w", err)
		}
		if err := m.st.Store(ctx, m.storageKey, data); err != nil {
			return fmt.Errorf("keys: store %q: %w", m.storageKey, err)
		}
	}
	return m.adopt(data, now)
}

// wanted are the algorithms that must have an active key: those of the
// options and those Ensure added. Under refreshMu.
func (m *Manager) wanted() []string {
	out := m.opts.wanted()
	for _, alg := range Algorithms {
		if slices.Contains(m.extraAlgs, alg) && !slices.Contains(out, alg) {
			out = append(out, alg)
		}
	}
	return out
}
