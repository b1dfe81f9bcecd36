//go:build !linux && !windows && !darwin

package overlay

func liveConfig() (config, error) {
	return config{}, ErrNotImplemented
}

// refused is never asked: there is no live reader here.
func refused(error) bool { return false }
