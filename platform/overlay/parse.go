package overlay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Tailscale BackendState values (ipn/backend.go).
const (
	tsRunning          = "Running"
	tsNeedsLogin       = "NeedsLogin"
	tsNeedsMachineAuth = "NeedsMachineAuth"
	tsStopped          = "Stopped"
)

// tsStatus is the part of ipnstate.Status that matters here.
type tsStatus struct {
	BackendState   string
	TailscaleIPs   []string
	Self           *tsPeer
	Peer           map[string]*tsPeer
	MagicDNSSuffix string
	CurrentTailnet *struct {
		Name           string
		MagicDNSSuffix string
	}
}

// tsPeer is the part of ipnstate.PeerStatus that matters here.
type tsPeer struct {
	HostName     string
	DNSName      string
	OS           string
	TailscaleIPs []string
	Relay        string // home DERP region code
	PeerRelay    string // "ip:port:vni:N" when using a Tailscale peer relay
	CurAddr      string // direct underlay address, "" when none
	Active       bool
	Online       bool
	ExitNode     bool
}

// ParseTailscaleStatus parses the JSON of the Tailscale LocalAPI GET
// /localapi/v0/status, the same as `tailscale status --json`. The daemon
// answered, so Running is true; Connected is BackendState "Running"; Active
// is any peer Active. Peers are sorted by name.
func ParseTailscaleStatus(b []byte) (Overlay, error) {
	var st tsStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return Overlay{}, fmt.Errorf("parse tailscale status: %w", err)
	}
	if st.BackendState == "" && st.Self == nil {
		return Overlay{}, errors.New("parse tailscale status: no BackendState or Self")
	}
	o := Overlay{Kind: KindTailscale, Running: true, Source: "tailscale localapi"}
	switch st.BackendState {
	case tsRunning:
		o.Connected = true
	case tsNeedsLogin:
		o.Flags = append(o.Flags, "needs-login")
	case tsNeedsMachineAuth:
		o.Flags = append(o.Flags, "unauthorized")
	case tsStopped:
		o.Flags = append(o.Flags, "stopped")
	}
	ips := st.TailscaleIPs
	if st.Self != nil {
		o.Self.Name = clip(st.Self.HostName)
		if len(st.Self.TailscaleIPs) > 0 {
			ips = st.Self.TailscaleIPs
		}
	}
	o.Self.Addresses = clipAll(ips)
	switch {
	case st.CurrentTailnet != nil && st.CurrentTailnet.Name != "":
		o.Self.Network = clip(st.CurrentTailnet.Name)
	case st.CurrentTailnet != nil && st.CurrentTailnet.MagicDNSSuffix != "":
		o.Self.Network = clip(st.CurrentTailnet.MagicDNSSuffix)
	default:
		o.Self.Network = clip(st.MagicDNSSuffix)
	}
	for _, p := range st.Peer {
		if p == nil {
			continue
		}
		peer := Peer{
			Name:      clip(p.HostName),
			Addresses: clipAll(p.TailscaleIPs),
			Direct:    clip(p.CurAddr),
			Active:    p.Active,
			OS:        clip(p.OS),
		}
		if peer.Name == "" {
			peer.Name = clip(strings.TrimSuffix(p.DNSName, "."))
		}
		// As `tailscale status` prints it: an active peer without a direct
		// path goes through its DERP region or a peer relay.
		if p.Active && p.CurAddr == "" {
			switch {
			case p.Relay != "" && p.PeerRelay == "":
				peer.Relay = clip(p.Relay)
			case p.PeerRelay != "":
				peer.Relay = clip("peer-relay " + p.PeerRelay)
			}
		}
		if p.Active {
			o.Active = true
		}
		if p.ExitNode {
			o.Flags = appendUnique(o.Flags, "exit-node")
		}
		o.Peers = append(o.Peers, peer)
	}
	sortPeers(o.Peers)
	return o, nil
}

// ZeroTier JSON of the service API (service/OneService.cpp).
type ztStatus struct {
	Address           string `json:"address"`
	Online            *bool  `json:"online"`
	TCPFallbackActive bool   `json:"tcpFallbackActive"`
	Version           string `json:"version"`
}

type ztNetwork struct {
	ID                string   `json:"id"`
	NWID              string   `json:"nwid"` // older builds
	Name              string   `json:"name"`
	Status            string   `json:"status"`
	AssignedAddresses []string `json:"assignedAddresses"`
	PortDeviceName    string   `json:"portDeviceName"`
}

type ztPeer struct {
	Address string  `json:"address"`
	Role    string  `json:"role"`
	Latency float64 `json:"latency"`
	Paths   []struct {
		Active    bool   `json:"active"`
		Expired   bool   `json:"expired"`
		Preferred bool   `json:"preferred"`
		Address   string `json:"address"`
	} `json:"paths"`
}

