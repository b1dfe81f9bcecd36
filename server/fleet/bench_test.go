package fleet

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// syntheticFleet builds farms of farmSize laptops (one egress, gateway and BSSID per farm, the
// laptops seeing each other and their gateway, each with its own real monitor; the first ten
// farms share a cloned PiKVM) and noise laptops alone at home (own egress, gateway and BSSID, a
// few IoT neighbours, a company monitor with a placeholder serial; every tenth of them
// behind a carrier NAT address shared with 99 others). Every laptop has Wi-Fi and Ethernet MACs and a
// VirtualBox host-only adapter (a MAC they all claim).
func syntheticFleet(farms, farmSize, noise int) []Member {
	day := 24 * time.Hour
	mac := func(oui uint32, n int) string {
		return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", oui>>16, (oui>>8)&0xff, oui&0xff, (n>>16)&0xff, (n>>8)&0xff, n&0xff)
	}
	addr := func(base netip.Addr, n int) string {
		b := base.As4()
		return netip.AddrFrom4([4]byte{b[0], b[1] + byte(n>>16), byte(n >> 8), byte(n)}).String()
	}
	farmEgress, noiseEgress, nat := netip.MustParseAddr("20.0.0.0"), netip.MustParseAddr("40.0.0.0"), netip.MustParseAddr("60.0.0.0")
	laptop := func(id, n int, egress string, gw, bssid string, neighbours []*pb.LanHost, disp *pb.Display) Member {
		wifi, eth := mac(0x3c22fb, n), mac(0x8c8caa, n)
		return Member{
			DeviceID: fmt.Sprintf("dev-%07d", id),
			Hostname: fmt.Sprintf("LT-%07d", id),
			MACs:     []string{wifi, eth},
			Egress: []store.Egress{
				{Address: egress, FirstSeen: now.Add(-10 * day), LastSeen: now.Add(-time.Hour)},
				{Address: addr(noiseEgress, 500000+id), FirstSeen: now.Add(-40 * day), LastSeen: now.Add(-30 * day)}, // old
			},
			Facts: &pb.Facts{
				Interfaces: []*pb.NetworkInterface{
					{Name: "wlan0", MacAddress: wifi}, {Name: "eth0", MacAddress: eth},
					{Name: "vboxnet0", MacAddress: "0a:00:27:00:00:00"}, {Name: "lo"},
				},
				Lan: &pb.Lan{
					Gateways:   []*pb.LanHost{{Ip: "192.168.1.1", Mac: gw}},
					Neighbours: neighbours,
					Wifi:       []*pb.WiFi{{Interface: "wlan0", Ssid: "HomeNet", Bssid: bssid, Known: true}},
				},
				Displays: []*pb.Display{disp},
			},
			FactsAt:  now.Add(-time.Hour),
			LastSeen: now.Add(-time.Hour),
		}
	}
	var ms []Member
	id := 0
	for f := range farms {
		gw, bssid := mac(0x001122, f), mac(0xa06391, f)
		for i := range farmSize {
			n := f*farmSize + i
			neigh := []*pb.LanHost{{Ip: "192.168.1.1", Mac: gw}}
			for j := range farmSize {
				if j != i {
					neigh = append(neigh, &pb.LanHost{Ip: fmt.Sprintf("192.168.1.%d", 10+j), Mac: mac(0x3c22fb, f*farmSize+j)})
				}
			}
			disp := &pb.Display{Status: "connected", Manufacturer: "DEL", ProductCode: 0x2013, SerialString: fmt.Sprintf("CN%08d", n)}
			if f < 10 && i == 0 {
				disp = pikvm()
			}
			ms = append(ms, laptop(id, n, addr(farmEgress, f), gw, bssid, neigh, disp))
			id++
		}
	}
	for k := range noise {
		n := farms*farmSize + k
		egress := addr(noiseEgress, k)
		if k%10 == 0 {
			egress = addr(nat, (k/10)%max(1, noise/1000)) // carrier NAT addresses, 100 devices each
		}
		neigh := []*pb.LanHost{
			{Ip: "192.168.0.1", Mac: mac(0x00aabb, n)},
			{Ip: "192.168.0.20", Mac: mac(0xb827eb, n)},
			{Ip: "192.168.0.21", Mac: mac(0x48da35, n)},
		}
		disp := &pb.Display{Status: "connected", Manufacturer: "DEL", ProductCode: 0x41a8, SerialNumber: 0x01010101}
		ms = append(ms, laptop(id, n, egress, mac(0x00aabb, n), mac(0xa06392, n), neigh, disp))
		id++
	}
	return ms
}

