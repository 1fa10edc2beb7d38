package keys

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// newManager returns a manager over keys, not backed by storage, at the
// current time.
func newManager(keys []*signingKey) (*Manager, error) {
	if err := checkSet(keys); err != nil {
		return nil, err
	}
	opts, err := Options{}.withDefaults()
	if err != nil {
		return nil, err
	}
	v, err := buildView(keys, opts.Now(), opts.Retention)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts}
	m.view.Store(v)
	m.logger.Store(opts.Logger)
	return m, nil
}

// buildView computes what signs and what is published at now: the keys
// after the time-based transitions due at now (promote), active keys
// first.
func buildView(all []*signingKey, now time.Time, retention time.Duration) (*keyView, error) {
	eff, _ := promote(all, now, retention)
	v := &keyView{
		all:    all,
		active: make(map[string]*signingKey, len(Algorithms)),
		byKID:  make(map[string][]*signingKey, len(eff)),
	}
	// Active keys first: some clients take the first key of the JWKS. Then
	// the next keys, then the retired ones.
	rank := map[keyState]int{stateActive: 0, statePending: 1, stateRetired: 2}
	ordered := slices.Clone(eff)
	slices.SortStableFunc(ordered, func(a, b *signingKey) int { return rank[a.state] - rank[b.state] })
	soonest := func(t time.Time) {
		if !t.IsZero() && (v.until.IsZero() || t.Before(v.until)) {
			v.until = t
		}
	}
	for _, k := range ordered {
		switch k.state {
		case stateActive:
			if prev := v.active[k.alg]; prev != nil {
				return nil, fmt.Errorf("two active %s keys (kids %q and %q)", k.alg, prev.kid, k.kid)
			}
			v.active[k.alg] = k
		case statePending:
			soonest(k.activatesAt)
		case stateRetired:
			soonest(k.expires)
		}
		v.keys = append(v.keys, k)
		v.byKID[k.kid] = append(v.byKID[k.kid], k)
		v.public.Keys = append(v.public.Keys, jose.JSONWebKey{
			Key:          k.public,
			KeyID:        k.kid,
			Algorithm:    k.alg,
			Use:          "sig",
			Certificates: k.jwk.Certificates,
		})
	}
	for _, alg := range Algorithms {
		if v.active[alg] != nil {
			v.algs = append(v.algs, alg)
		}
	}
	jwks, err := json.Marshal(v.public)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	v.jwks = jwks
	return v, nil
}

// current returns the view now, rebuilding it once when a key has changed
// state with time since it was built.
func (m *Manager) current() *keyView {
	v := m.view.Load()
	if v.until.IsZero() {
		return v
	}
	now := m.opts.Now()
	if now.Before(v.until) {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v = m.view.Load(); !v.until.IsZero() && !now.Before(v.until) {
		nv, err := buildView(v.all, now, m.opts.Retention)
		if err != nil {
			return v // cannot happen: promote keeps one active key per alg
		}
		m.view.Store(nv)
		v = nv
	}
	return v
}
