package detectors

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("relay", true, newRelay)
}

// relay reports what the packet sniffer saw of remote-control relays (DNS lookups, TLS and
// QUIC server names, STUN/TURN) and the connections the laptop holds to addresses whose names
// belong to a tool, each attributed to the process that owns the socket when the socket table
// shows it.
type relay struct{}

func newRelay(*slog.Logger) (detect.Detector, error) { return relay{}, nil }

// socketOwner finds the process owning a local endpoint.
func socketOwner(f *pb.Facts, local netip.AddrPort, proto string) *pb.Process {
	if !local.IsValid() || local.Port() == 0 {
		return nil
	}
	for _, p := range f.GetProcesses() {
		for _, s := range p.GetSockets() {
			if uint16(s.GetLocalPort()) != local.Port() || !strings.HasPrefix(s.GetProtocol(), proto) {
				continue
			}
			return p
		}
	}
	return nil
}

func (relay) Detect(_ context.Context, env *detect.Env) ([]*pb.Finding, error) {
	if env.Catalog == nil {
		return nil, detect.ErrNotApplicable
	}
	tools := map[string]*catalog.Tool{}
	for i := range env.Catalog.RemoteTools {
		tools[env.Catalog.RemoteTools[i].ID] = &env.Catalog.RemoteTools[i]
	}
	toolName := func(id string) (string, string, bool) {
		if t := tools[id]; t != nil {
			return t.Name, t.Attack, t.Deep
		}
		return id, "T1219", false
	}
	var out []*pb.Finding
	var observations []netwatch.Observation
	if env.Network != nil {
		observations = env.Network.Snapshot(env.NetworkSince)
	}
	for _, o := range observations {
		ev := map[string]string{
			"via": o.Via, "name": o.Name, "remote": o.Remote.String(), "local": o.Local.String(), "protocol": o.Proto,
			"count": strconv.Itoa(o.Count), "first_seen": o.First.UTC().Format("2006-01-02T15:04:05Z"),
			"last_seen": o.Last.UTC().Format("2006-01-02T15:04:05Z"), "recognised_by": "packet sniffer (" + o.Via + ")",
		}
		for k, v := range o.Detail {
			ev[k] = clipEvidence(v)
		}
		var who string
		if p := socketOwner(env.Facts, o.Local, o.Proto); p != nil {
			ev["process"], ev["pid"], ev["executable"] = p.GetName(), strconv.Itoa(int(p.GetPid())), clipEvidence(p.GetExecutable())
			who = fmt.Sprintf(" by %s (pid %d)", p.GetName(), p.GetPid())
		}
		sev, conf := pb.Severity_SEVERITY_LOW, 0.5
		var title, attack string
		if o.Tool != "" {
			name, att, deep := toolName(o.Tool)
			ev["tool"] = o.Tool
			attack = att
			switch o.Signal {
			case "relay.dns":
				title = fmt.Sprintf("DNS lookup of %s (%s)%s", o.Name, name, who)
				conf = 0.6
			case "relay.tls":
				title = fmt.Sprintf("TLS connection to %s (%s) on %s%s", o.Name, name, o.Remote, who)
				sev, conf = pb.Severity_SEVERITY_MEDIUM, 0.8
			case "relay.stun":
				title = fmt.Sprintf("STUN/TURN exchange with %s (%s) at %s%s", o.Name, name, o.Remote, who)
				sev, conf = pb.Severity_SEVERITY_MEDIUM, 0.7
			}
			if !deep {
				conf -= 0.2
			}
		} else {
			// STUN to an address no catalog name explains: WebRTC calls do this too.
			attack = "T1090"
			title = fmt.Sprintf("STUN/TURN exchange with %s%s", o.Remote, who)
			if o.Name != "" {
				title = fmt.Sprintf("STUN/TURN exchange with %s (%s)%s", o.Remote, o.Name, who)
			}
			conf = 0.3
		}
		out = append(out, &pb.Finding{
			Signal: o.Signal, Severity: sev, Confidence: conf, Title: title, Attack: attack,
			Key:      o.Signal + ":" + o.Tool + ":" + o.Name + ":" + o.Via + ":" + o.Remote.String(),
			Evidence: ev,
		})
	}
	// The connection table: established connections to an address the laptop resolved to a
	// tool's name (needs the sniffer), inside a tool's address ranges, or to a curated tool's
	// distinctive relay port.
	rules := relayRules(env.Catalog)
	for _, p := range env.Facts.GetProcesses() {
		for _, s := range p.GetSockets() {
			if !isEstablished(s) {
				continue
			}
			addr, err := netip.ParseAddr(plainAddr(s.GetRemoteAddress()))
			if err != nil || addr.IsLoopback() {
				continue
			}
			var tool, name, how string
			conf := 0.8
			if env.Network != nil {
				if name, tool = env.Network.NameOf(addr, env.Now); tool != "" {
					how = "socket table + name learned from DNS/TLS"
				}
			}
			if tool == "" {
				for _, r := range rules.prefixes {
					if r.prefix.Contains(addr.Unmap()) {
						tool, how, conf = r.tool, "address in "+r.prefix.String(), 0.7
						break
					}
				}
			}
			if tool == "" {
				if t, ok := rules.ports[s.GetRemotePort()]; ok {
					tool, how, conf = t, fmt.Sprintf("remote port %d", s.GetRemotePort()), 0.6
				}
			}
			if tool == "" {
				continue
			}
			tn, att, _ := toolName(tool)
			remote := hostPort(s.GetRemoteAddress(), s.GetRemotePort())
			shown := remote
			if name != "" {
				shown = remote + ", " + name
			}
			out = append(out, &pb.Finding{
				Signal: "relay.connection", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: conf, Attack: att,
				Title: fmt.Sprintf("%s (pid %d) is connected to %s (%s)", p.GetName(), p.GetPid(), shown, tn),
				Key:   "relay.connection:" + tool + ":" + strconv.Itoa(int(p.GetPid())) + ":" + remote,
				Evidence: map[string]string{
					"tool": tool, "name": name, "remote": remote, "local": hostPort(s.GetLocalAddress(), s.GetLocalPort()),
					"process": p.GetName(), "pid": strconv.Itoa(int(p.GetPid())), "executable": clipEvidence(p.GetExecutable()),
					"recognised_by": how,
				},
			})
		}
	}
	return out, nil
}

