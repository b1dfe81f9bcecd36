// Package fleet finds company laptops that share a home: a laptop farm is many laptops issued
// to different "employees" sitting on one facilitator's LAN. Correlate links devices that share
// a piece of evidence, joins the links into clusters (union-find), and Findings turns each
// cluster into fleet.* findings on every member.
//
// What links two devices, and what deliberately does not:
//
//   - egress: the same public address the devices connected to the collector from. Private,
//     loopback, link-local, multicast and CGNAT (100.64.0.0/10) addresses and Config.
//     CorporateEgress never link. IPv4 links by address; IPv6 by the address's /64, since every
//     laptop on a home LAN gets its own (usually temporary) address in the home's one /64. An
//     address counts only when the device was last seen on it within the window, and two
//     devices link only when their periods on it overlap or come within Config.EgressGap of
//     each other: residential addresses are reassigned, so one address weeks apart is two
//     homes. An address used by more than Config.MaxEgressMembers devices within the window is
//     a carrier or corporate NAT, not a home: it does not link and is reported in the notes.
//   - wifi_bssid: the same access point (BSSID, never SSID: "HomeNet" is everywhere). Empty,
//     zero, broadcast and multicast BSSIDs are invalid and skipped. Locally administered BSSIDs
//     are kept: access points are not randomised, and virtual APs (several SSIDs on one radio,
//     mesh systems) use locally administered BSSIDs.
//   - gateway_mac: the same default-gateway MAC. Empty, zero and multicast MACs are skipped, and
//     so are MACs that unrelated networks share by construction (VRRP/HSRP/GLBP virtual routers,
//     the VirtualBox and QEMU NAT gateways; shared_macs.tab).
//   - lan_neighbor: device A's neighbour (ARP/NDP) cache holds a MAC that is one of device B's
//     own interface MACs (Member.MACs and the interfaces in its facts). One link per such MAC:
//     its owner and every device that sees it. Locally administered (randomised) MACs are
//     matched too: Wi-Fi MAC randomisation is stable per network, and the owner reports the
//     randomised address it is using on that very network, which is what its neighbours cache.
//     What makes a MAC unusable is ambiguity, not the bit: a MAC that more than one device
//     claims as its own (fixed virtual-adapter addresses, a re-enrolled laptop) is not matched,
//     and neither are the addresses in shared_macs.tab. The owner need not be recent: a fresh
//     sighting of B's MAC on A's LAN is evidence about now even when B's agent has gone quiet.
//   - display_serial: the same monitor identity, manufacturer + product code + serial, where the
//     serial is the EDID serial descriptor if it has at least 4 characters not all alike, else
//     the 32-bit serial number if its bytes are not all alike (0, 0x01010101, 0xFFFFFFFF).
//     Placeholders are shared by every unit of a model and would link everyone with the same
//     company-issued monitor; a real serial is one physical screen, and a KVM's fixed EDID (a
//     PiKVM's LNX/7770/CAFEBABE, a JetKVM preset cloned from a real Dell) on several laptops
//     is exactly the cross-farm tell this kind is for. Only attached displays count, not ones
//     remembered in the registry.
//
// Facts-based evidence (Wi-Fi, gateway, neighbours, displays) is dated by Member.FactsAt (or
// LastSeen when that is zero) and ignored when older than the window. Config.IgnoreValues drops
// known values (office BSSIDs and gateways, a lab KVM's serial) of any kind. LAN values shared by
// more than MaxEgressMembers devices still link (a 90-laptop farm is one LAN) but are noted:
// an office network belongs in IgnoreValues. Clusters with fewer than Config.MinMembers devices
// are dropped.
//
// Known benign causes: two employees who live together (egress, Wi-Fi, gateway, neighbours);
// hot desks and shared docking-station monitors (display serial); a full-tunnel VPN whose exit
// is not listed as corporate (egress); a café or co-working space (egress, Wi-Fi).
//
// Everything is a pure function of its input and deterministic: the same members in any order
// give the same clusters, IDs, links and notes. Cost: linear in the evidence (one hash-map entry
// per distinct value), plus sorting each shared value's devices. BenchmarkCorrelate100k
// (100,000 laptops: 10,000 farms of 5 and 50,000 alone) runs in about 1 s on two cores and
// allocates about 190 MB.
package fleet

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// Detector names the collector's fleet correlation as the source of its findings.
const Detector = "collector/fleet"

