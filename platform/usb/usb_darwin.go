package usb

import (
	"context"

	"github.com/farmwatch/farmwatch/platform/ioreg"
)

// list runs ioreg for the USB device subtrees (about 50-100 ms; IOKit
// itself needs cgo) and parses its plist output.
func list(ctx context.Context) ([]Device, error) {
	out, err := ioreg.Run(ctx, "-a", "-r", "-c", "IOUSBHostDevice", "-l")
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil // no USB devices: ioreg prints nothing
	}
	return parseIoreg(out)
}
