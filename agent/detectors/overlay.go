package detectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/platform/overlay"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("overlay", true, newOverlay)
}

// overlayDet reports overlay networks (Tailscale, ZeroTier, NetBird, WireGuard), tunnels
// (ngrok, cloudflared) and consumer VPNs (Astrill) from their interfaces and read-only looks at
// their local status endpoints, telling present from connected from carrying traffic now.
type overlayDet struct{}

func newOverlay(*slog.Logger) (detect.Detector, error) { return overlayDet{}, nil }

var overlaySignal = map[string]string{
	"tailscale": "overlay.mesh", "zerotier": "overlay.mesh", "netbird": "overlay.mesh", "wireguard": "overlay.mesh",
	"ngrok": "overlay.tunnel", "cloudflared": "overlay.tunnel",
	"astrill": "overlay.vpn",
}

var overlayName = map[string]string{
	"tailscale": "Tailscale", "zerotier": "ZeroTier", "netbird": "NetBird", "wireguard": "WireGuard",
	"ngrok": "ngrok", "cloudflared": "Cloudflare Tunnel", "astrill": "Astrill VPN",
}

func (overlayDet) Detect(ctx context.Context, env *detect.Env) ([]*pb.Finding, error) {
	ovs, err := overlay.List(ctx, env.Root)
	if err != nil && !errors.Is(err, overlay.ErrNotImplemented) && len(ovs) == 0 {
		return nil, fmt.Errorf("overlays: %w", err)
	}
	// A tool process with nothing else to show (Astrill's client, a tunnel agent whose API is
	// off) still counts as present and running.
	seen := map[string]bool{}
	for _, o := range ovs {
		seen[o.Kind] = true
	}
	if env.Catalog != nil {
		goos := env.Facts.GetHost().GetOs()
		if goos == "" {
			goos = "linux"
		}
		for kind := range overlaySignal {
			t := env.Catalog.Tool(kind)
			if t == nil || seen[kind] {
				continue
			}
			ind := osIndicators(t, goos)
			if ind == nil {
				continue
			}
			want := map[string]bool{}
			for _, n := range ind.Processes {
				want[strings.TrimSuffix(strings.ToLower(n), ".exe")] = true
			}
			var paths []*regexp.Regexp
			for _, g := range ind.Paths {
				if re, err := globRegexp(g, goos); err == nil {
					paths = append(paths, re)
				}
			}
			for _, p := range env.Facts.GetProcesses() {
				hit := false
				for _, n := range names(p) {
					if want[strings.TrimSuffix(n, ".exe")] {
						hit = true
					}
				}
				for _, re := range paths {
					if exe := p.GetExecutable(); exe != "" && re.MatchString(exe) {
						hit = true
					}
				}
				if hit {
					ovs = append(ovs, overlay.Overlay{Kind: kind, Running: true, Source: "process " + p.GetName() + " (pid " + strconv.Itoa(int(p.GetPid())) + ")"})
					seen[kind] = true
					break
				}
			}
		}
	}
	var out []*pb.Finding
	for _, o := range ovs {
		signal := overlaySignal[o.Kind]
		if signal == "" {
			continue
		}
		name := firstNonEmpty(overlayName[o.Kind], o.Kind)
		state := "present"
		sev, conf := pb.Severity_SEVERITY_LOW, 0.6
		switch {
		case o.Active:
			state, sev, conf = "carrying traffic now", pb.Severity_SEVERITY_HIGH, 0.9
		case o.Connected:
			state, sev, conf = "connected", pb.Severity_SEVERITY_MEDIUM, 0.85
		case o.Running:
			state, conf = "running", 0.7
		}
		ev := map[string]string{"overlay": o.Kind, "state": state, "source": o.Source, "recognised_by": o.Source}
		if len(o.Interfaces) > 0 {
			ev["interfaces"] = strings.Join(o.Interfaces, ", ")
		}
		if o.Self.Name != "" {
			ev["self"] = o.Self.Name
		}
		if o.Self.Network != "" {
			ev["network"] = o.Self.Network
		}
		var active, relayed []string
		for _, p := range o.Peers {
			if p.Active {
				active = append(active, p.Name)
			}
			if p.Relay != "" && p.Active {
				relayed = append(relayed, p.Name+" via "+p.Relay)
			}
		}
		if len(o.Peers) > 0 {
			ev["peers"] = strconv.Itoa(len(o.Peers))
		}
		if len(active) > 0 {
			sort.Strings(active)
			ev["active_peers"] = clipEvidence(strings.Join(active, ", "))
		}
		if len(relayed) > 0 {
			sort.Strings(relayed)
			ev["relayed"] = clipEvidence(strings.Join(relayed, ", "))
		}
		var tunnels []string
		for _, tn := range o.Tunnels {
			tunnels = append(tunnels, tn.PublicURL+" -> "+tn.Addr)
		}
		if len(tunnels) > 0 {
			ev["tunnels"] = clipEvidence(strings.Join(tunnels, ", "))
			if signal == "overlay.tunnel" && sev < pb.Severity_SEVERITY_MEDIUM {
				sev = pb.Severity_SEVERITY_MEDIUM
			}
		}
		if len(o.Flags) > 0 {
			ev["flags"] = strings.Join(o.Flags, ", ")
		}
		attack := map[string]string{"overlay.mesh": "T1572", "overlay.tunnel": "T1572", "overlay.vpn": "T1090"}[signal]
		title := fmt.Sprintf("%s is %s", name, state)
		if len(o.Tunnels) > 0 {
			title = fmt.Sprintf("%s is %s, exposing %s", name, state, o.Tunnels[0].Addr)
		}
		out = append(out, &pb.Finding{
			Signal: signal, Severity: sev, Confidence: conf, Title: title, Attack: attack,
			Key: signal + ":" + o.Kind, Evidence: ev,
		})
	}
	return out, nil
}