// Link kinds: what two or more devices were found to share.
const (
	KindEgress        = "egress"
	KindWiFi          = "wifi_bssid"
	KindGateway       = "gateway_mac"
	KindLANNeighbor   = "lan_neighbor"
	KindDisplaySerial = "display_serial"
)

// Defaults taken for zero Config fields.
const (
	DefaultWindow           = 14 * 24 * time.Hour
	DefaultMinMembers       = 2
	DefaultMaxEgressMembers = 50
	DefaultEgressGap        = 24 * time.Hour
)

// Member is one device as the correlation sees it.
type Member struct {
	DeviceID, Hostname string
	// MACs are the device's own interface MACs (from enrollment); the interfaces in Facts are
	// added to them.
	MACs []string
	// Egress are the addresses the device connected from, with when.
	Egress []store.Egress
	// Facts are the device's newest facts; nil when none.
	Facts *pb.Facts
	// FactsAt is when Facts were received; zero means LastSeen.
	FactsAt  time.Time
	LastSeen time.Time
}

// Relevant returns the parts of f the correlation reads (interface MACs, the LAN, displays),
// so that a fleet's members can be held at once without every device's processes, software
// and hardware inventories. nil stays nil.
func Relevant(f *pb.Facts) *pb.Facts {
	if f == nil {
		return nil
	}
	out := &pb.Facts{Lan: f.GetLan(), Displays: f.GetDisplays()}
	for _, ni := range f.GetInterfaces() {
		if ni.GetMacAddress() != "" {
			out.Interfaces = append(out.Interfaces, &pb.NetworkInterface{MacAddress: ni.GetMacAddress()})
		}
	}
	return out
}

// Config tunes the correlation. Zero fields take the defaults above.
type Config struct {
	// Window: evidence older than now-Window is ignored.
	Window time.Duration
	// MinMembers: smaller clusters are dropped (at least 2).
	MinMembers int
	// CorporateEgress are the company's own egress ranges (offices, VPN exits); they never link.
	CorporateEgress []netip.Prefix
	// IgnoreValues never link: BSSIDs, gateway MACs, addresses, display serials (the bare
	// serial or the full manufacturer/product/serial value). Compared case-insensitively after
	// normalising MACs and addresses.
	IgnoreValues []string
	// MaxEgressMembers: an egress address used by more devices than this within the window is
	// a NAT, not a home, and does not link. LAN values above it are noted but still link.
	MaxEgressMembers int
	// EgressGap: two devices' periods on one egress address must overlap or come within this of
	// each other to link. Negative means they must overlap.
	EgressGap time.Duration
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.MinMembers < 2 {
		c.MinMembers = DefaultMinMembers
	}
	if c.MaxEgressMembers <= 0 {
		c.MaxEgressMembers = DefaultMaxEgressMembers
	}
	switch {
	case c.EgressGap == 0:
		c.EgressGap = DefaultEgressGap
	case c.EgressGap < 0:
		c.EgressGap = 0
	}
	return c
}

// Link is one value that two or more devices share.
type Link struct {
	Kind    string // one of the Kind constants
	Value   string // normalised: MAC in lowercase colon form, IPv4 address, IPv6 /64, MFG/prod/serial
	Devices []string
	// First and Last bound the evidence: the earliest first-seen and the latest last-seen of
	// the value among Devices.
	First, Last time.Time
}

// Cluster is a set of devices joined by links: probably one home.
type Cluster struct {
	// ID is "c_" and the first 12 hex digits of the SHA-256 of the sorted member IDs: the same
	// members give the same ID on every run, and a changed membership a new one.
	ID      string
	Members []string // device IDs, sorted
	// Hostnames[i] is Members[i]'s hostname ("" when unknown).
	Hostnames []string
	Links     []Link   // sorted by kind, value
	Kinds     []string // distinct link kinds, sorted
	// First and Last bound the links' evidence.
	First, Last time.Time
	// Window is the evidence window the cluster was built over.
	Window time.Duration
}

type kind uint8

const (
	kEgress kind = iota
	kWiFi
	kGateway
	kLAN
	kDisplay
)

var kindNames = [...]string{KindEgress, KindWiFi, KindGateway, KindLANNeighbor, KindDisplaySerial}