func TestSyntheticFleetClusters(t *testing.T) {
	ms := syntheticFleet(30, 5, 1000)
	clusters, notes := Correlate(ms, Config{}, now)
	if want := 30 - 9; len(clusters) != want { // the first ten farms are joined by their PiKVM
		t.Errorf("got %d clusters, want %d", len(clusters), want)
	}
	if len(clusters) > 0 && len(clusters[0].Members) != 50 {
		t.Errorf("largest cluster has %d members, want 50", len(clusters[0].Members))
	}
	// The VirtualBox adapter every laptop claims is in shared_macs.tab, so no MAC is ambiguous.
	want := []string{"egress 60.0.0.0: 100 devices within the window, more than 50: a carrier or corporate NAT, not one home; not linked"}
	if !slices.Equal(notes, want) {
		t.Errorf("notes = %q, want %q", notes, want)
	}
}

// BenchmarkCorrelate100k is a fleet of 100,000 laptops: 10,000 farms of 5 and 50,000 alone.
func BenchmarkCorrelate100k(b *testing.B) {
	ms := syntheticFleet(10000, 5, 50000)
	clusters, notes := Correlate(ms, Config{}, now)
	if want := 10000 - 9; len(clusters) != want {
		b.Fatalf("got %d clusters, want %d", len(clusters), want)
	}
	if len(notes) != 50 {
		b.Fatalf("got %d notes, want one for each of the 50 NAT addresses", len(notes))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Correlate(ms, Config{}, now)
	}
}

// BenchmarkFindings100k turns the clusters of the same fleet into findings.
func BenchmarkFindings100k(b *testing.B) {
	clusters, _ := Correlate(syntheticFleet(10000, 5, 50000), Config{}, now)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Findings(clusters)
	}
}

// The collector holds only Relevant(facts) of each member: the clusters must not change, and
// what it drops (here: processes and USB devices) must be gone.
func TestRelevantFactsCorrelateTheSame(t *testing.T) {
	full := syntheticFleet(30, 5, 1000)
	trimmed := make([]Member, len(full))
	for i, m := range full {
		m.Facts = proto.Clone(m.Facts).(*pb.Facts)
		m.Facts.Processes = []*pb.Process{{Pid: 1, Name: "init"}}
		m.Facts.UsbDevices = []*pb.UsbDevice{{VendorId: 0x1d6b, ProductId: 0x0104}}
		full[i].Facts = m.Facts
		m.Facts = Relevant(m.Facts)
		if len(m.Facts.GetProcesses()) != 0 || len(m.Facts.GetUsbDevices()) != 0 || m.Facts.GetInterfaces()[0].GetName() != "" {
			t.Fatalf("Relevant kept more than the correlation reads: %v", m.Facts)
		}
		trimmed[i] = m
	}
	a, notesA := Correlate(full, Config{}, now)
	b, notesB := Correlate(trimmed, Config{}, now)
	if !reflect.DeepEqual(a, b) || !slices.Equal(notesA, notesB) {
		t.Fatalf("clusters differ: %d full, %d trimmed; notes %q vs %q", len(a), len(b), notesA, notesB)
	}
	if len(a) == 0 || Relevant(nil) != nil {
		t.Fatal("no clusters to compare, or Relevant(nil) is not nil")
	}
}
