// Package netwatch turns decoded packets into observations of remote-control relays, overlays
// and tunnels: DNS lookups and TLS/QUIC server names of the catalog's relay domains, STUN/TURN
// exchanges, and the names behind the addresses the laptop talks to. It keeps bounded state
// (names learned from DNS answers, one observation per kind, tool, name and endpoint) and no raw
// DNS history beyond what an observation needs.
package netwatch

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/agent/packet"
	"github.com/farmwatch/farmwatch/catalog"
)

// Bounds on what the analyzer keeps.
const (
	MaxNames        = 4096 // addresses with a name learned from DNS
	MaxObservations = 1024
	maxNameTTL      = 6 * time.Hour
)

// Observation is one kind of relay evidence, aggregated.
type Observation struct {
	Signal string // relay.dns, relay.tls, relay.stun
	Tool   string // catalog tool id; "" when nothing names it (plain STUN)
	Name   string // DNS name or server name
	Via    string // dns-query, dns-answer, tls-sni, quic-sni, stun, turn-channel
	Local  netip.AddrPort
	Remote netip.AddrPort
	Proto  string // tcp, udp
	First  time.Time
	Last   time.Time
	Count  int
	// Detail holds protocol specifics: answer addresses, ALPN, STUN software/method.
	Detail map[string]string
}

// Stats count what the analyzer did.
type Stats struct {
	Packets, Matched, Dropped uint64 // Dropped: observations not kept because the table was full
}

// Analyzer aggregates observations. Safe for concurrent use.
type Analyzer struct {
	idx *domainIndex

	mu    sync.Mutex
	names map[netip.Addr]nameEntry
	obs   map[obsKey]*Observation
	stats Stats
}

type nameEntry struct {
	name    string
	tool    string
	expires time.Time
}

type obsKey struct {
	signal, tool, name, via string
	local, remote           netip.AddrPort
}

// New returns an analyzer matching against the catalog's relay domains.
func New(c *catalog.Catalog) *Analyzer {
	return &Analyzer{idx: newDomainIndex(c), names: map[netip.Addr]nameEntry{}, obs: map[obsKey]*Observation{}}
}

// domainIndex maps names to tools: exact names, suffixes (the name or any subdomain) and
// patterns.
type domainIndex struct {
	exact    map[string]string
	suffix   map[string]string
	patterns []struct {
		re   *regexp.Regexp
		tool string
	}
}

func newDomainIndex(c *catalog.Catalog) *domainIndex {
	x := &domainIndex{exact: map[string]string{}, suffix: map[string]string{}}
	for _, t := range c.RemoteTools {
		// Curated tools win over LOLRMM-only entries for shared names.
		for _, d := range t.Network.Domains {
			if _, ok := x.exact[d]; !ok || t.Deep {
				x.exact[strings.ToLower(d)] = t.ID
			}
		}
		for _, d := range t.Network.DomainSuffixes {
			if _, ok := x.suffix[d]; !ok || t.Deep {
				x.suffix[strings.ToLower(d)] = t.ID
			}
		}
		for _, p := range t.Network.DomainPatterns {
			if re, err := regexp.Compile(p); err == nil {
				x.patterns = append(x.patterns, struct {
					re   *regexp.Regexp
					tool string
				}{re, t.ID})
			}
		}
	}
	return x
}

// Tool returns the tool a DNS or server name belongs to, or "".
func (x *domainIndex) Tool(name string) string {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if name == "" {
		return ""
	}
	if t, ok := x.exact[name]; ok {
		return t
	}
	for _, p := range x.patterns {
		if p.re.MatchString(name) {
			return p.tool
		}
	}
	for n := name; ; {
		if t, ok := x.suffix[n]; ok {
			return t
		}
		i := strings.IndexByte(n, '.')
		if i < 0 {
			return ""
		}
		n = n[i+1:]
	}
}

