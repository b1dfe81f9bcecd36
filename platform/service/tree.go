package service

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// maxFile bounds the read of one unit or plist file; real ones are a few
// KiB.
const maxFile = 1 << 20

// readTree reads a captured tree with both file-based readers. It builds on
// every OS.
func readTree(ctx context.Context, root string) ([]Service, error) {
	if err := fsroot.CheckRoot(root); err != nil {
		return nil, err
	}
	svcs, err := systemdUnits(ctx, root)
	jobs, lerr := launchdJobs(ctx, root)
	return append(svcs, jobs...), errors.Join(err, lerr)
}

// clean bounds a field from an untrusted file: valid UTF-8, no control
// characters, trimmed, at most 4 KiB (cut at a character boundary).
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	if len(s) > 4096 {
		n := 4096
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = strings.TrimSpace(s[:n])
	}
	return s
}
