package watchdog

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// residentBytes reads VmRSS from /proc/self/status.
func residentBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS finds "VmRSS:   12345 kB" in a /proc/PID/status.
func parseVmRSS(status []byte) (uint64, error) {
	_, rest, ok := bytes.Cut(status, []byte("\nVmRSS:"))
	if !ok {
		return 0, errors.New("no VmRSS in /proc/self/status")
	}
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	f := bytes.Fields(rest)
	if len(f) == 0 {
		return 0, errors.New("empty VmRSS in /proc/self/status")
	}
	kb, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil {
		return 0, err
	}
	return kb << 10, nil
}