// obs is one device's sighting of a value; times are Unix nanoseconds.
type obs struct {
	dev         int32
	first, last int64
}

type gkey struct {
	kind  kind
	value string
}

// group is one distinct value. Its sightings are entries while evidence is gathered, and
// obs once links() has bucketed them (one allocation for all groups, not one per group).
type group struct {
	gkey
	n         int32 // sightings
	lastEntry int32 // index in builder.entries of the latest sighting, for merging repeats
	obs       []obs
}

type entry struct {
	group int32
	obs
}

type rawLink struct {
	gkey
	obs []obs
}

type builder struct {
	cfg     Config
	cutoff  time.Time
	ids     []string
	hosts   []string
	ignore  map[string]bool
	owners  map[string]int32 // own MAC -> device, -1 when more than one device claims it
	index   map[gkey]int32
	groups  []group
	entries []entry
	notes   []string
}

// Correlate links the members by what they share within cfg.Window before now and returns the
// clusters of at least cfg.MinMembers devices, largest first (then by ID), and notes on
// evidence it declined to use (NAT-sized egress addresses, office-sized LANs, ambiguous MACs),
// sorted. Members with the same DeviceID are merged (the first non-empty hostname is kept);
// members without one are skipped.
func Correlate(members []Member, cfg Config, now time.Time) ([]Cluster, []string) {
	cfg = cfg.withDefaults()
	b := &builder{
		cfg:    cfg,
		cutoff: now.Add(-cfg.Window),
		ignore: map[string]bool{},
		// Sized for the usual evidence (two MACs; an egress, gateway, BSSID and display each) so
		// that the maps do not regrow: at fleet scale most of the time goes to these lookups.
		owners:  make(map[string]int32, 2*len(members)),
		index:   make(map[gkey]int32, 4*len(members)),
		groups:  make([]group, 0, 4*len(members)),
		entries: make([]entry, 0, 8*len(members)),
	}
	for _, v := range cfg.IgnoreValues {
		for _, n := range normIgnore(v) {
			b.ignore[n] = true
		}
	}
	// Merge members by ID, so that one device's evidence is added in one run (add relies on it).
	devOf := make(map[string]int32, len(members))
	var byDev [][]int32
	for i, m := range members {
		if m.DeviceID == "" {
			continue
		}
		d, ok := devOf[m.DeviceID]
		if !ok {
			d = int32(len(b.ids))
			devOf[m.DeviceID] = d
			b.ids = append(b.ids, m.DeviceID)
			b.hosts = append(b.hosts, "")
			byDev = append(byDev, nil)
		}
		if b.hosts[d] == "" {
			b.hosts[d] = m.Hostname
		}
		byDev[d] = append(byDev[d], int32(i))
	}
	if skipped := len(members) - countMembers(byDev); skipped > 0 {
		b.note("%d members without a device ID skipped", skipped)
	}

	for d, ms := range byDev {
		for _, i := range ms {
			b.ownMACs(int32(d), &members[i])
		}
	}
	ambiguous := 0
	for _, d := range b.owners {
		if d < 0 {
			ambiguous++
		}
	}
	if ambiguous > 0 {
		b.note("%d MAC addresses are claimed by more than one device (fixed virtual-adapter addresses, re-enrolled laptops); they are not matched as LAN neighbours", ambiguous)
	}
	for d, ms := range byDev {
		for _, i := range ms {
			b.evidence(int32(d), &members[i])
		}
	}
	links := b.links()
	clusters := b.clusters(links)
	slices.Sort(b.notes)
	return clusters, b.notes
}

func countMembers(byDev [][]int32) int {
	n := 0
	for _, ms := range byDev {
		n += len(ms)
	}
	return n
}

func (b *builder) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// ownMACs records the device's own interface MACs for neighbour matching.
func (b *builder) ownMACs(d int32, m *Member) {
	claim := func(s string) {
		mac := normMAC(s)
		if mac == "" || b.ignore[mac] {
			return
		}
		if prev, ok := b.owners[mac]; ok && prev != d {
			b.owners[mac] = -1
			return
		}
		b.owners[mac] = d
	}
	for _, s := range m.MACs {
		claim(s)
	}
	for _, ni := range m.Facts.GetInterfaces() {
		claim(ni.GetMacAddress())
	}
}

