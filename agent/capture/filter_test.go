package capture

import (
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/net/bpf"
)

// Hand-built frames. Checksums are left zero: the filter does not look.

func be16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

func ether(etherType uint16, payload []byte) []byte {
	b := make([]byte, 12, 14+len(payload))
	copy(b, []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2})
	b = be16(b, etherType)
	return append(b, payload...)
}

func vlanEther(vid uint16, etherType uint16, payload []byte) []byte {
	b := ether(etherTypeVLAN, nil)
	b = be16(b, vid)
	b = be16(b, etherType)
	return append(b, payload...)
}

func ipv4(proto byte, l4 []byte) []byte { return ipv4Opts(proto, nil, l4) }

func ipv4Opts(proto byte, options []byte, l4 []byte) []byte {
	hl := 20 + len(options)
	b := []byte{0x40 | byte(hl/4), 0}
	b = be16(b, uint16(hl+len(l4)))
	b = append(b, 0, 1, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2)
	b = append(b, options...)
	return append(b, l4...)
}

func ipv6(next byte, l4 []byte) []byte {
	b := []byte{0x60, 0, 0, 0}
	b = be16(b, uint16(len(l4)))
	b = append(b, next, 64)
	src := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	dst := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	return append(b, l4...)
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := be16(nil, sport)
	b = be16(b, dport)
	b = be16(b, uint16(8+len(payload)))
	b = be16(b, 0)
	return append(b, payload...)
}

