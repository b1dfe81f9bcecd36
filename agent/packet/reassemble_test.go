package packet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// bigHello is a ClientHello with a 1,200-byte key_share before the SNI and
// ALPN, as a post-quantum hello: the SNI is past the first packet.
func bigHello() []byte {
	ks := binary.BigEndian.AppendUint16(nil, 1204)
	ks = append(ks, 0x11, 0xec, 0x04, 0xb0) // X25519MLKEM768, 1200 bytes
	ks = append(ks, make([]byte, 1200)...)
	alpn := []byte{0, 3, 2, 'h', '3'}
	return helloWith(ext(51, ks), sniExt("relay.teamviewer.com"), ext(16, alpn))
}

// splitInitials seals the hello's CRYPTO data cut at the given offsets,
// one Initial per piece.
func splitInitials(t testing.TB, version uint32, dcid []byte, hello []byte, cuts ...int) [][]byte {
	var out [][]byte
	lo := 0
	for i, hi := range append(cuts, len(hello)) {
		out = append(out, ipv4(ProtoUDP, 0, udp(50000, 443,
			sealInitial(t, version, dcid, []byte{9, 9}, uint32(i), padTo(cryptoFrame(lo, hello[lo:hi]), 1162)))))
		lo = hi
	}
	return out
}

func TestReassembleQUIC(t *testing.T) {
	h := bigHello()
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, tt := range []struct {
		name    string
		version uint32
		cuts    []int
		order   []int
	}{
		{"two in order", QUICv1, []int{1000}, []int{0, 1}},
		{"two reversed", QUICv1, []int{1000}, []int{1, 0}},
		{"three in order, v2", QUICv2, []int{500, 1000}, []int{0, 1, 2}},
		{"three shuffled", QUICv1, []int{500, 1000}, []int{2, 0, 1}},
		{"three, first last", QUICv1, []int{400, 900}, []int{1, 2, 0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pkts := splitInitials(t, tt.version, dcid, h, tt.cuts...)
			// Without a Reassembler no packet has the SNI.
			d := NewDecoder()
			for _, i := range tt.order {
				var p Packet
				d.Decode(LinkRaw, pkts[i], &p)
				if p.QUIC == nil || p.QUIC.SNI != "" {
					t.Fatalf("no reassembly, #%d: %+v", i, p.QUIC)
				}
			}
			r := NewReassembler()
			d = NewDecoder(WithReassembler(r))
			for n, i := range tt.order {
				var p Packet
				if err := d.Decode(LinkRaw, pkts[i], &p); err != nil {
					t.Fatal(err)
				}
				q := p.QUIC
				if n < len(tt.order)-1 {
					if q.SNI != "" || slices.Contains(q.Flags, FlagReassembled) {
						t.Errorf("packet %d: %+v", i, q)
					}
					continue
				}
				if q.SNI != "relay.teamviewer.com" || !slices.Equal(q.ALPN, []string{"h3"}) ||
					!slices.Equal(q.Flags, []string{FlagReassembled}) || q.Version != tt.version {
					t.Errorf("completing packet %d: %+v", i, q)
				}
			}
			if s := r.Stats(); s.Started != 1 || s.Completed != 1 || r.Len() != 0 {
				t.Errorf("stats %+v, %d live", s, r.Len())
			}
		})
	}
}

// Two connections interleaved, and one that never completes.
func TestReassembleQUICInterleaved(t *testing.T) {
	h := bigHello()
	a := splitInitials(t, QUICv1, []byte{1, 1, 1, 1, 1, 1, 1, 1}, h, 700)
	b := splitInitials(t, QUICv1, []byte{2, 2, 2, 2, 2, 2, 2, 2}, h, 1100)
	c := splitInitials(t, QUICv1, []byte{3, 3, 3, 3, 3, 3, 3, 3}, h, 900)
	r := NewReassembler()
	d := NewDecoder(WithReassembler(r))
	done := 0
	for _, pkt := range [][]byte{a[0], b[1], c[0], b[0], a[1]} {
		var p Packet
		d.Decode(LinkRaw, pkt, &p)
		if p.QUIC.SNI != "" {
			done++
		}
	}
	if s := r.Stats(); done != 2 || s.Completed != 2 || r.Len() != 1 {
		t.Errorf("%d completed, stats %+v, %d live", done, s, r.Len())
	}
}

