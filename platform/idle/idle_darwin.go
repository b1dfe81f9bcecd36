package idle

import (
	"context"

	"github.com/farmwatch/farmwatch/platform/ioreg"
)

// idle runs `ioreg -c IOHIDSystem -d 4 -r -k HIDIdleTime` (about 50-100 ms; IOKit itself needs
// cgo). IOHIDSystem keeps one timer for the machine, whoever is logged in; it runs with nobody
// logged in too (the login window), so macOS never reports ErrNoSession.
func idle(ctx context.Context) (Reading, error) {
	out, err := ioreg.Run(ctx, "-c", "IOHIDSystem", "-d", "4", "-r", "-k", "HIDIdleTime")
	if err != nil {
		return Reading{}, err
	}
	d, err := parseHIDIdle(out)
	if err != nil {
		return Reading{}, err
	}
	return Reading{Idle: d, Source: "hid-idle-time", Sessions: 1}, nil
}
