package fleet

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

func TestFindingsOfAFarm(t *testing.T) {
	ms := homes(home{name: "farm", n: 6, egress: "203.0.113.7", gateway: "00:11:22:33:44:55", seeEachOther: true})
	clusters, _ := Correlate(ms, Config{}, now)
	byDev := Findings(clusters)
	if len(byDev) != 6 {
		t.Fatalf("findings for %d devices, want 6", len(byDev))
	}
	id := clusters[0].ID
	fs := byDev["farm-3"]
	var signals, keys []string
	for _, f := range fs {
		signals = append(signals, f.GetSignal())
		keys = append(keys, f.GetKey())
		if f.GetSeverity() != pb.Severity_SEVERITY_CRITICAL {
			t.Errorf("%s severity = %v, want critical (6 members, 3 kinds)", f.GetSignal(), f.GetSeverity())
		}
		if f.GetDetector() != Detector {
			t.Errorf("detector = %q", f.GetDetector())
		}
	}
	if want := []string{"fleet.shared_egress", "fleet.shared_gateway", "fleet.lan_neighbors"}; !slices.Equal(signals, want) {
		t.Errorf("signals = %q, want %q", signals, want)
	}
	if want := []string{id + ":egress", id + ":gateway_mac", id + ":lan_neighbor"}; !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}

	egress := fs[0].GetEvidence()
	want := map[string]string{
		"cluster":    id,
		"kinds":      "egress,gateway_mac,lan_neighbor",
		"members":    "6",
		"peers":      "LT-farm-1, LT-farm-2, LT-farm-4, LT-farm-5, LT-farm-6",
		"peer_ids":   "farm-1,farm-2,farm-4,farm-5,farm-6",
		"peer_count": "5",
		"value":      "203.0.113.7",
		"values":     "1",
		"first":      "2026-02-24T12:00:00Z",
		"last":       "2026-03-01T11:00:00Z",
		"window":     "14d",
	}
	if !maps.Equal(egress, want) {
		t.Errorf("egress evidence =\n%v\nwant\n%v", egress, want)
	}
	if got := fs[0].GetTitle(); got != "Connects from the same public address as 5 other company laptops" {
		t.Errorf("title = %q", got)
	}
	if got := fs[0].GetFirstSeen().AsTime(); !got.Equal(now.Add(-5 * 24 * time.Hour)) {
		t.Errorf("first_seen = %v", got)
	}

	// Neighbours: farm-3 is in six links (its own MAC and the five it sees), five peers.
	lan := fs[2].GetEvidence()
	if lan["peer_count"] != "5" || lan["values"] != "6" || strings.Count(lan["value"], ",") != 5 {
		t.Errorf("lan_neighbor evidence = %v", lan)
	}
}

func TestFindingSeverity(t *testing.T) {
	for _, tc := range []struct {
		name string
		hs   []home
		want pb.Severity
	}{
		{"two laptops, one kind", []home{{name: "h", n: 2, egress: "203.0.113.1"}}, pb.Severity_SEVERITY_MEDIUM},
		{"three laptops, one kind", []home{{name: "h", n: 3, egress: "203.0.113.1"}}, pb.Severity_SEVERITY_HIGH},
		{"two laptops, two kinds (people who live together)", []home{{name: "h", n: 2, egress: "203.0.113.1", bssid: "a0:63:91:00:00:01"}}, pb.Severity_SEVERITY_MEDIUM},
		{"four laptops, two kinds", []home{{name: "h", n: 4, egress: "203.0.113.1", bssid: "a0:63:91:00:00:01"}}, pb.Severity_SEVERITY_HIGH},
		{"five laptops, two kinds", []home{{name: "h", n: 5, egress: "203.0.113.1", bssid: "a0:63:91:00:00:01"}}, pb.Severity_SEVERITY_CRITICAL},
		{"five laptops, one kind", []home{{name: "h", n: 5, egress: "203.0.113.1"}}, pb.Severity_SEVERITY_HIGH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clusters, _ := Correlate(homes(tc.hs...), Config{}, now)
			for dev, fs := range Findings(clusters) {
				for _, f := range fs {
					if f.GetSeverity() != tc.want {
						t.Errorf("%s %s severity = %v, want %v", dev, f.GetSignal(), f.GetSeverity(), tc.want)
					}
				}
			}
		})
	}
}

