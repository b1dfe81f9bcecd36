// Package packet decodes the few things the relay sniffer reads from a
// captured frame: the IP/TCP/UDP addresses, DNS questions and answers, the
// SNI and ALPN of a TLS ClientHello, the same inside a QUIC Initial, and
// STUN messages or TURN ChannelData.
//
// Every input is untrusted: parsers read within bounds, cap counts and
// lengths, and report oddities as Flags rather than failing or panicking.
// A Decoder keeps its scratch buffers between calls, so the common path
// (Ethernet/IP/UDP or TCP, then DNS, TLS, STUN, or a QUIC Initial whose keys
// are cached) allocates nothing once names have been seen; the standalone
// Parse functions allocate their results.
package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// LinkType says what header precedes the IP packet in a frame.
type LinkType int

// Link types Decode understands.
const (
	LinkEthernet LinkType = iota + 1 // Ethernet II, with up to 4 802.1Q/802.1ad tags
	LinkRaw                          // IPv4 or IPv6 with no link header
	LinkLoop                         // BSD loopback: a 4-byte address family, either byte order
	LinkSLL                          // Linux cooked capture v1 (16-byte header)
	LinkSLL2                         // Linux cooked capture v2 (20-byte header)
)

func (l LinkType) String() string {
	switch l {
	case LinkEthernet:
		return "ethernet"
	case LinkRaw:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkSLL:
		return "sll"
	case LinkSLL2:
		return "sll2"
	}
	return fmt.Sprintf("LinkType(%d)", int(l))
}

// LinkTypeFromPcap maps a pcap/pcapng LINKTYPE_ value to a LinkType.
func LinkTypeFromPcap(linktype uint32) (LinkType, bool) {
	switch linktype {
	case 1: // LINKTYPE_ETHERNET
		return LinkEthernet, true
	case 101, 12, 14, 228, 229: // LINKTYPE_RAW, the two historical DLT_RAW values, LINKTYPE_IPV4, LINKTYPE_IPV6
		return LinkRaw, true
	case 0, 108: // LINKTYPE_NULL, LINKTYPE_LOOP
		return LinkLoop, true
	case 113:
		return LinkSLL, true
	case 276:
		return LinkSLL2, true
	}
	return 0, false
}

// IP protocol numbers Decode looks inside.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// Flags reported on a Packet or on a payload record.
const (
	FlagTruncated    = "truncated"      // the bytes end before a length says they should
	FlagFragment     = "fragment"       // an IP fragment; only the first has ports and payload
	FlagBadLength    = "bad-length"     // a length field is impossible (too small, or over a limit)
	FlagMalformed    = "malformed"      // a field holds a value the format forbids
	FlagTooMany      = "too-many"       // a count was over the parser's cap; the rest was skipped
	FlagExtHeaders   = "ext-headers"    // IPv6 extension headers were skipped
	FlagDNSTC        = "tc"             // DNS: the server set the truncation bit
	FlagECH          = "ech"            // TLS: encrypted_client_hello present; SNI is the outer name
	FlagDecrypt      = "decrypt-failed" // QUIC: the Initial did not authenticate with the client keys
	FlagNoCrypto     = "no-crypto"      // QUIC: no CRYPTO data starting at offset 0 in this packet
	FlagUnknownFrame = "unknown-frame"  // QUIC: a frame an Initial may not carry; walking stopped
	FlagChannelData  = "channel-data"   // STUN: a TURN ChannelData message, not a STUN message
)

// Errors returned by Decode and the Parse functions. Errors returned are, or
// wrap, one of these.
var (
	ErrTruncated   = errors.New("truncated")
	ErrMalformed   = errors.New("malformed")
	ErrNotIP       = errors.New("not IPv4 or IPv6")
	ErrUnsupported = errors.New("unsupported")
)

var (
	errFrameTruncated = fmt.Errorf("packet: %w", ErrTruncated)
	errFrameMalformed = fmt.Errorf("packet: %w", ErrMalformed)
	errLinkType       = fmt.Errorf("packet: link type: %w", ErrUnsupported)
)

// Packet is what Decode found in one frame. Payload, and DCID/SCID in QUIC,
// alias the frame; the DNS, TLS, QUIC and STUN records and Flags belong to
// the Decoder and are overwritten by its next Decode: copy what you keep.
type Packet struct {
	Src, Dst netip.AddrPort // ports are 0 for protocols other than TCP and UDP, and for non-first fragments
	Proto    uint8          // IP protocol: ProtoTCP, ProtoUDP, or another number with no payload decoded
	TCPFlags uint8          // FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10
	Payload  []byte         // the TCP or UDP payload, without link padding

	DNS  *DNS
	TLS  *ClientHello
	QUIC *QUICInitial
	STUN *STUN

	Flags []string
}

