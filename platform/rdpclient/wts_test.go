package rdpclient

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
	"unsafe"
)

// WTSCLIENTW is laid out as in wtsapi32.h with the C compiler's natural
// alignment; the offsets decodeClientInfo uses must be those of the struct.
func TestWTSClientWLayoutMatchesWtsapi32(t *testing.T) {
	var c wtsClientW
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(WTSCLIENTW)", unsafe.Sizeof(c), wtsClientWSize},
		{"ClientName", unsafe.Offsetof(c.ClientName), offClientName},
		{"Domain", unsafe.Offsetof(c.Domain), 42},
		{"UserName", unsafe.Offsetof(c.UserName), offUserName},
		{"WorkDirectory", unsafe.Offsetof(c.WorkDirectory), 120},
		{"InitialProgram", unsafe.Offsetof(c.InitialProgram), 642},
		{"EncryptionLevel", unsafe.Offsetof(c.EncryptionLevel), 1164},
		{"ClientAddressFamily", unsafe.Offsetof(c.ClientAddressFamily), offAddressFamily},
		{"ClientAddress", unsafe.Offsetof(c.ClientAddress), offClientAddress},
		{"HRes", unsafe.Offsetof(c.HRes), 1234},
		{"ClientDirectory", unsafe.Offsetof(c.ClientDirectory), 1240},
		{"ClientBuildNumber", unsafe.Offsetof(c.ClientBuildNumber), offBuildNumber},
		{"ClientProductId", unsafe.Offsetof(c.ClientProductId), 1772},
		{"DeviceId", unsafe.Offsetof(c.DeviceId), 1780},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func utf16le(s string, n int) []byte {
	b := make([]byte, 2*n)
	for i, u := range utf16.Encode([]rune(s)) {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// clientInfoBuf builds a WTSCLIENTW as wtsapi32 returns it.
func clientInfoBuf(name, user string, family uint32, addr []byte, build uint32) []byte {
	b := make([]byte, wtsClientWSize)
	copy(b[offClientName:], utf16le(name, clientNameLength+1))
	copy(b[offUserName:], utf16le(user, userNameLength+1))
	binary.LittleEndian.PutUint32(b[offAddressFamily:], family)
	copy(b[offClientAddress:], addr)
	binary.LittleEndian.PutUint32(b[offBuildNumber:], build)
	return b
}

func TestWTSSessionsBecomeRDPClients(t *testing.T) {
	v4 := append(u32(afInet), 0, 0, 203, 0, 113, 9)
	v4 = append(v4, make([]byte, 14)...)
	v6 := append(u32(afInet6), 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0)
	rdp := []byte{2, 0}
	for _, tc := range []struct {
		name   string
		s      wtsSession
		want   string // "" means not an RDP client
		wantOK bool
	}{
		{"console session is not an RDP client",
			wtsSession{ID: 1, Info: map[uint32][]byte{wtsClientProtocolType: {0, 0}, wtsUserName: utf16le("kim", 4)}}, "", false},
		{"no protocol type is not an RDP client",
			wtsSession{ID: 2, Info: map[uint32][]byte{}}, "", false},
		{"RDP session from IPv4",
			wtsSession{ID: 3, Info: map[uint32][]byte{wtsClientProtocolType: rdp, wtsUserName: utf16le("kim", 4),
				wtsClientName: utf16le("DESKTOP-KR01", 13), wtsClientAddress: v4, wtsClientBuildNumber: u32(22631)}},
			"3|kim|DESKTOP-KR01|203.0.113.9|22631", true},
		{"RDP session from IPv6",
			wtsSession{ID: 4, Info: map[uint32][]byte{wtsClientProtocolType: rdp, wtsClientAddress: v6}},
			"4|||2001:db8::5|", true},
		{"WTSClientInfo fills what the single classes lack",
			wtsSession{ID: 5, Info: map[uint32][]byte{wtsClientProtocolType: rdp,
				wtsClientInfo: clientInfoBuf("PC-SEOUL", "lee", afInet, utf16le("198.51.100.7", 16), 9600)}},
			"5|lee|PC-SEOUL|198.51.100.7|9600", true},
		{"WTSClientInfo with an IPv6 address in binary",
			wtsSession{ID: 6, Info: map[uint32][]byte{wtsClientProtocolType: rdp,
				wtsClientInfo: clientInfoBuf("X", "", afInet6, []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}, 0)}},
			"6||X|2001:db8::1|", true},
		{"truncated buffers give empty fields",
			wtsSession{ID: 7, Info: map[uint32][]byte{wtsClientProtocolType: rdp, wtsClientAddress: v4[:10],
				wtsClientBuildNumber: {1}, wtsClientInfo: make([]byte, 100)}},
			"7||||", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := tc.s.rdpClient()
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			got := c.GetSession() + "|" + c.GetUser() + "|" + c.GetClientName() + "|" + c.GetClientAddress() + "|" + c.GetClientBuild()
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if c.GetSource() != SourceWTS || c.GetKeyboardLayout() != "" || c.GetTimeZone() != "" || c.GetOffsetKnown() {
				t.Errorf("source/layout/zone = %q %q %q %v; WTS gives no layout or zone", c.GetSource(), c.GetKeyboardLayout(), c.GetTimeZone(), c.GetOffsetKnown())
			}
		})
	}
}
