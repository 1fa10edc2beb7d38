package bufpool

import "testing"

// TestGetIsEmpty: a buffer handed back with bytes in it comes out empty, and
// one that grew past maxPooled is not kept.
func TestGetIsEmpty(t *testing.T) {
	b := Get()
	*b = append(*b, "secret bytes"...)
	Put(b)
	for range 3 {
		if got := Get(); len(*got) != 0 {
			t.Fatalf("Get returned %q, want an empty buffer", *got)
		}
	}
	big := Get()
	*big = make([]byte, 0, maxPooled+1)
	Put(big)
	for range 3 {
		if got := Get(); cap(*got) > maxPooled {
			t.Fatalf("Get returned a buffer of capacity %d, over %d", cap(*got), maxPooled)
		}
	}
}
