//go:build linux || darwin

package capture

import (
	"errors"
	"fmt"
	"net"
)

// interfaceNames returns want, or every interface that is up.
func interfaceNames(want []string) ([]string, error) {
	if len(want) > 0 {
		return want, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("capture: listing interfaces: %w", err)
	}
	var names []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp != 0 {
			names = append(names, ifc.Name)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("capture: no interface is up")
	}
	return names, nil
}

// openEach opens every selected interface with openOne. Interfaces that fail (a tunnel that
// went down meanwhile) are left out and the others captured; a permission error fails at once,
// since no interface would do better.
func openEach(o Options, openOne func(string, Options) (*handle, error)) (Source, error) {
	names, err := interfaceNames(o.Interfaces)
	if err != nil {
		return nil, err
	}
	var hs []*handle
	var errs []error
	for _, name := range names {
		h, err := openOne(name, o)
		if err != nil {
			if errors.Is(err, ErrNotPermitted) {
				closeHandles(hs)
				return nil, err
			}
			errs = append(errs, &InterfaceError{Interface: name, Err: err})
			continue
		}
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("capture: no interface could be opened: %w", errors.Join(errs...))
	}
	return newSource(hs, o), nil
}
