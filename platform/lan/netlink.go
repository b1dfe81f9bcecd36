package lan

import "encoding/binary"

// Netlink wire constants used by the OS-independent parsers (linux/neighbour.h,
// linux/rtnetlink.h, linux/nl80211.h); kept here so the parsers build and fuzz on every OS.
const (
	sizeofNdmsg   = 12
	ndaDst        = 1
	ndaLLAddr     = 2
	afInet6       = 10
	nlaTypeMask   = 0x3fff
	bssBSSID      = 1
	bssIEs        = 6
	bssStatus     = 9
	bssAssociated = 1
	attrBSS       = 47
)

// nudStates names the NUD_* bits of ndm_state, most significant meaning first.
var nudStates = []struct {
	bit  uint16
	name string
}{
	{0x80, "permanent"},
	{0x40, "noarp"},
	{0x02, "reachable"},
	{0x04, "stale"},
	{0x08, "delay"},
	{0x10, "probe"},
	{0x20, "failed"},
	{0x01, "incomplete"},
}

// attrs walks netlink attributes (struct nlattr: u16 len, u16 type, payload, 4-byte aligned).
func attrs(b []byte, yield func(typ uint16, val []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < 4 || l > len(b) {
			return
		}
		yield(typ, b[4:l])
		al := (l + 3) &^ 3
		if al > len(b) {
			return
		}
		b = b[al:]
	}
}

// parseNdmsg reads one RTM_NEWNEIGH payload (struct ndmsg + attributes). Only IPv6 entries
// with a link-layer address are kept; failed/incomplete ones name no machine.
func parseNdmsg(b []byte, name func(int) string) (Neighbour, bool) {
	if len(b) < sizeofNdmsg || b[0] != afInet6 {
		return Neighbour{}, false
	}
	index := int(int32(binary.NativeEndian.Uint32(b[4:8])))
	state := binary.NativeEndian.Uint16(b[8:10])
	var n Neighbour
	attrs(b[sizeofNdmsg:], func(typ uint16, val []byte) {
		switch typ {
		case ndaDst:
			if len(val) == 16 {
				n.IP = ipString(val)
			}
		case ndaLLAddr:
			if !isMulticastMAC(val) { // multicast groups (33:33:...) are not machines
				n.MAC = formatMAC(val)
			}
		}
	})
	if n.IP == "" || n.MAC == "" || state&(0x01|0x20) != 0 && state&^(0x01|0x20) == 0 {
		return Neighbour{}, false
	}
	for _, s := range nudStates {
		if state&s.bit != 0 {
			n.State = s.name
			break
		}
	}
	n.Interface = name(index)
	return n, true
}

// parseBSS reads the attributes of one NL80211_CMD_NEW_SCAN_RESULTS message (after the
// genlmsghdr) and reports the BSS if it is the associated one.
func parseBSS(b []byte) (ssid, bssid string, associated bool) {
	attrs(b, func(typ uint16, val []byte) {
		if typ != attrBSS {
			return
		}
		var status = -1
		var mac string
		var ies []byte
		attrs(val, func(t uint16, v []byte) {
			switch t {
			case bssBSSID:
				mac = formatMAC(v)
			case bssIEs:
				ies = v
			case bssStatus:
				if len(v) >= 4 {
					status = int(binary.NativeEndian.Uint32(v))
				}
			}
		})
		if status == bssAssociated && mac != "" {
			ssid, bssid, associated = ieSSID(ies), mac, true
		}
	})
	return ssid, bssid, associated
}

// ieSSID returns the SSID information element (ID 0) of 802.11 IEs (id, len, data...).
func ieSSID(ies []byte) string {
	for len(ies) >= 2 {
		id, l := ies[0], int(ies[1])
		if 2+l > len(ies) {
			return ""
		}
		if id == 0 {
			return string(ies[2 : 2+l])
		}
		ies = ies[2+l:]
	}
	return ""
}
