package keys

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// pendingKIDs returns the kids of the pending keys stored at prefix, by
// alg, failing on more than one per alg.
func pendingKIDs(t *testing.T, st Storage, prefix string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for id, k := range storedKeys(t, st, prefix) {
		if !strings.HasSuffix(id, "/pending") {
			continue
		}
		alg := member(t, k, "alg")
		if prev, dup := out[alg]; dup {
			t.Fatalf("two pending %s keys: %s and %s", alg, prev, k["kid"])
		}
		out[alg] = member(t, k, "kid")
	}
	return out
}

func loadData(t *testing.T, st Storage) []byte {
	t.Helper()
	data, err := st.Load(context.Background(), "p/signing_keys.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Two instances on one storage: only one rotates, both publish the next key
// before it signs, both switch to it at the same time, and a token of the
// old key verifies on both until the retention ends.
func TestTwoInstancesRotate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	clock := newClock()
	const period, retention = 24 * time.Hour, time.Hour // lead 6h
	load := func() *Manager {
		t.Helper()
		m, err := Load(ctx, &certmagic.FileStorage{Path: dir}, "p", Options{
			RotationPeriod: period, Retention: retention, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m1, m2 := load(), load()
	st := &certmagic.FileStorage{Path: dir}
	refreshBoth := func() {
		t.Helper()
		var wg sync.WaitGroup
		for _, m := range []*Manager{m1, m2} {
			wg.Go(func() {
				if err := m.Refresh(ctx); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	old := signWith(t, m1, RS256)
	oldKID := kidOf(t, old)
	if got := kidOf(t, signWith(t, m2, RS256)); got != oldKID {
		t.Fatalf("instances sign with %q and %q", oldKID, got)
	}

	// Not due yet: nothing is written.
	clock.add(period - 6*time.Hour - time.Second)
	before := loadData(t, st)
	refreshBoth()
	if !bytes.Equal(before, loadData(t, st)) {
		t.Fatal("the key set was written before a rotation was due")
	}

	// Due: both try at once, one generates the next keys.
	clock.add(time.Second)
	refreshBoth()
	pending := pendingKIDs(t, st, "p")
	if len(pending) != 2 {
		t.Fatalf("pending keys %v, want one per algorithm", pending)
	}
	if !bytes.Equal(m1.JWKS(), m2.JWKS()) {
		t.Fatalf("instances publish different sets:\n%s\n%s", m1.JWKS(), m2.JWKS())
	}
	for i, m := range []*Manager{m1, m2} {
		if !slices.Contains(publishedKIDs(m), pending[RS256]) || !slices.Contains(publishedKIDs(m), pending[ES256]) {
			t.Errorf("instance %d does not publish the next keys %v", i+1, pending)
		}
		if got := kidOf(t, signWith(t, m, RS256)); got != oldKID {
			t.Errorf("instance %d signs with %q before its time", i+1, got)
		}
	}
	// Refreshing again changes nothing.
	before = loadData(t, st)
	refreshBoth()
	if !bytes.Equal(before, loadData(t, st)) {
		t.Fatal("the key set was written again")
	}

	// At the end of the period both switch, by their clocks alone.
	clock.add(6 * time.Hour)
	for i, m := range []*Manager{m1, m2} {
		if got := kidOf(t, signWith(t, m, RS256)); got != pending[RS256] {
			t.Errorf("instance %d signs with %q, want the next key %q", i+1, got, pending[RS256])
		}
		if got := kidOf(t, signWith(t, m, ES256)); got != pending[ES256] {
			t.Errorf("instance %d ES256 signs with %q, want %q", i+1, got, pending[ES256])
		}
		if _, err := m.Verify(old); err != nil {
			t.Errorf("instance %d: token of the retired key: %v", i+1, err)
		}
	}
	// A refresh stores the transition, once.
	refreshBoth()
	stored := storedKeys(t, st, "p")
	retired := stored[oldKID+"/RSA/retired"]
	if retired == nil || retired["retired_at"] != float64(clock.Now().Unix()) || retired["expires_at"] != float64(clock.Now().Add(retention).Unix()) {
		t.Fatalf("stored old key: %v", retired)
	}
	if stored[pending[RS256]+"/RSA/active"]["activated_at"] != float64(clock.Now().Unix()) {
		t.Fatalf("stored next key: %v", stored[pending[RS256]+"/RSA/active"])
	}

	// The old key verifies until its last token expires, then drops out.
	clock.add(retention - time.Second)
	for i, m := range []*Manager{m1, m2} {
		if _, err := m.Verify(old); err != nil {
			t.Errorf("instance %d, a second before the end of the retention: %v", i+1, err)
		}
	}
	clock.add(time.Second)
	for i, m := range []*Manager{m1, m2} {
		if _, err := m.Verify(old); err == nil {
			t.Errorf("instance %d: token of an expired key verifies", i+1)
		}
		if n := len(m.PublicKeys().Keys); n != 2 {
			t.Errorf("instance %d publishes %d keys, want 2", i+1, n)
		}
	}
	refreshBoth()
	if n := len(storedKeys(t, st, "p")); n != 2 {
		t.Errorf("%d keys stored after the retention, want 2", n)
	}
}

// An instance that does not rotate picks up the next key by itself, within
// its refresh interval, without a reload.
func TestRefresherPicksUpRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	clock := newClock()
	const interval = 50 * time.Millisecond
	opts := Options{RotationPeriod: time.Hour, Now: clock.Now} // lead 15m
	m1, err := Load(ctx, &certmagic.FileStorage{Path: dir}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.RefreshInterval = interval
	m2, err := Load(ctx, &certmagic.FileStorage{Path: dir}, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	clock.add(45 * time.Minute)
	if err := m1.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	next := pendingKIDs(t, &certmagic.FileStorage{Path: dir}, "p")[RS256]
	if next == "" || slices.Contains(publishedKIDs(m2), next) {
		t.Fatalf("next key %q, published by instance 2 before it refreshed: %v", next, publishedKIDs(m2))
	}
	m2.Start()
	defer func() {
		if err := m2.Close(); err != nil {
			t.Error(err)
		}
	}()
	start := time.Now()
	for !slices.Contains(publishedKIDs(m2), next) {
		if time.Since(start) > 40*interval { // generous: the machine is shared
			t.Fatalf("instance 2 did not publish the next key after %v", time.Since(start))
		}
		time.Sleep(interval / 10)
	}
	t.Logf("picked up after %v (interval %v)", time.Since(start), interval)
	clock.add(15 * time.Minute)
	if got := kidOf(t, signWith(t, m2, RS256)); got != next {
		t.Errorf("instance 2 signs with %q, want %q", got, next)
	}
}

func TestStartClose(t *testing.T) {
	t.Parallel()
	m, err := Load(context.Background(), newStorage(t), "p", Options{RefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil { // before Start
		t.Fatal(err)
	}
	m.Start() // after Close: does nothing
	st := &loadCounter{Storage: newStorage(t)}
	m2, err := Load(context.Background(), st, "p", Options{RefreshInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	loaded := st.loads.Load()
	m2.Start()
	m2.Start()
	// Close while the refresher runs: wait until it has refreshed twice.
	for deadline := time.Now().Add(5 * time.Second); st.loads.Load() < loaded+2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Start: no refresh within 5s at a 1ms interval")
		}
	}
	done := make(chan struct{})
	go func() { _ = m2.Close(); _ = m2.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

// An instance with another configuration does not adopt, nor fight over,
// the set the other one wrote: it keeps its keys until it is reloaded.
func TestRefreshConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	clock := newClock()
	opts := Options{Now: clock.Now, Configured: []ConfiguredKey{configured(t, "main", rsaKeys()[0])}}
	m1, err := Load(ctx, st, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	jwks := string(m1.JWKS())
	if _, err := Load(ctx, st, "p", Options{Now: clock.Now}); err != nil { // retires "main"
		t.Fatal(err)
	}
	written := loadData(t, st)
	err = m1.Refresh(ctx)
	if err == nil || !strings.Contains(err.Error(), "other signing keys") {
		t.Fatalf("Refresh: %v, want a conflict", err)
	}
	if err := m1.Refresh(ctx); err != nil {
		t.Errorf("the conflict is reported again: %v", err)
	}
	if got := kidOf(t, signWith(t, m1, RS256)); got != "main" || string(m1.JWKS()) != jwks {
		t.Errorf("instance 1 signs with %q and changed its JWKS", got)
	}
	if !bytes.Equal(written, loadData(t, st)) {
		t.Error("instance 1 wrote the key set")
	}
}

// Refresh adopts a set changed in storage and reports a corrupt one
// without dropping its keys.
func TestRefreshReadErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	m, err := LoadOrCreate(ctx, st, "p")
	if err != nil {
		t.Fatal(err)
	}
	jwks := string(m.JWKS())
	if err := st.Store(ctx, "p/signing_keys.json", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "malformed JSON") {
		t.Errorf("Refresh of a corrupt set: %v", err)
	}
	if string(m.JWKS()) != jwks {
		t.Error("the view changed")
	}
	if _, err := m.Sign(map[string]any{"sub": "a"}, RS256, nil); err != nil {
		t.Error(err)
	}
}

// After Attach, the manager reads the new storage and reports to the new
// logger.
func TestAttach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newClock()
	st1, st2 := newStorage(t), newStorage(t)
	m, err := Load(ctx, st1, "p", Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st2.Store(ctx, "p/signing_keys.json", loadData(t, st1)); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	m.Attach(st2, zap.New(core))
	if err := st1.Store(ctx, "p/signing_keys.json", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatalf("Refresh read the old storage: %v", err)
	}
	// Another instance on st2 rotates.
	clock.add(45 * time.Minute)
	if _, err := Load(ctx, st2, "p", Options{Now: clock.Now, RotationPeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if next := pendingKIDs(t, st2, "p")[ES256]; next == "" || !slices.Contains(publishedKIDs(m), next) {
		t.Errorf("next key %q not published: %v", next, publishedKIDs(m))
	}
	if logs.FilterMessage("signing keys reloaded from storage").Len() != 1 {
		t.Errorf("logged %v", logs.All())
	}
}

// A configured key that takes over an algorithm drops that algorithm's
// pending generated key (it never signed); other algorithms keep theirs.
func TestConfiguredKeyDropsPending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := newStorage(t)
	clock := newClock()
	opts := Options{RotationPeriod: time.Hour, Now: clock.Now}
	if _, err := Load(ctx, st, "p", opts); err != nil {
		t.Fatal(err)
	}
	clock.add(45 * time.Minute)
	if _, err := Load(ctx, st, "p", opts); err != nil { // rotates at load, too
		t.Fatal(err)
	}
	pending := pendingKIDs(t, st, "p")
	if len(pending) != 2 {
		t.Fatalf("pending %v", pending)
	}
	opts.Configured = []ConfiguredKey{configured(t, "main", rsaKeys()[0])}
	m, err := Load(ctx, st, "p", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingKIDs(t, st, "p"); got[RS256] != "" || got[ES256] != pending[ES256] {
		t.Fatalf("pending after configuring RS256: %v, was %v", got, pending)
	}
	if slices.Contains(publishedKIDs(m), pending[RS256]) || !slices.Contains(publishedKIDs(m), pending[ES256]) {
		t.Errorf("published %v", publishedKIDs(m))
	}
	clock.add(time.Hour) // no rotation of the configured key, ever
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kidOf(t, signWith(t, m, RS256)); got != "main" {
		t.Errorf("RS256 signs with %q", got)
	}
	if got := pendingKIDs(t, st, "p"); got[RS256] != "" {
		t.Errorf("a configured key was rotated: %v", got)
	}
}

// loadCounter counts the key set reads, to see the refresher run.
type loadCounter struct {
	Storage
	loads atomic.Int32
}

func (s *loadCounter) Load(ctx context.Context, key string) ([]byte, error) {
	s.loads.Add(1)
	return s.Storage.Load(ctx, key)
}
