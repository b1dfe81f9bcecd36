package netif

import (
	"context"
	"fmt"
	"net"
)

// list merges sysfs (names, MACs, virtual-ness) with net.Interfaces
// (addresses, flags).
func list(_ context.Context) ([]Interface, error) {
	out, err := readSysfs("/")
	if err != nil {
		return nil, err
	}
	nis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	byName := make(map[string]int, len(out))
	for i, iface := range out {
		byName[iface.Name] = i
	}
	for _, ni := range nis {
		live, _ := fromNet(ni) // an interface gone meanwhile just has no addresses
		i, ok := byName[ni.Name]
		if !ok {
			// Not in sysfs (another network namespace's view): no hardware link.
			live.Virtual = true
			out = append(out, live)
			continue
		}
		out[i].Addresses = live.Addresses
		out[i].Flags = live.Flags
		if out[i].MACAddress == "" {
			out[i].MACAddress = live.MACAddress
		}
	}
	sortByName(out)
	return out, nil
}
