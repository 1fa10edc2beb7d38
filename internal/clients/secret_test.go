package clients

import (
	"context"
	"errors"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-crypt/crypt/algorithm"
)

// BenchmarkClientSecretDigest is the per-request cost of
// authenticating a client whose secret is a pbkdf2-sha512 digest of 310000
// rounds: cold (the first request after a start or a changed digest) and
// cached (every later one). The provider's BenchmarkTokenClientSecretDigest
// measures a whole client_credentials token request.
func BenchmarkClientSecretDigest(b *testing.B) {
	a := digestAuth(b)
	ctx := context.Background()
	auth := func(b *testing.B, cold bool) {
		r := basicRequest("digest-app", "insecure_secret", url.Values{"grant_type": {"client_credentials"}})
		clearVerified()
		if _, err := a.Authenticate(ctx, r, r.PostForm); err != nil { // warm (untimed)
			b.Fatal(err)
		}
		for b.Loop() {
			if cold {
				clearVerified()
			}
			if _, err := a.Authenticate(ctx, r, r.PostForm); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("auth/cold", func(b *testing.B) { auth(b, true) })
	b.Run("auth/cached", func(b *testing.B) { auth(b, false) })
}

// A correct secret that is cached never waits for the hash slots, however
// many wrong secrets are being hashed.
func TestCachedSecretSkipsHashSlots(t *testing.T) {
	s, err := parseClientSecret(pbkdf2Digest)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.compare(ctx, "insecure_secret"); err != nil { // caches it
		t.Fatal(err)
	}
	// Take every slot, as a burst of wrong secrets would.
	for range cap(hashSlots) {
		hashSlots <- struct{}{}
	}
	defer func() {
		for range cap(hashSlots) {
			<-hashSlots
		}
	}()
	done := make(chan error, 1)
	go func() { done <- s.compare(ctx, "insecure_secret") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cached secret: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a cached correct secret waited for a hash slot")
	}
	// A secret that needs hashing waits (and gives up with its request).
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.compare(short, "wrong-secret"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("uncached secret with every slot taken: %v", err)
	}
}

// countHashes makes matchDigest count the verifications running at once,
// measured around the hashing itself (not by the slots that bound it), and
// returns the largest count seen. Not for parallel tests: matchDigest is
// global.
func countHashes(t *testing.T) (busiest *atomic.Int64) {
	var inFlight atomic.Int64
	busiest = new(atomic.Int64)
	orig := matchDigest
	matchDigest = func(d algorithm.Digest, presented string) (bool, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			b := busiest.Load()
			if n <= b || busiest.CompareAndSwap(b, n) {
				break
			}
		}
		return orig(d, presented)
	}
	t.Cleanup(func() { matchDigest = orig })
	return busiest
}

// A burst of wrong secrets (many times more than there are slots) keeps
// every slot busy, yet requests with the correct, cached secret go through
// at once, and the hash work never exceeds the slots.
func TestWrongSecretBurstDoesNotStarveCorrectOnes(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes pbkdf2 for a second")
	}
	busiest := countHashes(t)
	a := digestAuth(t)
	ctx := context.Background()
	good := basicRequest("digest-app", "insecure_secret", url.Values{})
	clearVerified()
	if _, err := a.Authenticate(ctx, good, good.PostForm); err != nil {
		t.Fatal(err)
	}
	// From now on the correct secret is cached: hashing it again would
	// mean waiting for a slot behind the burst.
	var goodHashed atomic.Int64
	counting := matchDigest
	matchDigest = func(d algorithm.Digest, presented string) (bool, error) {
		if presented == "insecure_secret" {
			goodHashed.Add(1)
		}
		return counting(d, presented)
	}
	t.Cleanup(func() { matchDigest = counting })

	stop := make(chan struct{})
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for i := range 4 * cap(hashSlots) {
		wg.Go(func() {
			bad := basicRequest("digest-app", "wrong-secret-"+string(rune('a'+i)), url.Values{})
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := a.Authenticate(ctx, bad, bad.PostForm); err == nil {
					t.Error("a wrong secret was accepted")
				}
				wrong.Add(1)
			}
		})
	}
	// Let the burst take every slot: as many hashes at once as there are.
	for deadline := time.Now().Add(10 * time.Second); busiest.Load() < int64(cap(hashSlots)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("the burst ran at most %d hashes at once in 10s, want %d", busiest.Load(), cap(hashSlots))
		}
	}

	var slowest time.Duration
	deadline := time.Now().Add(time.Second)
	n := 0
	for time.Now().Before(deadline) {
		start := time.Now()
		if _, err := a.Authenticate(ctx, good, good.PostForm); err != nil {
			t.Fatalf("correct secret during the burst: %v", err)
		}
		slowest = max(slowest, time.Since(start))
		n++
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d correct requests during a burst of %d wrong ones (%d goroutines, %d slots, %d CPUs): slowest %v",
		n, wrong.Load(), 4*cap(hashSlots), cap(hashSlots), runtime.NumCPU(), slowest)
	if busiest.Load() > int64(cap(hashSlots)) {
		t.Errorf("%d hashes at once, more than the %d slots", busiest.Load(), cap(hashSlots))
	}
	// A correct cached secret takes no slot, so it never queues behind the
	// burst: it is never hashed again. (Its latency, logged above, is no
	// test: on a loaded machine the scheduler alone can take 80 ms.)
	if h := goodHashed.Load(); h != 0 {
		t.Errorf("the correct cached secret was hashed %d times during the burst, waiting for a slot", h)
	}
	if n == 0 {
		t.Error("no correct request completed during the burst")
	}
}
