package packet

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// recordedHello returns the TCP payload of the recorded openssl ClientHello.
func recordedHello(t *testing.T) []byte {
	t.Helper()
	d := NewDecoder()
	for _, fr := range readPcap(t, "tls_rustdesk.pcap") {
		var p Packet
		if d.Decode(fr.link, fr.data, &p) == nil && p.TLS != nil {
			return slices.Clone(p.Payload)
		}
	}
	t.Fatal("no ClientHello in tls_rustdesk.pcap")
	return nil
}

func record(typ byte, body []byte) []byte {
	b := []byte{typ, 3, 1, 0, 0}
	binary.BigEndian.PutUint16(b[3:], uint16(len(body)))
	return append(b, body...)
}

// helloWith builds a ClientHello handshake message with the given extensions.
func helloWith(exts ...[]byte) []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...)
	body = append(body, 0)                // session id
	body = append(body, 0, 2, 0x13, 0x01) // one cipher suite
	body = append(body, 1, 0)             // null compression
	e := slices.Concat(exts...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(e)))
	body = append(body, e...)
	return slices.Concat([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body)
}

func ext(typ uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func sniExt(names ...string) []byte {
	var list []byte
	for _, n := range names {
		list = append(list, 0)
		list = binary.BigEndian.AppendUint16(list, uint16(len(n)))
		list = append(list, n...)
	}
	return ext(0, slices.Concat(binary.BigEndian.AppendUint16(nil, uint16(len(list))), list))
}

func TestParseClientHello(t *testing.T) {
	rec := recordedHello(t)
	hs := rec[5:]
	wantALPN := []string{"h2", "http/1.1"}
	tests := []struct {
		name  string
		in    []byte
		sni   string
		alpn  []string
		vers  uint16
		flags []string
		err   error
	}{
		{"recorded openssl hello", rec, "rs-ny.rustdesk.com", wantALPN, 0x0304, nil, nil},
		{"split over two records", slices.Concat(record(0x16, hs[:100]), record(0x16, hs[100:])), "rs-ny.rustdesk.com", wantALPN, 0x0304, nil, nil},
		{"split over three records, then app data", slices.Concat(record(0x16, hs[:3]), record(0x16, hs[3:200]), record(0x16, hs[200:]), record(0x17, []byte{1})),
			"rs-ny.rustdesk.com", wantALPN, 0x0304, nil, nil},
		{"second record missing", record(0x16, hs[:200]), "rs-ny.rustdesk.com", nil, 0x0303, []string{FlagTruncated}, ErrTruncated},
		{"cut inside the record", rec[:200], "rs-ny.rustdesk.com", nil, 0x0303, []string{FlagTruncated}, ErrTruncated},
		{"cut before the extensions", rec[:60], "", nil, 0x0303, []string{FlagTruncated}, ErrTruncated},
		{"ServerHello", record(0x16, slices.Concat([]byte{2}, hs[1:])), "", nil, 0, []string{FlagMalformed}, ErrMalformed},
		{"not a handshake record", record(0x17, hs), "", nil, 0, []string{FlagMalformed}, ErrMalformed},
		{"record over 2^14", []byte{0x16, 3, 1, 0x50, 0}, "", nil, 0, []string{FlagBadLength}, ErrMalformed},
		{"ECH, upper-case SNI, second name ignored", record(0x16, helloWith(sniExt("Cover.Example.NET", "x"), ext(0xfe0d, []byte{0}))),
			"cover.example.net", nil, 0x0303, []string{FlagECH}, nil},
		{"SNI with a NUL byte escaped", record(0x16, helloWith(sniExt("a\x00b"))), `a\000b`, nil, 0x0303, nil, nil},
		{"empty ALPN entry", record(0x16, helloWith(ext(16, []byte{0, 1, 0}))), "", nil, 0x0303, []string{FlagMalformed}, nil},
		{"no extensions", record(0x16, helloWith()[:4+2+32+1+4+2]), "", nil, 0x0303, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.in)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Errorf("err %v, want %v", err, tt.err)
			}
			if h.SNI != tt.sni || !slices.Equal(h.ALPN, tt.alpn) || h.Version != tt.vers || !slices.Equal(h.Flags, tt.flags) {
				t.Errorf("got %+v, want SNI %q ALPN %v version %#x flags %v", h, tt.sni, tt.alpn, tt.vers, tt.flags)
			}
		})
	}
}
