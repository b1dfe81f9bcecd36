//go:build !linux && !windows && !darwin

package locale

import "context"

func read(context.Context) (Locale, error) {
	return Locale{}, ErrNotImplemented
}