func TestFindingsOnlyForKindsTheDeviceTakesPartIn(t *testing.T) {
	ms := homes(
		home{name: "north", n: 2, egress: "203.0.113.10"},
		home{name: "south", n: 2, egress: "203.0.113.20"},
	)
	ms[0].Facts.Displays = []*pb.Display{pikvm()}
	ms[2].Facts.Displays = []*pb.Display{pikvm()}
	byDev := Findings(mustCorrelate(t, ms))
	signals := func(dev string) []string {
		var out []string
		for _, f := range byDev[dev] {
			out = append(out, f.GetSignal())
		}
		return out
	}
	if got, want := signals("north-1"), []string{"fleet.shared_display_serial", "fleet.shared_egress"}; !slices.Equal(got, want) {
		t.Errorf("north-1 = %q, want %q", got, want)
	}
	if got, want := signals("north-2"), []string{"fleet.shared_egress"}; !slices.Equal(got, want) {
		t.Errorf("north-2 = %q, want %q", got, want)
	}
	disp := byDev["north-1"][0]
	if disp.GetAttack() != "T1200" || disp.GetEvidence()["peers"] != "LT-south-1" || disp.GetEvidence()["members"] != "4" ||
		disp.GetTitle() != "Shows the same monitor or KVM serial as 1 other company laptop" {
		t.Errorf("display finding = %v", disp)
	}
}

func TestFindingsCapPeers(t *testing.T) {
	ms := homes(home{name: "h", n: 30, egress: "203.0.113.1"})
	for i := range ms {
		ms[i].Hostname = ""
	}
	byDev := Findings(mustCorrelate(t, ms))
	ev := byDev["h-1"][0].GetEvidence()
	if n := len(strings.Split(ev["peers"], ", ")); n != maxPeers || ev["peer_count"] != "29" {
		t.Errorf("peers %d listed, count %s; want %d and 29", n, ev["peer_count"], maxPeers)
	}
	if !strings.HasPrefix(ev["peers"], "h-10, h-11") {
		t.Errorf("peers without hostnames = %q, want IDs", ev["peers"])
	}
}

func TestFindingsOfEgressSplitInTime(t *testing.T) {
	// One address, two periods: a and b early, c and d late. Two links, one cluster via a shared
	// gateway; each device's peers are those of its own period.
	day := 24 * time.Hour
	ms := homes(home{name: "h", n: 4, gateway: "00:11:22:33:44:55"})
	for i := range ms {
		from := 13 * day
		if i >= 2 {
			from = 4 * day
		}
		ms[i].Egress = []store.Egress{{Address: "203.0.113.9", FirstSeen: now.Add(-from), LastSeen: now.Add(-from + day)}}
	}
	clusters := mustCorrelate(t, ms)
	if got := linkSummary(clusters[0]); !slices.Equal(got, []string{"egress 203.0.113.9 2", "egress 203.0.113.9 2", "gateway_mac 00:11:22:33:44:55 4"}) {
		t.Fatalf("links = %q", got)
	}
	ev := Findings(clusters)["h-3"][0].GetEvidence()
	if ev["peer_ids"] != "h-4" || ev["values"] != "1" {
		t.Errorf("evidence = %v", ev)
	}
}

func mustCorrelate(t *testing.T, ms []Member) []Cluster {
	t.Helper()
	clusters, notes := Correlate(ms, Config{}, now)
	if len(clusters) == 0 {
		t.Fatalf("no clusters (notes %q)", notes)
	}
	return clusters
}

func ExampleFindings() {
	ms := homes(home{name: "farm", n: 3, egress: "203.0.113.7", gateway: "00:11:22:33:44:55"})
	clusters, _ := Correlate(ms, Config{}, now)
	for _, f := range Findings(clusters)["farm-1"] {
		fmt.Println(f.GetSignal(), f.GetSeverity(), f.GetEvidence()["peers"])
	}
	// Output:
	// fleet.shared_egress SEVERITY_HIGH LT-farm-2, LT-farm-3
	// fleet.shared_gateway SEVERITY_HIGH LT-farm-2, LT-farm-3
}
