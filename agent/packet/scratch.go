package packet

// maxInterned bounds the Decoder's cache of name strings; when full it is
// emptied, so a flood of unique names costs allocations, not memory.
const maxInterned = 4096

// scratch holds the buffers a parse may reuse. A zero scratch works (the
// standalone Parse functions use one) and simply allocates as it goes.
type scratch struct {
	names  interner
	name   []byte                  // a DNS name or SNI being built
	hs     []byte                  // a TLS handshake message spread over records
	plain  []byte                  // a QUIC packet being decrypted
	crypto []byte                  // QUIC CRYPTO data reassembled by offset
	ch     ClientHello             // the ClientHello inside a QUIC Initial
	keys   [4]quicKeys             // recently used QUIC Initial keys, by DCID
	next   int                     // the keys slot to replace next
	mask   [16]byte                // QUIC header protection mask
	nonce  [12]byte                // QUIC AEAD nonce
	ranges [maxCryptoFrames][2]int // the CRYPTO ranges of the last QUIC packet
	nr     int                     // how many
}

// interner turns byte strings into strings, reusing earlier ones: names
// repeat (every answer usually repeats the question), so the steady state
// allocates nothing. A nil map interns nothing.
type interner struct{ m map[string]string }

func (in *interner) str(b []byte) string {
	if in.m == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if len(in.m) >= maxInterned {
		clear(in.m)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// appendLabel appends a DNS label or host name byte string in presentation
// form: ASCII letters lowered, and bytes that could be misread (dots inside
// a label, backslashes, controls, non-ASCII) escaped as \DDD or \. so that a
// crafted label cannot pass for a different name.
func appendLabel(dst, label []byte, escapeDot bool) []byte {
	for _, c := range label {
		switch {
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+('a'-'A'))
		case c == '.' && escapeDot, c == '\\':
			dst = append(dst, '\\', c)
		case c <= ' ' || c >= 0x7f:
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// reader reads big-endian fields from b; reading past the end sets short and
// returns zeros, so a parser can read a whole structure and check once.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) u8() uint8 {
	if len(r.b) < 1 {
		r.short = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if len(r.b) < 2 {
		r.short, r.b = true, nil
		return 0
	}
	v := be16(r.b)
	r.b = r.b[2:]
	return v
}

func (r *reader) u24() int {
	if len(r.b) < 3 {
		r.short, r.b = true, nil
		return 0
	}
	v := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	return v
}

// bytes returns the next n bytes, or what is left (and sets short).
func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		v := r.b
		r.short, r.b = true, nil
		return v
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }

// varint reads a QUIC variable-length integer (RFC 9000 §16).
func (r *reader) varint() uint64 {
	if len(r.b) < 1 {
		r.short = true
		return 0
	}
	n := 1 << (r.b[0] >> 6)
	if len(r.b) < n {
		r.short, r.b = true, nil
		return 0
	}
	v := uint64(r.b[0] & 0x3f)
	for _, c := range r.b[1:n] {
		v = v<<8 | uint64(c)
	}
	r.b = r.b[n:]
	return v
}
