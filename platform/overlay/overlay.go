// Package overlay finds overlay networks and tunnels on this computer —
// Tailscale, ZeroTier, NetBird, WireGuard, ngrok, Cloudflare Tunnel
// (cloudflared) and Astrill VPN — and says whether each is running,
// connected to its control plane or edge, and carrying traffic now.
//
// It only looks: GET requests to the tools' own status endpoints on
// loopback (or Tailscale's local socket or pipe), the list of network
// interfaces, and the presence of the tools' state directories. Every
// request is bounded (1 MiB, 300 ms) and nothing but GET is ever sent.
// Secrets the tools keep (ZeroTier's authtoken.secret, Tailscale's state
// file) are used or stat'ed, never returned or logged.
//
// The remote-access detector turns the result into findings; the parsers
// are exported so captured API answers can be replayed.
package overlay

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Kinds of overlay.
const (
	KindTailscale   = "tailscale"
	KindZeroTier    = "zerotier"
	KindNetBird     = "netbird"
	KindWireGuard   = "wireguard"
	KindNgrok       = "ngrok"
	KindCloudflared = "cloudflared"
	KindAstrill     = "astrill"
)

// Overlay is one overlay network or tunnel tool found on the computer. List
// returns at most one per Kind, merged from every source that saw it.
type Overlay struct {
	// Kind is one of the Kind constants.
	Kind string
	// Interfaces are the tool's network interfaces: "tailscale0" (Linux),
	// "utun4" (macOS, only when the Tailscale API answered and the
	// interface holds a Tailscale address), "Tailscale" (Windows),
	// "ztabcdef12" / "feth2001" (ZeroTier), "wt0" / macOS "utun100"
	// (NetBird), "wg0" (WireGuard), adapters named or described "Astrill"
	// (Windows descriptions come from GetAdaptersAddresses; elsewhere only
	// the name is known).
	Interfaces []string
	// Running is true when the daemon or agent answered its API or one of
	// its interfaces is up.
	Running bool
	// Connected is true when it is connected to its control plane or edge:
	// Tailscale BackendState "Running", ZeroTier "online", cloudflared
	// /ready 200, ngrok with at least one tunnel. Interfaces alone never set
	// it.
	Connected bool
	// Active is true when it carries traffic: a Tailscale or ZeroTier peer
	// with live traffic or an active path, an ngrok tunnel that has had
	// connections, cloudflared with HA connections to the edge.
	Active bool
	// Peers are Tailscale or ZeroTier (leaf) peers.
	Peers []Peer
	// Tunnels are ngrok tunnels or cloudflared public hostnames.
	Tunnels []Tunnel
	// Self is this node on the overlay.
	Self SelfInfo
	// Source says where the facts came from, comma-separated: "tailscale
	// localapi", "zerotier api", "ngrok api", "cloudflared metrics",
	// "tailscale state", "zerotier state", "interfaces".
	Source string
	// Flags qualify the answer: "unauthorized" (the API refused us, or the
	// node awaits approval), "no-token" (ZeroTier authtoken.secret
	// unreadable), "no-access" (the socket or pipe exists but we may not
	// open it), "truncated" (an answer hit the 1 MiB cap), "needs-login",
	// "stopped", "exit-node" (Tailscale traffic leaves through a peer),
	// "tcp-fallback" (ZeroTier relayed over TCP 443), "not-ready"
	// (cloudflared /ready not 200), "exposes-rdp" / "exposes-vnc" /
	// "exposes-ssh" (a tunnel publishes that local port), "network-…"
	// (a ZeroTier network status other than OK, lower case).
	Flags []string
}

// Peer is another node of a Tailscale or ZeroTier network.
type Peer struct {
	// Name is the Tailscale host name (else its MagicDNS name) or the
	// ZeroTier node address.
	Name string
	// Addresses are the peer's overlay IPs (Tailscale); empty for ZeroTier,
	// whose /peer answer has none.
	Addresses []string
	// Relay is the DERP region ("fra") when an active Tailscale peer has no
	// direct path, or "peer-relay ADDR" through a Tailscale peer relay.
	// ZeroTier leaves it empty.
	Relay string
	// Direct is the underlay address of the direct path: Tailscale CurAddr
	// ("203.0.113.7:41641"), ZeroTier's active path ("203.0.113.7/9993").
	Direct string
	// Active: Tailscale "Active" (traffic in the last minutes); ZeroTier: an
	// active, unexpired path.
	Active bool
	// OS is the peer's OS as Tailscale reports it ("windows", "macOS").
	OS string
}

