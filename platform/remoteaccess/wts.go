package remoteaccess

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"unicode/utf16"
)

// WTS_INFO_CLASS values (wtsapi32.h) that sessions are built from.
const (
	wtsUserName           = 5
	wtsDomainName         = 7
	wtsClientBuildNumber  = 9
	wtsClientName         = 10
	wtsClientAddress      = 14
	wtsClientProtocolType = 16
)

// wtsListen is WTSListen in WTS_CONNECTSTATE_CLASS.
const wtsListen = 6

// wtsStates names WTS_CONNECTSTATE_CLASS values.
var wtsStates = []string{"active", "connected", "connect-query", "shadow", "disconnected", "idle", "listen", "reset", "down", "init"}

// wtsRecord is what wtsapi32 returned for one session: the
// WTS_SESSION_INFO fields and, per WTS_INFO_CLASS, the buffer
// WTSQuerySessionInformationW filled (absent when the query failed). The
// live reader records these on Windows; tests replay recorded ones.
type wtsRecord struct {
	ID    uint32
	State uint32
	info  map[uint32][]byte
}

// session converts a record; ok is false for listener sessions (RDP-Tcp
// waiting for connections), which are not sessions of anyone.
func (r wtsRecord) session() (Session, bool) {
	if r.State == wtsListen {
		return Session{}, false
	}
	s := Session{ID: r.ID, State: "unknown"}
	if int(r.State) < len(wtsStates) {
		s.State = wtsStates[r.State]
	}
	s.User = utf16z(r.info[wtsUserName])
	s.Domain = utf16z(r.info[wtsDomainName])
	s.ClientName = utf16z(r.info[wtsClientName])
	if b := r.info[wtsClientBuildNumber]; len(b) >= 4 {
		s.ClientBuild = binary.LittleEndian.Uint32(b)
	}
	if b := r.info[wtsClientProtocolType]; len(b) >= 2 {
		switch binary.LittleEndian.Uint16(b) {
		case 0:
			s.Protocol = "console"
		case 1:
			s.Protocol = "ica"
		case 2:
			s.Protocol = "rdp"
		}
	}
	s.ClientAddress = clientAddress(r.info[wtsClientAddress])
	return s, true
}

// clientAddress decodes a WTS_CLIENT_ADDRESS: a DWORD address family, then
// 20 bytes. Microsoft documents the IPv4 address at Address[2..5]; IPv6
// (AF_INET6, 23) is taken from Address[2..17] as clients of the API read
// it, which Microsoft does not document. Other families give "".
func clientAddress(b []byte) string {
	if len(b) < 24 {
		return ""
	}
	addr := b[4:24]
	switch binary.LittleEndian.Uint32(b) {
	case 2: // AF_INET
		return netip.AddrFrom4([4]byte(addr[2:6])).String()
	case 23: // AF_INET6
		return netip.AddrFrom16([16]byte(addr[2:18])).String()
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
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(string(utf16.Decode(u))))
}
