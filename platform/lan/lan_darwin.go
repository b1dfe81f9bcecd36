package lan

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/route"
)

// read reads the live macOS routing table through sysctl NET_RT_DUMP (what netstat -rn
// shows): default routes for gateways, RTF_LLINFO entries for the ARP/NDP cache. Wi-Fi
// association needs CoreWLAN plus location permission since macOS 14, so wireless interfaces
// are not read (en* interfaces cannot be told apart from Ethernet without it either).
func read(ctx context.Context) (Info, error) {
	var info Info
	for _, af := range []int{syscall.AF_INET, syscall.AF_INET6} {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		msgs, err := fetch(af, 0)
		if err != nil {
			return Info{}, err
		}
		info.Gateways = append(info.Gateways, darwinGateways(msgs)...)
		if msgs, err = fetch(af, syscall.RTF_LLINFO); err != nil {
			return Info{}, err
		}
		info.Neighbours = append(info.Neighbours, darwinNeighbours(msgs)...)
	}
	info.WiFi = []WiFi{{Note: "Wi-Fi SSID/BSSID need CoreWLAN and location permission (macOS 14+); not read"}}
	return info, nil
}

func fetch(af, flags int) ([]route.Message, error) {
	b, err := route.FetchRIB(af, route.RIBTypeRoute, flags)
	if err != nil {
		return nil, fmt.Errorf("lan: route sysctl (af %d): %w", af, err)
	}
	msgs, err := route.ParseRIB(route.RIBTypeRoute, b)
	if err != nil {
		return nil, fmt.Errorf("lan: parse routing table: %w", err)
	}
	return msgs, nil
}

func ifName(index int) string {
	if ni, err := net.InterfaceByIndex(index); err == nil {
		return ni.Name
	}
	return fmt.Sprintf("if%d", index)
}

func addrIP(a route.Addr) string {
	switch a := a.(type) {
	case *route.Inet4Addr:
		return ipString(a.IP[:])
	case *route.Inet6Addr:
		return ipString(a.IP[:])
	}
	return ""
}

func darwinGateways(msgs []route.Message) []Gateway {
	var out []Gateway
	for _, m := range msgs {
		rm, ok := m.(*route.RouteMessage)
		if !ok || rm.Flags&syscall.RTF_GATEWAY == 0 || len(rm.Addrs) <= syscall.RTAX_NETMASK {
			continue
		}
		dst := addrIP(rm.Addrs[syscall.RTAX_DST])
		if dst != "0.0.0.0" && dst != "::" {
			continue
		}
		if mask := addrIP(rm.Addrs[syscall.RTAX_NETMASK]); mask != "" && mask != "0.0.0.0" && mask != "::" {
			continue
		}
		gw := addrIP(rm.Addrs[syscall.RTAX_GATEWAY])
		if gw == "" || len(out) >= maxEntries {
			continue
		}
		out = append(out, Gateway{IP: gw, Interface: ifName(rm.Index)})
	}
	return out
}

func darwinNeighbours(msgs []route.Message) []Neighbour {
	var out []Neighbour
	for _, m := range msgs {
		rm, ok := m.(*route.RouteMessage)
		if !ok || len(rm.Addrs) <= syscall.RTAX_GATEWAY || len(out) >= maxEntries {
			continue
		}
		la, ok := rm.Addrs[syscall.RTAX_GATEWAY].(*route.LinkAddr)
		ip := addrIP(rm.Addrs[syscall.RTAX_DST])
		if !ok || ip == "" {
			continue
		}
		n := Neighbour{IP: ip, MAC: formatMAC(la.Addr), Interface: la.Name, State: "complete"}
		if n.MAC == "" || isMulticastMAC(la.Addr) {
			continue
		}
		if n.Interface == "" {
			n.Interface = ifName(rm.Index)
		}
		if rm.Flags&syscall.RTF_STATIC != 0 {
			n.State = "static"
		}
		out = append(out, n)
	}
	return out
}
