package pages

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// failureTiming makes every refused password sign-in take as long as the
// slowest of the recent genuine refusals, so that a ban (which skips
// recording the attempt), an unknown user and a wrong password cannot be
// told apart by how long the answer takes. Without it a banned attempt
// answered in about half the time of a wrong password.
type failureTiming struct {
	mu      sync.Mutex
	samples [32]time.Duration // the latest genuine refusals, a ring
	next    int
}

// maxFailurePad bounds the padding, so that one stalled request cannot slow
// every refusal for long.
const maxFailurePad = 3 * time.Second

// floor records d when genuine, and returns the longest recent genuine
// refusal.
func (f *failureTiming) floor(d time.Duration, genuine bool) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if genuine {
		f.samples[f.next] = min(d, maxFailurePad)
		f.next = (f.next + 1) % len(f.samples)
	}
	return slices.Max(f.samples[:])
}

// PadFailure waits until a refused password sign-in that began at begin has
// taken as long as the slowest recent genuine refusal. genuine is false for
// a refusal that skipped work (a ban): it is padded without being recorded.
func (p *Pages) PadFailure(begin time.Time, genuine bool) {
	elapsed := time.Since(begin)
	if wait := p.failTiming.floor(elapsed, genuine) - elapsed; wait > 0 {
		time.Sleep(wait)
	}
}

// renderDirectoryUnavailable answers a sign-in while the user directory
// cannot be reached: 503 and a page asking to try again later.
func (p *Pages) renderDirectoryUnavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", retryAfter)
	p.RenderError(w, r, http.StatusServiceUnavailable, "error.unavailable", "error.directory_unavailable_desc", "temporarily_unavailable")
}
