//go:build !linux && !windows && !darwin

package remoteaccess

import "context"

func read(context.Context) (State, error) {
	return State{}, ErrNotImplemented
}
