//go:build !windows

package watchdog

import (
	"syscall"
	"time"
)

// cpuTime is this process's user + system CPU time, from getrusage(RUSAGE_SELF).
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
