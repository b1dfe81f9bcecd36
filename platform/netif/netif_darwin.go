package netif

import (
	"context"
	"fmt"
	"net"
)

func list(_ context.Context) ([]Interface, error) {
	nis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	out := make([]Interface, 0, len(nis))
	for _, ni := range nis {
		iface, _ := fromNet(ni) // an interface gone meanwhile just has no addresses
		iface.Virtual = ni.Flags&net.FlagLoopback != 0 || darwinVirtual(ni.Name)
		out = append(out, iface)
	}
	sortByName(out)
	return out, nil
}
