//go:build !linux && !windows && !darwin

package display

import "context"

func list(context.Context) ([]Display, error) {
	return nil, ErrNotImplemented
}
