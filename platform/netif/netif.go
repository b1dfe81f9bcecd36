// Package netif lists the network interfaces of this computer: name, hardware
// address, addresses and whether the interface is virtual (a bridge, tunnel,
// VPN or hypervisor adapter) rather than a physical port or radio.
//
// Detectors use it for overlay networks (a Tailscale or WireGuard interface)
// and the host identity uses its physical MAC addresses.
package netif

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"strings"
)

// Interface is one network interface.
type Interface struct {
	// Name is the OS name: "eth0", "wlp2s0" (Linux), "en0" (macOS),
	// "Wi-Fi", "Ethernet 2" (Windows friendly name).
	Name string
	// MACAddress is the hardware address in lowercase colon form, or "" when
	// the interface has none or it is all zeros (loopback, tunnels).
	MACAddress string
	// Addresses are the interface's IP addresses in CIDR form
	// ("192.168.1.20/24", "fe80::1/64"). Empty when read from a captured tree,
	// which does not record them.
	Addresses []string
	// Flags are Go's net.Flags names: "up", "broadcast", "loopback",
	// "pointtopoint", "multicast", "running".
	Flags []string
	// Virtual is true for interfaces not backed by hardware. Linux knows this
	// from sysfs; on macOS and Windows it is a documented heuristic (see List).
	Virtual bool
	// Description is the adapter's driver description on Windows ("Tailscale Tunnel",
	// "WireGuard Tunnel"); empty elsewhere.
	Description string
}

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the interfaces sorted by name.
//
// root "" or "/" reads the live system: on Linux, sysfs for names, MACs and
// virtual-ness plus net.Interfaces for addresses and flags; on macOS and
// Windows, net.Interfaces with a heuristic for Virtual (macOS: anything not
// named en*; Windows: adapter type and description, see windowsVirtual).
// Any other root is a captured Linux tree read from ROOT/sys/class/net on
// every OS; addresses are then unknown.
//
// Cost: a directory listing and three small reads per interface in sysfs,
// plus one netlink (Linux) or GetAdaptersAddresses (Windows) round trip.
func List(ctx context.Context, root string) ([]Interface, error) {
	if root != "" && root != "/" {
		return readSysfs(root)
	}
	return list(ctx)
}

// fromNet converts Go's view of an interface.
func fromNet(ni net.Interface) (Interface, error) {
	out := Interface{
		Name:       ni.Name,
		MACAddress: normalizeMAC(ni.HardwareAddr.String()),
		Flags:      flagNames(ni.Flags),
	}
	addrs, err := ni.Addrs()
	if err != nil {
		return out, err
	}
	for _, a := range addrs {
		out.Addresses = append(out.Addresses, a.String())
	}
	return out, nil
}

func flagNames(f net.Flags) []string {
	if f == 0 {
		return nil
	}
	return strings.Split(f.String(), "|")
}

// normalizeMAC lowercases a hardware address and drops all-zero ones.
func normalizeMAC(mac string) string {
	mac = strings.ToLower(strings.TrimSpace(mac))
	if strings.Trim(mac, "0:") == "" {
		return ""
	}
	return mac
}

func sortByName(ifs []Interface) {
	slices.SortFunc(ifs, func(a, b Interface) int { return strings.Compare(a.Name, b.Name) })
}

// darwinVirtual reports whether a macOS interface is virtual. Physical ports
// and radios are en*; everything else (lo0, utun*, awdl0, llw0, bridge*,
// gif0, stf0, anpi*, ap*) is made by the OS or a VPN.
func darwinVirtual(name string) bool {
	return !strings.HasPrefix(name, "en")
}

// Windows IANA ifType values (ipifcons.h) that are never hardware.
const (
	ifTypePPP      = 23
	ifTypeLoopback = 24
	ifTypeTunnel   = 131
)

// virtualDescriptions are substrings of Windows adapter descriptions that
// name software adapters. Lower case.
var virtualDescriptions = []string{
	"virtual", "hyper-v", "vmware", "virtualbox", "tap-windows", "wintun",
	"wireguard", "zerotier", "tailscale", "loopback", "miniport", "vpn",
	"npcap", "teredo", "isatap",
}

// windowsVirtual reports whether a Windows adapter is virtual, from its
// IfType and its driver description.
func windowsVirtual(ifType uint32, description string) bool {
	switch ifType {
	case ifTypePPP, ifTypeLoopback, ifTypeTunnel:
		return true
	}
	d := strings.ToLower(description)
	for _, s := range virtualDescriptions {
		if strings.Contains(d, s) {
			return true
		}
	}
	return false
}
