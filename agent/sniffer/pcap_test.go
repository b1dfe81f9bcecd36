package sniffer

import (
	"testing"
	"time"

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
