// Package lan reads what this computer knows about its local network: the default gateways,
// the neighbour (ARP/NDP) cache and the Wi-Fi access point it is associated with.
//
// Laptop-farm detection uses it: many company laptops in one home share a default-gateway MAC,
// a Wi-Fi BSSID, and see each other as LAN neighbours.
package lan

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// Neighbour is one entry of the neighbour cache (IPv4 ARP or IPv6 NDP).
type Neighbour struct {
	IP string
	// MAC is the link-layer address in lowercase colon form.
	MAC       string
	Interface string
	// State is the cache state in lower case: "reachable", "stale", "delay", "probe",
	// "permanent", "noarp" (Linux netlink, Windows); "complete" or "permanent" (Linux
	// /proc/net/arp), "complete" or "static" (macOS) - those two do not tell reachable from
	// stale.
	State string
}

// Gateway is a default route's next hop.
type Gateway struct {
	IP string
	// MAC is the gateway's link-layer address from the neighbour cache, "" when not cached.
	MAC       string
	Interface string
}

// WiFi is a wireless interface and the access point it is associated with.
type WiFi struct {
	Interface string
	// SSID and BSSID (lowercase colon form) of the associated access point; "" when Known is
	// false or the interface is not associated.
	SSID, BSSID string
	// Known is false when the OS does not let us read the association; Note says why.
	Known bool
	Note  string
}

// Info is the local-network view of this computer.
type Info struct {
	Gateways   []Gateway
	Neighbours []Neighbour
	WiFi       []WiFi
}

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Read returns the gateways, neighbours and Wi-Fi associations, each sorted.
//
// root "" or "/" reads the live system:
//   - Linux: /proc/net/route, /proc/net/ipv6_route and /proc/net/arp; IPv6 neighbours over
//     netlink RTM_GETNEIGH; Wi-Fi over nl80211 (generic netlink) for interfaces that have
//     /sys/class/net/NAME/wireless.
//   - Windows: GetIpForwardTable2, GetIpNetTable2 and the WLAN API.
//   - macOS: the routing sysctl (NET_RT_DUMP) for default routes and the RTF_LLINFO entries
//     for neighbours; Wi-Fi is reported with Known=false (CoreWLAN needs location permission).
//
// Any other root is a captured Linux tree read on every OS: route, ipv6_route and arp under
// ROOT/proc/net. IPv6 neighbours and Wi-Fi associations are kernel state with no file, so a
// capture has no IPv6 neighbours and its wireless interfaces come with Known=false.
//
// Cost: three small bounded file reads (or their OS equivalents) plus, live on Linux, one
// netlink dump and one generic-netlink dump per wireless interface.
func Read(ctx context.Context, root string) (Info, error) {
	var (
		info Info
		err  error
	)
	if fsroot.Live(root) {
		info, err = read(ctx)
	} else {
		info, err = readProc(root)
		if err == nil {
			var names []string
			names, err = wirelessInterfaces(root)
			for _, n := range names {
				info.WiFi = append(info.WiFi, WiFi{Interface: n,
					Note: "captured tree: the Wi-Fi association is kernel state (nl80211), not a file"})
			}
		}
	}
	if err != nil {
		return Info{}, err
	}
	finish(&info)
	return info, nil
}

// finish fills gateway MACs from the neighbour cache, sorts and deduplicates.
func finish(info *Info) {
	for i, g := range info.Gateways {
		if g.MAC != "" {
			continue
		}
		for _, n := range info.Neighbours {
			if n.IP == g.IP && (n.Interface == g.Interface || g.Interface == "") {
				info.Gateways[i].MAC = n.MAC
				break
			}
		}
	}
	slices.SortFunc(info.Gateways, func(a, b Gateway) int {
		return cmpIP(a.Interface, a.IP, b.Interface, b.IP)
	})
	info.Gateways = slices.Compact(info.Gateways)
	slices.SortFunc(info.Neighbours, func(a, b Neighbour) int {
		return cmpIP(a.Interface, a.IP, b.Interface, b.IP)
	})
	info.Neighbours = slices.CompactFunc(info.Neighbours, func(a, b Neighbour) bool {
		return a.Interface == b.Interface && a.IP == b.IP
	})
	slices.SortFunc(info.WiFi, func(a, b WiFi) int { return strings.Compare(a.Interface, b.Interface) })
}

// cmpIP orders by interface, then by address (IPv4 before IPv6).
func cmpIP(ifA, ipA, ifB, ipB string) int {
	if c := strings.Compare(ifA, ifB); c != 0 {
		return c
	}
	a, errA := netip.ParseAddr(ipA)
	b, errB := netip.ParseAddr(ipB)
	if errA != nil || errB != nil {
		return strings.Compare(ipA, ipB)
	}
	return a.Compare(b)
}

// formatMAC renders a hardware address in lowercase colon form; "" for empty or all-zero.
func formatMAC(b []byte) string {
	if len(b) == 0 || !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) {
		return ""
	}
	const hex = "0123456789abcdef"
	s := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			s = append(s, ':')
		}
		s = append(s, hex[c>>4], hex[c&0xf])
	}
	return string(s)
}

// ipString renders a 4- or 16-byte address; "" for anything else.
func ipString(b []byte) string {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return ""
	}
	return a.Unmap().String()
}
