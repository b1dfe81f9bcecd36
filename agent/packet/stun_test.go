package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func stunAttr(typ uint16, v []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

var txid = [12]byte{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae}

func stunMsg(typ uint16, attrs ...[]byte) []byte {
	a := slices.Concat(attrs...)
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
	b = binary.BigEndian.AppendUint32(b, MagicCookie)
	b = append(b, txid[:]...)
	return append(b, a...)
}

func TestParseSTUN(t *testing.T) {
	// RFC 5769 §2.2: XOR-MAPPED-ADDRESS 192.0.2.1:32853.
	xorV4 := []byte{0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43}
	// RFC 5769 §2.3: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853 with this txid.
	xorV6 := []byte{0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
		0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9}
	tests := []struct {
		name string
		in   []byte
		want STUN
		err  error
	}{
		{"binding success IPv4", stunMsg(0x0101, stunAttr(0x8022, []byte("test vector ")), stunAttr(0x0020, xorV4)),
			STUN{Type: 0x0101, Method: 1, Class: ClassSuccess, TransactionID: txid, Software: "test vector ",
				XORMappedAddress: netip.MustParseAddrPort("192.0.2.1:32853")}, nil},
		{"binding success IPv6", stunMsg(0x0101, stunAttr(0x0020, xorV6)),
			STUN{Type: 0x0101, Method: 1, Class: ClassSuccess, TransactionID: txid,
				XORMappedAddress: netip.MustParseAddrPort("[2001:db8:1234:5678:11:2233:4455:6677]:32853")}, nil},
		{"TURN allocate error with realm and username", stunMsg(0x0113, stunAttr(0x0006, []byte("evtj:h6vY")), stunAttr(0x0014, []byte("example.org"))),
			STUN{Type: 0x0113, Method: 3, Class: ClassError, TransactionID: txid, Username: "evtj:h6vY", Realm: "example.org"}, nil},
		{"indication", stunMsg(0x0011),
			STUN{Type: 0x0011, Method: 1, Class: ClassIndication, TransactionID: txid}, nil},
		{"software over 763 bytes capped", stunMsg(0x0001, stunAttr(0x8022, []byte(strings.Repeat("s", 800)))),
			STUN{Type: 1, Method: 1, TransactionID: txid, Software: strings.Repeat("s", 763), Flags: []string{FlagBadLength}}, nil},
		{"xor-mapped of bad size", stunMsg(0x0101, stunAttr(0x0020, xorV4[:6])),
			STUN{Type: 0x0101, Method: 1, Class: ClassSuccess, TransactionID: txid, Flags: []string{FlagBadLength}}, nil},
		{"attribute past the end", stunMsg(0x0001, []byte{0x80, 0x22, 0x00, 0x40, 'a', 'b', 'c', 'd'}),
			STUN{Type: 1, Method: 1, TransactionID: txid, Flags: []string{FlagTruncated}}, ErrTruncated},
		{"channel data", []byte{0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, STUN{Flags: []string{FlagChannelData}}, nil},
		{"channel data cut", []byte{0x40, 0x00, 0x00, 0x08, 1, 2, 3, 4}, STUN{Flags: []string{FlagChannelData, FlagTruncated}}, ErrTruncated},
		{"wrong cookie", slices.Concat([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x43}, txid[:]), STUN{}, ErrMalformed},
		{"short", []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42}, STUN{Flags: []string{FlagTruncated}}, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseSTUN(tt.in)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
			flags, wantFlags := m.Flags, tt.want.Flags
			m.Flags, tt.want.Flags = nil, nil
			if !reflect.DeepEqual(*m, tt.want) {
				t.Errorf("got %+v\nwant %+v", *m, tt.want)
			}
			if !slices.Equal(flags, wantFlags) {
				t.Errorf("flags %v, want %v", flags, wantFlags)
			}
		})
	}
}

func TestSTUNAttributeCap(t *testing.T) {
	var attrs [][]byte
	for range 100 {
		attrs = append(attrs, stunAttr(0x8028, []byte{1, 2, 3, 4})) // FINGERPRINT-shaped filler
	}
	attrs = append(attrs, stunAttr(0x8022, []byte("late")))
	m, err := ParseSTUN(stunMsg(0x0001, attrs...))
	if err != nil || m.Software != "" || !slices.Equal(m.Flags, []string{FlagTooMany}) {
		t.Errorf("%+v %v", m, err)
	}
}
