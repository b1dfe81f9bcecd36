//go:build !linux && !windows && !darwin

package host

import "context"

func read(context.Context) (Identity, error) {
	return Identity{}, ErrNotImplemented
}
