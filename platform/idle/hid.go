package idle

import (
	"bufio"
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// This file holds the OS-independent half of the macOS reader: the parse of
// `ioreg -c IOHIDSystem -d 4 -r -k HIDIdleTime` output. idle_darwin.go runs ioreg; tests parse
// recorded output on every OS.

// parseHIDIdle returns the smallest HIDIdleTime (nanoseconds since the last HID event, kept by
// IOHIDSystem for the whole machine) in ioreg's text output, lines like
//
//	|   "HIDIdleTime" = 1234567890
//
// Values that are not decimal numbers are skipped; none at all is an error.
func parseHIDIdle(out []byte) (time.Duration, error) {
	best, found := time.Duration(0), false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		_, v, ok := strings.Cut(sc.Text(), `"HIDIdleTime" = `)
		if !ok {
			continue
		}
		ns, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		d := clamp(time.Duration(min(ns, uint64(MaxIdle))))
		if !found || d < best {
			best, found = d, true
		}
	}
	if !found {
		return 0, errors.New("ioreg: no HIDIdleTime in IOHIDSystem")
	}
	return best, nil
}
