package netif

import (
	"context"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/windows"
)

func list(_ context.Context) ([]Interface, error) {
	nis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	adapters, err := adapterInfo()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(nis))
	for _, ni := range nis {
		iface, _ := fromNet(ni) // an adapter gone meanwhile just has no addresses
		a, known := adapters[ni.Name]
		iface.Virtual = a.virtual || !known || ni.Flags&net.FlagLoopback != 0
		iface.Description = a.description
		out = append(out, iface)
	}
	sortByName(out)
	return out, nil
}

type adapter struct {
	virtual     bool
	description string
}

// adapterInfo maps adapter friendly names (what net.Interfaces calls Name) to
// their description and windowsVirtual of their type and description.
func adapterInfo() (map[string]adapter, error) {
	size := uint32(15000)
	for range 4 {
		buf := make([]byte, size)
		first := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC,
			windows.GAA_FLAG_SKIP_UNICAST|windows.GAA_FLAG_SKIP_ANYCAST|
				windows.GAA_FLAG_SKIP_MULTICAST|windows.GAA_FLAG_SKIP_DNS_SERVER,
			0, first, &size)
		if err == windows.ERROR_BUFFER_OVERFLOW {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("GetAdaptersAddresses: %w", err)
		}
		out := make(map[string]adapter)
		for a := first; a != nil; a = a.Next {
			desc := windows.UTF16PtrToString(a.Description)
			out[windows.UTF16PtrToString(a.FriendlyName)] = adapter{windowsVirtual(a.IfType, desc), desc}
		}
		return out, nil
	}
	return nil, fmt.Errorf("GetAdaptersAddresses: buffer kept growing past %d bytes", size)
}
