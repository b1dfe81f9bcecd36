package usb

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// maxIoreg bounds the ioreg output read; the USB subtree of a laptop with
// a dock is a few hundred KiB.
const maxIoreg = 16 << 20

// list runs ioreg for the USB device subtrees (about 50-100 ms; IOKit
// itself needs cgo) and parses its plist output.
func list(ctx context.Context) ([]Device, error) {
	cmd := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-a", "-r", "-c", "IOUSBHostDevice", "-l")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ioreg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ioreg: %w", err)
	}
	out, rerr := io.ReadAll(io.LimitReader(stdout, maxIoreg+1))
	io.Copy(io.Discard, stdout) // let ioreg finish if it wrote more
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("ioreg: %w", err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("read ioreg output: %w", rerr)
	}
	if len(out) > maxIoreg {
		return nil, fmt.Errorf("ioreg output over %d bytes", maxIoreg)
	}
	if len(out) == 0 {
		return nil, nil // no USB devices: ioreg prints nothing
	}
	return parseIoreg(out)
}
