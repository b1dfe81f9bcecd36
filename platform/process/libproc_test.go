package process

import (
	"encoding/binary"
	"net"
	"testing"
	"unsafe"
)

// Go mirrors of the <sys/proc_info.h> structs. Go lays these out like the C
// compiler does on 64-bit macOS (natural alignment, 8-byte int64), so their
// offsets check the hand-computed constants in libproc.go. Unions are byte
// arrays of the size of their largest member.
type cProcFileinfo struct {
	Openflags, Status uint32
	Offset            int64
	Type              int32
	Guardflags        uint32
}

type cVinfoStat struct {
	Dev                            uint32
	Mode, Nlink                    uint16
	Ino                            uint64
	UID, GID                       uint32
	Atime, AtimeNs, Mtime, MtimeNs int64
	Ctime, CtimeNs, Birth, BirthNs int64
	Size, Blocks                   int64
	Blksize                        int32
	Flags, Gen, Rdev               uint32
	Qspare                         [2]int64
}

type cSockbufInfo struct {
	Cc, Hiwat, Mbcnt, Mbmax, Lowat uint32
	Flags, Timeo                   int16
}

type cInSockinfo struct {
	Fport, Lport int32
	Gencnt       uint64
	Flags, Flow  uint32
	Vflag, TTL   uint8
	Rfu1         uint32
	Faddr, Laddr [16]byte // union { in4in6_addr; in6_addr } (4-byte aligned)
	V4           struct{ Tos uint8 }
	V6           struct {
		Hlim    uint8
		Cksum   int32
		Ifindex uint16
		Hops    int16
	}
}

type cTCPSockinfo struct {
	Ini   cInSockinfo
	State int32
	Timer [4]int32
	Mss   int32
	Flags uint32
	Rfu1  uint32
	Tp    uint64
}

type cUnSockinfo struct {
	ConnSo, ConnPcb uint64
	Addr, Caddr     [255]byte // SOCK_MAXADDRLEN
}

type cSocketInfo struct {
	Stat                                              cVinfoStat
	So, Pcb                                           uint64
	Type, Protocol, Family                            int32
	Options, Linger, State, Qlen, Incqlen, Qlimit, Tm int16
	Error                                             uint16
	Oobmark                                           uint32
	Rcv, Snd                                          cSockbufInfo
	Kind                                              int32
	Rfu1                                              uint32
	Proto                                             [unsafe.Sizeof(cUnSockinfo{})]byte // largest union member
}

type cSocketFdinfo struct {
	Pfi cProcFileinfo
	Psi cSocketInfo
}

func TestSocketFDInfoLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("layout mirror assumes a 64-bit host")
	}
	var fi cSocketFdinfo
	var tcp cTCPSockinfo
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(proc_fileinfo)", unsafe.Sizeof(fi.Pfi), 24},
		{"sizeof(vinfo_stat)", unsafe.Sizeof(fi.Psi.Stat), 136},
		{"sizeof(sockbuf_info)", unsafe.Sizeof(fi.Psi.Rcv), 24},
		{"sizeof(in_sockinfo)", unsafe.Sizeof(tcp.Ini), 80},
		{"sizeof(tcp_sockinfo)", unsafe.Sizeof(tcp), 120},
		{"sizeof(un_sockinfo)", unsafe.Sizeof(cUnSockinfo{}), 528},
		{"sizeof(socket_fdinfo)", unsafe.Sizeof(fi), socketFDInfoSize},
		{"psi", unsafe.Offsetof(fi.Psi), psiOff},
		{"soi_type", psiOff + unsafe.Offsetof(fi.Psi.Type), soiTypeOff},
		{"soi_protocol", psiOff + unsafe.Offsetof(fi.Psi.Protocol), soiProtocolOff},
		{"soi_family", psiOff + unsafe.Offsetof(fi.Psi.Family), soiFamilyOff},
		{"soi_kind", psiOff + unsafe.Offsetof(fi.Psi.Kind), soiKindOff},
		{"soi_proto", psiOff + unsafe.Offsetof(fi.Psi.Proto), soiProtoOff},
		{"insi_fport", soiProtoOff + unsafe.Offsetof(tcp.Ini.Fport), insiFportOff},
		{"insi_lport", soiProtoOff + unsafe.Offsetof(tcp.Ini.Lport), insiLportOff},
		{"insi_vflag", soiProtoOff + unsafe.Offsetof(tcp.Ini.Vflag), insiVflagOff},
		{"insi_faddr", soiProtoOff + unsafe.Offsetof(tcp.Ini.Faddr), insiFaddrOff},
		{"insi_laddr", soiProtoOff + unsafe.Offsetof(tcp.Ini.Laddr), insiLaddrOff},
		{"tcpsi_state", soiProtoOff + unsafe.Offsetof(tcp.State), tcpsiStateOff},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, constant says %d", c.name, c.got, c.want)
		}
	}
}

