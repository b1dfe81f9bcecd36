package packet

import (
	"os"
	"testing"
	"time"
)

// seedPayloads adds every recorded frame, or its TCP/UDP payload, to f.
func seedFrames(f *testing.F, payloads bool) {
	d := NewDecoder()
	for _, name := range pcaps {
		for _, fr := range readPcap(f, name) {
			if !payloads {
				f.Add(int(fr.link), fr.data)
				continue
			}
			var p Packet
			if d.Decode(fr.link, fr.data, &p) == nil && len(p.Payload) > 0 {
				f.Add(p.Payload)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	seedFrames(f, false)
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, link int, frame []byte) {
		var p Packet
		d.Decode(LinkType(link%6), frame, &p)
		if len(p.Payload) > len(frame) {
			t.Fatalf("payload %d bytes from a %d-byte frame", len(p.Payload), len(frame))
		}
	})
}

func FuzzParseDNS(f *testing.F) {
	seedFrames(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := ParseDNS(b)
		if len(m.Questions)+len(m.Answers) > maxDNSRecords {
			t.Fatalf("%d records", len(m.Questions)+len(m.Answers))
		}
		for _, q := range m.Questions {
			if len(q.Name) > 4*maxNameWire {
				t.Fatalf("name of %d bytes", len(q.Name))
			}
		}
	})
}

func FuzzParseClientHello(f *testing.F) {
	seedFrames(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, _ := ParseClientHello(b)
		if len(h.ALPN) > maxALPN {
			t.Fatalf("%d ALPN entries", len(h.ALPN))
		}
	})
}

func FuzzParseQUICInitial(f *testing.F) {
	seedFrames(f, true)
	if b, err := os.ReadFile("testdata/rfc9001_a2_client_initial.hex"); err == nil {
		f.Add(mustHex(string(b)))
	}
	// A plaintext-shaped seed: the fuzzer mostly mutates headers, since
	// any change to the ciphertext fails authentication.
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		var q QUICInitial
		parseQUICInitial(b, &q, &d.s)
		if len(q.DCID) > maxCID || len(q.SCID) > maxCID {
			t.Fatalf("cid lengths %d %d", len(q.DCID), len(q.SCID))
		}
	})
}

// FuzzQUICFrames fuzzes the frame walker and ClientHello parser behind the
// AEAD, which FuzzParseQUICInitial cannot reach with mutated ciphertext.
func FuzzQUICFrames(f *testing.F) {
	f.Add(padTo(cryptoFrame(0, rfcHello), 100))
	f.Add(append(cryptoFrame(100, rfcHello[100:]), cryptoFrame(0, rfcHello[:100])...))
	var s scratch
	f.Fuzz(func(t *testing.T, plain []byte) {
		var q QUICInitial
		q.frames(plain, &s)
	})
}

func FuzzParseSTUN(f *testing.F) {
	seedFrames(f, true)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _ := ParseSTUN(b)
		if len(m.Software) > maxSoftware || len(m.Username) > maxUsername || len(m.Realm) > maxRealm {
			t.Fatalf("attribute over its cap")
		}
	})
}

// BenchmarkDecodePcap decodes every recorded frame (DNS, TLS, STUN, QUIC
// and the TCP/ICMP frames around them) repeatedly with one Decoder. testdata/README.md has the figures and the
// same files through tshark.
func BenchmarkDecodePcap(b *testing.B) {
	var frames []frame
	for _, name := range pcaps {
		frames = append(frames, readPcap(b, name)...)
	}
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		for _, fr := range frames {
			d.Decode(fr.link, fr.data, &p)
		}
		n += len(frames)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "packets/s")
	b.ReportMetric(float64(len(frames)), "packets/op")
}

// BenchmarkDecodeFiltered decodes only the frames a capture filter would
// pass to the sniffer: the DNS, ClientHello, STUN and QUIC Initial ones.
func BenchmarkDecodeFiltered(b *testing.B) {
	d := NewDecoder()
	var frames []frame
	for _, name := range pcaps {
		for _, fr := range readPcap(b, name) {
			var p Packet
			d.Decode(fr.link, fr.data, &p)
			if p.DNS != nil || p.TLS != nil || p.STUN != nil || p.QUIC != nil {
				frames = append(frames, fr)
			}
		}
	}
	for _, kind := range []struct {
		name string
		keep func(*Packet) bool
	}{
		{"all", func(*Packet) bool { return true }},
		{"dns", func(p *Packet) bool { return p.DNS != nil }},
		{"tls", func(p *Packet) bool { return p.TLS != nil }},
		{"stun", func(p *Packet) bool { return p.STUN != nil }},
		{"quic", func(p *Packet) bool { return p.QUIC != nil }},
	} {
		var sel []frame
		for _, fr := range frames {
			var p Packet
			d.Decode(fr.link, fr.data, &p)
			if kind.keep(&p) {
				sel = append(sel, fr)
			}
		}
		b.Run(kind.name, func(b *testing.B) {
			var p Packet
			b.ReportAllocs()
			start := time.Now()
			n := 0
			for b.Loop() {
				for _, fr := range sel {
					d.Decode(fr.link, fr.data, &p)
				}
				n += len(sel)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "packets/s")
		})
	}
}
