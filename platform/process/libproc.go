package process

import (
	"encoding/binary"
	"net"
)

// Layout of struct socket_fdinfo from macOS <sys/proc_info.h>, as filled by
// proc_pidfdinfo(pid, fd, PROC_PIDFDSOCKETINFO, ...) on 64-bit macOS (amd64
// and arm64 share it; both are little endian). The parser lives here, free of
// any OS dependency, so it is tested and fuzzed on every platform; the live
// calls are in libproc_darwin.go.
//
//	struct socket_fdinfo {               // 792 bytes
//		struct proc_fileinfo pfi;          //   0, 24: u32 openflags, u32 status, off_t offset, i32 type, u32 guardflags
//		struct socket_info   psi;          //  24, 768
//	};
//	struct socket_info {                 // offsets relative to psi
//		struct vinfo_stat soi_stat;        //   0, 136
//		uint64_t soi_so, soi_pcb;          // 136, 144
//		int soi_type;                      // 152  SOCK_STREAM 1, SOCK_DGRAM 2
//		int soi_protocol;                  // 156  IPPROTO_TCP 6, IPPROTO_UDP 17
//		int soi_family;                    // 160  AF_INET 2, AF_INET6 30
//		short options, linger, state, qlen, incqlen, qlimit, timeo; u_short error; // 164..180
//		uint32_t soi_oobmark;              // 180
//		struct sockbuf_info soi_rcv, soi_snd; // 184, 208 (24 bytes each)
//		int soi_kind;                      // 232  SOCKINFO_*
//		uint32_t rfu_1;                    // 236
//		union soi_proto;                   // 240, 528 (largest member: un_sockinfo, 16+255+255 → 528)
//	};
//	struct in_sockinfo {                 // offsets relative to soi_proto
//		int insi_fport, insi_lport;        //   0, 4  port in network byte order in the low 16 bits
//		uint64_t insi_gencnt;              //   8
//		uint32_t insi_flags, insi_flow;    //  16, 20
//		uint8_t insi_vflag, insi_ip_ttl;   //  24, 25 INI_IPV4 1, INI_IPV6 2
//		uint32_t rfu_1;                    //  28
//		union { in4in6_addr; in6_addr; } insi_faddr, insi_laddr; // 32, 48 (16 each; IPv4 in the last 4 bytes)
//		...                                //  64..80 insi_v4, insi_v6
//	};
//	struct tcp_sockinfo {
//		struct in_sockinfo tcpsi_ini;      //   0, 80
//		int tcpsi_state;                   //  80  TSI_S_*
//		...
//	};
const (
	socketFDInfoSize = 792 // sizeof(struct socket_fdinfo)

	psiOff = 24 // socket_fdinfo.psi, after the 24-byte proc_fileinfo

	soiTypeOff     = psiOff + 152 // socket_info.soi_type
	soiProtocolOff = psiOff + 156 // socket_info.soi_protocol
	soiFamilyOff   = psiOff + 160 // socket_info.soi_family
	soiKindOff     = psiOff + 232 // socket_info.soi_kind
	soiProtoOff    = psiOff + 240 // socket_info.soi_proto (union)

	insiFportOff  = soiProtoOff + 0  // in_sockinfo.insi_fport
	insiLportOff  = soiProtoOff + 4  // in_sockinfo.insi_lport
	insiVflagOff  = soiProtoOff + 24 // in_sockinfo.insi_vflag
	insiFaddrOff  = soiProtoOff + 32 // in_sockinfo.insi_faddr (16 bytes)
	insiLaddrOff  = soiProtoOff + 48 // in_sockinfo.insi_laddr (16 bytes)
	in46AddrOff   = 12               // in4in6_addr.i46a_addr4 within a 16-byte address union
	tcpsiStateOff = soiProtoOff + 80 // tcp_sockinfo.tcpsi_state, after the 80-byte in_sockinfo

	sockinfoIn  = 1 // SOCKINFO_IN: in_sockinfo (UDP, raw, TCP without a control block)
	sockinfoTCP = 2 // SOCKINFO_TCP: tcp_sockinfo

	iniIPv4 = 0x1 // INI_IPV4
	iniIPv6 = 0x2 // INI_IPV6

	darwinAFInet  = 2  // AF_INET
	darwinAFInet6 = 30 // AF_INET6 (Linux uses 10)

	darwinSockStream = 1  // SOCK_STREAM
	darwinSockDgram  = 2  // SOCK_DGRAM
	ipprotoTCP       = 6  // IPPROTO_TCP
	ipprotoUDP       = 17 // IPPROTO_UDP
)

