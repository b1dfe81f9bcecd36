package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// ipv4 wraps a transport segment in an IPv4 header.
func ipv4(proto byte, frag uint16, seg []byte) []byte {
	h := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 198, 51, 100, 7}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(seg)))
	binary.BigEndian.PutUint16(h[6:], frag)
	return append(h, seg...)
}

// ipv6 wraps a segment after the given extension headers (each already
// carrying its own next-header byte) in an IPv6 header.
func ipv6(nh byte, rest []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(rest)))
	h[6], h[7] = nh, 64
	copy(h[8:], netip.MustParseAddr("2001:db8::1").AsSlice())
	copy(h[24:], netip.MustParseAddr("2001:db8::2").AsSlice())
	return append(h, rest...)
}

func udp(sp, dp uint16, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	return append(b, payload...)
}

func tcp(sp, dp uint16, flags byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0)
	return append(b, payload...)
}

func eth(et uint16, vlans int, ip []byte) []byte {
	b := make([]byte, 12)
	for range vlans {
		b = append(b, 0x81, 0x00, 0x00, 0x07)
	}
	b = binary.BigEndian.AppendUint16(b, et)
	return append(b, ip...)
}

func TestDecodeLinkTypes(t *testing.T) {
	query := dnsMsg(0x4242, 0x0100, 1, 0, question("relay.anydesk.com", TypeA))
	ip := ipv4(ProtoUDP, 0, udp(40000, 53, query))
	sll := slices.Concat([]byte{0, 4, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, ip)
	sll2 := slices.Concat([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 4, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip)
	tests := []struct {
		name  string
		link  LinkType
		frame []byte
	}{
		{"ethernet", LinkEthernet, eth(0x0800, 0, ip)},
		{"ethernet padded to 60+ bytes", LinkEthernet, append(eth(0x0800, 0, ip), make([]byte, 30)...)},
		{"802.1Q", LinkEthernet, eth(0x0800, 1, ip)},
		{"QinQ", LinkEthernet, eth(0x0800, 2, ip)},
		{"raw", LinkRaw, ip},
		{"loop, little-endian AF_INET", LinkLoop, slices.Concat([]byte{2, 0, 0, 0}, ip)},
		{"sll", LinkSLL, sll},
		{"sll2", LinkSLL2, sll2},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var p Packet
		if err := d.Decode(tt.link, tt.frame, &p); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if p.Src != netip.MustParseAddrPort("10.0.0.1:40000") || p.Dst != netip.MustParseAddrPort("198.51.100.7:53") ||
			p.Proto != ProtoUDP || len(p.Payload) != len(query) || p.DNS == nil ||
			p.DNS.ID != 0x4242 || p.DNS.Questions[0].Name != "relay.anydesk.com" || len(p.Flags) != 0 {
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
}

func TestDecodeIPv6(t *testing.T) {
	hello := record(0x16, helloWith(sniExt("derp1.tailscale.com")))
	seg := tcp(50000, 443, 0x18, hello)
	hopByHop := []byte{60, 0, 1, 4, 0, 0, 0, 0} // next: destination options
	destOpts := []byte{43, 1, 1, 12, make([]byte, 12)[0], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	routing := []byte{44, 0, 0, 0, 0, 0, 0, 0}        // next: fragment
	firstFrag := []byte{6, 0, 0x00, 0x01, 0, 0, 0, 9} // offset 0, more fragments
	laterFrag := []byte{6, 0, 0x05, 0x00, 0, 0, 0, 9} // offset 160
	tests := []struct {
		name  string
		pkt   []byte
		flags []string
		sni   string
		port  uint16
	}{
		{"plain", ipv6(6, seg), nil, "derp1.tailscale.com", 443},
		{"hop-by-hop, dest options, routing, first fragment", ipv6(0, slices.Concat(hopByHop, destOpts, routing, firstFrag, seg)),
			[]string{FlagExtHeaders, FlagFragment}, "derp1.tailscale.com", 443},
		{"later fragment", ipv6(44, slices.Concat(laterFrag, seg)), []string{FlagFragment}, "", 0},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var p Packet
		if err := d.Decode(LinkRaw, tt.pkt, &p); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		sni := ""
		if p.TLS != nil {
			sni = p.TLS.SNI
		}
		if p.Proto != ProtoTCP || p.Src.Addr() != netip.MustParseAddr("2001:db8::1") || p.Dst.Port() != tt.port ||
			sni != tt.sni || !slices.Equal(p.Flags, tt.flags) {
			t.Errorf("%s: %+v sni %q", tt.name, p, sni)
		}
	}
}

func TestDecodeDispatch(t *testing.T) {
	quic := readHex(t, "rfc9001_a2_client_initial.hex")
	query := dnsMsg(7, 0x0100, 1, 0, question("rs-ny.rustdesk.com", TypeA))
	tcpDNS := slices.Concat([]byte{0, byte(len(query))}, query)
	stunReq := stunMsg(0x0001, stunAttr(0x8022, []byte("x")))
	tests := []struct {
		name string
		ip   []byte
		want string // which record Decode should fill
	}{
		{"QUIC Initial on any port", ipv4(ProtoUDP, 0, udp(50000, 8443, quic)), "quic"},
		{"DNS over TCP", ipv4(ProtoTCP, 0, tcp(50000, 53, 0x18, tcpDNS)), "dns"},
		{"DNS by shape on port 5300", ipv4(ProtoUDP, 0, udp(50000, 5300, query)), "dns"},
		{"STUN on port 19302", ipv4(ProtoUDP, 0, udp(50000, 19302, stunReq)), "stun"},
		{"STUN with trailing bytes is not STUN", ipv4(ProtoUDP, 0, udp(50000, 3478, append(stunReq, 0, 0, 0, 0))), ""},
		{"ChannelData on 3478", ipv4(ProtoUDP, 0, udp(50000, 3478, []byte{0x40, 1, 0, 2, 9, 9})), "stun"},
		{"ChannelData shape elsewhere is ignored", ipv4(ProtoUDP, 0, udp(50000, 9999, []byte{0x40, 1, 0, 2, 9, 9})), ""},
		{"TLS ServerHello is not a ClientHello", ipv4(ProtoTCP, 0, tcp(443, 50000, 0x18, record(0x16, []byte{2, 0, 0, 0}))), ""},
		{"ClientHello on port 8080", ipv4(ProtoTCP, 0, tcp(50000, 8080, 0x18, record(0x16, helloWith(sniExt("a.b"))))), "tls"},
		{"non-first IPv4 fragment", ipv4(ProtoUDP, 0x0010, udp(50000, 53, query)), ""},
		{"first IPv4 fragment still decoded", ipv4(ProtoUDP, 0x2000, udp(50000, 53, query)), "dns"},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var p Packet
		if err := d.Decode(LinkRaw, tt.ip, &p); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := ""
		switch {
		case p.DNS != nil:
			got = "dns"
		case p.TLS != nil:
			got = "tls"
		case p.QUIC != nil:
			got = "quic"
		case p.STUN != nil:
			got = "stun"
		}
		if got != tt.want {
			t.Errorf("%s: decoded as %q, want %q (%+v)", tt.name, got, tt.want, p)
		}
	}
}

func TestDecodeBadFrames(t *testing.T) {
	ip := ipv4(ProtoUDP, 0, udp(1, 2, []byte("hello")))
	tests := []struct {
		name  string
		link  LinkType
		frame []byte
		flag  string
		err   error
	}{
		{"empty", LinkEthernet, nil, FlagTruncated, ErrTruncated},
		{"ARP", LinkEthernet, eth(0x0806, 0, make([]byte, 28)), "", ErrNotIP},
		{"VLAN tag cut", LinkEthernet, eth(0x8100, 0, []byte{0}), FlagTruncated, ErrTruncated},
		{"IPv4 header cut", LinkRaw, ip[:15], FlagTruncated, ErrTruncated},
		{"IHL below 5", LinkRaw, slices.Concat([]byte{0x44}, ip[1:]), FlagBadLength, ErrMalformed},
		{"UDP length below 8", LinkRaw, slices.Concat(ip[:24], []byte{0, 3, 0, 0}, ip[28:]), FlagBadLength, ErrMalformed},
		{"TCP header cut", LinkRaw, ipv4(ProtoTCP, 0, make([]byte, 10)), FlagTruncated, ErrTruncated},
		{"TCP data offset below 5", LinkRaw, ipv4(ProtoTCP, 0, slices.Concat(make([]byte, 12), []byte{0x40}, make([]byte, 7))), FlagBadLength, ErrMalformed},
		{"IPv6 cut", LinkRaw, ipv6(17, nil)[:30], FlagTruncated, ErrTruncated},
		{"IPv6 extension loop", LinkRaw, ipv6(60, slices.Repeat([]byte{60, 0, 0, 0, 0, 0, 0, 0}, 20)), FlagTooMany, ErrMalformed},
		{"unknown link type", LinkType(99), ip, "", ErrUnsupported},
		{"raw, version 5", LinkRaw, slices.Concat([]byte{0x55}, ip[1:]), "", ErrNotIP},
	}
	d := NewDecoder()
	for _, tt := range tests {
		var p Packet
		err := d.Decode(tt.link, tt.frame, &p)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.err)
		}
		if tt.flag != "" && !slices.Contains(p.Flags, tt.flag) {
			t.Errorf("%s: flags %v, want %s", tt.name, p.Flags, tt.flag)
		}
	}
	// A frame cut by the snap length keeps its decodable part.
	var p Packet
	if err := d.Decode(LinkRaw, ip[:len(ip)-2], &p); err != nil || !slices.Contains(p.Flags, FlagTruncated) || string(p.Payload) != "hel" {
		t.Errorf("snapped: %v %+v", err, p)
	}
}

// The common path allocates nothing once the Decoder has seen the names.
func TestDecodeAllocs(t *testing.T) {
	var frames []frame
	for _, name := range pcaps {
		frames = append(frames, readPcap(t, name)...)
	}
	d := NewDecoder()
	var p Packet
	for _, fr := range frames {
		d.Decode(fr.link, fr.data, &p)
	}
	for _, fr := range frames {
		if n := testing.AllocsPerRun(20, func() { d.Decode(fr.link, fr.data, &p) }); n != 0 {
			t.Errorf("%d allocs decoding %v frame of %d bytes (%+v)", int(n), fr.link, len(fr.data), p)
		}
	}
}
