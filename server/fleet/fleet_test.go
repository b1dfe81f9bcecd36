package fleet

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

func TestFarmOfSixIsOneClusterOfThreeKinds(t *testing.T) {
	ms := homes(home{name: "farm", n: 6, egress: "203.0.113.7", gateway: "00:11:22:33:44:55", seeEachOther: true})
	clusters, notes := Correlate(ms, Config{}, now)
	if len(notes) != 0 {
		t.Errorf("notes = %q, want none", notes)
	}
	if len(clusters) != 1 {
		t.Fatalf("got %d clusters, want 1", len(clusters))
	}
	c := clusters[0]
	if want := []string{"farm-1", "farm-2", "farm-3", "farm-4", "farm-5", "farm-6"}; !slices.Equal(c.Members, want) {
		t.Errorf("members = %q, want %q", c.Members, want)
	}
	if c.Hostnames[0] != "LT-farm-1" {
		t.Errorf("hostnames[0] = %q", c.Hostnames[0])
	}
	if want := []string{KindEgress, KindGateway, KindLANNeighbor}; !slices.Equal(c.Kinds, want) {
		t.Errorf("kinds = %q, want %q", c.Kinds, want)
	}
	want := []string{
		"egress 203.0.113.7 6",
		"gateway_mac 00:11:22:33:44:55 6",
	}
	for i := range 6 {
		// each laptop's MAC, seen by the five others, plus the laptop itself
		want = append(want, "lan_neighbor "+laptopMAC("farm", i)+" 6")
	}
	if got := linkSummary(c); !slices.Equal(got, want) {
		t.Errorf("links =\n%q\nwant\n%q", got, want)
	}
	if !strings.HasPrefix(c.ID, "c_") || len(c.ID) != 14 {
		t.Errorf("id = %q, want c_ and 12 hex digits", c.ID)
	}
	if c.ID != clusterID(c.Members) {
		t.Errorf("id = %q, want the hash of the members %q", c.ID, clusterID(c.Members))
	}
	if wantFirst := now.Add(-5 * 24 * time.Hour); !c.First.Equal(wantFirst) || !c.Last.Equal(now.Add(-time.Hour)) {
		t.Errorf("first, last = %v, %v; want %v, %v", c.First, c.Last, wantFirst, now.Add(-time.Hour))
	}
}

func TestSeparateHomesAreSeparateClusters(t *testing.T) {
	ms := homes(
		home{name: "a", n: 3, egress: "203.0.113.1", gateway: "00:11:22:00:00:01", bssid: "a0:63:91:00:00:01"},
		home{name: "b", n: 2, egress: "203.0.113.2", gateway: "00:11:22:00:00:02", bssid: "a0:63:91:00:00:02"},
		home{name: "alone", n: 1, egress: "203.0.113.3", gateway: "00:11:22:00:00:03"},
	)
	clusters, _ := Correlate(ms, Config{}, now)
	var got [][]string
	for _, c := range clusters {
		got = append(got, c.Members)
	}
	want := [][]string{{"a-1", "a-2", "a-3"}, {"b-1", "b-2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clusters = %q, want %q (largest first, the lone laptop dropped)", got, want)
	}
	if len(clusters) == 2 && !slices.Equal(clusters[0].Kinds, []string{KindEgress, KindGateway, KindWiFi}) {
		t.Errorf("kinds = %q", clusters[0].Kinds)
	}

	// MinMembers 3 keeps only the bigger home.
	clusters, _ = Correlate(ms, Config{MinMembers: 3}, now)
	if len(clusters) != 1 || len(clusters[0].Members) != 3 {
		t.Errorf("MinMembers 3: got %d clusters, want the one of 3", len(clusters))
	}
}

