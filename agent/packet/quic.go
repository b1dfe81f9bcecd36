package packet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// QUIC versions whose Initial packets can be opened: RFC 9001 §5.2 (v1) and
// RFC 9369 §3.3.1 (v2).
const (
	QUICv1 = 0x00000001
	QUICv2 = 0x6b3343cf
)

// QUIC limits: RFC 9000 §17.2 caps connection IDs at 20 bytes in v1 and v2;
// maxCryptoOffset bounds the CRYPTO reassembly buffer; maxCryptoFrames the
// frames tracked in one packet.
const (
	maxCID          = 20
	maxCryptoOffset = 1 << 14
	maxCryptoFrames = 32
)

type quicVersion struct {
	salt                       []byte
	initialType                byte // long-header packet type of Initial
	keyLabel, ivLabel, hpLabel string
}

var (
	quicV1 = quicVersion{
		salt:        []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
		initialType: 0,
		keyLabel:    "quic key", ivLabel: "quic iv", hpLabel: "quic hp",
	}
	quicV2 = quicVersion{
		salt:        []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
		initialType: 1,
		keyLabel:    "quicv2 key", ivLabel: "quicv2 iv", hpLabel: "quicv2 hp",
	}
)

func quicVersionParams(v uint32) *quicVersion {
	switch v {
	case QUICv1:
		return &quicV1
	case QUICv2:
		return &quicV2
	}
	return nil
}

// QUICInitial is what the sniffer wants from a client's QUIC Initial packet.
// DCID and SCID alias the input.
type QUICInitial struct {
	Version    uint32
	DCID, SCID []byte
	SNI        string   // from the ClientHello in this packet's CRYPTO frames
	ALPN       []string // likewise
	Flags      []string
}

var (
	errQUICTruncated = fmt.Errorf("quic: %w", ErrTruncated)
	errQUICHeader    = fmt.Errorf("quic: bad long header: %w", ErrMalformed)
	errQUICNotInit   = fmt.Errorf("quic: not a v1/v2 Initial: %w", ErrUnsupported)
	errQUICDecrypt   = fmt.Errorf("quic: Initial does not authenticate with client keys: %w", ErrMalformed)
	errQUICNoCrypto  = fmt.Errorf("quic: no ClientHello start in this packet: %w", ErrTruncated)
	errQUICFrame     = fmt.Errorf("quic: bad frame: %w", ErrMalformed)
)

func (q *QUICInitial) reset() {
	*q = QUICInitial{Flags: q.Flags[:0]}
}

func (q *QUICInitial) flag(f string) { q.Flags = addFlag(q.Flags, f) }

func (q *QUICInitial) fail(f string, err error) error {
	q.flag(f)
	return err
}

// ParseQUICInitial opens a client's QUIC v1 or v2 Initial packet (the first
// packet of a UDP datagram) with the keys every observer can derive from its
// DCID, and reads the ClientHello from its CRYPTO frames. A ClientHello
// continued in a later packet is reported with the FlagTruncated flag and
// whatever it held in this one.
func ParseQUICInitial(b []byte) (*QUICInitial, error) {
	var q QUICInitial
	var s scratch
	err := parseQUICInitial(b, &q, &s)
	return &q, err
}

// looksQUICInitial tests for a long header with a known version and the
// Initial packet type.
func looksQUICInitial(b []byte) bool {
	if len(b) < 7 || b[0]&0x80 == 0 {
		return false
	}
	v := quicVersionParams(be32(b[1:]))
	return v != nil && (b[0]>>4)&3 == v.initialType
}

func parseQUICInitial(b []byte, q *QUICInitial, s *scratch) error {
	if !looksQUICInitial(b) {
		return errQUICNotInit
	}
	q.Version = be32(b[1:])
	v := quicVersionParams(q.Version)
	r := reader{b: b[5:]}
	dcid := r.vec8()
	scid := r.vec8()
	if len(dcid) > maxCID || len(scid) > maxCID {
		return q.fail(FlagMalformed, errQUICHeader)
	}
	q.DCID, q.SCID = dcid, scid
	r.bytes(int(min(r.varint(), 1<<16))) // token
	length := r.varint()
	if r.short {
		return q.fail(FlagTruncated, errQUICTruncated)
	}
	pnOff := len(b) - len(r.b)
	if length > uint64(len(r.b)) {
		return q.fail(FlagTruncated, errQUICTruncated)
	}
	// The header protection sample starts 4 bytes into the packet number
	// field; the AEAD tag is 16 bytes.
	if length < 4+16 {
		return q.fail(FlagBadLength, errQUICHeader)
	}
	k := s.quicKeys(q.Version, v, dcid)
	if k == nil {
		return q.fail(FlagMalformed, errQUICDecrypt)
	}
	// mask and nonce live in scratch: passed to interface methods, locals
	// would escape to the heap.
	mask := &s.mask
	k.hp.Encrypt(mask[:], b[pnOff+4:pnOff+20])

	pkt := append(s.plain[:0], b[:pnOff+int(length)]...)
	s.plain = pkt
	pkt[0] ^= mask[0] & 0x0f
	pnLen := int(pkt[0]&3) + 1
	var pn uint64
	for i := range pnLen {
		pkt[pnOff+i] ^= mask[1+i]
		pn = pn<<8 | uint64(pkt[pnOff+i])
	}
	// A client's first Initials have small packet numbers: the truncated
	// number is taken as the full one.
	nonce := &s.nonce
	*nonce = k.iv
	for i := range 8 {
		nonce[11-i] ^= byte(pn >> (8 * i))
	}
	hdr := pkt[:pnOff+pnLen]
	ct := pkt[pnOff+pnLen:]
	plain, err := k.aead.Open(ct[:0], nonce[:], ct, hdr)
	if err != nil {
		return q.fail(FlagDecrypt, errQUICDecrypt)
	}
	return q.frames(plain, s)
}

