//go:build !linux && !windows && !darwin

package service

import "context"

func list(context.Context) ([]Service, error) {
	return nil, ErrNotImplemented
}
