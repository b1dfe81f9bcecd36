package lan

import "encoding/binary"

// This file converts raw Windows records to Info. It is OS-independent so the conversion is
// tested on recorded values on every OS; lan_windows.go only copies rows out of the tables.

// Windows address families (ws2def.h).
const (
	winAFInet  = 2
	winAFInet6 = 23
)

// winSockaddr is SOCKADDR_INET (ws2ipdef.h): a 28-byte union of SOCKADDR_IN and SOCKADDR_IN6,
// family first. IPv4 address at offset 4, IPv6 address at offset 8.
type winSockaddr [28]byte

func (s *winSockaddr) ip() string {
	switch binary.LittleEndian.Uint16(s[0:2]) {
	case winAFInet:
		return ipString(s[4:8])
	case winAFInet6:
		return ipString(s[8:24])
	}
	return ""
}

// winNeighbour is what we keep of a MIB_IPNET_ROW2.
type winNeighbour struct {
	Address   winSockaddr
	IfIndex   uint32
	Phys      []byte // PhysicalAddress[:PhysicalAddressLength]
	State     uint32 // NL_NEIGHBOR_STATE
	Unreached bool   // IsUnreachable flag
}

// winRoute is what we keep of a MIB_IPFORWARD_ROW2.
type winRoute struct {
	IfIndex   uint32
	Prefix    winSockaddr
	PrefixLen uint8
	NextHop   winSockaddr
}

// NL_NEIGHBOR_STATE (nldef.h).
var winNeighbourStates = []string{"unreachable", "incomplete", "probe", "delay", "stale", "reachable", "permanent"}

// winNeighbours converts neighbour rows; ifName maps an interface index to its name.
// Unreachable/incomplete entries and those without a MAC (multicast, loopback) are dropped.
func winNeighbours(rows []winNeighbour, ifName func(uint32) string) []Neighbour {
	var out []Neighbour
	for _, r := range rows {
		if r.State < 2 || r.Unreached || len(out) >= maxEntries {
			continue
		}
		n := Neighbour{IP: r.Address.ip(), MAC: formatMAC(r.Phys), Interface: ifName(r.IfIndex)}
		if int(r.State) < len(winNeighbourStates) {
			n.State = winNeighbourStates[r.State]
		}
		if n.IP == "" || n.MAC == "" || isMulticastMAC(r.Phys) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// isMulticastMAC: Windows lists static multicast/broadcast mappings (01:00:5e:..., 33:33:...,
// ff:ff:ff:ff:ff:ff) as permanent neighbours; they are not machines.
func isMulticastMAC(b []byte) bool { return len(b) > 0 && b[0]&1 != 0 }

// winGateways keeps default routes (0.0.0.0/0, ::/0) with a non-zero next hop.
func winGateways(rows []winRoute, ifName func(uint32) string) []Gateway {
	var out []Gateway
	for _, r := range rows {
		if r.PrefixLen != 0 || len(out) >= maxEntries {
			continue
		}
		ip := r.NextHop.ip()
		if ip == "" || ip == "0.0.0.0" || ip == "::" {
			continue
		}
		out = append(out, Gateway{IP: ip, Interface: ifName(r.IfIndex)})
	}
	return out
}

// winWLANState values of WLAN_INTERFACE_STATE (wlanapi.h).
const winWLANConnected = 1

// winWiFi converts a WLAN_CONNECTION_ATTRIBUTES association (state, DOT11_SSID, DOT11_MAC_ADDRESS).
func winWiFi(name string, state uint32, ssidLen uint32, ssid [32]byte, bssid [6]byte) WiFi {
	w := WiFi{Interface: name, Known: true}
	if state != winWLANConnected {
		w.Note = "not associated"
		return w
	}
	w.SSID = string(ssid[:min(ssidLen, 32)])
	w.BSSID = formatMAC(bssid[:])
	if w.BSSID == "" {
		w.Note = "BSSID withheld by Windows (location permission); SSID may be empty too"
	}
	return w
}
