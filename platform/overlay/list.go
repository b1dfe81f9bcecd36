package overlay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/platform/fsroot"
	"github.com/farmwatch/farmwatch/platform/netif"
)

// config says where List looks. Live readers fill it per OS; tests point it
// at their own servers.
type config struct {
	goos string // naming rules of the interfaces (sysfs captures: "linux")
	live bool   // false: never connect to anything

	tailscaleSocket string // unix socket or Windows pipe
	dialTailscale   func(ctx context.Context, path string) (net.Conn, error)

	host          string // loopback address of the TCP APIs
	zeroTierPorts []int  // the first is the default; zerotier-one.port may add one
	ngrokPorts    []int
	cfPorts       []int

	timeout time.Duration
	max     int64

	tailscaleState []string // state files, only stat'ed (they hold keys)
	zeroTierHomes  []string // ZeroTier home dirs (authtoken.secret, networks.d, identity.public)

	interfaces func(ctx context.Context) ([]ifaceInfo, error)
}

// ifaceInfo is what overlay needs to know about an interface.
type ifaceInfo struct {
	Name, Description string
	Up                bool
	IPs               []string // without prefix length
}

// Live defaults shared by all OSes.
var (
	defaultZeroTierPort = 9993
	defaultNgrokPorts   = []int{4040, 4041, 4042, 4043, 4044, 4045}
	defaultCFPorts      = []int{20241, 20242, 20243, 20244, 20245}
)

// capturedConfig reads only files under root.
func capturedConfig(root string) config {
	return config{
		goos: "linux",
		tailscaleState: []string{
			fsroot.Path(root, "var/lib/tailscale/tailscaled.state"),
			fsroot.Path(root, "Library/Tailscale/tailscaled.state"),
			fsroot.Path(root, "ProgramData/Tailscale/server-state.conf"),
		},
		zeroTierHomes: []string{
			fsroot.Path(root, "var/lib/zerotier-one"),
			fsroot.Path(root, "Library/Application Support/ZeroTier/One"),
			fsroot.Path(root, "ProgramData/ZeroTier/One"),
		},
		interfaces: func(ctx context.Context) ([]ifaceInfo, error) {
			ifs, err := netif.List(ctx, root)
			if err != nil {
				if fsroot.Absent(err) {
					return nil, nil // not a Linux capture
				}
				return nil, err
			}
			return fromNetif(ifs), nil
		},
	}
}

// liveInterfaces lists the live interfaces (with Windows adapter descriptions).
func liveInterfaces(ctx context.Context) ([]ifaceInfo, error) {
	ifs, err := netif.List(ctx, "")
	if err != nil {
		return nil, err
	}
	return fromNetif(ifs), nil
}

func fromNetif(ifs []netif.Interface) []ifaceInfo {
	out := make([]ifaceInfo, 0, len(ifs))
	for _, i := range ifs {
		info := ifaceInfo{Name: i.Name, Description: i.Description, Up: slices.Contains(i.Flags, "up")}
		for _, a := range i.Addresses {
			info.IPs = append(info.IPs, stripPrefix(a))
		}
		out = append(out, info)
	}
	return out
}

