package packet

import (
	"fmt"
	"net/netip"
)

// DNS limits: RFC 1035 §2.3.4 for names and labels; maxDNSRecords and
// maxPointers are ours, far above what real resolvers send.
const (
	maxNameWire   = 255 // a name's wire length, length bytes included
	maxDNSRecords = 64  // questions plus answers read from one message
	maxPointers   = 64  // compression pointers followed for one name
)

// DNS record types reported in answers.
const (
	TypeA     = 1
	TypeCNAME = 5
	TypeAAAA  = 28
)

// DNS is a DNS message's header, questions and its A, AAAA and CNAME answers.
type DNS struct {
	ID        uint16
	Response  bool
	RCode     uint8
	Questions []DNSQuestion
	Answers   []DNSAnswer // A, AAAA and CNAME records only
	Flags     []string
}

// DNSQuestion is one question. Name is lower-cased, without the final dot,
// with unusual bytes escaped (\. \\ \DDD); the root is ".".
type DNSQuestion struct {
	Name string
	Type uint16
}

// DNSAnswer is one A, AAAA or CNAME answer: Addr is set for A and AAAA,
// CNAME for CNAME.
type DNSAnswer struct {
	Name  string
	Type  uint16
	TTL   uint32
	Addr  netip.Addr
	CNAME string
}

var (
	errDNSTruncated = fmt.Errorf("dns: %w", ErrTruncated)
	errDNSName      = fmt.Errorf("dns: bad name: %w", ErrMalformed)
	errDNSPointer   = fmt.Errorf("dns: compression pointer loop or forward pointer: %w", ErrMalformed)
	errDNSLong      = fmt.Errorf("dns: name over 255 bytes: %w", ErrMalformed)
)

func (m *DNS) reset() {
	*m = DNS{Questions: m.Questions[:0], Answers: m.Answers[:0], Flags: m.Flags[:0]}
}

func (m *DNS) flag(f string) { m.Flags = addFlag(m.Flags, f) }

// ParseDNS parses a DNS message (UDP payload, or a TCP one without its
// 2-byte length). At most 64 questions and answers are read; names follow
// compression pointers only backwards. On error the returned DNS holds what
// was read before the problem, and its Flags say what it was.
func ParseDNS(b []byte) (*DNS, error) {
	var m DNS
	var s scratch
	err := parseDNS(b, &m, &s)
	return &m, err
}

// looksDNS is the shape test for DNS on ports other than 53 and 5353: a
// standard query or response with one question and few records.
func looksDNS(b []byte) bool {
	return len(b) >= 12+5 && b[2]&0x78 == 0 && b[3]&0x40 == 0 &&
		be16(b[4:]) == 1 && be16(b[6:]) <= maxDNSRecords &&
		be16(b[8:]) <= maxDNSRecords && be16(b[10:]) <= maxDNSRecords
}

func parseDNS(b []byte, m *DNS, s *scratch) error {
	if len(b) < 12 {
		m.flag(FlagTruncated)
		return errDNSTruncated
	}
	m.ID = be16(b)
	fl := be16(b[2:])
	m.Response = fl&0x8000 != 0
	m.RCode = uint8(fl & 0x0f)
	if fl&0x0200 != 0 {
		m.flag(FlagDNSTC)
	}
	qd, an := int(be16(b[4:])), int(be16(b[6:]))
	if qd > maxDNSRecords {
		qd, an = maxDNSRecords, 0
		m.flag(FlagTooMany)
	} else if qd+an > maxDNSRecords {
		an = maxDNSRecords - qd
		m.flag(FlagTooMany)
	}
	off := 12
	for range qd {
		name, next, err := readName(b, off, s)
		if err != nil {
			return m.fail(err)
		}
		if next+4 > len(b) {
			return m.fail(errDNSTruncated)
		}
		m.Questions = append(m.Questions, DNSQuestion{Name: name, Type: be16(b[next:])})
		off = next + 4
	}
	for range an {
		name, next, err := readName(b, off, s)
		if err != nil {
			return m.fail(err)
		}
		if next+10 > len(b) {
			return m.fail(errDNSTruncated)
		}
		typ, ttl, rdlen := be16(b[next:]), be32(b[next+4:]), int(be16(b[next+8:]))
		rd := next + 10
		end := rd + rdlen
		if end > len(b) {
			return m.fail(errDNSTruncated)
		}
		off = end
		a := DNSAnswer{Name: name, Type: typ, TTL: ttl}
		switch typ {
		case TypeA:
			if rdlen != 4 {
				m.flag(FlagBadLength)
				continue
			}
			a.Addr = netip.AddrFrom4([4]byte(b[rd:end]))
		case TypeAAAA:
			if rdlen != 16 {
				m.flag(FlagBadLength)
				continue
			}
			a.Addr = netip.AddrFrom16([16]byte(b[rd:end]))
		case TypeCNAME:
			cname, cnext, err := readName(b[:end], rd, s)
			if err != nil || cnext != end {
				m.flag(FlagBadLength)
				continue
			}
			a.CNAME = cname
		default:
			continue
		}
		m.Answers = append(m.Answers, a)
	}
	return nil
}

func (m *DNS) fail(err error) error {
	if err == errDNSTruncated {
		m.flag(FlagTruncated)
	} else {
		m.flag(FlagMalformed)
	}
	return err
}

// readName decodes the possibly compressed name at msg[off:] and returns it
// with the offset just past it. Each pointer must point before the labels
// that led to it, so following them always ends.
func readName(msg []byte, off int, s *scratch) (string, int, error) {
	buf := s.name[:0]
	next := -1
	start := off // the lowest offset of the label run being read
	wire := 1    // the final zero byte
	for ptrs := 0; ; {
		if off >= len(msg) {
			return "", 0, errDNSTruncated
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				s.name = buf[:0] // keep a grown buffer
				if len(buf) == 0 {
					return ".", next, nil
				}
				return s.names.str(buf), next, nil
			}
			if off+1+c > len(msg) {
				return "", 0, errDNSTruncated
			}
			if wire += 1 + c; wire > maxNameWire {
				return "", 0, errDNSLong
			}
			if len(buf) > 0 {
				buf = append(buf, '.')
			}
			buf = appendLabel(buf, msg[off+1:off+1+c], true)
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return "", 0, errDNSTruncated
			}
			if next < 0 {
				next = off + 2
			}
			ptr := int(be16(msg[off:]) & 0x3fff)
			if ptr >= start || ptrs == maxPointers {
				return "", 0, errDNSPointer
			}
			ptrs++
			off, start = ptr, ptr
		default: // 0x40 extended and 0x80 reserved label types
			return "", 0, errDNSName
		}
	}
}