// tcpStates names TSI_S_* (CLOSED 0 … TIME_WAIT 10) as BSD's tcpstates[] and
// lsof do, which is what the earlier lsof-based reader reported.
var tcpStates = [...]string{
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT",
	"FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT",
}

// parseSocketFDInfo decodes a struct socket_fdinfo returned by
// proc_pidfdinfo(PROC_PIDFDSOCKETINFO). It reports false for buffers that are
// short and for anything but a TCP or UDP socket over IPv4 or IPv6 (unix,
// raw, kernel-control and route sockets).
//
// Protocol follows the socket's family: an AF_INET6 socket is "tcp6"/"udp6"
// even when it carries IPv4 traffic, and then its addresses are the IPv4 ones
// (as gopsutil prints v4-mapped addresses on Linux).
func parseSocketFDInfo(b []byte) (Socket, bool) {
	if len(b) < socketFDInfoSize {
		return Socket{}, false
	}
	le := binary.LittleEndian
	kind := le.Uint32(b[soiKindOff:])
	typ := le.Uint32(b[soiTypeOff:])
	proto := le.Uint32(b[soiProtocolOff:])

	var s Socket
	switch {
	case (kind == sockinfoTCP || kind == sockinfoIn) && typ == darwinSockStream && proto == ipprotoTCP:
		s.Protocol = "tcp"
	case kind == sockinfoIn && typ == darwinSockDgram && proto == ipprotoUDP:
		s.Protocol = "udp"
	default:
		return Socket{}, false
	}
	switch le.Uint32(b[soiFamilyOff:]) {
	case darwinAFInet:
	case darwinAFInet6:
		s.Protocol += "6"
	default:
		return Socket{}, false
	}

	// An AF_INET socket always holds in4in6 addresses. An AF_INET6 socket
	// holds in6 addresses unless it was bound or connected to a v4-mapped
	// address, when the kernel clears INI_IPV6 and keeps in4in6 ones. A
	// dual-stack wildcard socket has both flags and an in6 address (::).
	v4 := s.Protocol == "tcp" || s.Protocol == "udp" || b[insiVflagOff]&(iniIPv4|iniIPv6) == iniIPv4
	s.LocalAddress = inAddr(b[insiLaddrOff:insiLaddrOff+16], v4)
	s.LocalPort = netPort(le.Uint32(b[insiLportOff:]))
	s.RemoteAddress = inAddr(b[insiFaddrOff:insiFaddrOff+16], v4)
	s.RemotePort = netPort(le.Uint32(b[insiFportOff:]))
	// Unconnected sockets have a wildcard remote end; say so with "".
	if s.RemotePort == 0 && net.ParseIP(s.RemoteAddress).IsUnspecified() {
		s.RemoteAddress = ""
	}

	if kind == sockinfoTCP {
		if st := le.Uint32(b[tcpsiStateOff:]); st < uint32(len(tcpStates)) {
			s.State = tcpStates[st]
		}
	}
	return s, true
}

// inAddr formats a 16-byte in4in6_addr/in6_addr union.
func inAddr(a []byte, v4 bool) string {
	if v4 {
		return net.IP(a[in46AddrOff : in46AddrOff+4]).String()
	}
	return net.IP(a[:16]).String()
}

// netPort turns insi_lport/insi_fport (an int holding a network-order u_short)
// into a host number: the low 16 bits byte-swapped.
func netPort(v uint32) uint32 {
	return uint32(uint16(v)>>8 | uint16(v)<<8)
}