// list gathers every source of cfg and merges them per Kind.
func list(ctx context.Context, cfg config) ([]Overlay, error) {
	if cfg.timeout == 0 {
		cfg.timeout = requestTimeout
	}
	if cfg.max == 0 {
		cfg.max = maxBody
	}
	if cfg.host == "" {
		cfg.host = "127.0.0.1"
	}
	byKind := map[string]*Overlay{}
	add := func(o Overlay) {
		if byKind[o.Kind] == nil {
			byKind[o.Kind] = &Overlay{}
		}
		merge(byKind[o.Kind], o)
	}
	var errs []error
	collect := func(found []Overlay, err error) {
		for _, o := range found {
			add(o)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.live {
		tcp := newLoopbackGetter(cfg.timeout, cfg.max)
		collect(readTailscale(ctx, cfg))
		collect(readZeroTier(ctx, cfg, tcp))
		collect(readNgrok(ctx, cfg, tcp))
		collect(readCloudflared(ctx, cfg, tcp))
	}
	collect(readState(cfg))
	if cfg.interfaces != nil {
		ifs, err := cfg.interfaces(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list interfaces: %w", err))
		}
		for _, o := range attribute(cfg.goos, ifs, byKind) {
			add(o)
		}
	}
	out := make([]Overlay, 0, len(byKind))
	for _, o := range byKind {
		slices.Sort(o.Interfaces)
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b Overlay) int { return strings.Compare(a.Kind, b.Kind) })
	return out, errors.Join(errs...)
}

// tailscaleHost is the Host the LocalAPI requires (apitype.LocalAPIHost).
const tailscaleHost = "local-tailscaled.sock"

// readTailscale asks the LocalAPI for its status.
func readTailscale(ctx context.Context, cfg config) ([]Overlay, error) {
	if cfg.tailscaleSocket == "" || cfg.dialTailscale == nil {
		return nil, nil
	}
	g := newGetter(func(ctx context.Context, _, _ string) (net.Conn, error) {
		return cfg.dialTailscale(ctx, cfg.tailscaleSocket)
	}, cfg.timeout, cfg.max)
	r, err := g.get(ctx, "http://"+tailscaleHost+"/localapi/v0/status", nil)
	switch {
	case err != nil && absent(err):
		return nil, nil
	case err != nil && permissionDenied(err):
		return []Overlay{{Kind: KindTailscale, Source: "tailscale localapi", Flags: []string{"no-access"}}}, nil
	case err != nil:
		return nil, fmt.Errorf("tailscale localapi %s: %w", cfg.tailscaleSocket, err)
	}
	return fromReply(r, KindTailscale, "tailscale localapi", ParseTailscaleStatus)
}

// fromReply turns one API answer into an Overlay: refusals and truncation
// become flags on a running overlay, other statuses errors.
func fromReply(r reply, kind, source string, parse func([]byte) (Overlay, error)) ([]Overlay, error) {
	base := Overlay{Kind: kind, Running: true, Source: source}
	switch {
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		base.Flags = []string{"unauthorized"}
		return []Overlay{base}, nil
	case r.status != http.StatusOK:
		return nil, fmt.Errorf("%s: HTTP status %d", source, r.status)
	case r.truncated:
		base.Flags = []string{"truncated"}
		return []Overlay{base}, nil
	}
	o, err := parse(r.body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return []Overlay{o}, nil
}

// readZeroTier asks the ZeroTier service API, with the token when readable.
func readZeroTier(ctx context.Context, cfg config, g *getter) ([]Overlay, error) {
	token := ""
	for _, h := range cfg.zeroTierHomes {
		if b, err := fsroot.ReadFile(filepath.Join(h, "authtoken.secret"), 4<<10); err == nil {
			token = strings.TrimSpace(string(b))
			break
		}
	}
	ports := slices.Clone(cfg.zeroTierPorts)
	for _, h := range cfg.zeroTierHomes {
		if b, err := fsroot.ReadFile(filepath.Join(h, "zerotier-one.port"), 64); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 && p < 65536 && !slices.Contains(ports, p) {
				ports = append(ports, p)
			}
		}
	}
	var hdr map[string]string
	if token != "" {
		hdr = map[string]string{"X-ZT1-Auth": token}
	}
	var errs []error
	for _, port := range ports {
		base := "http://" + net.JoinHostPort(cfg.host, strconv.Itoa(port))
		st, err := g.get(ctx, base+"/status", hdr)
		if err != nil {
			if !absent(err) {
				errs = append(errs, fmt.Errorf("zerotier api port %d: %w", port, redact(err, token)))
			}
			continue
		}
		if (st.status == http.StatusUnauthorized || st.status == http.StatusForbidden) && token == "" {
			return []Overlay{{Kind: KindZeroTier, Running: true, Source: "zerotier api", Flags: []string{"no-token"}}}, errors.Join(errs...)
		}
		if st.status != http.StatusOK || st.truncated {
			got, err := fromReply(st, KindZeroTier, "zerotier api", nil)
			return got, errors.Join(append(errs, err)...)
		}
		// /network and /peer are extras: a failure there keeps /status.
		var nets, peers []byte
		var flags []string
		for _, part := range []struct {
			path string
			dst  *[]byte
		}{{"/network", &nets}, {"/peer", &peers}} {
			r, err := g.get(ctx, base+part.path, hdr)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("zerotier api %s: %w", part.path, redact(err, token)))
			case r.truncated:
				flags = appendUnique(flags, "truncated")
			case r.status == http.StatusOK:
				*part.dst = r.body
			default:
				errs = append(errs, fmt.Errorf("zerotier api %s: HTTP status %d", part.path, r.status))
			}
		}
		o, err := ParseZeroTierStatus(st.body, nets, peers)
		if err != nil {
			errs = append(errs, fmt.Errorf("zerotier api: %w", err))
			if o.Kind == "" {
				return nil, errors.Join(errs...)
			}
		}
		o.Flags = appendUnique(o.Flags, flags...)
		return []Overlay{o}, errors.Join(errs...)
	}
	return nil, errors.Join(errs...)
}

// redact removes the token from an error text, in case a library ever
// echoes a header.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[token]"))
}

// readNgrok asks every candidate port of the ngrok agent API.
func readNgrok(ctx context.Context, cfg config, g *getter) ([]Overlay, error) {
	var out []Overlay
	var errs []error
	for _, port := range cfg.ngrokPorts {
		url := "http://" + net.JoinHostPort(cfg.host, strconv.Itoa(port)) + "/api/tunnels"
		r, err := g.get(ctx, url, nil)
		if err != nil {
			if !absent(err) {
				errs = append(errs, fmt.Errorf("ngrok api port %d: %w", port, err))
			}
			continue
		}
		got, err := fromReply(r, KindNgrok, "ngrok api", ParseNgrokTunnels)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d: %w", port, err))
		}
		out = append(out, got...)
	}
	return out, errors.Join(errs...)
}