func TestEgressThatSaysNothingOfAHomeDoesNotLink(t *testing.T) {
	corp := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8:c000::/40")}
	for _, tc := range []struct {
		name, addr string
		links      bool
	}{
		{"corporate range", "198.51.100.20", false},
		{"corporate IPv6 range", "2001:db8:c000:1::5", false},
		{"private", "192.168.1.20", false},
		{"loopback", "127.0.0.1", false},
		{"CGNAT inside", "100.72.1.2", false},
		{"link-local", "169.254.3.4", false},
		{"IPv6 unique local", "fd00::1", false},
		{"garbage", "not-an-address", false},
		{"public", "203.0.113.9", true},
		{"public, 4-in-6 mapped", "::ffff:203.0.113.9", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := homes(home{name: "h", n: 3, egress: tc.addr})
			clusters, _ := Correlate(ms, Config{CorporateEgress: corp}, now)
			if got := len(clusters) == 1; got != tc.links {
				t.Errorf("%s linked = %v, want %v", tc.addr, got, tc.links)
			}
		})
	}
}

func TestIPv6EgressLinksByTheHomesSlash64(t *testing.T) {
	ms := homes(home{name: "h", n: 2})
	ms[0].Egress = []store.Egress{{Address: "2001:db8:1:2:aaaa::1", FirstSeen: now.Add(-time.Hour), LastSeen: now}}
	ms[1].Egress = []store.Egress{{Address: "2001:db8:1:2:bbbb::7", FirstSeen: now.Add(-time.Hour), LastSeen: now}}
	clusters, _ := Correlate(ms, Config{}, now)
	if len(clusters) != 1 {
		t.Fatalf("got %d clusters, want 1", len(clusters))
	}
	if got, want := linkSummary(clusters[0]), []string{"egress 2001:db8:1:2::/64 2"}; !slices.Equal(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}
	// Another /64 of the same ISP is another home.
	ms[1].Egress[0].Address = "2001:db8:1:3::7"
	if clusters, _ := Correlate(ms, Config{}, now); len(clusters) != 0 {
		t.Errorf("different /64s linked: %q", linkSummary(clusters[0]))
	}
}