// evidence adds the device's egress addresses and, when its facts are recent, what it sees of
// its LAN and its displays.
func (b *builder) evidence(d int32, m *Member) {
	for _, e := range m.Egress {
		if e.LastSeen.Before(b.cutoff) {
			continue
		}
		v, ok := egressValue(e.Address, b.cfg.CorporateEgress)
		if !ok || b.ignore[v] {
			continue
		}
		first := e.FirstSeen
		if first.IsZero() || first.After(e.LastSeen) {
			first = e.LastSeen
		}
		b.add(kEgress, v, d, first.UnixNano(), e.LastSeen.UnixNano())
	}

	if m.Facts == nil {
		return
	}
	at := m.FactsAt
	if at.IsZero() {
		at = m.LastSeen
	}
	if at.Before(b.cutoff) {
		return
	}
	t := at.UnixNano()
	lan := m.Facts.GetLan()
	for _, w := range lan.GetWifi() {
		if v := normMAC(w.GetBssid()); v != "" && !b.ignore[v] {
			b.add(kWiFi, v, d, t, t)
		}
	}
	for _, g := range lan.GetGateways() {
		if v := normMAC(g.GetMac()); v != "" && !b.ignore[v] {
			b.add(kGateway, v, d, t, t)
		}
	}
	for _, n := range lan.GetNeighbours() {
		v := normMAC(n.GetMac())
		if v == "" || b.ignore[v] {
			continue
		}
		if owner, ok := b.owners[v]; ok && owner >= 0 && owner != d {
			b.add(kLAN, v, d, t, t)
		}
	}
	for _, disp := range m.Facts.GetDisplays() {
		v, serial := displayValue(disp)
		if v != "" && !b.ignore[strings.ToLower(v)] && !b.ignore[strings.ToLower(serial)] {
			b.add(kDisplay, v, d, t, t)
		}
	}
}

// add records that device d saw value. A device's evidence is added in one run, so a repeat
// (two interfaces behind one gateway) is always the group's last sighting and is merged there.
func (b *builder) add(k kind, value string, d int32, first, last int64) {
	key := gkey{k, value}
	gi, ok := b.index[key]
	if !ok {
		gi = int32(len(b.groups))
		b.index[key] = gi
		b.groups = append(b.groups, group{gkey: key})
	}
	g := &b.groups[gi]
	if g.n > 0 {
		if e := &b.entries[g.lastEntry]; e.dev == d {
			e.first, e.last = min(e.first, first), max(e.last, last)
			return
		}
	}
	g.n++
	g.lastEntry = int32(len(b.entries))
	b.entries = append(b.entries, entry{gi, obs{d, first, last}})
}

// bucket moves the entries into each group's obs, in the order they were added; LAN groups get
// one spare slot for their owner.
func (b *builder) bucket() {
	total := len(b.entries)
	for gi := range b.groups {
		if b.groups[gi].kind == kLAN {
			total++
		}
	}
	all := make([]obs, total)
	off := 0
	for gi := range b.groups {
		g := &b.groups[gi]
		size := int(g.n)
		if g.kind == kLAN {
			size++
		}
		g.obs = all[off : off : off+size]
		off += size
	}
	for _, e := range b.entries {
		g := &b.groups[e.group]
		g.obs = append(g.obs, e.obs)
	}
	b.entries = nil
}

// links turns the groups of two or more devices into links, applying the egress NAT bound and
// the egress time-overlap rule.
func (b *builder) links() []rawLink {
	b.bucket()
	var out []rawLink
	for gi := range b.groups {
		g := &b.groups[gi]
		if g.kind == kLAN {
			// The owner saw nothing; it is linked by being seen, over the sightings' span.
			first, last := g.obs[0].first, g.obs[0].last
			for _, o := range g.obs[1:] {
				first, last = min(first, o.first), max(last, o.last)
			}
			g.obs = append(g.obs, obs{b.owners[g.value], first, last})
		}
		if len(g.obs) < 2 {
			continue
		}
		if len(g.obs) > b.cfg.MaxEgressMembers {
			if g.kind == kEgress {
				b.note("egress %s: %d devices within the window, more than %d: a carrier or corporate NAT, not one home; not linked", g.value, len(g.obs), b.cfg.MaxEgressMembers)
				continue
			}
			b.note("%s %s links %d devices, more than %d: an office network? If so, list it in IgnoreValues", kindNames[g.kind], g.value, len(g.obs), b.cfg.MaxEgressMembers)
		}
		if g.kind != kEgress {
			out = append(out, rawLink{g.gkey, g.obs})
			continue
		}
		// Chain the devices whose periods on the address overlap (within the gap).
		slices.SortFunc(g.obs, func(x, y obs) int {
			return cmp.Or(cmp.Compare(x.first, y.first), strings.Compare(b.ids[x.dev], b.ids[y.dev]))
		})
		gap := int64(b.cfg.EgressGap)
		start, end := 0, g.obs[0].last
		for i := 1; i <= len(g.obs); i++ {
			if i < len(g.obs) && g.obs[i].first <= end+gap {
				end = max(end, g.obs[i].last)
				continue
			}
			if i-start >= 2 {
				out = append(out, rawLink{g.gkey, g.obs[start:i]})
			}
			if i < len(g.obs) {
				start, end = i, g.obs[i].last
			}
		}
	}
	return out
}

