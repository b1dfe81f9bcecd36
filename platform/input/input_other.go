//go:build !linux && !windows && !darwin

package input

import "context"

func list(context.Context) ([]Device, error) {
	return nil, ErrNotImplemented
}