func TestIgnoredOfficeValuesDoNotLink(t *testing.T) {
	office := home{name: "office", n: 10, gateway: "00:00:0c:12:34:56", bssid: "a0:63:91:0f:0f:01"}
	for _, tc := range []struct {
		name   string
		ignore []string
		want   []string // link summary of the one cluster; nil for none
	}{
		{"nothing ignored", nil, []string{"gateway_mac 00:00:0c:12:34:56 10", "wifi_bssid a0:63:91:0f:0f:01 10"}},
		{"office BSSID ignored", []string{"A0-63-91-0F-0F-01"}, []string{"gateway_mac 00:00:0c:12:34:56 10"}},
		{"BSSID and gateway ignored", []string{"a0:63:91:0f:0f:01", "0000.0c12.3456"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clusters, _ := Correlate(office.members(), Config{IgnoreValues: tc.ignore}, now)
			var got []string
			if len(clusters) > 0 {
				got = linkSummary(clusters[0])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("links = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEvidenceOutsideTheWindowIsIgnored(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name         string
		egressLast   time.Duration // before now
		factsAt      time.Duration
		window       time.Duration
		wantClusters int
		wantKinds    []string
	}{
		{"both recent", time.Hour, time.Hour, 0, 1, []string{KindEgress, KindGateway}},
		{"egress old", 15 * day, time.Hour, 0, 1, []string{KindGateway}},
		{"facts old", time.Hour, 15 * day, 0, 1, []string{KindEgress}},
		{"both old", 15 * day, 15 * day, 0, 0, nil},
		{"both old, longer window", 15 * day, 15 * day, 30 * day, 1, []string{KindEgress, KindGateway}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := homes(home{name: "h", n: 3, egress: "203.0.113.5", gateway: "00:11:22:33:44:55"})
			for i := range ms {
				ms[i].Egress[0].FirstSeen = now.Add(-tc.egressLast - day)
				ms[i].Egress[0].LastSeen = now.Add(-tc.egressLast)
				ms[i].FactsAt = now.Add(-tc.factsAt)
			}
			clusters, _ := Correlate(ms, Config{Window: tc.window}, now)
			if len(clusters) != tc.wantClusters {
				t.Fatalf("got %d clusters, want %d", len(clusters), tc.wantClusters)
			}
			if len(clusters) == 1 && !slices.Equal(clusters[0].Kinds, tc.wantKinds) {
				t.Errorf("kinds = %q, want %q", clusters[0].Kinds, tc.wantKinds)
			}
		})
	}
}

func TestFactsWithoutFactsAtAreDatedByLastSeen(t *testing.T) {
	ms := homes(home{name: "h", n: 2, gateway: "00:11:22:33:44:55"})
	for i := range ms {
		ms[i].FactsAt = time.Time{}
		ms[i].LastSeen = now.Add(-20 * 24 * time.Hour)
	}
	if clusters, _ := Correlate(ms, Config{}, now); len(clusters) != 0 {
		t.Errorf("facts last seen 20 days ago linked")
	}
	ms[0].LastSeen, ms[1].LastSeen = now, now
	if clusters, _ := Correlate(ms, Config{}, now); len(clusters) != 1 {
		t.Errorf("facts of devices seen now did not link")
	}
}

func TestEgressAddressReusedDaysApartIsTwoHomes(t *testing.T) {
	day := 24 * time.Hour
	at := func(from, to time.Duration) []store.Egress {
		return []store.Egress{{Address: "203.0.113.44", FirstSeen: now.Add(-from), LastSeen: now.Add(-to)}}
	}
	for _, tc := range []struct {
		name  string
		a, b  []store.Egress
		gap   time.Duration
		links bool
	}{
		{"overlapping", at(5*day, 0), at(3*day, time.Hour), 0, true},
		{"a day apart", at(10*day, 6*day), at(5*day, 0), 0, true},
		{"a week apart", at(13*day, 12*day), at(5*day, 0), 0, false},
		{"a week apart, gap 8 days", at(13*day, 12*day), at(5*day, 0), 8 * day, true},
		{"a day apart, must overlap", at(10*day, 6*day), at(5*day, 0), -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := homes(home{name: "h", n: 2})
			ms[0].Egress, ms[1].Egress = tc.a, tc.b
			clusters, _ := Correlate(ms, Config{EgressGap: tc.gap}, now)
			if got := len(clusters) == 1; got != tc.links {
				t.Errorf("linked = %v, want %v", got, tc.links)
			}
		})
	}
}

func TestNATEgressOfManyDevicesDoesNotLink(t *testing.T) {
	var ms []Member
	for i := range 120 {
		// 120 separate homes behind one carrier NAT address
		ms = append(ms, home{name: "cgn" + string(rune('a'+i/26)) + string(rune('a'+i%26)), n: 1, egress: "203.0.113.200",
			gateway: laptopMAC("gw", i)}.members()...)
	}
	clusters, notes := Correlate(ms, Config{}, now)
	if len(clusters) != 0 {
		t.Errorf("got %d clusters, want none", len(clusters))
	}
	want := []string{"egress 203.0.113.200: 120 devices within the window, more than 50: a carrier or corporate NAT, not one home; not linked"}
	if !slices.Equal(notes, want) {
		t.Errorf("notes = %q, want %q", notes, want)
	}
	// Raised above the crowd, the address links again.
	if clusters, _ := Correlate(ms, Config{MaxEgressMembers: 200}, now); len(clusters) != 1 || len(clusters[0].Members) != 120 {
		t.Errorf("MaxEgressMembers 200: got %d clusters, want one of 120", len(clusters))
	}
}

func TestOfficeSizedLANIsNotedButLinks(t *testing.T) {
	ms := homes(home{name: "big", n: 60, gateway: "00:11:22:33:44:55"})
	clusters, notes := Correlate(ms, Config{}, now)
	if len(clusters) != 1 || len(clusters[0].Members) != 60 {
		t.Fatalf("got %d clusters, want one of 60", len(clusters))
	}
	want := []string{"gateway_mac 00:11:22:33:44:55 links 60 devices, more than 50: an office network? If so, list it in IgnoreValues"}
	if !slices.Equal(notes, want) {
		t.Errorf("notes = %q, want %q", notes, want)
	}
}

func TestClonedKVMSerialLinksTwoFarms(t *testing.T) {
	ms := homes(
		home{name: "north", n: 3, egress: "203.0.113.10", gateway: "00:11:22:00:00:10"},
		home{name: "south", n: 3, egress: "203.0.113.20", gateway: "00:11:22:00:00:20"},
	)
	without, _ := Correlate(ms, Config{}, now)
	if len(without) != 2 {
		t.Fatalf("without the KVM: %d clusters, want 2", len(without))
	}
	ms[0].Facts.Displays = []*pb.Display{pikvm()}
	ms[4].Facts.Displays = []*pb.Display{pikvm()}
	clusters, _ := Correlate(ms, Config{}, now)
	if len(clusters) != 1 || len(clusters[0].Members) != 6 {
		t.Fatalf("with the KVM: got %d clusters, want one of 6", len(clusters))
	}
	var disp []Link
	for _, l := range clusters[0].Links {
		if l.Kind == KindDisplaySerial {
			disp = append(disp, l)
		}
	}
	if len(disp) != 1 || disp[0].Value != "LNX/7770/CAFEBABE" || !slices.Equal(disp[0].Devices, []string{"north-1", "south-2"}) {
		t.Errorf("display links = %+v, want LNX/7770/CAFEBABE on north-1 and south-2", disp)
	}
	// A lab that runs PiKVMs lists the serial and the farms part again.
	if clusters, _ := Correlate(ms, Config{IgnoreValues: []string{"cafebabe"}}, now); len(clusters) != 2 {
		t.Errorf("serial ignored: %d clusters, want 2", len(clusters))
	}
}

func TestDisplaySerialRules(t *testing.T) {
	dell := func(serial uint32, s string) *pb.Display {
		return &pb.Display{Status: "connected", Manufacturer: "DEL", ProductCode: 0xa0b1, SerialNumber: serial, SerialString: s}
	}
	for _, tc := range []struct {
		name string
		d    *pb.Display
		want string
	}{
		{"serial string", dell(0, "3S5GQ23"), "DEL/a0b1/3S5GQ23"},
		{"serial string wins over number", dell(0x39363945, "3S5GQ23"), "DEL/a0b1/3S5GQ23"},
		{"serial number", dell(0x39363945, ""), "DEL/a0b1/#39363945"},
		{"JetKVM Acer preset", &pb.Display{Manufacturer: "ACR", ProductCode: 0x0565, SerialNumber: 0x01613F8A, SerialString: "T8NEE0038522"}, "ACR/0565/T8NEE0038522"},
		{"short string, placeholder number", dell(0x01010101, "123"), ""},
		{"string of one character", dell(0, "0000000"), ""},
		{"zero", dell(0, ""), ""},
		{"all ones", dell(0xFFFFFFFF, ""), ""},
		{"0x01010101", dell(0x01010101, ""), ""},
		{"0x22222222", dell(0x22222222, ""), ""},
		{"short string, real number", dell(0x00a1b2c3, "ab"), "DEL/a0b1/#00a1b2c3"},
		{"no manufacturer", &pb.Display{Status: "connected", SerialString: "3S5GQ23"}, ""},
		{"remembered", &pb.Display{Status: "remembered", Manufacturer: "DEL", SerialString: "3S5GQ23"}, ""},
		{"registry history", &pb.Display{Source: "registry-history", Manufacturer: "DEL", SerialString: "3S5GQ23"}, ""},
		{"disconnected", &pb.Display{Status: "disconnected", Manufacturer: "DEL", SerialString: "3S5GQ23"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := displayValue(tc.d); got != tc.want {
				t.Errorf("displayValue = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSameMonitorModelWithPlaceholderSerialDoesNotLink(t *testing.T) {
	ms := homes(home{name: "x", n: 1}, home{name: "y", n: 1})
	for i := range ms {
		ms[i].Facts.Displays = []*pb.Display{{Status: "connected", Manufacturer: "DEL", ProductCode: 0x41a8, SerialNumber: 0x01010101}}
	}
	if clusters, _ := Correlate(ms, Config{}, now); len(clusters) != 0 {
		t.Errorf("placeholder serials linked: %q", linkSummary(clusters[0]))
	}
}

func TestWiFiAndGatewayMACRules(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"A0:63:91:01:02:03", "a0:63:91:01:02:03"},
		{"a0-63-91-01-02-03", "a0:63:91:01:02:03"},
		{"a063.9101.0203", "a0:63:91:01:02:03"},
		{"A06391010203", "a0:63:91:01:02:03"},
		{" a0:63:91:01:02:03\n", "a0:63:91:01:02:03"},
		{"a0:63-91:01:02:03", ""}, // mixed separators
		{"a0:63:91:01:02:0g", ""},
		{"a063.9101-0203", ""},
		{"a0:63:91:01:02", ""},
		{"02:1a:11:f0:00:01", "02:1a:11:f0:00:01"}, // locally administered: virtual AP, randomised client
		{"", ""},
		{"00:00:00:00:00:00", ""},
		{"ff:ff:ff:ff:ff:ff", ""},
		{"01:00:5e:00:00:01", ""}, // IPv4 multicast
		{"33:33:00:00:00:01", ""}, // IPv6 multicast
		{"00:00:5e:00:01:01", ""}, // VRRP VRID 1
		{"00:00:0c:07:ac:0a", ""}, // HSRPv1 group 10
		{"00:00:0c:9f:f0:01", ""}, // HSRPv2
		{"52:54:00:12:35:02", ""}, // VirtualBox NAT gateway
		{"52:55:0a:00:02:02", ""}, // QEMU slirp gateway
		{"0a:00:27:00:00:0e", ""}, // VirtualBox host-only
		{"00:00:0c:12:34:56", "00:00:0c:12:34:56"},
		{"garbage", ""},
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", ""}, // InfiniBand, not EUI-48
	} {
		if got := normMAC(tc.in); got != tc.want {
			t.Errorf("normMAC(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestVRRPGatewaysOfTwoSitesDoNotLink(t *testing.T) {
	ms := homes(home{name: "x", n: 1, gateway: "00:00:5e:00:01:01"}, home{name: "y", n: 1, gateway: "00:00:5e:00:01:01"})
	if clusters, _ := Correlate(ms, Config{}, now); len(clusters) != 0 {
		t.Errorf("VRRP virtual MAC linked two sites")
	}
}

func TestLANNeighborMatchesOwnMACsIncludingRandomised(t *testing.T) {
	const random = "da:a1:19:5c:7e:21" // locally administered, per-network Wi-Fi address
	a := Member{DeviceID: "a", LastSeen: now, Facts: &pb.Facts{
		Interfaces: []*pb.NetworkInterface{{Name: "wlan0", MacAddress: random}},
	}}
	b := Member{DeviceID: "b", LastSeen: now, Facts: &pb.Facts{Lan: &pb.Lan{
		Neighbours: []*pb.LanHost{{Ip: "192.168.1.30", Mac: strings.ToUpper(random)}, {Ip: "192.168.1.99", Mac: "b8:27:eb:00:00:01"}},
	}}}
	clusters, notes := Correlate([]Member{a, b}, Config{}, now)
	if len(clusters) != 1 {
		t.Fatalf("got %d clusters, want 1 (notes %q)", len(clusters), notes)
	}
	if got, want := linkSummary(clusters[0]), []string{"lan_neighbor " + random + " 2"}; !slices.Equal(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}

	// A device silent for a month is still placed by a fresh sighting of its MAC.
	a.LastSeen, a.FactsAt = now.Add(-30*24*time.Hour), time.Time{}
	if clusters, _ := Correlate([]Member{a, b}, Config{}, now); len(clusters) != 1 {
		t.Errorf("silent owner not linked by a fresh sighting")
	}

	// When a second device claims the same MAC, it identifies no one.
	c := Member{DeviceID: "c", LastSeen: now, MACs: []string{random}}
	clusters, notes = Correlate([]Member{a, b, c}, Config{}, now)
	if len(clusters) != 0 {
		t.Errorf("ambiguous MAC linked: %q", linkSummary(clusters[0]))
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "1 MAC addresses are claimed by more than one device") {
		t.Errorf("notes = %q", notes)
	}
}

func TestDuplicateAndAnonymousMembers(t *testing.T) {
	ms := homes(home{name: "h", n: 2, gateway: "00:11:22:33:44:55"})
	// The same device twice (two rows from the store) with different evidence merges.
	extra := Member{DeviceID: "h-1", Egress: []store.Egress{{Address: "203.0.113.9", LastSeen: now}}}
	other := Member{DeviceID: "z", Egress: []store.Egress{{Address: "203.0.113.9", LastSeen: now}}}
	ms = append(ms, extra, other, Member{Hostname: "no-id"})
	clusters, notes := Correlate(ms, Config{}, now)
	if len(clusters) != 1 || !slices.Equal(clusters[0].Members, []string{"h-1", "h-2", "z"}) {
		t.Fatalf("clusters = %+v", clusters)
	}
	if clusters[0].Hostnames[0] != "LT-h-1" || clusters[0].Hostnames[2] != "" {
		t.Errorf("hostnames = %q", clusters[0].Hostnames)
	}
	if !slices.Equal(notes, []string{"1 members without a device ID skipped"}) {
		t.Errorf("notes = %q", notes)
	}
}

func TestResultDoesNotDependOnInputOrder(t *testing.T) {
	ms := homes(
		home{name: "a", n: 4, egress: "203.0.113.1", gateway: "00:11:22:00:00:01", bssid: "a0:63:91:00:00:01", seeEachOther: true},
		home{name: "b", n: 3, egress: "203.0.113.2", gateway: "00:11:22:00:00:02"},
		home{name: "c", n: 2, bssid: "a0:63:91:00:00:03"},
		home{name: "d", n: 1, egress: "203.0.113.2"}, // joins b by egress
	)
	ms[0].Facts.Displays = []*pb.Display{pikvm()}
	ms[8].Facts.Displays = []*pb.Display{pikvm()} // joins c to a
	for i := range 55 {
		ms = append(ms, home{name: "nat" + string(rune('a'+i%26)) + string(rune('a'+i/26)), n: 1, egress: "203.0.113.250"}.members()...)
	}
	want, wantNotes := Correlate(ms, Config{}, now)
	if len(want) != 2 || len(wantNotes) != 1 {
		t.Fatalf("got %d clusters, %d notes; want 2 and 1", len(want), len(wantNotes))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(ms)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, notes := Correlate(shuffled, Config{}, now)
		if !reflect.DeepEqual(got, want) || !slices.Equal(notes, wantNotes) {
			t.Fatalf("shuffled input changed the result:\n%+v\nwant\n%+v", got, want)
		}
	}
}

func TestSharedMACsTable(t *testing.T) {
	p, err := parseSharedMACs(sharedMACsTab)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) < 9 {
		t.Errorf("only %d prefixes parsed", len(p))
	}
	if _, err := parseSharedMACs("zz:00 bad\n"); err == nil {
		t.Errorf("bad prefix accepted")
	}
}
