package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func TestRotationLead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ period, refresh, want time.Duration }{
		{90 * 24 * time.Hour, time.Minute, MaxRotationLead},
		{24 * time.Hour, time.Minute, 6 * time.Hour},
		{time.Hour, time.Minute, 15 * time.Minute},
		{4 * time.Minute, time.Minute, 2 * time.Minute}, // two refreshes
		{4 * time.Second, time.Second, 2 * time.Second},
	} {
		got := RotationLead(tc.period, tc.refresh)
		if got != tc.want {
			t.Errorf("RotationLead(%v, %v) = %v, want %v", tc.period, tc.refresh, got, tc.want)
		}
		if got > tc.period/2 {
			t.Errorf("RotationLead(%v, %v) = %v, more than half the period", tc.period, tc.refresh, got)
		}
	}
}

func TestRotationOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opts    Options
		wantErr string
	}{
		{Options{RotationPeriod: 4 * time.Minute}, ""},
		{Options{RotationPeriod: 4 * time.Second, RefreshInterval: time.Second}, ""},
		{Options{RotationPeriod: 3 * time.Minute}, "shorter than 4 times the refresh interval 1m0s"},
		{Options{RotationPeriod: -time.Hour}, "rotation period -1h0m0s is negative"},
		{Options{RefreshInterval: -time.Second}, "refresh interval -1s is negative"},
	} {
		_, err := tc.opts.withDefaults()
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.wantErr)
		}
	}
}

// timeline names the keys of a set as they appear (RS256#1, RS256#2, ...)
// and describes a set with the times of its transitions relative to t0.
type timeline struct {
	t0    time.Time
	names map[string]string // by kid
	count map[string]int    // by alg
}

func newTimeline(t0 time.Time) *timeline {
	return &timeline{t0: t0, names: map[string]string{}, count: map[string]int{}}
}

