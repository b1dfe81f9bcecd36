package rdpclient

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf16"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// WTS_INFO_CLASS values (wtsapi32.h) queried for each RDP session.
const (
	wtsUserName           = 5
	wtsClientBuildNumber  = 9
	wtsClientName         = 10
	wtsClientAddress      = 14
	wtsClientProtocolType = 16
	wtsClientInfo         = 23
)

// wtsProtocolRDP is WTS_PROTOCOL_TYPE_RDP, the USHORT WTSClientProtocolType gives.
const wtsProtocolRDP = 2

// Address families of WTS_CLIENT_ADDRESS and WTSCLIENTW (ws2def.h).
const (
	afInet  = 2
	afInet6 = 23
)

// Array lengths from wtsapi32.h (each array holds one more, for the NUL).
const (
	clientNameLength    = 20 // CLIENTNAME_LENGTH
	domainLength        = 17 // DOMAIN_LENGTH
	userNameLength      = 20 // USERNAME_LENGTH
	maxPath             = 260
	clientAddressLength = 30 // CLIENTADDRESS_LENGTH
)

// wtsClientW is WTSCLIENTW (wtsapi32.h), what WTSClientInfo returns. It has
// no pointers, so Go lays it out as the C compiler does on every
// architecture: 2304 bytes (wts_test.go pins size and offsets). It holds
// no keyboard layout and no time zone.
type wtsClientW struct {
	ClientName          [clientNameLength + 1]uint16
	Domain              [domainLength + 1]uint16
	UserName            [userNameLength + 1]uint16
	WorkDirectory       [maxPath + 1]uint16
	InitialProgram      [maxPath + 1]uint16
	EncryptionLevel     byte
	ClientAddressFamily uint32
	// ClientAddress is, for AF_INET, the address as a string ("127.0.0.1");
	// for AF_INET6 the 16 address bytes (Microsoft's remarks on WTSCLIENTW).
	ClientAddress     [clientAddressLength + 1]uint16
	HRes              uint16
	VRes              uint16
	ColorDepth        uint16
	ClientDirectory   [maxPath + 1]uint16
	ClientBuildNumber uint32
	ClientHardwareId  uint32
	ClientProductId   uint16
	OutBufCountHost   uint16
	OutBufCountClient uint16
	OutBufLength      uint16
	DeviceId          [maxPath + 1]uint16
}

// wtsClientWSize is sizeof(WTSCLIENTW).
const wtsClientWSize = 2304

// Byte offsets in WTSCLIENTW of the fields decodeClientInfo reads.
const (
	offClientName    = 0
	offUserName      = 78
	offAddressFamily = 1168
	offClientAddress = 1172
	offBuildNumber   = 1764
)

// wtsSession is what wtsapi32 returned for one session: its id and, per
// WTS_INFO_CLASS, the buffer WTSQuerySessionInformationW filled (absent
// when the query failed). The Windows reader records these; tests replay
// them on every OS.
type wtsSession struct {
	ID   uint32
	Info map[uint32][]byte
}

// rdpClient converts a session; ok is false when it is not an RDP session.
// The single-value classes win; WTSClientInfo fills what they left empty.
func (s wtsSession) rdpClient() (*pb.RdpClient, bool) {
	p := s.Info[wtsClientProtocolType]
	if len(p) < 2 || binary.LittleEndian.Uint16(p) != wtsProtocolRDP {
		return nil, false
	}
	c := &pb.RdpClient{
		Session:       strconv.FormatUint(uint64(s.ID), 10),
		User:          utf16z(s.Info[wtsUserName]),
		ClientName:    utf16z(s.Info[wtsClientName]),
		ClientAddress: wtsAddress(s.Info[wtsClientAddress]),
		Source:        SourceWTS,
	}
	if b := s.Info[wtsClientBuildNumber]; len(b) >= 4 {
		if n := binary.LittleEndian.Uint32(b); n != 0 {
			c.ClientBuild = strconv.FormatUint(uint64(n), 10)
		}
	}
	if ci, ok := decodeClientInfo(s.Info[wtsClientInfo]); ok {
		c.User = cmpOr(c.User, ci.user)
		c.ClientName = cmpOr(c.ClientName, ci.name)
		c.ClientAddress = cmpOr(c.ClientAddress, ci.address)
		c.ClientBuild = cmpOr(c.ClientBuild, ci.build)
	}
	return c, true
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type clientInfo struct{ name, user, address, build string }

// decodeClientInfo reads the fields of a WTSCLIENTW buffer that a record
// needs; ok is false for a buffer shorter than the structure.
func decodeClientInfo(b []byte) (clientInfo, bool) {
	if len(b) < wtsClientWSize {
		return clientInfo{}, false
	}
	ci := clientInfo{
		name: utf16z(b[offClientName : offClientName+2*(clientNameLength+1)]),
		user: utf16z(b[offUserName : offUserName+2*(userNameLength+1)]),
	}
	if n := binary.LittleEndian.Uint32(b[offBuildNumber:]); n != 0 {
		ci.build = strconv.FormatUint(uint64(n), 10)
	}
	addr := b[offClientAddress : offClientAddress+2*(clientAddressLength+1)]
	switch binary.LittleEndian.Uint32(b[offAddressFamily:]) {
	case afInet:
		if a, err := netip.ParseAddr(utf16z(addr)); err == nil && a.Is4() {
			ci.address = a.String()
		}
	case afInet6:
		ci.address = netip.AddrFrom16([16]byte(addr[:16])).Unmap().String()
	}
	return ci, true
}

// wtsAddress decodes a WTS_CLIENT_ADDRESS: a DWORD address family, then 20
// bytes. Microsoft documents the IPv4 address at Address[2..5]; IPv6 is
// taken from Address[2..17] as users of the API read it, which Microsoft
// does not document. Other families give "".
func wtsAddress(b []byte) string {
	if len(b) < 24 {
		return ""
	}
	addr := b[4:24]
	switch binary.LittleEndian.Uint32(b) {
	case afInet:
		return netip.AddrFrom4([4]byte(addr[2:6])).String()
	case afInet6:
		return netip.AddrFrom16([16]byte(addr[2:18])).Unmap().String()
	}
	return ""
}

// utf16z decodes a NUL-terminated UTF-16LE string, at most 512 characters,
// without control characters.
func utf16z(b []byte) string {
	u := make([]uint16, 0, min(len(b)/2, 512))
	for i := 0; i+1 < len(b) && len(u) < 512; i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, string(utf16.Decode(u))))
}