// Tunnel is one public endpoint of ngrok or cloudflared.
type Tunnel struct {
	// PublicURL is what the world connects to ("https://ab12.ngrok-free.app",
	// "tcp://0.tcp.eu.ngrok.io:13254", "https://rdp.example.com").
	PublicURL string
	// Proto is "https", "http", "tcp" or "tls".
	Proto string
	// Addr is the local target ("http://localhost:3389"); unknown ("") for
	// cloudflared.
	Addr string
}

// SelfInfo is this node on the overlay.
type SelfInfo struct {
	// Name is the Tailscale host name or the ZeroTier node address.
	Name string
	// Addresses are this node's overlay IPs, without prefix length.
	Addresses []string
	// Network is the tailnet name, or the joined ZeroTier network IDs
	// comma-separated.
	Network string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Limits of every live request.
const (
	maxBody        = 1 << 20
	requestTimeout = 300 * time.Millisecond
)

// List returns the overlays found, sorted by Kind.
//
// root "" or "/" is the live system: Tailscale's LocalAPI (Linux
// /var/run/tailscale/tailscaled.sock, macOS /var/run/tailscaled.socket of
// the open-source tailscaled — the App Store and standalone GUI apps use
// another IPC and are seen by their utun interface only when that socket
// is absent; Windows the named pipe
// \\.\pipe\ProtectedPrefix\Administrators\Tailscale\tailscaled, which only
// Administrators and SYSTEM may open), ZeroTier's service API on
// 127.0.0.1:9993 with its authtoken.secret, ngrok's agent API on
// 127.0.0.1:4040-4045, cloudflared's metrics server on
// 127.0.0.1:20241-20245, the network interfaces, and the Tailscale and
// ZeroTier state directories (an installed but stopped tool is listed with
// Running false). A source that is absent (refused, no socket) is skipped
// silently; one that fails otherwise (timeout, bad answer) is reported in
// the joined error next to whatever was found.
//
// Any other root is a captured tree, read on every OS: interfaces from
// ROOT/sys/class/net (Linux captures; "up" as recorded) and the state
// directories of all three OS layouts (var/lib/tailscale,
// Library/Tailscale, ProgramData/Tailscale; var/lib/zerotier-one,
// Library/Application Support/ZeroTier/One, ProgramData/ZeroTier/One).
// Nothing is connected to; Connected and Active stay false.
//
// Cost live: one LocalAPI request, up to three ZeroTier, six ngrok and ten
// cloudflared loopback requests, each bounded by 300 ms and 1 MiB (a
// refused port answers at once, so an idle machine costs about a
// millisecond); one interface listing; a few stats and small reads. A port
// of a candidate range held by another program that answers badly is
// reported in the error, not as an overlay.
func List(ctx context.Context, root string) ([]Overlay, error) {
	if root != "" && root != "/" {
		return list(ctx, capturedConfig(root))
	}
	cfg, err := liveConfig()
	if err != nil {
		return nil, err
	}
	return list(ctx, cfg)
}

// merge folds src into dst.
func merge(dst *Overlay, src Overlay) {
	if dst.Kind == "" {
		dst.Kind = src.Kind
	}
	dst.Interfaces = appendUnique(dst.Interfaces, src.Interfaces...)
	dst.Running = dst.Running || src.Running
	dst.Connected = dst.Connected || src.Connected
	dst.Active = dst.Active || src.Active
	dst.Peers = append(dst.Peers, src.Peers...)
	dst.Tunnels = append(dst.Tunnels, src.Tunnels...)
	if dst.Self.Name == "" {
		dst.Self.Name = src.Self.Name
	}
	dst.Self.Addresses = appendUnique(dst.Self.Addresses, src.Self.Addresses...)
	if dst.Self.Network == "" {
		dst.Self.Network = src.Self.Network
	}
	if src.Source != "" && !slices.Contains(strings.Split(dst.Source, ", "), src.Source) {
		if dst.Source != "" {
			dst.Source += ", "
		}
		dst.Source += src.Source
	}
	dst.Flags = appendUnique(dst.Flags, src.Flags...)
}

// appendUnique appends the non-empty values of add not already in s.
func appendUnique(s []string, add ...string) []string {
	for _, a := range add {
		if a != "" && !slices.Contains(s, a) {
			s = append(s, a)
		}
	}
	return s
}

// maxString bounds every string taken from untrusted input.
const maxString = 512

func clip(s string) string {
	if len(s) > maxString {
		s = s[:maxString]
	}
	return strings.ToValidUTF8(s, "") // local APIs and metrics are untrusted bytes too
}
