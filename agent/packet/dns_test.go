package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// dnsMsg builds a DNS message: header fields, then raw sections.
func dnsMsg(id, flags uint16, qd, an int, body ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(qd))
	b = binary.BigEndian.AppendUint16(b, uint16(an))
	b = append(b, 0, 0, 0, 0)
	return slices.Concat(append([][]byte{b}, body...)...)
}

// wireName encodes a dotted name without compression.
func wireName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func question(name string, typ uint16) []byte {
	return binary.BigEndian.AppendUint32(wireName(name), uint32(typ)<<16|1)
}

// rr is a resource record with an owner given as raw wire bytes.
func rr(owner []byte, typ uint16, ttl uint32, rdata []byte) []byte {
	b := binary.BigEndian.AppendUint16(slices.Clone(owner), typ)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

var ptr12 = []byte{0xc0, 12} // points at the first question's name

func TestParseDNS(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.7").AsSlice()
	v6 := netip.MustParseAddr("2001:db8::42").AsSlice()
	tests := []struct {
		name      string
		msg       []byte
		questions []DNSQuestion
		answers   []DNSAnswer
		flags     []string
		err       error
	}{
		{
			name: "CNAME chain to A and AAAA, compressed",
			msg: dnsMsg(0x1234, 0x8180, 1, 4, question("boot.net.anydesk.com", TypeA),
				rr(ptr12, TypeCNAME, 60, slices.Concat([]byte{5, 'r', 'e', 'l', 'a', 'y'}, []byte{0xc0, 12 + 5})),
				rr([]byte{0xc0, 12 + 22 + 4 + 12}, TypeA, 30, v4),
				rr([]byte{0xc0, 12 + 22 + 4 + 12}, TypeAAAA, 30, v6),
				rr(ptr12, 16, 30, []byte{3, 'a', 'b', 'c'})), // TXT: skipped
			questions: []DNSQuestion{{"boot.net.anydesk.com", TypeA}},
			answers: []DNSAnswer{
				{Name: "boot.net.anydesk.com", Type: TypeCNAME, TTL: 60, CNAME: "relay.net.anydesk.com"},
				{Name: "relay.net.anydesk.com", Type: TypeA, TTL: 30, Addr: netip.AddrFrom4([4]byte(v4))},
				{Name: "relay.net.anydesk.com", Type: TypeAAAA, TTL: 30, Addr: netip.AddrFrom16([16]byte(v6))},
			},
		},
		{
			name:      "upper case lowered, dot and control inside a label escaped",
			msg:       dnsMsg(1, 0x0100, 1, 0, []byte{3, 'W', '.', 'X', 2, 'E', 0x07, 0}, []byte{0, 1, 0, 1}),
			questions: []DNSQuestion{{`w\.x.e\007`, TypeA}},
		},
		{
			name:      "root",
			msg:       dnsMsg(1, 0x0100, 1, 0, []byte{0, 0, 2, 0, 1}),
			questions: []DNSQuestion{{".", 2}},
		},
		{
			name:      "truncation bit and NXDOMAIN",
			msg:       dnsMsg(7, 0x8383, 1, 0, question("x.teamviewer.com", TypeAAAA)),
			questions: []DNSQuestion{{"x.teamviewer.com", TypeAAAA}},
			flags:     []string{FlagDNSTC},
		},
		{
			name:      "A with 5 bytes of rdata skipped",
			msg:       dnsMsg(1, 0x8180, 1, 1, question("a.b", TypeA), rr(ptr12, TypeA, 1, []byte{1, 2, 3, 4, 5})),
			questions: []DNSQuestion{{"a.b", TypeA}},
			flags:     []string{FlagBadLength},
		},
		{
			name:      "CNAME running past its rdata",
			msg:       dnsMsg(1, 0x8180, 1, 1, question("a.b", TypeA), rr(ptr12, TypeCNAME, 1, []byte{5, 'r'}), []byte("elay\x00")),
			questions: []DNSQuestion{{"a.b", TypeA}},
			flags:     []string{FlagBadLength},
		},
		{
			name:  "pointer to itself",
			msg:   dnsMsg(1, 0x0100, 1, 0, ptr12, []byte{0, 1, 0, 1}),
			flags: []string{FlagMalformed},
			err:   ErrMalformed,
		},
		{
			name:  "forward pointer",
			msg:   dnsMsg(1, 0x0100, 1, 0, []byte{0xc0, 14, 1, 'a', 0}, []byte{0, 1, 0, 1}),
			flags: []string{FlagMalformed},
			err:   ErrMalformed,
		},
		{
			name: "two pointers forming a loop",
			// question at 12: "a" then pointer to 17; at 17: "b" then pointer to 12
			msg:   dnsMsg(1, 0x0100, 1, 0, []byte{1, 'a', 0xc0, 17, 0, 1, 'b', 0xc0, 12}),
			flags: []string{FlagMalformed},
			err:   ErrMalformed,
		},
		{
			name:  "extended label type",
			msg:   dnsMsg(1, 0x0100, 1, 0, []byte{0x41, 0, 0, 1, 0, 1}),
			flags: []string{FlagMalformed},
			err:   ErrMalformed,
		},
		{
			name:  "name over 255 bytes",
			msg:   dnsMsg(1, 0x0100, 1, 0, question(strings.Repeat(strings.Repeat("a", 63)+".", 4)+"com", TypeA)),
			flags: []string{FlagMalformed},
			err:   ErrMalformed,
		},
		{
			name:      "answer cut off",
			msg:       dnsMsg(1, 0x8180, 1, 1, question("a.b", TypeA), rr(ptr12, TypeA, 1, v4)[:12]),
			questions: []DNSQuestion{{"a.b", TypeA}},
			flags:     []string{FlagTruncated},
			err:       ErrTruncated,
		},
		{
			name:  "header only",
			msg:   []byte{1, 2, 3},
			flags: []string{FlagTruncated},
			err:   ErrTruncated,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseDNS(tt.msg)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
			if !slices.Equal(m.Questions, tt.questions) || !slices.Equal(m.Answers, tt.answers) || !slices.Equal(m.Flags, tt.flags) {
				t.Errorf("got\n  %+v\n  %+v\n  %v\nwant\n  %+v\n  %+v\n  %v", m.Questions, m.Answers, m.Flags, tt.questions, tt.answers, tt.flags)
			}
		})
	}
}

