package fleet

import (
	_ "embed"
	"fmt"
	"net/netip"
	"strings"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

//go:embed shared_macs.tab
var sharedMACsTab string

// sharedMACPrefixes are the prefixes of shared_macs.tab, parsed once.
var sharedMACPrefixes = mustParseSharedMACs(sharedMACsTab)

// macPrefix is a MAC prefix of nibbles hex digits.
type macPrefix struct {
	hw      [6]byte
	nibbles int
}

func (p macPrefix) matches(hw [6]byte) bool {
	whole := p.nibbles / 2
	if string(hw[:whole]) != string(p.hw[:whole]) {
		return false
	}
	return p.nibbles%2 == 0 || hw[whole]>>4 == p.hw[whole]>>4
}

// parseSharedMACs reads shared_macs.tab: one prefix per line, '#' comments, the rest of the line
// a reason.
func parseSharedMACs(tab string) ([]macPrefix, error) {
	var out []macPrefix
	for n, line := range strings.Split(tab, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		digits := strings.ReplaceAll(strings.Fields(line)[0], ":", "")
		if len(digits) == 0 || len(digits) > 12 {
			return nil, fmt.Errorf("shared_macs.tab line %d: bad prefix %q", n+1, digits)
		}
		p := macPrefix{nibbles: len(digits)}
		for i := range len(digits) {
			v, ok := unhex(digits[i])
			if !ok {
				return nil, fmt.Errorf("shared_macs.tab line %d: bad prefix %q", n+1, digits)
			}
			p.hw[i/2] |= v << (4 * (1 - i%2))
		}
		out = append(out, p)
	}
	return out, nil
}

func mustParseSharedMACs(tab string) []macPrefix {
	p, err := parseSharedMACs(tab)
	if err != nil {
		panic(err) // embedded data, checked by TestSharedMACsTable
	}
	return p
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseMAC reads an EUI-48 address written aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabb.ccdd.eeff
// or aabbccddeeff, in either case. It is net.ParseMAC restricted to 48 bits, without
// allocating: the collector normalises millions of these.
func parseMAC(s string) (hw [6]byte, ok bool) {
	var step int // characters per byte, separator included
	var sep byte
	switch len(s) {
	case 17:
		step, sep = 3, s[2]
		if sep != ':' && sep != '-' {
			return hw, false
		}
	case 14:
		step, sep = 0, '.'
	case 12:
		step = 2
	default:
		return hw, false
	}
	for i := range 6 {
		var pos int
		switch step {
		case 0: // aabb.ccdd.eeff: a dot after every fourth digit
			pos = i*2 + i/2
			if i%2 == 0 && i > 0 && s[pos-1] != '.' {
				return hw, false
			}
		default:
			pos = i * step
			if step == 3 && i > 0 && s[pos-1] != sep {
				return hw, false
			}
		}
		h, ok1 := unhex(s[pos])
		l, ok2 := unhex(s[pos+1])
		if !ok1 || !ok2 {
			return hw, false
		}
		hw[i] = h<<4 | l
	}
	return hw, true
}

// normMAC returns an EUI-48 address in lowercase colon form, or "" for anything that cannot
// identify one network or one interface: unparseable, all-zero, broadcast, multicast (group
// bit), or in shared_macs.tab. Locally administered addresses are kept: BSSIDs of virtual APs
// and randomised (per-network stable) Wi-Fi client addresses both carry that bit.
func normMAC(s string) string {
	hw, ok := parseMAC(strings.TrimSpace(s))
	if !ok {
		return ""
	}
	if hw[0]&0x01 != 0 { // group bit: multicast, and broadcast ff:ff:ff:ff:ff:ff
		return ""
	}
	if hw == [6]byte{} {
		return ""
	}
	for _, p := range sharedMACPrefixes {
		if p.matches(hw) {
			return ""
		}
	}
	return formatMAC(hw, s)
}

// formatMAC writes hw in lowercase colon form; when that is orig, it returns orig (the agent
// sends canonical MACs, so most calls copy nothing).
func formatMAC(hw [6]byte, orig string) string {
	const digits = "0123456789abcdef"
	var buf [17]byte
	for i, b := range hw {
		if i > 0 {
			buf[3*i-1] = ':'
		}
		buf[3*i], buf[3*i+1] = digits[b>>4], digits[b&0xf]
	}
	if string(buf[:]) == orig {
		return orig
	}
	return string(buf[:])
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598): a carrier's inside, never
// an address the collector should see as someone's home.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// egressValue returns the value an egress address links by: the address itself for IPv4, its
// /64 for IPv6 (every laptop on a home LAN has its own IPv6 address in the home's one /64,
// usually a temporary privacy address). ok is false for addresses that say nothing about a
// home: unparseable, private, loopback, link-local, multicast, unspecified, CGNAT, corporate.
func egressValue(s string, corporate []netip.Prefix) (v string, ok bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || cgnat.Contains(a) {
		return "", false
	}
	for _, p := range corporate {
		if p.Contains(a) {
			return "", false
		}
	}
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String(), true
	}
	return a.String(), true
}

// displayValue returns the identity a monitor links by, manufacturer/product/serial, with
// serial the EDID serial descriptor when it is non-trivial, else the 32-bit serial number when
// that is. "" when neither is: placeholders are shared by every unit of a model, so they would
// link everyone who bought the same monitor.
//
// A KVM's fixed EDID (PiKVM LNX/7770/CAFEBABE, JetKVM and NanoKVM presets copied from real
// monitors) is non-trivial by this rule, and links on purpose: the same KVM identity on
// several employees' laptops is itself a farm signal (research/hardware.md §1.5, §4). An
// operator who runs such KVMs in a lab lists the serial in Config.IgnoreValues.
//
// Only displays attached now count ("connected", or a status the platform could not tell);
// remembered ones (Windows registry history) would link everyone who ever used one hot desk.
func displayValue(d *pb.Display) (value, serial string) {
	switch d.GetStatus() {
	case "", "connected", "unknown":
	default:
		return "", ""
	}
	if d.GetSource() == "registry-history" {
		return "", ""
	}
	mfg := strings.ToUpper(strings.TrimSpace(d.GetManufacturer()))
	if mfg == "" {
		return "", ""
	}
	if s := strings.TrimSpace(d.GetSerialString()); serialStringUseful(s) {
		serial = s
	} else if n := d.GetSerialNumber(); serialNumberUseful(n) {
		serial = fmt.Sprintf("#%08x", n)
	} else {
		return "", ""
	}
	return fmt.Sprintf("%s/%04x/%s", mfg, d.GetProductCode(), serial), serial
}

// serialStringUseful: at least 4 characters, not all the same one ("0000", "    ").
func serialStringUseful(s string) bool {
	if len(s) < 4 {
		return false
	}
	return strings.Trim(s, s[:1]) != ""
}

// serialNumberUseful: not a placeholder whose four bytes are all alike (0, 0x01010101,
// 0xFFFFFFFF and the rest of that family).
func serialNumberUseful(n uint32) bool {
	b := n & 0xff
	return n != b*0x01010101
}

// normIgnore puts an IgnoreValues entry in the form links are compared in: MACs in lowercase
// colon form, addresses canonical, prefixes masked, anything else lowercased. An IPv6 address
// also yields its /64, the value IPv6 egress links by.
func normIgnore(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if hw, ok := parseMAC(s); ok {
		return []string{formatMAC(hw, "")}
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap().WithZone("")
		if a.Is6() {
			return []string{a.String(), netip.PrefixFrom(a, 64).Masked().String()}
		}
		return []string{a.String()}
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return []string{p.Masked().String()}
	}
	return []string{strings.ToLower(s)}
}