func TestReassembleLimits(t *testing.T) {
	h := bigHello()
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	r := NewReassembler()
	d := NewDecoder(WithReassembler(r))
	var p Packet
	// More unfinished hellos than slots: the oldest go.
	first := splitInitials(t, QUICv1, []byte{0, 0, 0, 0}, h, 1000)
	d.DecodeAt(LinkRaw, first[0], at, &p)
	for i := range MaxReassemblyFlows + 44 {
		pkts := splitInitials(t, QUICv1, []byte{1, byte(i >> 8), byte(i), 0}, h, 1000)
		d.DecodeAt(LinkRaw, pkts[0], at.Add(time.Duration(i+1)*time.Millisecond), &p)
	}
	if s := r.Stats(); r.Len() != MaxReassemblyFlows || s.Evicted != 45 {
		t.Errorf("%d live, stats %+v", r.Len(), s)
	}
	d.DecodeAt(LinkRaw, first[1], at.Add(time.Second), &p)
	if p.QUIC.SNI != "" {
		t.Error("evicted hello completed")
	}
	// A continuation after the timeout is not joined to the start.
	r = NewReassembler()
	d = NewDecoder(WithReassembler(r))
	d.DecodeAt(LinkRaw, first[0], at, &p)
	d.DecodeAt(LinkRaw, first[1], at.Add(ReassemblyTimeout+time.Millisecond), &p)
	if s := r.Stats(); p.QUIC.SNI != "" || s.Expired != 1 || s.Completed != 0 {
		t.Errorf("late continuation: %+v, stats %+v", p.QUIC, s)
	}
	// CRYPTO data past 16 KiB is dropped.
	var f rflow
	for i := range maxQUICRanges {
		if !f.addRange(2*i, 2*i+1) {
			t.Fatalf("range %d refused", i)
		}
	}
	if f.addRange(1000, 1001) || !f.addRange(0, 1000) || f.nr != 1 {
		t.Errorf("ranges: %d %v", f.nr, f.ranges[:f.nr])
	}
	if _, ok := r.quic(QUICv1, []byte{7}, make([]byte, MaxReassemblyBytes+1), [][2]int{{0, 10}, {MaxReassemblyBytes, MaxReassemblyBytes + 1}}, at); ok || r.Stats().Overflow != 1 {
		t.Errorf("overflow: %+v", r.Stats())
	}
}

// tcpSeg is tcp() with a sequence number.
func tcpSeg(sp, dp uint16, seq uint32, payload []byte) []byte {
	b := tcp(sp, dp, 0x18, payload)
	binary.BigEndian.PutUint32(b[4:], seq)
	return ipv4(ProtoTCP, 0, b)
}

