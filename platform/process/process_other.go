//go:build !linux && !windows && !darwin

package process

import "context"

func list(context.Context) ([]Process, Counts, error) {
	return nil, Counts{}, ErrNotImplemented
}

// capturedTreeSockets: a captured tree's sockets are read on Linux only.
const capturedTreeSockets = false