func TestParseDNSHeader(t *testing.T) {
	m, err := ParseDNS(dnsMsg(0xbeef, 0x8183, 0, 0))
	if err != nil || m.ID != 0xbeef || !m.Response || m.RCode != 3 {
		t.Errorf("%+v %v", m, err)
	}
}

func TestParseDNSRecordCap(t *testing.T) {
	body := [][]byte{question("relay.anydesk.com", TypeA)}
	for range 100 {
		body = append(body, rr(ptr12, TypeA, 5, []byte{10, 0, 0, 1}))
	}
	m, err := ParseDNS(dnsMsg(1, 0x8180, 1, 100, body...))
	if err != nil || len(m.Answers) != maxDNSRecords-1 || !slices.Equal(m.Flags, []string{FlagTooMany}) {
		t.Errorf("answers %d flags %v err %v", len(m.Answers), m.Flags, err)
	}
}

// A chain of backward pointers is cut after maxPointers jumps.
func TestParseDNSPointerChainCap(t *testing.T) {
	for _, tt := range []struct {
		n   int
		err error
	}{{maxPointers - 1, nil}, {100, ErrMalformed}} {
		// Answer 1 (TXT) holds the chain in its rdata: each pointer points
		// at the one before, the first at the question's name; answer 2's
		// owner points at the last.
		r := 12 + 5 + 4 + 12
		chain := []byte{0xc0, 12}
		for i := 1; i < tt.n; i++ {
			chain = binary.BigEndian.AppendUint16(chain, 0xc000|uint16(r+2*(i-1)))
		}
		last := binary.BigEndian.AppendUint16(nil, 0xc000|uint16(r+2*(tt.n-1)))
		msg := dnsMsg(1, 0x8180, 1, 2, question("a.b", TypeA), rr(ptr12, 16, 1, chain), rr(last, TypeA, 1, []byte{1, 2, 3, 4}))
		m, err := ParseDNS(msg)
		if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
			t.Errorf("%d pointers: err %v, want %v", tt.n, err, tt.err)
		}
		if tt.err == nil && (len(m.Answers) != 1 || m.Answers[0].Name != "a.b") {
			t.Errorf("%d pointers: %+v", tt.n, m.Answers)
		}
	}
}