func TestReassembleTLS(t *testing.T) {
	h := bigHello()
	one := record(0x16, h)
	// The same hello in two handshake records.
	two := slices.Concat(record(0x16, h[:800]), record(0x16, h[800:]))
	const isn = 0xfffffc00 // the sequence numbers wrap inside the hello
	seg := func(b []byte, lo, hi int) []byte { return tcpSeg(50000, 443, isn+uint32(lo), b[lo:hi]) }
	for _, tt := range []struct {
		name string
		segs [][]byte
		done int // the segment that completes it; -1 none
	}{
		{"two segments", [][]byte{seg(one, 0, 1000), seg(one, 1000, len(one))}, 1},
		{"three segments", [][]byte{seg(one, 0, 500), seg(one, 500, 1000), seg(one, 1000, len(one))}, 2},
		{"two records in two segments", [][]byte{seg(two, 0, 1000), seg(two, 1000, len(two))}, 1},
		{"retransmission and overlap", [][]byte{seg(one, 0, 600), seg(one, 0, 600), seg(one, 300, 900), seg(one, 900, len(one))}, 3},
		{"hole, then filled", [][]byte{seg(one, 0, 500), seg(one, 1000, len(one)), seg(one, 500, 1000), seg(one, 1000, len(one))}, 3},
		{"continuation first", [][]byte{seg(one, 1000, len(one)), seg(one, 0, 1000)}, -1},
		{"other flow", [][]byte{seg(one, 0, 1000), tcpSeg(50001, 443, isn+1000, one[1000:])}, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReassembler()
			d := NewDecoder(WithReassembler(r))
			for i, s := range tt.segs {
				var p Packet
				if err := d.Decode(LinkRaw, s, &p); err != nil {
					t.Fatal(err)
				}
				if i == tt.done {
					if p.TLS == nil || p.TLS.SNI != "relay.teamviewer.com" || !slices.Equal(p.TLS.ALPN, []string{"h3"}) ||
						!slices.Equal(p.TLS.Flags, []string{FlagReassembled}) {
						t.Errorf("segment %d: %+v", i, p.TLS)
					}
				} else if p.TLS != nil && p.TLS.SNI != "" {
					t.Errorf("segment %d: %+v", i, p.TLS)
				}
			}
			if tt.done >= 0 && r.Len() != 0 {
				t.Errorf("%d live after completion", r.Len())
			}
		})
	}
}

// A crypto/tls (Go 1.26) ClientHello with the default X25519MLKEM768 key
// share, written in 1000-byte pieces: tshark reports it on the second
// segment. SNI and ALPN are in the first segment (the key share follows
// them), so the first is reported truncated, the second complete.
func TestRecordedTLSSplit(t *testing.T) {
	frames := readPcap(t, "tls_split_teamviewer.pcap")
	for _, reassemble := range []bool{false, true} {
		var opts []Option
		if reassemble {
			opts = append(opts, WithReassembler(NewReassembler()))
		}
		d := NewDecoder(opts...)
		var got []string
		for i, fr := range frames {
			var p Packet
			if err := d.Decode(fr.link, fr.data, &p); err != nil {
				t.Fatal(err)
			}
			if p.TLS != nil {
				got = append(got, fmt.Sprint(i, " ", p.TLS.SNI, p.TLS.ALPN, p.TLS.Flags))
			}
		}
		want := []string{"3 relay.teamviewer.com[h2 http/1.1] [truncated]"}
		if reassemble {
			want = append(want, "5 relay.teamviewer.com[h2 http/1.1] [reassembled]")
		}
		if !slices.Equal(got, want) {
			t.Errorf("reassemble %v: %q, want %q", reassemble, got, want)
		}
	}
}

// A ClientHello in one packet does not touch the Reassembler, and the
// reassembly path itself reuses its slots.
func TestReassembleAllocs(t *testing.T) {
	var frames []frame
	for _, name := range pcaps {
		frames = append(frames, readPcap(t, name)...)
	}
	d := NewDecoder(WithReassembler(NewReassembler()))
	var p Packet
	for _, fr := range frames {
		d.Decode(fr.link, fr.data, &p)
	}
	for _, fr := range frames {
		if n := testing.AllocsPerRun(20, func() { d.Decode(fr.link, fr.data, &p) }); n != 0 {
			t.Errorf("%d allocs decoding %v frame of %d bytes (%+v)", int(n), fr.link, len(fr.data), p)
		}
	}
	quic := splitInitials(t, QUICv1, []byte{1, 2, 3, 4, 5, 6, 7, 8}, bigHello(), 500, 1000)
	one := record(0x16, bigHello())
	tls := [][]byte{tcpSeg(50000, 443, 1, one[:1000]), tcpSeg(50000, 443, 1001, one[1000:])}
	for _, seq := range [][][]byte{quic, tls} {
		for range 2 {
			for _, f := range seq {
				d.Decode(LinkRaw, f, &p)
			}
		}
		if n := testing.AllocsPerRun(20, func() {
			for _, f := range seq {
				d.Decode(LinkRaw, f, &p)
			}
		}); n != 0 {
			t.Errorf("%d allocs reassembling", int(n))
		}
	}
}

