package display

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// ioregClasses are the IORegistry classes whose subtrees the macOS reader
// prints with `ioreg -a -l -r -c CLASS`: IODisplayConnect on Intel Macs (its
// AppleDisplay child holds IODisplayEDID), AppleCLCD2 and
// IOMobileFramebufferShim on Apple Silicon (the framebuffer itself holds
// the EDID of the attached display). Which Apple Silicon class carries the
// external display's EDID differs between reports and macOS versions, so
// both are asked and duplicates dropped.
var ioregClasses = []string{"IODisplayConnect", "AppleCLCD2", "IOMobileFramebufferShim"}

// maxIoregOutput bounds the output of one ioreg run; a display subtree is
// tens of KB.
const maxIoregOutput = 16 << 20

// list runs ioreg once per class of ioregClasses (reaching IOKit without
// cgo is what ioreg is for) and parses each output.
func list(ctx context.Context) ([]Display, error) {
	var ds []Display
	var errs []error
	seen := map[uint64]bool{}
	for _, class := range ioregClasses {
		out, err := ioreg(ctx, class)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(out) == 0 {
			continue // no entry of this class on this Mac
		}
		d, err := parseIoreg(out, seen)
		if err != nil {
			errs = append(errs, fmt.Errorf("ioreg -c %s: %w", class, err))
		}
		ds = append(ds, d...)
	}
	return ds, errors.Join(errs...)
}

// ioreg returns the XML plist of the subtrees of class, at most
// maxIoregOutput bytes (a larger output kills ioreg and is an error).
func ioreg(ctx context.Context, class string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-a", "-l", "-r", "-c", class)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ioreg -c %s: %w", class, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ioreg -c %s: %w", class, err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, maxIoregOutput+1))
	if len(out) > maxIoregOutput {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("ioreg -c %s: output larger than %d bytes", class, maxIoregOutput)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("ioreg -c %s: %w", class, err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("ioreg -c %s: %w", class, rerr)
	}
	return out, nil
}