// Decoder decodes frames with reusable scratch space. It is not safe for
// concurrent use; give each capture goroutine its own.
type Decoder struct {
	flags [8]string
	dns   DNS
	tls   ClientHello
	quic  QUICInitial
	stun  STUN
	s     scratch
	r     *Reassembler // nil: no reassembly across packets
	now   time.Time    // the frame's capture time, for the Reassembler
}

// An Option configures a Decoder.
type Option func(*Decoder)

// WithReassembler makes the Decoder put together ClientHellos spread over
// several QUIC Initials or TCP segments (see Reassembler). The packet that
// completes one gets its TLS or QUIC record filled and flagged
// FlagReassembled; the earlier ones are reported as without it. A
// ClientHello that fits one packet never touches the Reassembler.
func WithReassembler(r *Reassembler) Option {
	return func(d *Decoder) { d.r = r }
}

// NewDecoder returns a Decoder with its buffers sized for the common case
// (about 40 KB, plus up to maxInterned cached name strings).
func NewDecoder(opts ...Option) *Decoder {
	d := &Decoder{}
	for _, o := range opts {
		o(d)
	}
	d.s.names.m = make(map[string]string, 256)
	d.s.name = make([]byte, 0, 4*maxNameWire)
	d.s.hs = make([]byte, 0, 4096)
	d.s.plain = make([]byte, 0, 2048)
	d.s.crypto = make([]byte, 0, 4096)
	d.dns.Questions = make([]DNSQuestion, 0, 8)
	d.dns.Answers = make([]DNSAnswer, 0, 16)
	d.dns.Flags = make([]string, 0, 4)
	d.tls.ALPN = make([]string, 0, 4)
	d.tls.Flags = make([]string, 0, 4)
	d.quic.Flags = make([]string, 0, 4)
	d.s.ch.ALPN = make([]string, 0, 4)
	d.s.ch.Flags = make([]string, 0, 4)
	d.stun.Flags = make([]string, 0, 4)
	return d
}

// Decode reads one frame of the given link type into p. It returns an error
// when no IP packet could be read (not IP, truncated or malformed headers);
// p then still holds what was found. A payload that looks like DNS, a TLS
// ClientHello, a QUIC Initial or STUN is parsed into the matching record;
// trouble inside it is reported in that record's Flags, not as an error.
func (d *Decoder) Decode(link LinkType, frame []byte, p *Packet) error {
	return d.DecodeAt(link, frame, time.Time{}, p)
}