// ParseZeroTierStatus parses the ZeroTier service API answers to GET
// /status, /network and /peer; networks and peers may be nil when they were
// not fetched. Connected is "online" (reaching the roots); Active is a leaf
// peer with an active path. Root servers (role PLANET or MOON) are not
// peers. On an error in networks or peers the Overlay holds what was parsed
// before it.
func ParseZeroTierStatus(status, networks, peers []byte) (Overlay, error) {
	var st ztStatus
	if err := json.Unmarshal(status, &st); err != nil {
		return Overlay{}, fmt.Errorf("parse zerotier status: %w", err)
	}
	if st.Address == "" && st.Online == nil {
		return Overlay{}, errors.New("parse zerotier status: no address or online")
	}
	o := Overlay{Kind: KindZeroTier, Running: true, Source: "zerotier api"}
	o.Self.Name = clip(st.Address)
	o.Connected = st.Online != nil && *st.Online
	if st.TCPFallbackActive {
		o.Flags = append(o.Flags, "tcp-fallback")
	}
	if networks != nil {
		var nets []ztNetwork
		if err := json.Unmarshal(networks, &nets); err != nil {
			return o, fmt.Errorf("parse zerotier networks: %w", err)
		}
		var ids []string
		for _, n := range nets {
			id := n.ID
			if id == "" {
				id = n.NWID
			}
			ids = appendUnique(ids, clip(id))
			for _, a := range n.AssignedAddresses {
				o.Self.Addresses = appendUnique(o.Self.Addresses, clip(stripPrefix(a)))
			}
			o.Interfaces = appendUnique(o.Interfaces, clip(n.PortDeviceName))
			switch s := strings.ToUpper(n.Status); s {
			case "OK", "":
			case "ACCESS_DENIED", "AUTHENTICATION_REQUIRED":
				o.Flags = appendUnique(o.Flags, "unauthorized")
			default:
				o.Flags = appendUnique(o.Flags, clip("network-"+strings.ReplaceAll(strings.ToLower(s), "_", "-")))
			}
		}
		o.Self.Network = strings.Join(ids, ",")
	}
	if peers != nil {
		var ps []ztPeer
		if err := json.Unmarshal(peers, &ps); err != nil {
			return o, fmt.Errorf("parse zerotier peers: %w", err)
		}
		for _, p := range ps {
			if !strings.EqualFold(p.Role, "LEAF") {
				continue
			}
			peer := Peer{Name: clip(p.Address)}
			for _, path := range p.Paths {
				if !path.Active || path.Expired {
					continue
				}
				peer.Active = true
				if peer.Direct == "" || path.Preferred {
					peer.Direct = clip(path.Address)
				}
			}
			o.Active = o.Active || peer.Active
			o.Peers = append(o.Peers, peer)
		}
		sortPeers(o.Peers)
	}
	return o, nil
}

// ngrok agent API JSON (GET /api/tunnels).
type ngTunnels struct {
	Tunnels *[]ngTunnel `json:"tunnels"`
}

type ngTunnel struct {
	Name      string `json:"name"`
	PublicURL string `json:"public_url"`
	PublicURI string `json:"public_uri"`
	Proto     string `json:"proto"`
	Config    struct {
		Addr json.RawMessage `json:"addr"`
	} `json:"config"`
	Metrics struct {
		Conns struct {
			Count float64 `json:"count"` // connections since the tunnel started
			Gauge float64 `json:"gauge"` // open now
		} `json:"conns"`
	} `json:"metrics"`
}

// ParseNgrokTunnels parses the ngrok agent API answer to GET /api/tunnels.
// Connected is at least one tunnel; Active is a tunnel that has had
// connections (metrics.conns.count, cumulative since the tunnel started) or
// has some open (conns.gauge).
func ParseNgrokTunnels(b []byte) (Overlay, error) {
	var doc ngTunnels
	if err := json.Unmarshal(b, &doc); err != nil {
		return Overlay{}, fmt.Errorf("parse ngrok tunnels: %w", err)
	}
	if doc.Tunnels == nil {
		return Overlay{}, errors.New("parse ngrok tunnels: no tunnels list")
	}
	o := Overlay{Kind: KindNgrok, Running: true, Source: "ngrok api"}
	for _, t := range *doc.Tunnels {
		tun := Tunnel{PublicURL: clip(t.PublicURL), Proto: clip(t.Proto), Addr: clip(rawString(t.Config.Addr))}
		if tun.PublicURL == "" {
			tun.PublicURL = clip(t.PublicURI)
		}
		if tun.Proto == "" {
			tun.Proto = scheme(tun.PublicURL)
		}
		if tun.PublicURL == "" && tun.Addr == "" {
			continue
		}
		o.Tunnels = append(o.Tunnels, tun)
		o.Connected = true
		if t.Metrics.Conns.Count > 0 || t.Metrics.Conns.Gauge > 0 {
			o.Active = true
		}
		if f := exposure(tun.Addr); f != "" {
			o.Flags = appendUnique(o.Flags, f)
		}
	}
	sortTunnels(o.Tunnels)
	return o, nil
}

