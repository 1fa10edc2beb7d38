// Package bufpool lends byte buffers to encodings whose result is copied out
// at once: into a string, to a writer, or through a signature. On the token
// endpoint's path every such encoding allocated and grew a buffer of its
// own, garbage the collector then had to find (bench/README.md counts it).
package bufpool

import "sync"

// maxPooled bounds the buffers kept: one that grew past it for an unusual
// value (large claims) is left to the collector rather than kept for good.
const maxPooled = 16 << 10

var pool sync.Pool

// Get returns an empty buffer. Append to *b (keeping what append returns in
// *b) and hand b back with Put once nothing refers to its bytes any more.
func Get() *[]byte {
	if b, ok := pool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	return new([]byte)
}

// Put returns b to the pool, unless it grew past maxPooled.
func Put(b *[]byte) {
	if cap(*b) <= maxPooled {
		pool.Put(b)
	}
}
