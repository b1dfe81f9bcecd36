//go:build !linux && !windows && !darwin

package block

import "context"

func list(context.Context) ([]Disk, error) {
	return nil, ErrNotImplemented
}