// ToolFor is the tool a name belongs to (exported for the detectors and the offline analysis).
func (a *Analyzer) ToolFor(name string) string { return a.idx.Tool(name) }

// Observe takes one decoded packet.
func (a *Analyzer) Observe(p *packet.Packet, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats.Packets++
	proto := map[uint8]string{6: "tcp", 17: "udp"}[p.Proto]
	if d := p.DNS; d != nil {
		for _, q := range d.Questions {
			if t := a.idx.Tool(q.Name); t != "" && !d.Response {
				a.add("relay.dns", t, q.Name, "dns-query", p.Src, p.Dst, proto, at, kv{})
			}
		}
		for _, an := range d.Answers {
			t := a.idx.Tool(an.Name)
			if t == "" && len(d.Questions) > 0 {
				t = a.idx.Tool(d.Questions[0].Name) // CNAME chains keep the asked name's tool
			}
			if !an.Addr.IsValid() {
				continue
			}
			name := an.Name
			if len(d.Questions) > 0 {
				name = d.Questions[0].Name
			}
			a.learn(an.Addr, name, t, at, an.TTL)
			if t != "" {
				a.add("relay.dns", t, name, "dns-answer", p.Dst, p.Src, proto, at, kv{"answer", an.Addr.String()})
			}
		}
	}
	if h := p.TLS; h != nil && h.SNI != "" {
		t := a.idx.Tool(h.SNI)
		a.learn(p.Dst.Addr(), h.SNI, t, at, 3600)
		if t != "" && !a.sameHello(h.Flags, "relay.tls", t, h.SNI, "tls-sni", p.Src, p.Dst, at) {
			a.add("relay.tls", t, h.SNI, "tls-sni", p.Src, p.Dst, proto, at, kv{"alpn", strings.Join(h.ALPN, ",")})
		}
	}
	if q := p.QUIC; q != nil && q.SNI != "" {
		t := a.idx.Tool(q.SNI)
		a.learn(p.Dst.Addr(), q.SNI, t, at, 3600)
		if t != "" && !a.sameHello(q.Flags, "relay.tls", t, q.SNI, "quic-sni", p.Src, p.Dst, at) {
			a.add("relay.tls", t, q.SNI, "quic-sni", p.Src, p.Dst, proto, at, kv{"alpn", strings.Join(q.ALPN, ",")})
		}
	}
	if s := p.STUN; s != nil {
		via := "stun"
		for _, f := range s.Flags {
			if f == "channel-data" {
				via = "turn-channel"
			}
		}
		local, remote := p.Src, p.Dst
		if s.Class >= 2 { // a success or error response travels from the server to us
			local, remote = p.Dst, p.Src
		}
		name, t := a.nameOf(remote.Addr(), at)
		var detail kv
		if s.Software != "" {
			detail[0], detail[1] = "software", s.Software
		}
		if s.Method != 0 {
			detail[2], detail[3] = "method", stunMethod(s.Method)
		}
		a.add("relay.stun", t, name, via, local, remote, proto, at, detail)
	}
}

func stunMethod(m uint16) string {
	switch m {
	case 0x001:
		return "binding"
	case 0x003:
		return "allocate"
	case 0x004:
		return "refresh"
	case 0x006:
		return "send"
	case 0x007:
		return "data"
	case 0x008:
		return "create-permission"
	case 0x009:
		return "channel-bind"
	}
	return fmt.Sprintf("0x%03x", m)
}

// sameHello says whether a reassembled ClientHello is the one whose first part was already
// counted (its first packet carried the server name too): then only last-seen moves.
func (a *Analyzer) sameHello(flags []string, signal, tool, name, via string, local, remote netip.AddrPort, at time.Time) bool {
	reassembled := false
	for _, f := range flags {
		if f == "reassembled" {
			reassembled = true
		}
	}
	if !reassembled {
		return false
	}
	o, ok := a.obs[obsKey{signal, tool, normName(name), via, local, remote}]
	if !ok || at.Sub(o.Last) > 2*time.Second {
		return false
	}
	o.Last = at
	return true
}

