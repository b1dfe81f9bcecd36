package fleet

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// kindSignal describes the finding each link kind makes.
var kindSignal = map[string]struct {
	signal, attack string
	confidence     float64
	title          string // %d is the number of peers, %s "laptop" or "laptops"
}{
	KindEgress:        {"fleet.shared_egress", "T1219", 0.5, "Connects from the same public address as %d other company %s"},
	KindWiFi:          {"fleet.shared_wifi", "T1219", 0.8, "On the same Wi-Fi access point as %d other company %s"},
	KindGateway:       {"fleet.shared_gateway", "T1219", 0.8, "Behind the same router as %d other company %s"},
	KindLANNeighbor:   {"fleet.lan_neighbors", "T1219", 0.7, "Shares a local network with %d other company %s"},
	KindDisplaySerial: {"fleet.shared_display_serial", "T1200", 0.6, "Shows the same monitor or KVM serial as %d other company %s"},
}

// Evidence caps: enough to act on, small enough for a finding.
const (
	maxPeers  = 20
	maxValues = 10
)

// Findings turns clusters into findings, keyed by device ID: each device gets one finding per
// link kind it takes part in, keyed "<cluster id>:<kind>". Severity is medium for two members
// (people who live together share everything), high from three members, critical from five
// members joined by two or more kinds of evidence (a shared address, router and Wi-Fi across
// five company laptops is a farm).
// Evidence: cluster, kinds (the cluster's), members (the cluster's size), peers (hostnames, else
// IDs, of up to 20 devices sharing a value of this kind with this one) and peer_ids, peer_count,
// value (up to 10 shared values) and values (their count), first, last, window.
func Findings(clusters []Cluster) map[string][]*pb.Finding {
	n := 0
	for i := range clusters {
		n += len(clusters[i].Members)
	}
	out := make(map[string][]*pb.Finding, n)
	for ci := range clusters {
		c := &clusters[ci]
		name := make(map[string]string, len(c.Members))
		for i, id := range c.Members {
			name[id] = id
			if i < len(c.Hostnames) && c.Hostnames[i] != "" {
				name[id] = c.Hostnames[i]
			}
		}
		type key struct{ dev, kind string }
		type acc struct {
			links       []int
			first, last time.Time
		}
		accs := map[key]*acc{}
		var order []key
		for li, l := range c.Links {
			for _, d := range l.Devices {
				k := key{d, l.Kind}
				a := accs[k]
				if a == nil {
					a = &acc{first: l.First, last: l.Last}
					accs[k] = a
					order = append(order, k)
				}
				a.links = append(a.links, li)
				a.first, a.last = minTime(a.first, l.First), maxTime(a.last, l.Last)
			}
		}
		// Two people who live together are common; three company laptops in one home are
		// not, and five with two kinds of shared evidence are a farm.
		high := len(c.Members) >= 3
		critical := len(c.Members) >= 5 && len(c.Kinds) >= 2
		kinds, members, window := strings.Join(c.Kinds, ","), strconv.Itoa(len(c.Members)), formatWindow(c.Window)
		for _, k := range order {
			a := accs[k]
			peers, count := peersOf(c, k.dev, a.links)
			values := make([]string, 0, min(len(a.links), maxValues))
			for _, li := range a.links {
				if v := c.Links[li].Value; len(values) < maxValues && !slices.Contains(values, v) {
					values = append(values, v)
				}
			}
			nvalues := distinctValues(c, a.links)
			names := make([]string, len(peers))
			for i, p := range peers {
				names[i] = name[p]
			}
			s := kindSignal[k.kind]
			sev, conf := pb.Severity_SEVERITY_MEDIUM, s.confidence
			if high {
				sev = pb.Severity_SEVERITY_HIGH
			}
			if critical {
				sev = pb.Severity_SEVERITY_CRITICAL
			}
			if len(c.Kinds) >= 2 {
				conf = min(conf+0.15, 0.95)
			}
			noun := "laptops"
			if count == 1 {
				noun = "laptop"
			}
			out[k.dev] = append(out[k.dev], &pb.Finding{
				Signal:     s.signal,
				Severity:   sev,
				Confidence: conf,
				Title:      fmt.Sprintf(s.title, count, noun),
				Attack:     s.attack,
				Detector:   Detector,
				Key:        c.ID + ":" + k.kind,
				FirstSeen:  timestamppb.New(a.first),
				LastSeen:   timestamppb.New(a.last),
				Evidence: map[string]string{
					"cluster":    c.ID,
					"kinds":      kinds,
					"members":    members,
					"peers":      strings.Join(names, ", "),
					"peer_ids":   strings.Join(peers, ","),
					"peer_count": strconv.Itoa(count),
					"value":      strings.Join(values, ", "),
					"values":     strconv.Itoa(nvalues),
					"first":      a.first.UTC().Format(time.RFC3339),
					"last":       a.last.UTC().Format(time.RFC3339),
					"window":     window,
				},
			})
		}
	}
	for _, fs := range out {
		slices.SortFunc(fs, func(x, y *pb.Finding) int { return strings.Compare(x.GetKey(), y.GetKey()) })
	}
	return out
}

// peersOf returns up to maxPeers of the devices that share one of the links with dev, in ID
// order, and how many there are in all. One link (the usual case) needs no set.
func peersOf(c *Cluster, dev string, links []int) (peers []string, count int) {
	if len(links) == 1 {
		devs := c.Links[links[0]].Devices
		for _, d := range devs {
			if d != dev && len(peers) < maxPeers {
				peers = append(peers, d)
			}
		}
		return peers, len(devs) - 1
	}
	set := map[string]bool{}
	for _, li := range links {
		for _, d := range c.Links[li].Devices {
			if d != dev {
				set[d] = true
			}
		}
	}
	all := make([]string, 0, len(set))
	for d := range set {
		all = append(all, d)
	}
	slices.Sort(all)
	return all[:min(len(all), maxPeers)], len(all)
}

func distinctValues(c *Cluster, links []int) int {
	if len(links) == 1 {
		return 1
	}
	set := make(map[string]bool, len(links))
	for _, li := range links {
		set[c.Links[li].Value] = true
	}
	return len(set)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// formatWindow writes whole days as "14d" and anything else as a Go duration.
func formatWindow(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}
