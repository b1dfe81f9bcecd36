package packet

import (
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

type frame struct {
	link LinkType
	data []byte
}

// readPcap returns the frames of a pcap in testdata.
func readPcap(tb testing.TB, name string) []frame {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	link, ok := LinkTypeFromPcap(uint32(r.LinkType()))
	if !ok {
		tb.Fatalf("%s: link type %v", name, r.LinkType())
	}
	var out []frame
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		out = append(out, frame{link, data})
	}
}

var pcaps = []string{"dns_anydesk.pcap", "tls_rustdesk.pcap", "stun_binding.pcap", "quic_initial.pcap"}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// The recorded traffic, frame by frame: what record.sh put on the wire.
func TestRecordedDNS(t *testing.T) {
	frames := readPcap(t, "dns_anydesk.pcap")
	if len(frames) != 2 {
		t.Fatalf("%d frames, want query and answer", len(frames))
	}
	d := NewDecoder()
	var p Packet
	if err := d.Decode(frames[0].link, frames[0].data, &p); err != nil {
		t.Fatal(err)
	}
	if p.DNS == nil || p.Proto != ProtoUDP || p.Dst.Port() != 5353 || p.Src.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("query: %+v", p)
	}
	q := *p.DNS
	if q.Response || len(q.Questions) != 1 || q.Questions[0] != (DNSQuestion{"relay-1a2b3c4d.net.anydesk.com", TypeA}) || len(q.Answers) != 0 {
		t.Errorf("query: %+v", q)
	}
	if err := d.Decode(frames[1].link, frames[1].data, &p); err != nil {
		t.Fatal(err)
	}
	a := p.DNS
	want := DNSAnswer{Name: "relay-1a2b3c4d.net.anydesk.com", Type: TypeA, TTL: 0, Addr: netip.MustParseAddr("127.0.0.2")}
	if a == nil || !a.Response || a.ID != q.ID || a.RCode != 0 || len(a.Answers) != 1 || a.Answers[0] != want || len(a.Flags) != 0 {
		t.Errorf("answer: %+v", a)
	}
}

func TestRecordedTLS(t *testing.T) {
	d := NewDecoder()
	var hellos []ClientHello
	for _, fr := range readPcap(t, "tls_rustdesk.pcap") {
		var p Packet
		if err := d.Decode(fr.link, fr.data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Proto != ProtoTCP || (p.Src.Port() != 443 && p.Dst.Port() != 443) {
			t.Errorf("not the TLS flow: %v -> %v", p.Src, p.Dst)
		}
		if p.TLS != nil {
			if p.Dst.Port() != 443 || p.TCPFlags&0x08 == 0 {
				t.Errorf("ClientHello in %v -> %v flags %#x", p.Src, p.Dst, p.TCPFlags)
			}
			hellos = append(hellos, *p.TLS)
		}
	}
	if len(hellos) != 1 {
		t.Fatalf("%d ClientHellos, want 1 (the ServerHello must not count)", len(hellos))
	}
	h := hellos[0]
	if h.SNI != "rs-ny.rustdesk.com" || !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) || h.Version != 0x0304 || len(h.Flags) != 0 {
		t.Errorf("got %+v", h)
	}
}

func TestRecordedSTUN(t *testing.T) {
	frames := readPcap(t, "stun_binding.pcap")
	if len(frames) != 2 || frames[0].link != LinkSLL2 {
		t.Fatalf("%d frames, link %v", len(frames), frames[0].link)
	}
	d := NewDecoder()
	var req, resp Packet
	if err := d.Decode(frames[0].link, frames[0].data, &req); err != nil {
		t.Fatal(err)
	}
	r := *req.STUN
	if r.Type != 0x0001 || r.Method != 1 || r.Class != ClassRequest || string(r.TransactionID[:]) != "fw-txid-0001" ||
		r.Software != "farmwatch-test 1.0" || r.XORMappedAddress.IsValid() || len(r.Flags) != 0 || req.Dst != mustAddrPort("127.0.0.1:3478") {
		t.Errorf("request: %+v to %v", r, req.Dst)
	}
	if err := d.Decode(frames[1].link, frames[1].data, &resp); err != nil {
		t.Fatal(err)
	}
	s := resp.STUN
	// The responder echoed the request's source as XOR-MAPPED-ADDRESS.
	if s.Type != 0x0101 || s.Class != ClassSuccess || s.TransactionID != r.TransactionID ||
		s.Software != "farmwatch-test-responder" || s.XORMappedAddress != req.Src {
		t.Errorf("response: %+v, request from %v", s, req.Src)
	}
}

func TestRecordedQUIC(t *testing.T) {
	frames := readPcap(t, "quic_initial.pcap")
	if frames[0].link != LinkSLL {
		t.Fatalf("link %v", frames[0].link)
	}
	type got struct {
		dcid, sni string
		alpn      []string
		flags     []string
	}
	want := []got{
		// x25519 only: the whole ClientHello in one Initial.
		{"3381af9786664015", "derp1.tailscale.com", []string{"h3"}, nil},
		{}, // ICMP port unreachable
		{"3381af9786664015", "", nil, []string{FlagNoCrypto}}, // CONNECTION_CLOSE on timeout
		{},
		// ML-KEM key share: the ClientHello continues in the next Initial.
		{"b98fae5f1345e166", "relay.teamviewer.com", []string{"h3"}, []string{FlagTruncated}},
		{},
		{"b98fae5f1345e166", "", nil, []string{FlagNoCrypto}},
		{},
		{"b98fae5f1345e166", "", nil, []string{FlagNoCrypto}},
		{},
	}
	if len(frames) != len(want) {
		t.Fatalf("%d frames, want %d", len(frames), len(want))
	}
	d := NewDecoder()
	for i, fr := range frames {
		var p Packet
		if err := d.Decode(fr.link, fr.data, &p); err != nil {
			t.Fatalf("#%d: %v", i+1, err)
		}
		if want[i].dcid == "" {
			if p.Proto != 1 || p.QUIC != nil {
				t.Errorf("#%d: want ICMP, got proto %d %+v", i+1, p.Proto, p.QUIC)
			}
			continue
		}
		q := p.QUIC
		if q == nil {
			t.Fatalf("#%d: no QUIC", i+1)
		}
		g := got{hex.EncodeToString(q.DCID), q.SNI, q.ALPN, q.Flags}
		if g.dcid != want[i].dcid || g.sni != want[i].sni || !slices.Equal(g.alpn, want[i].alpn) || !slices.Equal(g.flags, want[i].flags) ||
			q.Version != QUICv1 || len(q.SCID) != 8 || p.Dst.Port() != 443 {
			t.Errorf("#%d: got %+v, want %+v", i+1, g, want[i])
		}
	}
}