// clusters joins the links' devices (union-find) and builds the clusters big enough to keep.
func (b *builder) clusters(links []rawLink) []Cluster {
	parent := make([]int32, len(b.ids))
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]] // path halving
			x = parent[x]
		}
		return x
	}
	for _, l := range links {
		r := find(l.obs[0].dev)
		for _, o := range l.obs[1:] {
			if s := find(o.dev); s != r {
				// Attach the larger index under the smaller: any fixed rule keeps it simple.
				if s < r {
					r, s = s, r
				}
				parent[s] = r
			}
		}
	}
	size := make([]int32, len(b.ids))
	for i := range parent {
		size[find(int32(i))]++
	}
	clusterOf := make([]int32, len(b.ids))
	var out []Cluster
	var devs [][]int32 // each cluster's member devices
	for i := range parent {
		clusterOf[i] = -1
		if r := find(int32(i)); int32(i) == r && int(size[r]) >= b.cfg.MinMembers {
			clusterOf[i] = int32(len(out))
			out = append(out, Cluster{Window: b.cfg.Window})
			devs = append(devs, make([]int32, 0, size[r]))
		}
	}
	for i := range parent {
		if c := clusterOf[find(int32(i))]; c >= 0 {
			devs[c] = append(devs[c], int32(i))
		}
	}
	for _, l := range links {
		c := clusterOf[find(l.obs[0].dev)]
		if c < 0 {
			continue
		}
		link := Link{Kind: kindNames[l.kind], Value: l.value, Devices: make([]string, len(l.obs))}
		first, last := l.obs[0].first, l.obs[0].last
		for i, o := range l.obs {
			link.Devices[i] = b.ids[o.dev]
			first, last = min(first, o.first), max(last, o.last)
		}
		slices.Sort(link.Devices)
		link.First, link.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		out[c].Links = append(out[c].Links, link)
	}
	for i := range out {
		c := &out[i]
		slices.SortFunc(devs[i], func(x, y int32) int { return strings.Compare(b.ids[x], b.ids[y]) })
		c.Members = make([]string, len(devs[i]))
		c.Hostnames = make([]string, len(devs[i]))
		for j, d := range devs[i] {
			c.Members[j], c.Hostnames[j] = b.ids[d], b.hosts[d]
		}
		c.ID = clusterID(c.Members)
		slices.SortFunc(c.Links, func(x, y Link) int {
			return cmp.Or(strings.Compare(x.Kind, y.Kind), strings.Compare(x.Value, y.Value), x.First.Compare(y.First),
				slices.Compare(x.Devices, y.Devices))
		})
		for j, l := range c.Links {
			if j == 0 || l.First.Before(c.First) {
				c.First = l.First
			}
			if j == 0 || l.Last.After(c.Last) {
				c.Last = l.Last
			}
			if !slices.Contains(c.Kinds, l.Kind) {
				c.Kinds = append(c.Kinds, l.Kind)
			}
		}
		slices.Sort(c.Kinds)
	}
	slices.SortFunc(out, func(x, y Cluster) int {
		return cmp.Or(cmp.Compare(len(y.Members), len(x.Members)), strings.Compare(x.ID, y.ID))
	})
	return out
}

// clusterID hashes the sorted member IDs.
func clusterID(sorted []string) string {
	h := sha256.New()
	for _, id := range sorted {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return "c_" + hex.EncodeToString(h.Sum(nil))[:12]
}