// DecodeAt is Decode for a frame captured at the given time, which dates
// the Reassembler's state; a zero time means now.
func (d *Decoder) DecodeAt(link LinkType, frame []byte, at time.Time, p *Packet) error {
	d.now = at
	*p = Packet{Flags: d.flags[:0]}
	var et uint16
	var b []byte
	switch link {
	case LinkEthernet:
		if len(frame) < 14 {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		et, b = be16(frame[12:]), frame[14:]
		for i := 0; i < 4 && (et == 0x8100 || et == 0x88a8 || et == 0x9100); i++ {
			if len(b) < 4 {
				return p.fail(FlagTruncated, errFrameTruncated)
			}
			et, b = be16(b[2:]), b[4:]
		}
	case LinkSLL:
		if len(frame) < 16 {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		et, b = be16(frame[14:]), frame[16:]
	case LinkSLL2:
		if len(frame) < 20 {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		et, b = be16(frame), frame[20:]
	case LinkLoop, LinkRaw:
		// The loopback family value differs by OS and byte order (2, 24,
		// 28, 30, 10): the IP version nibble is the reliable signal.
		b = frame
		if link == LinkLoop {
			if len(frame) < 4 {
				return p.fail(FlagTruncated, errFrameTruncated)
			}
			b = frame[4:]
		}
		if len(b) == 0 {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		switch b[0] >> 4 {
		case 4:
			et = 0x0800
		case 6:
			et = 0x86dd
		}
	default:
		return errLinkType
	}
	switch et {
	case 0x0800:
		return d.ipv4(b, p)
	case 0x86dd:
		return d.ipv6(b, p)
	}
	return ErrNotIP
}

func (p *Packet) flag(f string) { p.Flags = addFlag(p.Flags, f) }

func (p *Packet) fail(f string, err error) error {
	p.flag(f)
	return err
}

func (d *Decoder) ipv4(b []byte, p *Packet) error {
	if len(b) < 20 {
		return p.fail(FlagTruncated, errFrameTruncated)
	}
	if b[0]>>4 != 4 {
		return ErrNotIP
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 {
		return p.fail(FlagBadLength, errFrameMalformed)
	}
	if len(b) < ihl {
		return p.fail(FlagTruncated, errFrameTruncated)
	}
	// A total length of 0 is what segmentation offload leaves in captures
	// of outgoing packets: trust the capture length then.
	if total := int(be16(b[2:])); total != 0 {
		if total < ihl {
			return p.fail(FlagBadLength, errFrameMalformed)
		}
		if total > len(b) {
			p.flag(FlagTruncated)
		} else {
			b = b[:total] // drop Ethernet padding
		}
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	p.Proto = b[9]
	frag := be16(b[6:])
	if frag&0x1fff != 0 {
		p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		p.flag(FlagFragment)
		return nil
	}
	if frag&0x2000 != 0 {
		p.flag(FlagFragment)
	}
	return d.transport(src, dst, b[ihl:], p)
}

// maxExtHeaders bounds the IPv6 extension header chain walked.
const maxExtHeaders = 8

func (d *Decoder) ipv6(b []byte, p *Packet) error {
	if len(b) < 40 {
		return p.fail(FlagTruncated, errFrameTruncated)
	}
	if b[0]>>4 != 6 {
		return ErrNotIP
	}
	src := netip.AddrFrom16([16]byte(b[8:24]))
	dst := netip.AddrFrom16([16]byte(b[24:40]))
	p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	nh := b[6]
	body := b[40:]
	// Payload length 0 means a jumbogram or offload: use what was captured.
	if plen := int(be16(b[4:])); plen > len(body) {
		p.flag(FlagTruncated)
	} else if plen != 0 {
		body = body[:plen]
	}
	for i := 0; ; i++ {
		var l int
		switch nh {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(body) < 8 {
				return p.fail(FlagTruncated, errFrameTruncated)
			}
			l = (int(body[1]) + 1) * 8
		case 51: // authentication header
			if len(body) < 8 {
				return p.fail(FlagTruncated, errFrameTruncated)
			}
			l = (int(body[1]) + 2) * 4
		case 44: // fragment
			if len(body) < 8 {
				return p.fail(FlagTruncated, errFrameTruncated)
			}
			p.flag(FlagFragment)
			if be16(body[2:])>>3 != 0 {
				p.Proto = body[0]
				return nil
			}
			l = 8
		default:
			p.Proto = nh
			return d.transport(src, dst, body, p)
		}
		if i == maxExtHeaders {
			p.Proto = nh
			return p.fail(FlagTooMany, errFrameMalformed)
		}
		if len(body) < l {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		p.flag(FlagExtHeaders)
		nh, body = body[0], body[l:]
	}
}

func (d *Decoder) transport(src, dst netip.Addr, b []byte, p *Packet) error {
	switch p.Proto {
	case ProtoTCP:
		if len(b) < 20 {
			if len(b) >= 4 {
				p.Src, p.Dst = netip.AddrPortFrom(src, be16(b)), netip.AddrPortFrom(dst, be16(b[2:]))
			} else {
				p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
			}
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		sp, dp := be16(b), be16(b[2:])
		p.Src, p.Dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
		p.TCPFlags = b[13]
		off := int(b[12]>>4) * 4
		if off < 20 {
			return p.fail(FlagBadLength, errFrameMalformed)
		}
		if off > len(b) {
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		p.Payload = b[off:]
		d.tcpPayload(p, sp, dp, be32(b[4:]))
	case ProtoUDP:
		if len(b) < 8 {
			p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
			return p.fail(FlagTruncated, errFrameTruncated)
		}
		sp, dp := be16(b), be16(b[2:])
		p.Src, p.Dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
		ul := int(be16(b[4:]))
		switch {
		case ul == 0: // IPv6 jumbogram or offload: the IP length rules
			p.Payload = b[8:]
		case ul < 8:
			return p.fail(FlagBadLength, errFrameMalformed)
		case ul > len(b):
			p.flag(FlagTruncated)
			p.Payload = b[8:]
		default:
			p.Payload = b[8:ul]
		}
		d.udpPayload(p, sp, dp)
	default:
		p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	}
	return nil
}

func isDNSPort(port uint16) bool  { return port == 53 || port == 5353 }
func isTURNPort(port uint16) bool { return port == 3478 || port == 3479 || port == 5349 }

// clock returns the frame's time for the Reassembler.
func (d *Decoder) clock() time.Time {
	if d.now.IsZero() {
		return time.Now()
	}
	return d.now
}

func (d *Decoder) tcpPayload(p *Packet, sp, dp uint16, seq uint32) {
	pl := p.Payload
	switch {
	case len(pl) >= 6 && pl[0] == 0x16 && pl[1] == 0x03 && pl[5] == 1:
		d.tls.reset()
		d.s.ch.reset()
		err := parseClientHello(pl, &d.tls, &d.s)
		if err == nil || d.tls.SNI != "" {
			p.TLS = &d.tls
		}
		if err == errTLSTruncated && d.r != nil && p.TCPFlags&0x04 == 0 {
			d.r.tcpStart(p.Src, p.Dst, seq, pl, d.clock())
		}
	case d.r != nil && d.r.nTCP > 0 && d.tcpReassemble(p, seq):
	case (sp == 53 || dp == 53) && len(pl) >= 2+12:
		// DNS over TCP: a 2-byte length, then the message. Only a segment
		// starting a message is read.
		msg := pl[2:]
		if n := int(be16(pl)); n < len(msg) {
			msg = msg[:n]
		}
		d.dns.reset()
		parseDNS(msg, &d.dns, &d.s)
		p.DNS = &d.dns
	}
}

// tcpReassemble feeds a later segment to the Reassembler and reports the
// ClientHello if it completed it.
func (d *Decoder) tcpReassemble(p *Packet, seq uint32) bool {
	buf, ok := d.r.tcpMore(p.Src, p.Dst, seq, p.Payload, d.clock())
	if !ok {
		return false
	}
	d.tls.reset()
	d.s.ch.reset()
	if parseClientHello(buf, &d.tls, &d.s) == errTLSTruncated {
		return true // not yet: the segment is part of the hello
	}
	d.r.tcpDone(p.Src, p.Dst)
	d.tls.flag(FlagReassembled)
	p.TLS = &d.tls
	return true
}

// quicReassemble feeds the CRYPTO data of an Initial whose ClientHello was
// incomplete to the Reassembler, and reports the ClientHello if this
// packet completed it.
func (d *Decoder) quicReassemble() {
	q := &d.quic
	hs, ok := d.r.quic(q.Version, q.DCID, d.s.crypto, d.s.ranges[:d.s.nr], d.clock())
	if !ok {
		return
	}
	h := &d.s.ch
	h.reset()
	err := parseHandshake(hs, h, &d.s, false)
	q.SNI, q.ALPN = h.SNI, h.ALPN
	keep := q.Flags[:0]
	for _, f := range q.Flags {
		if f != FlagTruncated && f != FlagNoCrypto {
			keep = append(keep, f)
		}
	}
	q.Flags = keep
	for _, f := range h.Flags {
		q.flag(f)
	}
	if err == nil || err == errTLSTruncated {
		q.flag(FlagReassembled)
	}
}

func (d *Decoder) udpPayload(p *Packet, sp, dp uint16) {
	pl := p.Payload
	switch {
	case len(pl) == 0:
	case isDNSPort(sp) || isDNSPort(dp):
		d.dns.reset()
		parseDNS(pl, &d.dns, &d.s)
		p.DNS = &d.dns
	case looksSTUN(pl):
		d.stun.reset()
		parseSTUN(pl, &d.stun, &d.s)
		p.STUN = &d.stun
	case looksQUICInitial(pl):
		d.quic.reset()
		d.s.ch.reset()
		d.s.nr = 0
		err := parseQUICInitial(pl, &d.quic, &d.s)
		if d.r != nil && d.s.nr > 0 && (err == errQUICNoCrypto || err == errTLSTruncated) {
			d.quicReassemble()
		}
		p.QUIC = &d.quic
	case (isTURNPort(sp) || isTURNPort(dp)) && looksChannelData(pl):
		d.stun.reset()
		parseSTUN(pl, &d.stun, &d.s)
		p.STUN = &d.stun
	case looksDNS(pl):
		d.dns.reset()
		if parseDNS(pl, &d.dns, &d.s) == nil && len(d.dns.Flags) == 0 {
			p.DNS = &d.dns
		}
	}
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// addFlag appends f unless it is already there.
func addFlag(fs []string, f string) []string {
	for _, g := range fs {
		if g == f {
			return fs
		}
	}
	return append(fs, f)
}
