package input

import (
	"context"
	"fmt"
	"io"
	"os/exec"
)

// maxIoreg bounds the ioreg output read. With -d 1 only the IOHIDDevice
// entries themselves are printed, each a few KiB with its report
// descriptor: a laptop with a dock prints 50-300 KiB.
const maxIoreg = 16 << 20

// list runs `ioreg -a -r -d 1 -c IOHIDDevice -l` (about 50-100 ms; IOKit
// itself needs cgo) and parses its plist output with parseIoregHID. -d 1
// keeps ioreg from printing each device's children (event drivers, user
// clients), which would multiply the output without adding anything read.
func list(ctx context.Context) ([]Device, error) {
	cmd := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-a", "-r", "-d", "1", "-c", "IOHIDDevice", "-l")
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
		return nil, nil // no HID devices: ioreg prints nothing
	}
	return parseIoregHID(out)
}
