//go:build !linux && !darwin && !windows

package capture

func open(Options) (Source, error) {
	return nil, ErrNotImplemented
}
