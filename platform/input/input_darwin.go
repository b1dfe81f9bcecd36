package input

import (
	"context"

	"github.com/farmwatch/farmwatch/platform/ioreg"
)

// list runs `ioreg -a -r -d 1 -c IOHIDDevice -l` (about 50-100 ms; IOKit
// itself needs cgo) and parses its plist output with parseIoregHID. -d 1
// keeps ioreg from printing each device's children (event drivers, user
// clients), which would multiply the output without adding anything read.
func list(ctx context.Context) ([]Device, error) {
	out, err := ioreg.Run(ctx, "-a", "-r", "-d", "1", "-c", "IOHIDDevice", "-l")
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil // no HID devices: ioreg prints nothing
	}
	return parseIoregHID(out)
}