func (a *Analyzer) learn(addr netip.Addr, name, tool string, at time.Time, ttl uint32) {
	if !addr.IsValid() || name == "" {
		return
	}
	exp := at.Add(min(time.Duration(ttl)*time.Second+time.Minute, maxNameTTL))
	if len(a.names) >= MaxNames {
		// Drop what has expired; if nothing has, the oldest-expiring entry.
		var oldest netip.Addr
		var oldestAt time.Time
		for k, v := range a.names {
			if v.expires.Before(at) {
				delete(a.names, k)
			} else if oldestAt.IsZero() || v.expires.Before(oldestAt) {
				oldest, oldestAt = k, v.expires
			}
		}
		if len(a.names) >= MaxNames {
			delete(a.names, oldest)
		}
	}
	a.names[addr.Unmap()] = nameEntry{name: strings.TrimSuffix(name, "."), tool: tool, expires: exp}
}

func (a *Analyzer) nameOf(addr netip.Addr, at time.Time) (string, string) {
	e, ok := a.names[addr.Unmap()]
	if !ok || e.expires.Before(at) {
		return "", ""
	}
	return e.name, e.tool
}

// NameOf returns the name (and its tool) the laptop last resolved for addr, if still valid.
func (a *Analyzer) NameOf(addr netip.Addr, at time.Time) (name, tool string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nameOf(addr, at)
}

// kv carries up to two evidence pairs without allocating on the hot path ("" keys are unused).
type kv [4]string

func (a *Analyzer) add(signal, tool, name, via string, local, remote netip.AddrPort, proto string, at time.Time, detail kv) {
	a.stats.Matched++
	name = normName(name)
	k := obsKey{signal, tool, name, via, local, remote}
	if signal == "relay.dns" {
		k.local = netip.AddrPort{} // one per name, whatever the resolver port
		k.remote = netip.AddrPortFrom(remote.Addr(), 0)
	}
	if o, ok := a.obs[k]; ok {
		o.Last, o.Count = at, o.Count+1
		for i := 0; i < len(detail); i += 2 {
			if detail[i] != "" && o.Detail[detail[i]] != detail[i+1] {
				o.Detail[detail[i]] = detail[i+1]
			}
		}
		return
	}
	if len(a.obs) >= MaxObservations {
		a.stats.Dropped++
		return
	}
	d := map[string]string{}
	for i := 0; i < len(detail); i += 2 {
		if detail[i] != "" {
			d[detail[i]] = detail[i+1]
		}
	}
	a.obs[k] = &Observation{Signal: signal, Tool: tool, Name: name, Via: via, Local: local, Remote: remote, Proto: proto,
		First: at, Last: at, Count: 1, Detail: d}
}

// normName lowercases and drops a trailing dot, without allocating when there is nothing to do
// (the decoders already hand over lowercase names).
func normName(n string) string {
	n = strings.TrimSuffix(n, ".")
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(n)
		}
	}
	return n
}

// Snapshot returns the observations seen since since (all when zero), sorted, as copies.
func (a *Analyzer) Snapshot(since time.Time) []Observation {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Observation, 0, len(a.obs))
	for _, o := range a.obs {
		if !since.IsZero() && o.Last.Before(since) {
			continue
		}
		c := *o
		c.Detail = make(map[string]string, len(o.Detail))
		for k, v := range o.Detail {
			c.Detail[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		if out[i].Tool != out[j].Tool {
			return out[i].Tool < out[j].Tool
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Expire forgets observations last seen before t, so state stays bounded over days.
func (a *Analyzer) Expire(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, o := range a.obs {
		if o.Last.Before(t) {
			delete(a.obs, k)
		}
	}
}

// Stats returns the counters.
func (a *Analyzer) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}
