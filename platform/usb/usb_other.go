//go:build !linux && !windows && !darwin

package usb

import "context"

func list(context.Context) ([]Device, error) {
	return nil, ErrNotImplemented
}