func (tl *timeline) describe(keys []*signingKey) []string {
	at := func(t time.Time) string { return t.Sub(tl.t0).String() }
	var out []string
	for _, k := range keys {
		name := tl.names[k.kid]
		if name == "" {
			tl.count[k.alg]++
			name = fmt.Sprintf("%s#%d", k.alg, tl.count[k.alg])
			if k.configured {
				name = k.alg + "#config"
			}
			tl.names[k.kid] = name
		}
		s := name + " " + string(k.state)
		switch k.state {
		case stateActive:
			if !k.activatedAt.IsZero() {
				s += " since " + at(k.activatedAt)
			}
		case statePending:
			s += " from " + at(k.activatesAt)
		case stateRetired:
			s += " at " + at(k.retiredAt) + " until " + at(k.expires)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestAdvance runs the stored transitions over time: generation of the next
// key a lead before the period ends, its activation, the retirement and the
// drop of the old key, for the cases that matter.
func TestAdvance(t *testing.T) {
	t.Parallel()
	const h = time.Hour
	t0 := time.Unix(1_900_000_000, 0)
	rotating := policy{period: 24 * h, lead: 6 * h, retention: h}
	generated := func(alg string, dated bool) *signingKey {
		k := mustGenerate(t, alg)
		if dated {
			k.activatedAt = t0
		}
		return k
	}
	type step struct {
		at      time.Duration
		want    []string      // the stored set after advance
		wantDue time.Duration // nextDue after it; -1: never
	}
	for _, tc := range []struct {
		name  string
		p     policy
		start func() []*signingKey
		steps []step
	}{
		{
			name:  "on schedule",
			p:     rotating,
			start: func() []*signingKey { return []*signingKey{generated(RS256, true), generated(ES256, true)} },
			steps: []step{
				{17*h + 59*time.Minute, []string{"ES256#1 active since 0s", "RS256#1 active since 0s"}, 18 * h},
				{18 * h, []string{"ES256#1 active since 0s", "ES256#2 pending from 24h0m0s", "RS256#1 active since 0s", "RS256#2 pending from 24h0m0s"}, 24 * h},
				{23 * h, []string{"ES256#1 active since 0s", "ES256#2 pending from 24h0m0s", "RS256#1 active since 0s", "RS256#2 pending from 24h0m0s"}, 24 * h},
				{24 * h, []string{"ES256#1 retired at 24h0m0s until 25h0m0s", "ES256#2 active since 24h0m0s", "RS256#1 retired at 24h0m0s until 25h0m0s", "RS256#2 active since 24h0m0s"}, 25 * h},
				{25 * h, []string{"ES256#2 active since 24h0m0s", "RS256#2 active since 24h0m0s"}, 42 * h},
				{42 * h, []string{"ES256#2 active since 24h0m0s", "ES256#3 pending from 48h0m0s", "RS256#2 active since 24h0m0s", "RS256#3 pending from 48h0m0s"}, 48 * h},
			},
		},
		{
			// Nobody ran for a day: the next key is still published a full
			// lead before it signs, and the old one signs until then.
			name:  "late",
			p:     rotating,
			start: func() []*signingKey { return []*signingKey{generated(ES256, true)} },
			steps: []step{
				{30 * h, []string{"ES256#1 active since 0s", "ES256#2 pending from 36h0m0s"}, 36 * h},
				{36*h + 30*time.Minute, []string{"ES256#1 retired at 36h0m0s until 37h0m0s", "ES256#2 active since 36h0m0s"}, 37 * h},
			},
		},
		{
			name: "configured keys are never rotated",
			p:    rotating,
			start: func() []*signingKey {
				rec := configuredRecord(&ConfiguredKey{KeyID: "main", Algorithm: RS256, Key: rsaKeys()[0]})
				return []*signingKey{rec, generated(ES256, true)}
			},
			steps: []step{
				{18 * h, []string{"ES256#1 active since 0s", "ES256#2 pending from 24h0m0s", "RS256#config active"}, 24 * h},
				{24 * h, []string{"ES256#1 retired at 24h0m0s until 25h0m0s", "ES256#2 active since 24h0m0s", "RS256#config active"}, 25 * h},
				{100 * h, []string{"ES256#2 active since 24h0m0s", "ES256#3 pending from 106h0m0s", "RS256#config active"}, 106 * h},
			},
		},
		{
			// Stored by an older version: no activated_at. Dated from the
			// first look, not rotated at once.
			name:  "undated key",
			p:     rotating,
			start: func() []*signingKey { return []*signingKey{generated(ES256, false)} },
			steps: []step{
				{100 * h, []string{"ES256#1 active since 100h0m0s"}, 118 * h},
				{118 * h, []string{"ES256#1 active since 100h0m0s", "ES256#2 pending from 124h0m0s"}, 124 * h},
			},
		},
		{
			name: "rotation off: retired keys still drop, pending ones still activate",
			p:    policy{retention: h},
			start: func() []*signingKey {
				old, next := generated(ES256, true), generated(ES256, false)
				next.state, next.activatesAt = statePending, t0.Add(2*h)
				return []*signingKey{old, next}
			},
			steps: []step{
				{h, []string{"ES256#1 active since 0s", "ES256#2 pending from 2h0m0s"}, 2 * h},
				{2 * h, []string{"ES256#1 retired at 2h0m0s until 3h0m0s", "ES256#2 active since 2h0m0s"}, 3 * h},
				{3 * h, []string{"ES256#2 active since 2h0m0s"}, -1},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := newTimeline(t0)
			keys := tc.start()
			for _, s := range tc.steps {
				now := t0.Add(s.at)
				before := tl.describe(keys)
				next, changed, err := advance(keys, now, tc.p)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkSet(next); err != nil {
					t.Fatalf("at %v: %v", s.at, err)
				}
				got := tl.describe(next)
				if !slices.Equal(got, s.want) {
					t.Fatalf("at %v:\n got %q\nwant %q", s.at, got, s.want)
				}
				if changed != !slices.Equal(before, got) {
					t.Errorf("at %v: changed = %v", s.at, changed)
				}
				if again := tl.describe(keys); !slices.Equal(again, before) {
					t.Errorf("at %v: advance modified its input: %q", s.at, again)
				}
				due := nextDue(next, now, tc.p)
				if s.wantDue < 0 && !due.IsZero() || s.wantDue >= 0 && !due.Equal(t0.Add(s.wantDue)) {
					t.Errorf("at %v: next due %v, want %v", s.at, due.Sub(t0), s.wantDue)
				}
				// The view at now agrees with the stored set, whoever wrote it.
				v, err := buildView(keys, now, tc.p.retention)
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range next {
					if k.state == stateActive && v.active[k.alg].kid != k.kid {
						t.Errorf("at %v: view signs %s with %s, stored set with %s", s.at, k.alg, tl.names[v.active[k.alg].kid], tl.names[k.kid])
					}
				}
				keys = next
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	t.Parallel()
	es, rs := mustGenerate(t, ES256), mustGenerate(t, RS256)
	main := &ConfiguredKey{KeyID: "main", Algorithm: RS256, Key: rsaKeys()[0]}
	other := configuredRecord(&ConfiguredKey{KeyID: "other", Algorithm: RS256, Key: rsaKeys()[1]})
	retiredMain := configuredRecord(main)
	retiredMain.state = stateRetired
	pendingRS := mustGenerate(t, RS256)
	pendingRS.state, pendingRS.activatesAt = statePending, time.Unix(2_000_000_000, 0)
	withMain := map[string]*ConfiguredKey{RS256: main}
	for _, tc := range []struct {
		name    string
		stored  []*signingKey
		cfg     map[string]*ConfiguredKey
		wantErr string
	}{
		{"generated, no config", []*signingKey{es, rs}, nil, ""},
		{"same configured key", []*signingKey{es, configuredRecord(main)}, withMain, ""},
		{"generated with a pending key", []*signingKey{es, rs, pendingRS}, nil, ""},
		{"another's configured key", []*signingKey{es, other}, nil, `configured key "other"`},
		{"generated, we have a configured key", []*signingKey{es, rs}, withMain, `not with the configured key "main"`},
		{"our configured key retired", []*signingKey{es, retiredMain, rs}, withMain, `configured RS256 key "main" is retired`},
		{"pending while configured", []*signingKey{es, configuredRecord(main), pendingRS}, withMain, "pending"},
		{"an algorithm missing", []*signingKey{es}, nil, "no active RS256 key"},
	} {
		err := conflicts(tc.stored, tc.cfg, defaultAlgs)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
}

// RotateNow makes new keys sign at once, keeps the old ones published for the
// retention, is seen by another instance at its next refresh, and refuses
// when only configured keys sign.
func TestRotateNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	clock := newClock()
	opts := Options{Now: clock.Now}
	m1, err := Load(ctx, &certmagic.FileStorage{Path: dir}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Load(ctx, &certmagic.FileStorage{Path: dir}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	oldRS, oldES := kidOf(t, signWith(t, m1, RS256)), kidOf(t, signWith(t, m1, ES256))
	kids, err := m1.RotateNow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newRS, newES := kidOf(t, signWith(t, m1, RS256)), kidOf(t, signWith(t, m1, ES256))
	if newRS == oldRS || newES == oldES || !slices.Contains(kids, newRS) || !slices.Contains(kids, newES) || len(kids) != 2 {
		t.Fatalf("after RotateNow = %v: signing with %s, %s (were %s, %s)", kids, newRS, newES, oldRS, oldES)
	}
	if pub := publishedKIDs(m1); !slices.Contains(pub, oldRS) || !slices.Contains(pub, oldES) {
		t.Errorf("old keys not published any more: %v", pub)
	}
	if err := m2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, signWith(t, m2, RS256)); got != newRS {
		t.Errorf("the other instance signs with %s after a refresh, want %s", got, newRS)
	}
	clock.add(DefaultRetention + time.Second)
	if err := m1.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if pub := publishedKIDs(m1); slices.Contains(pub, oldRS) {
		t.Errorf("old key still published after the retention: %v", pub)
	}

	cfg := Options{Now: clock.Now, Configured: []ConfiguredKey{configured(t, "main", rsaKeys()[0])}}
	mc, err := Load(ctx, newStorage(t), "p", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if kids, err := mc.RotateNow(ctx); err != nil || len(kids) != 1 || kids[0] == "main" {
		t.Errorf("RotateNow with a configured RS256 key = %v, %v; want only the generated ES256 key replaced", kids, err)
	}
	if got := kidOf(t, signWith(t, mc, RS256)); got != "main" {
		t.Errorf("the configured key no longer signs: %s", got)
	}
}
