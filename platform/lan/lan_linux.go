package lan

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// read reads the live Linux system: /proc/net tables, IPv6 neighbours over netlink and Wi-Fi
// associations over nl80211. Netlink failures (a seccomp sandbox, no IPv6) leave IPv6
// neighbours out rather than failing the read; Wi-Fi failures are put in WiFi.Note.
func read(ctx context.Context) (Info, error) {
	info, err := readProc("/")
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if b, err := syscall.NetlinkRIB(syscall.RTM_GETNEIGH, syscall.AF_UNSPEC); err == nil {
		info.Neighbours = append(info.Neighbours, parseNeighMessages(b, ifName)...)
	}
	names, err := wirelessInterfaces("/")
	if err != nil {
		return Info{}, err
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		info.WiFi = append(info.WiFi, readWiFi(name))
	}
	return info, nil
}

func ifName(index int) string {
	if ni, err := net.InterfaceByIndex(index); err == nil {
		return ni.Name
	}
	return fmt.Sprintf("if%d", index)
}

// parseNeighMessages keeps the IPv6 neighbours of an RTM_GETNEIGH dump (IPv4 comes from
// /proc/net/arp).
func parseNeighMessages(b []byte, name func(int) string) []Neighbour {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil
	}
	var out []Neighbour
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWNEIGH {
			continue
		}
		n, ok := parseNdmsg(m.Data, name)
		if ok && len(out) < maxEntries {
			out = append(out, n)
		}
	}
	return out
}

// readWiFi asks nl80211 for the BSS the interface is associated with.
func readWiFi(name string) WiFi {
	w := WiFi{Interface: name}
	ni, err := net.InterfaceByName(name)
	if err != nil {
		w.Note = "nl80211 not read: " + err.Error()
		return w
	}
	ssid, bssid, err := nl80211Associated(ni.Index)
	if err != nil {
		w.Note = "nl80211 not read: " + err.Error()
		return w
	}
	w.Known, w.SSID, w.BSSID = true, ssid, bssid
	if bssid == "" {
		w.Note = "not associated"
	}
	return w
}
