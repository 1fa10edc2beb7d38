//go:build !unix

package provider

import "testing"

// cpuClock reports nothing where getrusage is missing.
type cpuClock struct{}

func (*cpuClock) start()            {}
func (*cpuClock) stop()             {}
func (*cpuClock) report(*testing.B) {}