const (
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

func tcp(sport, dport uint16, flags byte, payload []byte) []byte {
	return tcpOpts(sport, dport, flags, nil, payload)
}

func tcpOpts(sport, dport uint16, flags byte, options []byte, payload []byte) []byte {
	b := be16(nil, sport)
	b = be16(b, dport)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0) // seq, ack
	hl := 20 + len(options)
	b = append(b, byte(hl/4)<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
	b = append(b, options...)
	return append(b, payload...)
}

var (
	dnsQuery = []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
		5, 'r', 'e', 'l', 'a', 'y', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}
	clientHello = append([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03}, make([]byte, 60)...)
	stunBinding = append([]byte{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, make([]byte, 12)...)
	quicInitial = append([]byte{0xc3, 0, 0, 0, 1, 8}, make([]byte, 1200)...)
	httpGET     = []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	sshBanner   = []byte("SSH-2.0-OpenSSH_9.6\r\n")
	arpRequest  = append([]byte{0, 1, 8, 0, 6, 4, 0, 1}, make([]byte, 20)...)
	tcpOptions  = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps
)

type filterCase struct {
	name  string
	link  int
	frame []byte
	pass  bool
}

func filterCases() []filterCase {
	eth4 := func(proto byte, l4 []byte) []byte { return ether(etherTypeIPv4, ipv4(proto, l4)) }
	eth6 := func(proto byte, l4 []byte) []byte { return ether(etherTypeIPv6, ipv6(proto, l4)) }
	frag := ipv4(protoUDP, udp(40000, 53, dnsQuery))
	frag[6], frag[7] = 0x00, 0x10 // fragment offset 16*8
	return []filterCase{
		{"DNS query IPv4", LinkEthernet, eth4(protoUDP, udp(40000, 53, dnsQuery)), true},
		{"DNS answer IPv4", LinkEthernet, eth4(protoUDP, udp(53, 40000, dnsQuery)), true},
		{"DNS query IPv6", LinkEthernet, eth6(protoUDP, udp(40000, 53, dnsQuery)), true},
		{"DNS over TCP IPv4", LinkEthernet, eth4(protoTCP, tcp(40000, 53, tcpPSH|tcpACK, dnsQuery)), true},
		{"DNS TCP SYN IPv6", LinkEthernet, eth6(protoTCP, tcp(40000, 53, tcpSYN, nil)), true},
		{"mDNS", LinkEthernet, eth4(protoUDP, udp(5353, 5353, dnsQuery)), true},
		{"VLAN-tagged DNS IPv4", LinkEthernet, vlanEther(42, etherTypeIPv4, ipv4(protoUDP, udp(40000, 53, dnsQuery))), true},
		{"VLAN-tagged DNS IPv6", LinkEthernet, vlanEther(42, etherTypeIPv6, ipv6(protoUDP, udp(40000, 53, dnsQuery))), true},
		{"TLS ClientHello to 9999 IPv4", LinkEthernet, eth4(protoTCP, tcp(40000, 9999, tcpPSH|tcpACK, clientHello)), true},
		{"TLS ClientHello to 9999 IPv4, IP and TCP options", LinkEthernet,
			ether(etherTypeIPv4, ipv4Opts(protoTCP, []byte{1, 1, 1, 0}, tcpOpts(40000, 9999, tcpPSH|tcpACK, tcpOptions, clientHello))), true},
		{"TLS ClientHello without PSH IPv4", LinkEthernet, eth4(protoTCP, tcp(40000, 9999, tcpACK, clientHello)), true},
		{"TLS ClientHello to 9999 IPv6", LinkEthernet, eth6(protoTCP, tcpOpts(40000, 9999, tcpPSH|tcpACK, tcpOptions, clientHello)), true},
		{"TLS ClientHello VLAN", LinkEthernet, vlanEther(7, etherTypeIPv4, ipv4(protoTCP, tcp(40000, 8443, tcpPSH|tcpACK, clientHello))), true},
		{"TLS application data to 443", LinkEthernet, eth4(protoTCP, tcp(40000, 443, tcpPSH|tcpACK, append([]byte{0x17, 3, 3}, make([]byte, 40)...))), false},
		{"TCP SYN to 443", LinkEthernet, eth4(protoTCP, tcp(40000, 443, tcpSYN, nil)), false},
		{"TCP ACK padded to 60 bytes", LinkEthernet, append(eth4(protoTCP, tcp(40000, 9999, tcpACK, nil)), 0, 0, 0, 0, 0, 0), false},
		{"HTTP GET to 80", LinkEthernet, eth4(protoTCP, tcp(40000, 80, tcpPSH|tcpACK, httpGET)), false},
		{"HTTP GET to 80 IPv6", LinkEthernet, eth6(protoTCP, tcp(40000, 80, tcpPSH|tcpACK, httpGET)), false},
		{"SSH", LinkEthernet, eth4(protoTCP, tcp(40000, 22, tcpPSH|tcpACK, sshBanner)), false},
		{"SSH IPv6", LinkEthernet, eth6(protoTCP, tcp(22, 40000, tcpPSH|tcpACK, sshBanner)), false},
		{"STUN to random UDP port IPv4", LinkEthernet, eth4(protoUDP, udp(40000, 61234, stunBinding)), true},
		{"STUN to random UDP port IPv6", LinkEthernet, eth6(protoUDP, udp(40000, 61234, stunBinding)), true},
		{"STUN to random port, IP options", LinkEthernet, ether(etherTypeIPv4, ipv4Opts(protoUDP, []byte{1, 1, 1, 0}, udp(40000, 61234, stunBinding))), true},
		{"STUN 3478 over TCP", LinkEthernet, eth4(protoTCP, tcp(40000, 3478, tcpPSH|tcpACK, stunBinding)), true},
		{"TURN-TLS 5349 SYN", LinkEthernet, eth4(protoTCP, tcp(40000, 5349, tcpSYN, nil)), true},
		{"Google STUN 19302", LinkEthernet, eth4(protoUDP, udp(40000, 19302, []byte{1})), true},
		{"RustDesk 21116 UDP", LinkEthernet, eth4(protoUDP, udp(21116, 40000, []byte{1, 2})), true},
		{"RustDesk 21116 TCP", LinkEthernet, eth6(protoTCP, tcp(40000, 21116, tcpPSH|tcpACK, []byte{1, 2})), true},
		{"TeamViewer 5938 TCP", LinkEthernet, eth4(protoTCP, tcp(5938, 40000, tcpACK, []byte{0x17, 0x24})), true},
		{"QUIC Initial to 443 IPv4", LinkEthernet, eth4(protoUDP, udp(40000, 443, quicInitial)), true},
		{"QUIC Initial to 443 IPv6", LinkEthernet, eth6(protoUDP, udp(40000, 443, quicInitial)), true},
		{"short UDP to 443", LinkEthernet, eth4(protoUDP, udp(40000, 443, nil)), true},
		{"UDP to random port", LinkEthernet, eth4(protoUDP, udp(40000, 61234, quicInitial)), false},
		{"short UDP to random port", LinkEthernet, eth4(protoUDP, udp(40000, 61234, []byte{1, 2})), false},
		{"mDNS over TCP", LinkEthernet, eth4(protoTCP, tcp(40000, 5353, tcpPSH|tcpACK, dnsQuery)), false},
		{"non-first IPv4 fragment", LinkEthernet, ether(etherTypeIPv4, frag), false},
		{"IPv6 with hop-by-hop header", LinkEthernet, eth6(0, append([]byte{17, 0, 0, 0, 0, 0, 0, 0}, udp(40000, 53, dnsQuery)...)), false},
		{"ICMP", LinkEthernet, eth4(1, []byte{8, 0, 0, 0, 0, 1, 0, 1}), false},
		{"ARP", LinkEthernet, ether(0x0806, arpRequest), false},
		{"double-tagged DNS", LinkEthernet, vlanEther(1, etherTypeVLAN, append([]byte{0, 2, 8, 0}, ipv4(protoUDP, udp(40000, 53, dnsQuery))...)), false},
		{"truncated Ethernet", LinkEthernet, []byte{1, 2, 3}, false},

		{"raw DNS IPv4", LinkRaw, ipv4(protoUDP, udp(40000, 53, dnsQuery)), true},
		{"raw TLS IPv6", LinkRaw, ipv6(protoTCP, tcp(40000, 9999, tcpPSH|tcpACK, clientHello)), true},
		{"raw STUN IPv4", LinkRaw, ipv4(protoUDP, udp(40000, 61234, stunBinding)), true},
		{"raw HTTP IPv4", LinkRaw, ipv4(protoTCP, tcp(40000, 80, tcpPSH|tcpACK, httpGET)), false},
		{"raw garbage", LinkRaw, []byte{0x00, 1, 2, 3}, false},
		{"loop DNS IPv4", LinkLoop, append([]byte{2, 0, 0, 0}, ipv4(protoUDP, udp(40000, 53, dnsQuery))...), true},
		{"loop TLS IPv6 (AF 30)", LinkLoop, append([]byte{30, 0, 0, 0}, ipv6(protoTCP, tcp(40000, 9999, tcpPSH|tcpACK, clientHello))...), true},
		{"loop SSH IPv4", LinkLoop, append([]byte{2, 0, 0, 0}, ipv4(protoTCP, tcp(40000, 22, tcpPSH|tcpACK, sshBanner))...), false},
	}
}

func TestFilterVM(t *testing.T) {
	const snaplen = 96
	vms := map[int]*bpf.VM{}
	for _, link := range []int{LinkEthernet, LinkRaw, LinkLoop} {
		prog, err := filterProgram(link, snaplen)
		if err != nil {
			t.Fatalf("link %d: %v", link, err)
		}
		if vms[link], err = bpf.NewVM(prog); err != nil {
			t.Fatalf("link %d: NewVM: %v", link, err)
		}
		t.Logf("link %d: %d instructions", link, len(prog))
	}
	for _, c := range filterCases() {
		n, err := vms[c.link].Run(c.frame)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := n > 0; got != c.pass {
			t.Errorf("%s: pass = %v, want %v", c.name, got, c.pass)
		}
		if n > 0 && n != snaplen {
			t.Errorf("%s: accepted %d bytes, want the snaplen %d", c.name, n, snaplen)
		}
	}
}

func TestFilterAssembles(t *testing.T) {
	raw := Filter()
	if len(raw) == 0 || len(raw) > 4096 {
		t.Fatalf("Filter has %d instructions", len(raw))
	}
	// The raw program is the one the VM tests ran.
	prog, err := filterProgram(LinkEthernet, DefaultSnaplen)
	if err != nil {
		t.Fatal(err)
	}
	want, err := bpf.Assemble(prog)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(raw, want) {
		t.Error("Filter differs from the program the VM tests ran")
	}
	if _, ok := bpf.Disassemble(raw); !ok {
		t.Error("Filter does not disassemble")
	}
	if _, err := filterFor(LinkSLL, 100); err == nil {
		t.Error("filter for SLL: no error")
	}
	if _, err := filterFor(LinkEthernet, 0); err == nil {
		t.Error("snaplen 0: no error")
	}
	if FilterExpression() == "" {
		t.Error("empty FilterExpression")
	}
}
