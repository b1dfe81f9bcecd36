package sniffer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/farmwatch/farmwatch/agent/packet"
)

// The capture-file readers of `farmwatch-agent sniff --pcap`. They are written here rather
// than taken from gopacket's pcapgo because pcapgo imports gopacket/layers, whose package
// variables (per-EtherType and per-PPP-type tables, 5 MiB of .bss) count as GC roots in
// every agent process: the heap goal grew by 5 MiB and the resident memory with it.

// maxCaptured bounds the bytes read for one packet (pcapgo's limit too): a corrupt length
// must not make us allocate gigabytes.
const maxCaptured = 256 << 10

var errNotCapture = errors.New("not a pcap or pcapng file")

// capReader returns the packets of a capture file one by one; data is valid until the next
// call. It returns io.EOF after the last packet.
type capReader interface {
	next() (data []byte, ts time.Time, link packet.LinkType, err error)
}

// unsupportedLink is the error for a link type ReadPcap cannot decode.
func unsupportedLink(lt uint32) error {
	return fmt.Errorf("link type %d is not supported (Ethernet, raw IP, loopback, Linux cooked)", lt)
}

// newCapReader reads the file header of r and returns a reader of its packets.
func newCapReader(r io.Reader) (capReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCapture, err)
	}
	if [4]byte(magic) == [4]byte{0x0a, 0x0d, 0x0d, 0x0a} {
		return newNgReader(br)
	}
	return newPcapReader(br)
}

// pcapReader reads the classic libpcap format.
type pcapReader struct {
	r     io.Reader
	order binary.ByteOrder
	nano  bool
	link  packet.LinkType
	hdr   [16]byte
	buf   []byte
}

func newPcapReader(r io.Reader) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCapture, err)
	}
	p := &pcapReader{r: r}
	switch binary.LittleEndian.Uint32(h[:4]) {
	case 0xa1b2c3d4:
		p.order = binary.LittleEndian
	case 0xa1b23c4d:
		p.order, p.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		p.order = binary.BigEndian
	case 0x4d3cb2a1:
		p.order, p.nano = binary.BigEndian, true
	default:
		return nil, errNotCapture
	}
	lt := p.order.Uint32(h[20:]) & 0xffff // the upper bits carry the FCS length
	link, ok := packet.LinkTypeFromPcap(lt)
	if !ok {
		return nil, unsupportedLink(lt)
	}
	p.link = link
	return p, nil
}

func (p *pcapReader) next() ([]byte, time.Time, packet.LinkType, error) {
	if _, err := io.ReadFull(p.r, p.hdr[:]); err != nil {
		return nil, time.Time{}, 0, err
	}
	sec, frac := int64(p.order.Uint32(p.hdr[0:])), int64(p.order.Uint32(p.hdr[4:]))
	n := p.order.Uint32(p.hdr[8:])
	if n > maxCaptured {
		return nil, time.Time{}, 0, fmt.Errorf("captured length %d exceeds %d", n, maxCaptured)
	}
	if !p.nano {
		frac *= 1000
	}
	if cap(p.buf) < int(n) {
		p.buf = make([]byte, n)
	}
	p.buf = p.buf[:n]
	if _, err := io.ReadFull(p.r, p.buf); err != nil {
		return nil, time.Time{}, 0, noEOF(err)
	}
	return p.buf, time.Unix(sec, frac).UTC(), p.link, nil
}

// noEOF turns io.EOF in the middle of a record into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ngInterface is an Interface Description Block of a pcapng section.
type ngInterface struct {
	link      packet.LinkType
	linkType  uint32 // LINKTYPE_ value, for the error of an unsupported one
	snaplen   uint32
	unitsPerS uint64 // if_tsresol
	offset    int64  // if_tsoffset, seconds
}

// ngReader reads pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html):
// section headers, interface descriptions, enhanced, simple and obsolete packet blocks; other
// blocks are skipped. Unlike pcapgo's default, interfaces of a file may differ in link type.
type ngReader struct {
	r     io.Reader
	order binary.ByteOrder
	ifs   []ngInterface
	buf   []byte
}

const (
	ngSectionHeader = 0x0a0d0d0a
	ngInterfaceDesc = 1
	ngPacketObs     = 2
	ngSimplePacket  = 3
	ngEnhancedPkt   = 6
	ngByteOrder     = 0x1a2b3c4d
	maxBlock        = maxCaptured + 4096
)

func newNgReader(r io.Reader) (*ngReader, error) {
	g := &ngReader{r: r}
	typ, body, err := g.block()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNotCapture, err)
	}
	if typ != ngSectionHeader || len(body) < 4 {
		return nil, errNotCapture
	}
	return g, nil
}

