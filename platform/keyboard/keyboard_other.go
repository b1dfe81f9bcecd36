//go:build !linux && !windows && !darwin

package keyboard

import "context"

func list(context.Context) ([]Layout, error) {
	return nil, ErrNotImplemented
}
