package sniffer

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/farmwatch/farmwatch/agent/packet"

	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/catalog"
)

// TestReadPcapRegression runs the offline analysis (`farmwatch-agent sniff --pcap`) over the
// captures recorded with tshark from real clients (agent/packet/testdata/README.md).
func TestReadPcapRegression(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file, signal, tool, name, via string
	}{
		{"dns_anydesk.pcap", "relay.dns", "anydesk", "relay-1a2b3c4d.net.anydesk.com", "dns-query"},
		{"dns_anydesk.pcap", "relay.dns", "anydesk", "relay-1a2b3c4d.net.anydesk.com", "dns-answer"},
		{"tls_rustdesk.pcap", "relay.tls", "rustdesk", "rs-ny.rustdesk.com", "tls-sni"},
		{"quic_initial.pcap", "relay.tls", "tailscale", "derp1.tailscale.com", "quic-sni"},
		{"stun_binding.pcap", "relay.stun", "", "", "stun"},
	} {
		an := netwatch.New(cat)
		read, decoded, err := ReadPcap("../packet/testdata/"+tc.file, an)
		if err != nil || read == 0 || decoded != read {
			t.Fatalf("%s: read %d decoded %d: %v", tc.file, read, decoded, err)
		}
		found := false
		for _, o := range an.Snapshot(time.Time{}) {
			if o.Signal == tc.signal && o.Tool == tc.tool && o.Name == tc.name && o.Via == tc.via {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s %s %q via %s in %+v", tc.file, tc.signal, tc.tool, tc.name, tc.via, an.Snapshot(time.Time{}))
		}
	}
	an := netwatch.New(cat)
	if _, _, err := ReadPcap("../packet/testdata/README.md", an); err == nil {
		t.Error("a text file was accepted as a capture")
	}
	// A STUN response is the same exchange as its request, not a second one.
	an = netwatch.New(cat)
	if _, _, err := ReadPcap("../packet/testdata/stun_binding.pcap", an); err != nil {
		t.Fatal(err)
	}
	if n := len(an.Snapshot(time.Time{})); n != 1 {
		t.Errorf("STUN request and response gave %d observations, want 1", n)
	}
}

// TestCapReaderMatchesPcapgo reads every test capture with the agent's own readers and with
// gopacket's pcapgo (which the agent binary no longer links), as pcap and converted to pcapng
// (with nanosecond timestamps and two interfaces), and compares packet by packet.
func TestCapReaderMatchesPcapgo(t *testing.T) {
	files, _ := filepath.Glob("../packet/testdata/*.pcap")
	if len(files) == 0 {
		t.Fatal("no test captures")
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		want, wantTS, link, ng := readWithPcapgo(t, raw)
		wantLink, _ := packet.LinkTypeFromPcap(link)
		for _, format := range []struct {
			name string
			data []byte
		}{{"pcap", raw}, {"pcapng", ng}} {
			r, err := newCapReader(bytes.NewReader(format.data))
			if err != nil {
				t.Fatalf("%s as %s: %v", name, format.name, err)
			}
			for i := 0; ; i++ {
				b, ts, link, err := r.next()
				if err == io.EOF {
					if i != len(want) {
						t.Errorf("%s as %s: %d packets, want %d", name, format.name, i, len(want))
					}
					break
				}
				if err != nil {
					t.Fatalf("%s as %s: packet %d: %v", name, format.name, i+1, err)
				}
				if i >= len(want) || !bytes.Equal(b, want[i]) || !ts.Equal(wantTS[i]) || link != wantLink {
					t.Fatalf("%s as %s: packet %d differs (link %v, want %v; time %v, want %v)", name, format.name, i+1, link, wantLink, ts, wantTS[i])
				}
			}
		}
		// A truncated file ends in an error, not a silent EOF.
		r, err := newCapReader(bytes.NewReader(raw[:len(raw)-3]))
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, _, _, err = r.next(); err != nil {
				break
			}
		}
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%s truncated: %v, want io.ErrUnexpectedEOF", name, err)
		}
	}
}

// FuzzCapReader feeds arbitrary bytes to the pcap/pcapng reader (seeded with the test captures
// and their pcapng forms): it must return packets or an error, never panic, loop or allocate
// more than one packet's bound.
func FuzzCapReader(f *testing.F) {
	files, _ := filepath.Glob("../packet/testdata/*.pcap")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		_, _, _, ng := readWithPcapgo(f, b)
		f.Add(b)
		f.Add(ng)
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newCapReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		for n := 0; ; n++ {
			pkt, _, _, err := r.next()
			if err != nil {
				return
			}
			if len(pkt) > maxCaptured {
				t.Fatalf("packet of %d bytes past the %d bound", len(pkt), maxCaptured)
			}
			if n > len(data) {
				t.Fatalf("%d packets from %d bytes: not advancing", n, len(data))
			}
		}
	})
}

// readWithPcapgo reads a pcap file with gopacket's pcapgo and writes its packets as pcapng
// (nanosecond timestamps, a second interface before the packets' own).
func readWithPcapgo(tb testing.TB, raw []byte) (pkts [][]byte, ts []time.Time, link uint32, ng []byte) {
	tb.Helper()
	pr, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "a", LinkType: layers.LinkTypeRaw, SnapLength: 0xffff, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "b", LinkType: pr.LinkType(), SnapLength: 0xffff, TimestampResolution: 9}); err != nil {
		tb.Fatal(err)
	}
	for {
		b, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		pkts, ts = append(pkts, b), append(ts, ci.Timestamp)
		ci.InterfaceIndex = 1
		if err := w.WritePacket(ci, b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return pkts, ts, uint32(pr.LinkType()), buf.Bytes()
}