// readCloudflared asks every candidate port of cloudflared's metrics server.
func readCloudflared(ctx context.Context, cfg config, g *getter) ([]Overlay, error) {
	var out []Overlay
	var errs []error
	for _, port := range cfg.cfPorts {
		base := "http://" + net.JoinHostPort(cfg.host, strconv.Itoa(port))
		ready, err := g.get(ctx, base+"/ready", nil)
		if err != nil {
			if !absent(err) {
				errs = append(errs, fmt.Errorf("cloudflared metrics port %d: %w", port, err))
			}
			continue
		}
		m, err := g.get(ctx, base+"/metrics", nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("cloudflared metrics port %d: %w", port, err))
			continue
		}
		got, err := fromReply(m, KindCloudflared, "cloudflared metrics", func(b []byte) (Overlay, error) {
			return ParseCloudflaredMetrics(ready.status, b)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d: %w", port, err))
		}
		out = append(out, got...)
	}
	return out, errors.Join(errs...)
}

// zeroTierNetworkFile is a joined network's config in networks.d.
var zeroTierNetworkFile = regexp.MustCompile(`^([0-9a-f]{16})\.conf$`)

// readState reports installed tools from their state directories. The
// Tailscale state file holds private keys and is only stat'ed; of ZeroTier
// only the public identity and the network file names are read.
func readState(cfg config) ([]Overlay, error) {
	var out []Overlay
	var errs []error
	for _, p := range cfg.tailscaleState {
		if _, err := os.Stat(p); err == nil {
			out = append(out, Overlay{Kind: KindTailscale, Source: "tailscale state"})
			break
		}
	}
	for _, home := range cfg.zeroTierHomes {
		o := Overlay{Kind: KindZeroTier, Source: "zerotier state"}
		found := false
		if b, err := fsroot.ReadFile(filepath.Join(home, "identity.public"), 1<<10); err == nil {
			found = true
			if addr, _, ok := strings.Cut(string(b), ":"); ok && len(addr) == 10 {
				o.Self.Name = addr
			}
		}
		ents, err := fsroot.ReadDir(filepath.Join(home, "networks.d"))
		if err != nil {
			errs = append(errs, err)
		}
		var ids []string
		for _, e := range ents {
			found = true
			if m := zeroTierNetworkFile.FindStringSubmatch(e.Name()); m != nil {
				ids = append(ids, m[1])
			}
		}
		o.Self.Network = strings.Join(ids, ",")
		if found {
			out = append(out, o)
			break
		}
	}
	return out, errors.Join(errs...)
}

// Interface naming rules.
var (
	zeroTierLinuxName = regexp.MustCompile(`^zt[0-9a-z]+$`)
	zeroTierMacName   = regexp.MustCompile(`^feth[0-9]+$`)
	wireGuardName     = regexp.MustCompile(`^wg[0-9]+$`)
)

// interfaceKind names the overlay an interface belongs to from its name and
// (Windows) adapter description, or "". utun* on macOS is generic and only
// utun100, which NetBird asks for by number (the system numbers its own
// from utun0 up), matches here.
func interfaceKind(goos, name, desc string) string {
	n, d := strings.ToLower(name), strings.ToLower(desc)
	has := func(s string) bool { return strings.Contains(n, s) || strings.Contains(d, s) }
	switch {
	case has("astrill"):
		return KindAstrill
	case strings.HasPrefix(n, "tailscale") || strings.Contains(d, "tailscale"):
		return KindTailscale
	case has("zerotier"), goos != "windows" && zeroTierLinuxName.MatchString(n), goos == "darwin" && zeroTierMacName.MatchString(n):
		return KindZeroTier
	case n == "wt0" || has("netbird"), goos == "darwin" && n == "utun100":
		return KindNetBird
	case wireGuardName.MatchString(n) || strings.Contains(d, "wireguard"):
		return KindWireGuard
	}
	return ""
}

// attribute assigns interfaces to overlays: first by address (an interface
// holding a Tailscale or ZeroTier address found by the API — how macOS utun
// interfaces are attributed), then by name.
func attribute(goos string, ifs []ifaceInfo, known map[string]*Overlay) []Overlay {
	kinds := slices.Sorted(maps.Keys(known))
	var out []Overlay
	for _, i := range ifs {
		kind := ""
		for _, k := range kinds {
			if slices.ContainsFunc(i.IPs, func(ip string) bool { return ip != "" && slices.Contains(known[k].Self.Addresses, ip) }) {
				kind = k
				break
			}
		}
		if kind == "" {
			kind = interfaceKind(goos, i.Name, i.Description)
		}
		if kind == "" {
			continue
		}
		out = append(out, Overlay{Kind: kind, Interfaces: []string{i.Name}, Running: i.Up, Source: "interfaces"})
	}
	return out
}
