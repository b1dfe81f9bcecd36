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