// fdinfo builds a socket_fdinfo buffer the way the kernel fills it, with
// literal offsets read off <sys/proc_info.h> rather than the parser's
// constants.
type fdinfo struct {
	family, typ, proto, kind uint32
	vflag                    uint8
	laddr, faddr             net.IP // 4 bytes → in4in6 (last 4 bytes), 16 → in6
	lport, fport             uint16
	state                    uint32
}

func (f fdinfo) bytes() []byte {
	b := make([]byte, 792)
	le := binary.LittleEndian
	le.PutUint32(b[24+152:], f.typ)
	le.PutUint32(b[24+156:], f.proto)
	le.PutUint32(b[24+160:], f.family)
	le.PutUint32(b[24+232:], f.kind)
	proto := b[24+240:]
	// insi_fport/insi_lport: int holding htons(port).
	binary.BigEndian.PutUint16(proto[0:], f.fport)
	binary.BigEndian.PutUint16(proto[4:], f.lport)
	proto[24] = f.vflag
	putAddr := func(dst []byte, ip net.IP) {
		if v4 := ip.To4(); len(ip) == 4 && v4 != nil {
			copy(dst[12:16], v4)
		} else {
			copy(dst[:16], ip.To16())
		}
	}
	putAddr(proto[32:48], f.faddr)
	putAddr(proto[48:64], f.laddr)
	le.PutUint32(proto[80:], f.state)
	// Noise in fields the parser must not read.
	le.PutUint64(b[24+136:], 0xdeadbeefcafef00d) // soi_so
	le.PutUint64(proto[8:], 42)                  // insi_gencnt
	return b
}

func v4(s string) net.IP { return net.ParseIP(s).To4() }