// The recorded x/net/quic ML-KEM hello: its second Initial completes it.
func TestRecordedQUICReassembled(t *testing.T) {
	frames := readPcap(t, "quic_initial.pcap")
	d := NewDecoder(WithReassembler(NewReassembler()))
	var got []string
	for i, fr := range frames {
		var p Packet
		d.Decode(fr.link, fr.data, &p)
		if p.QUIC != nil && p.QUIC.SNI != "" {
			got = append(got, fmt.Sprint(i, " ", p.QUIC.SNI, p.QUIC.ALPN, p.QUIC.Flags))
		}
	}
	want := []string{"0 derp1.tailscale.com[h3] []", "4 relay.teamviewer.com[h3] [truncated]", "6 relay.teamviewer.com[h3] [reassembled]"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzReassembler feeds sequences of fragments: each op byte picks a flow,
// QUIC or TCP, and a piece of a large hello (or garbage) to add.
func FuzzReassembler(f *testing.F) {
	f.Add([]byte{0, 10, 20, 1, 0, 0, 2, 30, 40})
	f.Add([]byte{3, 0, 200, 3, 200, 255, 4, 0, 100, 4, 100, 255})
	h := bigHello()
	rec := record(0x16, h)
	r := NewReassembler()
	d := NewDecoder(WithReassembler(r))
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ops []byte) {
		for len(ops) >= 3 {
			op, a, b := ops[0], int(ops[1])*len(h)/255, int(ops[2])*len(h)/255
			ops = ops[3:]
			at = at.Add(time.Duration(op&0xf0) * 10 * time.Millisecond)
			lo, hi := min(a, b), max(a, b)
			switch op % 4 {
			case 0, 1: // CRYPTO data at an offset, for one of 2 DCIDs
				crypto := slices.Concat(h, make([]byte, 64))
				if op%8 >= 4 { // garbage, far offsets
					crypto = make([]byte, MaxReassemblyBytes+int(op))
					hi = len(crypto) - int(ops0(ops))
				}
				if hs, ok := r.quic(QUICv1, []byte{op % 2}, crypto, [][2]int{{lo, hi}}, at); ok {
					var ch ClientHello
					parseHandshake(hs, &ch, &d.s, false)
				}
			case 2: // a TLS segment of one of 3 flows
				var p Packet
				seg := rec[min(lo, len(rec)):min(hi, len(rec))]
				d.DecodeAt(LinkRaw, tcpSeg(uint16(op%3), 443, 1+uint32(lo), seg), at, &p)
			case 3: // many flows at once
				for i := range int(op) {
					r.tcpStart(netipPort(i), netipPort(0), uint32(i), rec[:lo], at)
				}
			}
			if r.Len() > MaxReassemblyFlows || r.nTCP < 0 || r.nTCP > r.Len() {
				t.Fatalf("%d flows, %d tcp", r.Len(), r.nTCP)
			}
			for i := range r.slots {
				s := &r.slots[i]
				if len(s.buf) > MaxReassemblyBytes || cap(s.buf) > MaxReassemblyBytes || s.nr > maxQUICRanges {
					t.Fatalf("slot %d: %d bytes, %d ranges", i, len(s.buf), s.nr)
				}
			}
		}
	})
}

func ops0(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func netipPort(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(i))
}

// BenchmarkReassemble decodes the recorded frames with a Reassembler
// (compare BenchmarkDecodePcap), then a hello in three Initials.
func BenchmarkReassemble(b *testing.B) {
	var frames []frame
	for _, name := range pcaps {
		frames = append(frames, readPcap(b, name)...)
	}
	d := NewDecoder(WithReassembler(NewReassembler()))
	var p Packet
	b.Run("pcap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, fr := range frames {
				d.Decode(fr.link, fr.data, &p)
			}
		}
	})
	quic := splitInitials(b, QUICv1, []byte{1, 2, 3, 4, 5, 6, 7, 8}, bigHello(), 500, 1000)
	b.Run("quic3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, f := range quic {
				d.Decode(LinkRaw, f, &p)
			}
		}
	})
}
