//go:build !linux && !windows && !darwin

package timezone

import "context"

func read(context.Context) (Zone, error) {
	return Zone{}, ErrNotImplemented
}