type prefixTool struct {
	prefix netip.Prefix
	tool   string
}

type relayRuleSet struct {
	prefixes []prefixTool
	ports    map[uint32]string // distinctive TCP relay/rendezvous ports of curated tools
}

// relayRules compiles the catalog's addresses and distinctive relay ports (never 80, 443, 3478
// and the other ports everything uses). Small: rebuilt per scan.
func relayRules(c *catalog.Catalog) relayRuleSet {
	rs := relayRuleSet{ports: map[uint32]string{}}
	for _, t := range c.RemoteTools {
		if !t.Deep {
			continue
		}
		for _, a := range t.Network.Addresses {
			if p, err := netip.ParsePrefix(a); err == nil {
				rs.prefixes = append(rs.prefixes, prefixTool{p, t.ID})
			} else if ip, err := netip.ParseAddr(a); err == nil {
				rs.prefixes = append(rs.prefixes, prefixTool{netip.PrefixFrom(ip, ip.BitLen()), t.ID})
			}
		}
		for _, p := range t.Network.Ports {
			if p.Protocol != "tcp" || (p.Role != "relay" && p.Role != "rendezvous") {
				continue
			}
			for port := p.Port; port <= max(p.Port, p.To) && port-p.Port < 64; port++ {
				if !commonPorts[port] {
					rs.ports[port] = t.ID
				}
			}
		}
	}
	return rs
}
