package lan

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/platform/fsroot"
)

// maxProcFile bounds each /proc/net read; real tables are a few KiB, a busy router's 1 MiB.
const maxProcFile = 4 << 20

// maxEntries bounds how many rows one table yields.
const maxEntries = 16384

// Route flags (include/uapi/linux/route.h).
const (
	rtfUp      = 0x1
	rtfGateway = 0x2
)

// ARP flags (include/uapi/linux/if_arp.h).
const (
	atfCom  = 0x2
	atfPerm = 0x4
)

// readProc reads the gateways and IPv4 neighbours of the Linux tree at root ("/" for live).
// A missing table is empty (a container without IPv6, a partial capture); any other read error
// is returned.
func readProc(root string) (Info, error) {
	var info Info
	b, err := readTable(root, "/proc/net/route")
	if err != nil {
		return Info{}, err
	}
	info.Gateways = parseRoute(b)
	if b, err = readTable(root, "/proc/net/ipv6_route"); err != nil {
		return Info{}, err
	}
	info.Gateways = append(info.Gateways, parseIPv6Route(b)...)
	if b, err = readTable(root, "/proc/net/arp"); err != nil {
		return Info{}, err
	}
	info.Neighbours = parseARP(b)
	return info, nil
}

func readTable(root, rel string) ([]byte, error) {
	p := fsroot.Path(root, rel)
	b, err := fsroot.ReadFile(p, maxProcFile)
	if fsroot.Absent(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lan: %s: %w", p, err)
	}
	return b, nil
}

// lines yields the fields of each non-header line, at most maxEntries lines.
func lines(b []byte, yield func([]string)) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	n := 0
	for sc.Scan() && n < maxEntries {
		if first {
			first = false
			continue
		}
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			yield(f)
			n++
		}
	}
}

// parseRoute reads /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ...
// Addresses are hex of the in-memory (network order) bytes, so little-endian on x86/ARM:
// "0101A8C0" is 192.168.1.1. Default routes have destination 0, mask 0 and RTF_GATEWAY.
func parseRoute(b []byte) []Gateway {
	var out []Gateway
	lines(b, func(f []string) {
		if len(f) < 8 {
			return
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		gw, err2 := strconv.ParseUint(f[2], 16, 32)
		flags, err3 := strconv.ParseUint(f[3], 16, 32)
		mask, err4 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return
		}
		if dst != 0 || mask != 0 || gw == 0 || flags&rtfGateway == 0 || flags&rtfUp == 0 {
			return
		}
		var ip [4]byte
		binary.LittleEndian.PutUint32(ip[:], uint32(gw))
		out = append(out, Gateway{IP: ipString(ip[:]), Interface: f[0]})
	})
	return out
}

// parseIPv6Route reads /proc/net/ipv6_route: dst dst_len src src_len next_hop metric refcnt use
// flags device, addresses as 32 hex digits in network order. A default route is ::/0 with a
// non-zero next hop and RTF_GATEWAY.
func parseIPv6Route(b []byte) []Gateway {
	var out []Gateway
	lines(b, func(f []string) {
		if len(f) < 10 {
			return
		}
		dst, err1 := hex.DecodeString(f[0])
		nh, err2 := hex.DecodeString(f[4])
		flags, err3 := strconv.ParseUint(f[8], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil || len(dst) != 16 || len(nh) != 16 {
			return
		}
		if f[1] != "00" || !allZero(dst) || allZero(nh) || flags&rtfGateway == 0 || flags&rtfUp == 0 {
			return
		}
		out = append(out, Gateway{IP: ipString(nh), Interface: f[9]})
	})
	return out
}

// parseARP reads /proc/net/arp: IP HWtype Flags HWaddress Mask Device. Incomplete entries
// (no ATF_COM, zero MAC) are skipped: they name no machine.
func parseARP(b []byte) []Neighbour {
	var out []Neighbour
	lines(b, func(f []string) {
		if len(f) < 6 {
			return
		}
		ip := net.ParseIP(f[0]).To4()
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		mac, err2 := net.ParseMAC(f[3])
		if ip == nil || err != nil || err2 != nil || flags&atfCom == 0 {
			return
		}
		n := Neighbour{IP: ipString(ip), MAC: formatMAC(mac), Interface: f[5], State: "complete"}
		if n.MAC == "" {
			return
		}
		if flags&atfPerm != 0 {
			n.State = "permanent"
		}
		out = append(out, n)
	})
	return out
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// wirelessInterfaces lists ROOT/sys/class/net entries that have a "wireless" directory (or a
// phy80211 link), i.e. cfg80211 devices.
func wirelessInterfaces(root string) ([]string, error) {
	dir := fsroot.Path(root, "/sys/class/net")
	ents, err := fsroot.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lan: %w", err)
	}
	var out []string
	for _, e := range ents {
		base := path.Join("/sys/class/net", e.Name())
		for _, sub := range []string{"wireless", "phy80211"} {
			if _, err := os.Stat(fsroot.Path(root, base) + string(os.PathSeparator) + sub); err == nil {
				out = append(out, e.Name())
				break
			}
		}
	}
	return out, nil
}