var socketFDInfoTests = []struct {
	name string
	in   fdinfo
	want Socket
	ok   bool
}{
	{"tcp4 listener", fdinfo{family: 2, typ: 1, proto: 6, kind: 2, vflag: 1,
		laddr: v4("0.0.0.0"), faddr: v4("0.0.0.0"), lport: 5900, state: 1},
		Socket{Protocol: "tcp", LocalAddress: "0.0.0.0", LocalPort: 5900, State: "LISTEN"}, true},
	{"tcp6 established", fdinfo{family: 30, typ: 1, proto: 6, kind: 2, vflag: 2,
		laddr: net.ParseIP("2001:db8::1"), lport: 51234, faddr: net.ParseIP("2001:db8::7"), fport: 5938, state: 4},
		Socket{Protocol: "tcp6", LocalAddress: "2001:db8::1", LocalPort: 51234,
			RemoteAddress: "2001:db8::7", RemotePort: 5938, State: "ESTABLISHED"}, true},
	{"tcp6 dual-stack listener", fdinfo{family: 30, typ: 1, proto: 6, kind: 2, vflag: 3,
		laddr: net.IPv6unspecified, faddr: net.IPv6unspecified, lport: 21118, state: 1},
		Socket{Protocol: "tcp6", LocalAddress: "::", LocalPort: 21118, State: "LISTEN"}, true},
	{"tcp6 carrying ipv4", fdinfo{family: 30, typ: 1, proto: 6, kind: 2, vflag: 1,
		laddr: v4("192.168.1.20"), lport: 5900, faddr: v4("203.0.113.7"), fport: 61000, state: 10},
		Socket{Protocol: "tcp6", LocalAddress: "192.168.1.20", LocalPort: 5900,
			RemoteAddress: "203.0.113.7", RemotePort: 61000, State: "TIME_WAIT"}, true},
	{"tcp without control block", fdinfo{family: 2, typ: 1, proto: 6, kind: 1, vflag: 1,
		laddr: v4("127.0.0.1"), lport: 80, faddr: v4("0.0.0.0"), state: 4},
		Socket{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: 80}, true},
	{"tcp unknown state", fdinfo{family: 2, typ: 1, proto: 6, kind: 2, vflag: 1,
		laddr: v4("127.0.0.1"), lport: 80, faddr: v4("0.0.0.0"), state: 11},
		Socket{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: 80}, true},
	{"udp4", fdinfo{family: 2, typ: 2, proto: 17, kind: 1, vflag: 1,
		laddr: v4("0.0.0.0"), faddr: v4("0.0.0.0"), lport: 21119},
		Socket{Protocol: "udp", LocalAddress: "0.0.0.0", LocalPort: 21119}, true},
	{"udp6 connected", fdinfo{family: 30, typ: 2, proto: 17, kind: 1, vflag: 2,
		laddr: net.ParseIP("fe80::1"), lport: 5353, faddr: net.ParseIP("ff02::fb"), fport: 5353},
		Socket{Protocol: "udp6", LocalAddress: "fe80::1", LocalPort: 5353, RemoteAddress: "ff02::fb", RemotePort: 5353}, true},
	{"unix", fdinfo{family: 1, typ: 1, kind: 3}, Socket{}, false},
	{"icmp datagram", fdinfo{family: 2, typ: 2, proto: 1, kind: 1, vflag: 1}, Socket{}, false},
	{"raw", fdinfo{family: 2, typ: 3, proto: 255, kind: 1, vflag: 1}, Socket{}, false},
	{"kernel control", fdinfo{family: 32, typ: 2, proto: 2, kind: 6}, Socket{}, false},
	{"route", fdinfo{family: 17, typ: 3, kind: 0}, Socket{}, false},
	{"tcp kind, unknown family", fdinfo{family: 99, typ: 1, proto: 6, kind: 2}, Socket{}, false},
}

func TestParseSocketFDInfo(t *testing.T) {
	for _, tt := range socketFDInfoTests {
		got, ok := parseSocketFDInfo(tt.in.bytes())
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: parseSocketFDInfo = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	full := socketFDInfoTests[0].in.bytes()
	if _, ok := parseSocketFDInfo(full[:791]); ok {
		t.Error("short buffer parsed")
	}
	if _, ok := parseSocketFDInfo(nil); ok {
		t.Error("nil buffer parsed")
	}
}

func FuzzParseSocketFDInfo(f *testing.F) {
	for _, tt := range socketFDInfoTests {
		f.Add(tt.in.bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseSocketFDInfo(b)
		if !ok {
			if s != (Socket{}) {
				t.Errorf("rejected buffer returned %+v", s)
			}
			return
		}
		if len(b) < socketFDInfoSize {
			t.Errorf("accepted a %d-byte buffer", len(b))
		}
		switch s.Protocol {
		case "tcp", "tcp6", "udp", "udp6":
		default:
			t.Errorf("protocol %q", s.Protocol)
		}
		if s.LocalPort > 65535 || s.RemotePort > 65535 {
			t.Errorf("port out of range: %+v", s)
		}
		if net.ParseIP(s.LocalAddress) == nil || (s.RemoteAddress != "" && net.ParseIP(s.RemoteAddress) == nil) {
			t.Errorf("bad address: %+v", s)
		}
		if s.State != "" && s.Protocol[0] != 't' {
			t.Errorf("udp with state: %+v", s)
		}
	})
}
