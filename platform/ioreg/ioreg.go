// Package ioreg runs macOS's ioreg, the one way to read the IORegistry (USB devices, HID
// devices, displays, the platform's serial) without cgo, and returns its output bounded.
package ioreg

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// MaxOutput bounds one run's output; a larger output is an error, not a truncated parse.
const MaxOutput = 16 << 20

// Path is where macOS keeps ioreg.
const Path = "/usr/sbin/ioreg"

// Run runs ioreg with args (typically "-a" for plist output) and returns what it printed.
// It costs one process start, about 50-100 ms on a laptop. Empty output (no matching entries)
// is not an error.
func Run(ctx context.Context, args ...string) ([]byte, error) {
	what := "ioreg " + strings.Join(args, " ")
	cmd := exec.CommandContext(ctx, Path, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, MaxOutput+1))
	_, _ = io.Copy(io.Discard, stdout) // let ioreg finish if it wrote more
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("read %s output: %w", what, rerr)
	}
	if len(out) > MaxOutput {
		return nil, fmt.Errorf("%s: output larger than %d bytes", what, MaxOutput)
	}
	return out, nil
}
