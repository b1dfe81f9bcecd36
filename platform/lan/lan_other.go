//go:build !linux && !windows && !darwin

package lan

import "context"

func read(context.Context) (Info, error) {
	return Info{}, ErrNotImplemented
}
