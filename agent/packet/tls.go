package packet

import "fmt"

// TLS limits: a record holds at most 2^14 bytes plus expansion (RFC 8446
// §5.2); a ClientHello over maxHello bytes is not worth reassembling.
const (
	maxRecord = 1<<14 + 256
	maxHello  = 1 << 16
	maxALPN   = 16
)

// ClientHello is what the sniffer wants from a TLS ClientHello.
type ClientHello struct {
	SNI     string   // the first host_name, lower-cased, unusual bytes escaped; "" if none
	ALPN    []string // offered protocols, at most 16
	Version uint16   // 0x0304 when supported_versions offers TLS 1.3, else legacy_version
	Flags   []string
}

var (
	errTLSTruncated = fmt.Errorf("tls: %w", ErrTruncated)
	errTLSNotHello  = fmt.Errorf("tls: not a ClientHello: %w", ErrMalformed)
	errTLSRecord    = fmt.Errorf("tls: bad record: %w", ErrMalformed)
	errTLSHello     = fmt.Errorf("tls: bad ClientHello: %w", ErrMalformed)
)

func (h *ClientHello) reset() {
	*h = ClientHello{ALPN: h.ALPN[:0], Flags: h.Flags[:0]}
}

func (h *ClientHello) flag(f string) { h.Flags = addFlag(h.Flags, f) }

// ParseClientHello parses a ClientHello from a TCP payload that starts with
// TLS record(s); a ClientHello spread over several handshake records in b is
// reassembled. When b ends early the error wraps ErrTruncated and the
// returned ClientHello holds whatever was found (often the SNI already).
func ParseClientHello(b []byte) (*ClientHello, error) {
	var h ClientHello
	var s scratch
	err := parseClientHello(b, &h, &s)
	return &h, err
}

func parseClientHello(b []byte, h *ClientHello, s *scratch) error {
	var hs []byte
	copied, short := false, false
	for len(b) > 0 {
		if len(b) < 5 {
			short = true
			break
		}
		if b[0] != 0x16 || b[1] != 3 {
			if hs == nil {
				h.flag(FlagMalformed)
				return errTLSRecord
			}
			break // another record type after the handshake
		}
		n := int(be16(b[3:]))
		if n > maxRecord {
			h.flag(FlagBadLength)
			return errTLSRecord
		}
		body := b[5:]
		if n > len(body) {
			short = true
		} else {
			body = body[:n]
		}
		b = b[5+len(body):]
		switch {
		case hs == nil:
			hs = body // the usual case: one record, no copy
		case len(hs)+len(body) > maxHello:
			h.flag(FlagTooMany)
			b = nil
		default:
			if !copied {
				s.hs = append(s.hs[:0], hs...)
				copied = true
			}
			s.hs = append(s.hs, body...)
			hs = s.hs
		}
		if len(hs) >= 4 && 4+(int(hs[1])<<16|int(hs[2])<<8|int(hs[3])) <= len(hs) {
			break
		}
	}
	return parseHandshake(hs, h, s, short)
}

// parseHandshake parses a ClientHello handshake message (type, 3-byte
// length, body). short says the bytes were cut off by the capture.
func parseHandshake(hs []byte, h *ClientHello, s *scratch, short bool) error {
	if len(hs) >= 1 && hs[0] != 1 {
		h.flag(FlagMalformed)
		return errTLSNotHello
	}
	r := reader{b: hs}
	r.u8()
	n := r.u24()
	if n < len(r.b) {
		r.b = r.b[:n]
	} else if n > len(r.b) {
		short = true
	}
	h.Version = r.u16()
	r.bytes(32) // random
	if sid := r.vec8(); len(sid) > 32 {
		h.flag(FlagBadLength)
	}
	r.vec16() // cipher suites
	r.vec8()  // compression methods
	if !r.short && len(r.b) == 0 {
		return nil // no extensions: an SSLv3/TLS 1.0-era hello
	}
	exts := reader{b: r.vec16()}
	if r.short && !short {
		h.flag(FlagBadLength)
		return errTLSHello
	}
	for len(exts.b) >= 4 && !exts.short {
		typ := exts.u16()
		data := exts.vec16()
		if exts.short {
			break // the extension is cut off: do not read half of it
		}
		switch typ {
		case 0: // server_name
			if h.SNI == "" {
				h.SNI = readSNI(data, s)
			}
		case 16: // application_layer_protocol_negotiation
			list := reader{b: data}
			list.b = list.vec16()
			for len(list.b) > 0 {
				p := list.vec8()
				if list.short || len(p) == 0 {
					h.flag(FlagMalformed)
					break
				}
				if len(h.ALPN) == maxALPN {
					h.flag(FlagTooMany)
					break
				}
				h.ALPN = append(h.ALPN, s.names.str(p))
			}
		case 43: // supported_versions
			v := reader{b: data}
			v.b = v.vec8()
			for len(v.b) >= 2 {
				if v.u16() == 0x0304 {
					h.Version = 0x0304
				}
			}
		case 0xfe0d: // encrypted_client_hello
			h.flag(FlagECH)
		}
	}
	if short || r.short || exts.short {
		h.flag(FlagTruncated)
		return errTLSTruncated
	}
	return nil
}

// readSNI returns the first host_name of a server_name extension.
func readSNI(data []byte, s *scratch) string {
	r := reader{b: data}
	r.b = r.vec16()
	for len(r.b) > 0 && !r.short {
		typ := r.u8()
		name := r.vec16()
		if r.short || typ != 0 || len(name) == 0 || len(name) > maxNameWire {
			continue
		}
		s.name = appendLabel(s.name[:0], name, false)
		return s.names.str(s.name)
	}
	return ""
}
