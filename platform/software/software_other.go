//go:build !linux && !windows && !darwin

package software

import "context"

func list(context.Context) ([]Package, error) {
	return nil, ErrNotImplemented
}
