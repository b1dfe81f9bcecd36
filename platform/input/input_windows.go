package input

import "context"

// list is not implemented on Windows yet: input devices there are HID
// collections whose capabilities (HidP_GetCaps, value caps with IsAbsolute)
// a later version will read.
func list(context.Context) ([]Device, error) {
	return nil, ErrNotImplemented
}
