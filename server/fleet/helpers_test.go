package fleet

import (
	"fmt"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// home describes one residential LAN with company laptops on it.
type home struct {
	name    string // device IDs are name-1, name-2, ...
	n       int
	egress  string // "" for none
	gateway string // gateway MAC, "" for none
	bssid   string // "" for wired
	// seeEachOther puts every other laptop's MAC in each laptop's neighbour cache.
	seeEachOther bool
}

// laptopMAC is laptop i's own MAC in home h (unique per home name).
func laptopMAC(h string, i int) string {
	sum := 0
	for _, c := range h {
		sum = sum*31 + int(c)
	}
	return fmt.Sprintf("3c:22:fb:%02x:%02x:%02x", (sum>>8)&0xff, sum&0xff, i)
}

func (h home) members() []Member {
	out := make([]Member, h.n)
	for i := range h.n {
		lan := &pb.Lan{}
		if h.gateway != "" {
			lan.Gateways = []*pb.LanHost{{Ip: "192.168.1.1", Mac: h.gateway}}
			lan.Neighbours = append(lan.Neighbours, &pb.LanHost{Ip: "192.168.1.1", Mac: h.gateway})
		}
		if h.bssid != "" {
			lan.Wifi = []*pb.WiFi{{Interface: "wlan0", Ssid: "HomeNet", Bssid: h.bssid, Known: true}}
		}
		if h.seeEachOther {
			for j := range h.n {
				if j != i {
					lan.Neighbours = append(lan.Neighbours, &pb.LanHost{Ip: fmt.Sprintf("192.168.1.%d", 10+j), Mac: laptopMAC(h.name, j)})
				}
			}
		}
		m := Member{
			DeviceID: fmt.Sprintf("%s-%d", h.name, i+1),
			Hostname: fmt.Sprintf("LT-%s-%d", h.name, i+1),
			MACs:     []string{laptopMAC(h.name, i)},
			Facts:    &pb.Facts{Lan: lan},
			FactsAt:  now.Add(-time.Hour),
			LastSeen: now.Add(-time.Hour),
		}
		if h.egress != "" {
			m.Egress = []store.Egress{{Address: h.egress, FirstSeen: now.Add(-5 * 24 * time.Hour), LastSeen: now.Add(-time.Hour)}}
		}
		out[i] = m
	}
	return out
}

func homes(hs ...home) []Member {
	var out []Member
	for _, h := range hs {
		out = append(out, h.members()...)
	}
	return out
}

// pikvm is the display a PiKVM v2 presents (research/hardware.md §1.5).
func pikvm() *pb.Display {
	return &pb.Display{Connector: "HDMI-A-1", Status: "connected", Manufacturer: "LNX", ProductCode: 0x7770,
		SerialNumber: 0x01010101, Name: "PiKVM", SerialString: "CAFEBABE", Week: 35, Year: 2016, Source: "drm"}
}

// linkSummary renders a cluster's links as "kind value n" for comparisons.
func linkSummary(c Cluster) []string {
	var out []string
	for _, l := range c.Links {
		out = append(out, fmt.Sprintf("%s %s %d", l.Kind, l.Value, len(l.Devices)))
	}
	return out
}
