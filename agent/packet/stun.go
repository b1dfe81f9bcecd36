package packet

import (
	"fmt"
	"net/netip"
)

// MagicCookie is the STUN magic cookie (RFC 5389 §6).
const MagicCookie = 0x2112A442

// STUN limits: attribute value caps from RFC 8489 §14 (SOFTWARE and REALM
// under 128 characters, at most 763 bytes; USERNAME at most 513 bytes);
// maxSTUNAttrs is ours.
const (
	maxSTUNAttrs    = 64
	maxSoftware     = 763
	maxUsername     = 513
	maxRealm        = 763
	stunHeaderBytes = 20
)

// STUN classes (RFC 8489 §5).
const (
	ClassRequest    = 0
	ClassIndication = 1
	ClassSuccess    = 2
	ClassError      = 3
)

// STUN is a STUN message's header and the attributes the sniffer reads. A
// TURN ChannelData message is reported as Type 0 with FlagChannelData.
// Software, Username and Realm are the raw attribute bytes, capped in length.
type STUN struct {
	Type             uint16 // message type; Method and Class are decoded from it
	Method           uint16 // 0x001 Binding, 0x003 Allocate, ...
	Class            uint8  // ClassRequest, ClassIndication, ClassSuccess, ClassError
	TransactionID    [12]byte
	Software         string
	Username         string
	XORMappedAddress netip.AddrPort
	Realm            string
	Flags            []string
}

var (
	errSTUNTruncated = fmt.Errorf("stun: %w", ErrTruncated)
	errSTUNNot       = fmt.Errorf("stun: not a STUN message: %w", ErrMalformed)
)

func (m *STUN) reset() { *m = STUN{Flags: m.Flags[:0]} }

func (m *STUN) flag(f string) { m.Flags = addFlag(m.Flags, f) }

// ParseSTUN parses a STUN message (RFC 5389/8489) or a TURN ChannelData
// message (first byte 0x40..0x7f, RFC 8656 §12.4).
func ParseSTUN(b []byte) (*STUN, error) {
	var m STUN
	var s scratch
	err := parseSTUN(b, &m, &s)
	return &m, err
}

// looksSTUN is the test Decode uses: the magic cookie, zero top bits, and
// a length that is a multiple of 4 and fills the datagram exactly.
func looksSTUN(b []byte) bool {
	return len(b) >= stunHeaderBytes && b[0]&0xc0 == 0 && be32(b[4:]) == MagicCookie &&
		int(be16(b[2:]))+stunHeaderBytes == len(b) && be16(b[2:])%4 == 0
}

// looksChannelData tests for ChannelData whose length fits the datagram,
// allowing the optional padding to 4 bytes.
func looksChannelData(b []byte) bool {
	if len(b) < 4 || b[0] < 0x40 || b[0] > 0x7f {
		return false
	}
	n := int(be16(b[2:])) + 4
	return n <= len(b) && len(b) <= n+3
}

func parseSTUN(b []byte, m *STUN, s *scratch) error {
	if len(b) >= 1 && b[0] >= 0x40 && b[0] <= 0x7f {
		m.flag(FlagChannelData)
		if len(b) < 4 || int(be16(b[2:]))+4 > len(b) {
			m.flag(FlagTruncated)
			return errSTUNTruncated
		}
		return nil
	}
	if len(b) < stunHeaderBytes {
		m.flag(FlagTruncated)
		return errSTUNTruncated
	}
	if b[0]&0xc0 != 0 || be32(b[4:]) != MagicCookie {
		return errSTUNNot
	}
	t := be16(b)
	m.Type = t
	m.Method = t&0x000f | (t&0x00e0)>>1 | (t&0x3e00)>>2
	m.Class = uint8((t>>4)&1 | (t>>7)&2)
	copy(m.TransactionID[:], b[8:20])
	n := int(be16(b[2:]))
	if n%4 != 0 {
		m.flag(FlagBadLength)
	}
	attrs := b[stunHeaderBytes:]
	short := false
	if n > len(attrs) {
		short = true
	} else {
		attrs = attrs[:n]
	}
	for i := 0; len(attrs) > 0; i++ {
		if i == maxSTUNAttrs {
			m.flag(FlagTooMany)
			break
		}
		if len(attrs) < 4 {
			short = true
			break
		}
		typ, l := be16(attrs), int(be16(attrs[2:]))
		if 4+l > len(attrs) {
			short = true
			break
		}
		v := attrs[4 : 4+l]
		switch typ {
		case 0x8022: // SOFTWARE
			m.Software = m.capped(v, maxSoftware, s)
		case 0x0006: // USERNAME
			m.Username = m.capped(v, maxUsername, s)
		case 0x0014: // REALM
			m.Realm = m.capped(v, maxRealm, s)
		case 0x0020, 0x8020: // XOR-MAPPED-ADDRESS, and its pre-RFC 5389 code point
			m.xorMapped(v, b[4:20])
		}
		// Values are padded to 4 bytes; a last attribute may omit it.
		if pad := (4 + l + 3) &^ 3; pad < len(attrs) {
			attrs = attrs[pad:]
		} else {
			attrs = nil
		}
	}
	if short {
		m.flag(FlagTruncated)
		return errSTUNTruncated
	}
	return nil
}

func (m *STUN) capped(v []byte, limit int, s *scratch) string {
	if len(v) > limit {
		m.flag(FlagBadLength)
		v = v[:limit]
	}
	return s.names.str(v)
}

// xorMapped decodes XOR-MAPPED-ADDRESS; key is the cookie and transaction ID.
func (m *STUN) xorMapped(v, key []byte) {
	if len(v) < 4 {
		m.flag(FlagBadLength)
		return
	}
	port := be16(v[2:]) ^ uint16(MagicCookie>>16)
	switch {
	case v[1] == 1 && len(v) == 8:
		var a [4]byte
		for i := range a {
			a[i] = v[4+i] ^ key[i]
		}
		m.XORMappedAddress = netip.AddrPortFrom(netip.AddrFrom4(a), port)
	case v[1] == 2 && len(v) == 20:
		var a [16]byte
		for i := range a {
			a[i] = v[4+i] ^ key[i]
		}
		m.XORMappedAddress = netip.AddrPortFrom(netip.AddrFrom16(a), port)
	default:
		m.flag(FlagBadLength)
	}
}
