//go:build !linux && !windows && !darwin

package netif

import "context"

func list(context.Context) ([]Interface, error) {
	return nil, ErrNotImplemented
}
