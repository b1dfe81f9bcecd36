package netwatch

import (
	"net/netip"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/packet"
	"github.com/farmwatch/farmwatch/catalog"
)

func analyzer(t *testing.T) *Analyzer {
	t.Helper()
	c, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return New(c)
}

func TestNamesMapToTools(t *testing.T) {
	a := analyzer(t)
	for name, want := range map[string]string{
		"relay-1a2b3c4d.net.anydesk.com": "anydesk",
		"RS-NY.RustDesk.com.":            "rustdesk",
		"derp7.tailscale.com":            "tailscale",
		"router15.teamviewer.com":        "teamviewer",
		"example.com":                    "",
		"notanydesk.com":                 "",
	} {
		if got := a.ToolFor(name); got != want {
			t.Errorf("%s → %q, want %q", name, got, want)
		}
	}
}

func TestStateIsBounded(t *testing.T) {
	a := analyzer(t)
	at := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	src := netip.MustParseAddrPort("192.0.2.10:5353")
	for i := range MaxNames + 500 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p := &packet.Packet{Src: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.53"), 53), Dst: src, Proto: 17,
			DNS: &packet.DNS{Response: true, Questions: []packet.DNSQuestion{{Name: "relay-0000beef.net.anydesk.com", Type: 1}},
				Answers: []packet.DNSAnswer{{Name: "relay-0000beef.net.anydesk.com", Type: 1, TTL: 60, Addr: addr}}}}
		a.Observe(p, at)
	}
	a.mu.Lock()
	n := len(a.names)
	a.mu.Unlock()
	if n > MaxNames {
		t.Fatalf("%d names kept, cap %d", n, MaxNames)
	}
	// Many different STUN peers: observations stop at the cap and drops are counted.
	for i := range MaxObservations + 10 {
		a.Observe(&packet.Packet{Src: src, Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), 3478), Proto: 17,
			STUN: &packet.STUN{Method: 1}}, at)
	}
	if got := len(a.Snapshot(time.Time{})); got > MaxObservations {
		t.Fatalf("%d observations kept", got)
	}
	if a.Stats().Dropped == 0 {
		t.Error("drops not counted")
	}
	a.Expire(at.Add(time.Minute))
	if got := len(a.Snapshot(time.Time{})); got != 0 {
		t.Errorf("%d observations after expiry", got)
	}
}
