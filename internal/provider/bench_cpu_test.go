//go:build unix

package provider

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the CPU time (user and system) of the whole process,
// which is what the load harness compares (requests per server
// CPU-second): unlike ns/op it leaves out waiting (for a commit, say) and
// counts the work of the other goroutines (the group committer, GC).
type cpuClock struct {
	total   time.Duration
	started time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start() { c.started = processCPU() }
func (c *cpuClock) stop()  { c.total += processCPU() - c.started }

// report adds the metric cpu-ns/op.
func (c *cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