// ParseCloudflaredMetrics reads the status code of cloudflared's /ready (0
// when unknown) and its /metrics Prometheus text. Connected is /ready 200
// (or, from a build without /ready, HA connections > 0); Active is
// cloudflared_tunnel_ha_connections > 0. Tunnels are the public hostnames
// of cloudflared_tunnel_user_hostnames_counts, when the build exports it.
// Text without any cloudflared_ metric is an error: something else holds
// the port.
func ParseCloudflaredMetrics(ready int, metrics []byte) (Overlay, error) {
	o := Overlay{Kind: KindCloudflared, Running: true, Source: "cloudflared metrics"}
	var seen bool
	var ha float64
	parsePrometheus(metrics, func(name string, labels map[string]string, v float64) {
		if !strings.HasPrefix(name, "cloudflared_") {
			return
		}
		seen = true
		switch name {
		case "cloudflared_tunnel_ha_connections":
			ha += v
		case "cloudflared_tunnel_user_hostnames_counts":
			if h := clip(labels["userHostname"]); h != "" && !slices.ContainsFunc(o.Tunnels, func(t Tunnel) bool { return t.PublicURL == h }) {
				o.Tunnels = append(o.Tunnels, Tunnel{PublicURL: h, Proto: scheme(h)})
			}
		}
	})
	if !seen {
		return Overlay{}, errors.New("parse cloudflared metrics: no cloudflared_ metric")
	}
	o.Active = ha > 0
	o.Connected = ready == 200 || (ready != 503 && o.Active)
	if ready != 0 && ready != 200 {
		o.Flags = append(o.Flags, "not-ready")
	}
	sortTunnels(o.Tunnels)
	return o, nil
}

// parsePrometheus calls fn for every well-formed sample line of the
// Prometheus text exposition format; other lines are skipped.
func parsePrometheus(b []byte, fn func(name string, labels map[string]string, v float64)) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		i := 0
		for i < len(s) && isMetricChar(s[i], i == 0) {
			i++
		}
		if i == 0 {
			continue
		}
		name := s[:i]
		var labels map[string]string
		if i < len(s) && s[i] == '{' {
			var ok bool
			labels, i, ok = parseLabels(s, i+1)
			if !ok {
				continue
			}
		}
		rest := strings.Fields(s[i:])
		if len(rest) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		fn(name, labels, v)
	}
}

func isMetricChar(c byte, first bool) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// parseLabels reads `name="value",...}` from s[i:], returning the labels
// and the index after '}'.
func parseLabels(s string, i int) (map[string]string, int, bool) {
	labels := map[string]string{}
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			return nil, 0, false
		}
		if s[i] == '}' {
			return labels, i + 1, true
		}
		j := i
		for j < len(s) && isMetricChar(s[j], j == i) && s[j] != ':' {
			j++
		}
		if j == i || j+1 >= len(s) || s[j] != '=' || s[j+1] != '"' {
			return nil, 0, false
		}
		key := s[i:j]
		var v strings.Builder
		k := j + 2
		for ; k < len(s) && s[k] != '"'; k++ {
			if s[k] == '\\' && k+1 < len(s) {
				k++
				if s[k] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(s[k])
		}
		if k >= len(s) {
			return nil, 0, false
		}
		labels[key] = v.String()
		i = k + 1
	}
}

// rawString is a JSON string's value, a number's text, or "".
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// scheme is the lower-case URL scheme of u, or "".
func scheme(u string) string {
	s, _, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	return strings.ToLower(s)
}

// exposure flags a tunnel target on a remote-control port.
func exposure(addr string) string {
	port := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		port = u.Port()
	} else if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		port = addr[i+1:]
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil:
		return ""
	case n == 3389:
		return "exposes-rdp"
	case n >= 5900 && n <= 5909:
		return "exposes-vnc"
	case n == 22:
		return "exposes-ssh"
	}
	return ""
}

// stripPrefix turns "10.147.17.5/24" into "10.147.17.5"; anything that is
// not a prefix is returned as is.
func stripPrefix(a string) string {
	if p, err := netip.ParsePrefix(a); err == nil {
		return p.Addr().String()
	}
	return a
}

func clipAll(s []string) []string {
	var out []string
	for _, v := range s {
		out = appendUnique(out, clip(v))
	}
	return out
}

func sortPeers(p []Peer) {
	slices.SortFunc(p, func(a, b Peer) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := slices.Compare(a.Addresses, b.Addresses); c != 0 {
			return c
		}
		return strings.Compare(a.Direct, b.Direct)
	})
}

func sortTunnels(t []Tunnel) {
	slices.SortStableFunc(t, func(a, b Tunnel) int { return strings.Compare(a.PublicURL, b.PublicURL) })
}