// block reads the next block and returns its type and body (without the type and the two
// lengths). A Section Header Block sets the byte order and clears the interfaces.
func (g *ngReader) block() (uint32, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(g.r, h[:]); err != nil {
		return 0, nil, err
	}
	typ := binary.LittleEndian.Uint32(h[:4]) // the SHB type is a palindrome
	if typ == ngSectionHeader {
		var bom [4]byte
		if _, err := io.ReadFull(g.r, bom[:]); err != nil {
			return 0, nil, noEOF(err)
		}
		switch {
		case binary.LittleEndian.Uint32(bom[:]) == ngByteOrder:
			g.order = binary.LittleEndian
		case binary.BigEndian.Uint32(bom[:]) == ngByteOrder:
			g.order = binary.BigEndian
		default:
			return 0, nil, errors.New("pcapng: bad byte-order magic")
		}
		g.ifs = g.ifs[:0]
		n := g.order.Uint32(h[4:])
		if n < 28 || n%4 != 0 || n > maxBlock {
			return 0, nil, fmt.Errorf("pcapng: bad section header length %d", n)
		}
		body, err := g.read(int(n) - 12) // the rest of the body and the trailing length
		return typ, body, err
	}
	if g.order == nil {
		return 0, nil, errNotCapture
	}
	typ = g.order.Uint32(h[:4])
	n := g.order.Uint32(h[4:])
	if n < 12 || n%4 != 0 || n > maxBlock {
		return 0, nil, fmt.Errorf("pcapng: bad length %d of a block of type %#x", n, typ)
	}
	body, err := g.read(int(n) - 12)
	if err != nil {
		return 0, nil, err
	}
	var trailer [4]byte
	if _, err := io.ReadFull(g.r, trailer[:]); err != nil {
		return 0, nil, noEOF(err)
	}
	if g.order.Uint32(trailer[:]) != n {
		return 0, nil, fmt.Errorf("pcapng: block of type %#x: trailing length %d, leading %d", typ, g.order.Uint32(trailer[:]), n)
	}
	return typ, body, nil
}

// read reads n bytes of a block.
func (g *ngReader) read(n int) ([]byte, error) {
	if cap(g.buf) < n {
		g.buf = make([]byte, n)
	}
	b := g.buf[:n]
	if _, err := io.ReadFull(g.r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

func (g *ngReader) next() ([]byte, time.Time, packet.LinkType, error) {
	for {
		typ, body, err := g.block()
		if err != nil {
			return nil, time.Time{}, 0, err
		}
		switch typ {
		case ngInterfaceDesc:
			if len(body) < 8 {
				return nil, time.Time{}, 0, errors.New("pcapng: short interface description")
			}
			lt := uint32(g.order.Uint16(body))
			ifc := ngInterface{linkType: lt, snaplen: g.order.Uint32(body[4:]), unitsPerS: 1e6}
			ifc.link, _ = packet.LinkTypeFromPcap(lt)
			g.options(body[8:], &ifc)
			g.ifs = append(g.ifs, ifc)
		case ngEnhancedPkt, ngPacketObs:
			if len(body) < 20 {
				return nil, time.Time{}, 0, errors.New("pcapng: short packet block")
			}
			var id uint32
			if typ == ngEnhancedPkt {
				id = g.order.Uint32(body)
			} else {
				id = uint32(g.order.Uint16(body))
			}
			units := uint64(g.order.Uint32(body[4:]))<<32 | uint64(g.order.Uint32(body[8:]))
			n := g.order.Uint32(body[12:])
			if uint64(n) > uint64(len(body)-20) {
				return nil, time.Time{}, 0, fmt.Errorf("pcapng: captured length %d exceeds its block", n)
			}
			ifc, err := g.iface(id)
			if err != nil {
				return nil, time.Time{}, 0, err
			}
			return body[20 : 20+n], ifc.time(units), ifc.link, nil
		case ngSimplePacket:
			if len(body) < 4 {
				return nil, time.Time{}, 0, errors.New("pcapng: short simple packet block")
			}
			ifc, err := g.iface(0)
			if err != nil {
				return nil, time.Time{}, 0, err
			}
			n := uint64(g.order.Uint32(body))
			if ifc.snaplen != 0 {
				n = min(n, uint64(ifc.snaplen))
			}
			n = min(n, uint64(len(body)-4))
			return body[4 : 4+n], time.Time{}, ifc.link, nil
		}
	}
}

func (g *ngReader) iface(id uint32) (*ngInterface, error) {
	if uint64(id) >= uint64(len(g.ifs)) {
		return nil, fmt.Errorf("pcapng: packet of undescribed interface %d", id)
	}
	ifc := &g.ifs[id]
	if ifc.link == 0 {
		return nil, unsupportedLink(ifc.linkType)
	}
	return ifc, nil
}

// options reads if_tsresol (9) and if_tsoffset (14) of an interface description.
func (g *ngReader) options(b []byte, ifc *ngInterface) {
	for len(b) >= 4 {
		code, n := g.order.Uint16(b), int(g.order.Uint16(b[2:]))
		b = b[4:]
		if code == 0 || n > len(b) {
			return
		}
		v := b[:n]
		switch {
		case code == 9 && n >= 1:
			exp := uint64(v[0] & 0x7f)
			base := uint64(10)
			if v[0]&0x80 != 0 {
				base = 2
			}
			units := uint64(1)
			for range exp {
				if units > 1<<60/base {
					break
				}
				units *= base
			}
			ifc.unitsPerS = units
		case code == 14 && n >= 8:
			ifc.offset = int64(g.order.Uint64(v))
		}
		pad := (n + 3) &^ 3
		if pad > len(b) {
			return
		}
		b = b[pad:]
	}
}

func (ifc *ngInterface) time(units uint64) time.Time {
	sec, frac := units/ifc.unitsPerS, units%ifc.unitsPerS
	var ns uint64
	if ifc.unitsPerS <= 1e9 {
		ns = frac * 1e9 / ifc.unitsPerS // frac < 1e9: no overflow
	} else {
		ns = frac / (ifc.unitsPerS / 1e9)
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}
