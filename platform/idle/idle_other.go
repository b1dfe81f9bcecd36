//go:build !linux && !windows && !darwin

package idle

import "context"

func idle(context.Context) (Reading, error) {
	return Reading{}, ErrNotImplemented
}
