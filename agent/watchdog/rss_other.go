//go:build !linux && !windows

package watchdog

import "runtime/metrics"

// residentBytes approximates the resident set where there is no pure-Go reader for it (macOS):
// the memory the Go runtime has mapped and not released to the OS. It leaves out memory mapped
// outside the Go heap and stacks (loaded libraries, purego calls), and counts mapped pages that
// are not resident, so it errs both ways by a few MiB.
func residentBytes() (uint64, error) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	total, released := s[0].Value.Uint64(), s[1].Value.Uint64()
	return total - min(total, released), nil
}