// frames walks the decrypted payload, gathers CRYPTO data by offset and
// parses the ClientHello at its start.
func (q *QUICInitial) frames(plain []byte, s *scratch) error {
	ranges := &s.ranges
	s.nr = 0
	s.crypto = s.crypto[:0]
	r := reader{b: plain}
walk:
	for len(r.b) > 0 {
		switch ft := r.varint(); ft {
		case 0x00: // PADDING
			for len(r.b) > 0 && r.b[0] == 0 {
				r.b = r.b[1:]
			}
		case 0x01: // PING
		case 0x02, 0x03: // ACK
			r.varint() // largest acknowledged
			r.varint() // delay
			n := r.varint()
			r.varint() // first range
			for i := uint64(0); i < n && !r.short; i++ {
				r.varint()
				r.varint()
			}
			if ft == 0x03 {
				r.varint()
				r.varint()
				r.varint()
			}
		case 0x06: // CRYPTO
			off, n := r.varint(), r.varint()
			if n > uint64(len(r.b)) {
				return q.fail(FlagMalformed, errQUICFrame)
			}
			data := r.bytes(int(n))
			if off+n > maxCryptoOffset || s.nr == maxCryptoFrames {
				q.flag(FlagTooMany)
				continue
			}
			lo, hi := int(off), int(off+n)
			if hi > len(s.crypto) {
				s.crypto = append(s.crypto, make([]byte, hi-len(s.crypto))...)
			}
			copy(s.crypto[lo:hi], data)
			ranges[s.nr] = [2]int{lo, hi}
			s.nr++
		case 0x1c: // CONNECTION_CLOSE
			r.varint() // error code
			r.varint() // frame type
			r.bytes(int(min(r.varint(), 1<<16)))
		default:
			q.flag(FlagUnknownFrame)
			break walk
		}
		if r.short {
			return q.fail(FlagMalformed, errQUICFrame)
		}
	}
	// The bytes from offset 0 that the frames cover without a gap.
	have := 0
	for grew := true; grew; {
		grew = false
		for _, rg := range ranges[:s.nr] {
			if rg[0] <= have && rg[1] > have {
				have, grew = rg[1], true
			}
		}
	}
	if have == 0 {
		return q.fail(FlagNoCrypto, errQUICNoCrypto)
	}
	h := &s.ch
	err := parseHandshake(s.crypto[:have], h, s, false)
	q.SNI, q.ALPN = h.SNI, h.ALPN
	for _, f := range h.Flags {
		q.flag(f)
	}
	return err
}

// quicKeys holds the client Initial keys of one DCID.
type quicKeys struct {
	version uint32
	dcid    [maxCID]byte
	dcidLen int
	hp      cipher.Block
	aead    cipher.AEAD
	iv      [12]byte
}

// quicKeys returns the client Initial keys for dcid, derived on first use
// and cached: a client resends Initials with the same DCID, and deriving
// costs a few allocations.
func (s *scratch) quicKeys(version uint32, v *quicVersion, dcid []byte) *quicKeys {
	for i := range s.keys {
		k := &s.keys[i]
		if k.aead != nil && k.version == version && bytes.Equal(k.dcid[:k.dcidLen], dcid) {
			return k
		}
	}
	key, iv, hp, err := initialKeys(v, dcid)
	if err != nil {
		return nil
	}
	hpb, err := aes.NewCipher(hp)
	if err != nil {
		return nil
	}
	kb, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	aead, err := cipher.NewGCM(kb)
	if err != nil {
		return nil
	}
	k := &s.keys[s.next]
	s.next = (s.next + 1) % len(s.keys)
	*k = quicKeys{version: version, dcidLen: len(dcid), hp: hpb, aead: aead, iv: [12]byte(iv)}
	copy(k.dcid[:], dcid)
	return k
}

// initialKeys derives the client's Initial key, IV and header protection
// key from the DCID (RFC 9001 §5.2, RFC 9369 §3.3).
func initialKeys(v *quicVersion, dcid []byte) (key, iv, hp []byte, err error) {
	initial, err := hkdf.Extract(sha256.New, dcid, v.salt)
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := expandLabel(initial, "client in", sha256.Size)
	if err != nil {
		return nil, nil, nil, err
	}
	if key, err = expandLabel(client, v.keyLabel, 16); err != nil {
		return nil, nil, nil, err
	}
	if iv, err = expandLabel(client, v.ivLabel, 12); err != nil {
		return nil, nil, nil, err
	}
	hp, err = expandLabel(client, v.hpLabel, 16)
	return key, iv, hp, err
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context (RFC
// 8446 §7.1).
func expandLabel(secret []byte, label string, n int) ([]byte, error) {
	info := make([]byte, 0, 4+6+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0)
	return hkdf.Expand(sha256.New, secret, string(info), n)
}
