// Package capture is the agent's live packet source: a privileged, bounded,
// shedding sniffer that hands link-layer frames to agent/packet.
//
// Only the traffic that can reveal a remote-control relay reaches user space:
// the kernel runs Filter (classic BPF, assembled here with golang.org/x/net/bpf,
// no libpcap) and drops everything else. What passes, exactly:
//
//   - UDP or TCP, source or destination port 53, 3478, 5349, 19302, 21116
//     or 5938 (DNS, STUN/TURN, TURN-TLS, Google STUN, RustDesk, TeamViewer);
//   - UDP, source or destination port 5353 (mDNS) or 443 (QUIC);
//   - UDP on any port whose payload bytes 4..7 are 0x2112A442 (the STUN
//     magic cookie);
//   - TCP on any port whose payload starts with 0x16 0x03 (a TLS handshake
//     record: ClientHello, ServerHello...). The PSH flag is not required: a
//     ClientHello with post-quantum key shares spans two segments and Linux
//     sets PSH only on the last one. Requiring 0x03 after 0x16 keeps the false
//     positive rate of arbitrary mid-stream segments at 1/65536.
//
// Over Ethernet (optionally with one 802.1Q tag, EtherType 0x8100), raw IP
// and BSD loopback (DLT_NULL) framing, for IPv4 and IPv6. IPv4 non-first
// fragments are dropped (they carry no ports); IPv6 packets are matched on
// the fixed header's Next Header only, so packets with extension headers
// (including fragments) are dropped. Accepted frames are cut to Snaplen in the
// kernel. FilterExpression is the same filter as a tcpdump expression, for
// documentation.
//
// Platforms:
//
//   - Linux: AF_PACKET TPACKET_V3 mmap rings (github.com/gopacket/gopacket
//     afpacket, pure Go). One socket per interface, fanned into one Source by
//     goroutines: a single socket bound to all interfaces would mix link
//     types (Ethernet, loopback, tun/WireGuard raw IP) under one filter.
//     Ethernet and loopback interfaces are read raw (LinkEthernet; lo carries
//     a zeroed Ethernet header); every other interface type is read with
//     SOCK_DGRAM, i.e. from the network header (LinkRaw). Needs root or
//     CAP_NET_RAW.
//   - macOS: /dev/bpf* (one device per interface), the same program set with
//     BIOCSETF; Ethernet interfaces give LinkEthernet, lo0 and utun give
//     LinkLoop (DLT_NULL) and DLT_RAW gives LinkRaw. Needs root. Compiled,
//     not run, in CI. (gopacket's bsdbpf is not used: it has no filter
//     option, panics when no /dev/bpf can be opened and aligns records on 8
//     bytes where Darwin uses 4.)
//   - Windows: Npcap's wpcap.dll, loaded at Open from
//     %SystemRoot%\System32\Npcap (no cgo, nothing is loaded before Open);
//     the same program is set with pcap_setfilter. Without Npcap Open returns
//     ErrNotImplemented ("Npcap is required; the sniffer is off"). Compiled,
//     not run, in CI.
//   - Elsewhere: ErrNotImplemented.
//
// Interfaces are enumerated once, at Open: an interface that appears later
// (a VPN coming up) is not captured until the Source is reopened. Interfaces
// are not put in promiscuous mode: the agent only cares about its own host's
// traffic.
package capture

import (
	"context"
	"errors"
	"runtime"
	"time"

	"golang.org/x/net/bpf"
)

// Link types of Frame.Link. They have the values of agent/packet's LinkType
// constants and must stay equal to them.
const (
	LinkEthernet = 1 // Ethernet II, optionally 802.1Q-tagged
	LinkRaw      = 2 // starts with the IPv4 or IPv6 header
	LinkLoop     = 3 // BSD loopback (DLT_NULL): 4-byte host-order address family
	LinkSLL      = 4 // Linux cooked capture v1 (not produced here)
	LinkSLL2     = 5 // Linux cooked capture v2 (not produced here)
)

// Defaults of Options.
const (
	DefaultSnaplen             = 1600
	DefaultMaxPacketsPerSecond = 20000
	// DefaultBufferBytes is 512 KiB: on Linux the whole TPACKET ring of
	// every interface is mapped into the agent and counts in its resident
	// memory (the former 4 MiB rings were 8 MiB of the agent's 25 MiB
	// budget with two interfaces, more on a laptop with VPN and container
	// interfaces). Only headers, DNS, STUN and handshakes pass the filter;
	// at 1600-byte frames 512 KiB holds ~300 frames in 16 ring blocks of
	// 32 KiB: half a second of sparse traffic (a block is handed over after
	// 32 ms) or ~35 ms of a 100 Mbit/s QUIC download, whose data packets
	// do not matter. The loopback tests and BenchmarkLiveSnifferCPU
	// (10,000 packets/s) see no kernel drops with it. On macOS it is the
	// BPF buffer (read into a buffer of the same size on the Go heap).
	DefaultBufferBytes = 512 << 10
	maxSnaplen         = 65535
)

// Frame is one captured link-layer frame.
type Frame struct {
	// Data is the frame, cut to Snaplen. It is valid until the next Read.
	Data []byte
	// Link is the framing of Data: LinkEthernet, LinkRaw or LinkLoop.
	Link int
	// Time is the kernel's (or driver's) capture time.
	Time time.Time
	// Interface is the interface name ("eth0", "en0"; on Windows the
	// adapter's friendly name, "Ethernet").
	Interface string
	// OrigLen is the frame's length on the wire, before Snaplen.
	OrigLen int
}

// Stats are a Source's counters since Open.
type Stats struct {
	// Received counts the frames that passed the kernel filter and were
	// taken off the kernel buffer, shed ones included.
	Received uint64
	// Dropped counts the frames that passed the filter but were dropped by
	// the kernel (or the driver) because its buffer was full.
	Dropped uint64
	// Shed counts the frames read and discarded by us: beyond
	// MaxPacketsPerSecond, or while the reader of the Source was so far
	// behind that our queue was full.
	Shed uint64
}

// Options configure Open.
type Options struct {
	// Interfaces are the names of the interfaces to capture on. Empty: all
	// interfaces that are up, loopback included.
	Interfaces []string
	// Snaplen is the number of bytes kept of each frame. 0: DefaultSnaplen.
	Snaplen int
	// MaxPacketsPerSecond bounds the frames returned by Read (a token bucket
	// with a tenth of a second of burst); frames beyond it are read off the
	// kernel buffer, discarded and counted in Stats.Shed. 0:
	// DefaultMaxPacketsPerSecond; negative: no limit.
	MaxPacketsPerSecond int
	// BufferBytes is the size of the kernel buffer of each interface (the
	// TPACKET ring on Linux). 0: DefaultBufferBytes.
	BufferBytes int
}

// Source is a live capture. Read must be called from one goroutine at a time;
// Stats and Close may be called from any goroutine.
type Source interface {
	// Read returns the next frame. It blocks until one is available, ctx
	// is done (ctx.Err()), the Source is closed (ErrClosed) or every
	// interface failed (their errors).
	Read(ctx context.Context) (Frame, error)
	// Stats returns the counters; after Close, their final values.
	Stats() Stats
	// Close stops the capture and releases the kernel buffers. It waits for
	// the reading goroutines (at most about a tenth of a second).
	Close() error
}

var (
	// ErrNotPermitted is returned by Open when the process may not capture:
	// not root / no CAP_NET_RAW on Linux, no access to /dev/bpf on macOS,
	// Npcap restricted to administrators on Windows. It wraps the OS error.
	ErrNotPermitted = errors.New("capture: not permitted (the packet sniffer needs root or CAP_NET_RAW; Administrator with Npcap on Windows)")
	// ErrNotImplemented is returned by Open where there is no capture path.
	ErrNotImplemented = errors.New("capture: not implemented on " + runtime.GOOS)
	// ErrClosed is returned by Read after Close.
	ErrClosed = errors.New("capture: source closed")
)

// Open starts capturing on the interfaces of opts.
func Open(opts Options) (Source, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return open(o)
}

func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Snaplen < 0:
		return o, errors.New("capture: negative Snaplen")
	case o.Snaplen == 0:
		o.Snaplen = DefaultSnaplen
	case o.Snaplen < 64:
		o.Snaplen = 64
	case o.Snaplen > maxSnaplen:
		o.Snaplen = maxSnaplen
	}
	if o.MaxPacketsPerSecond == 0 {
		o.MaxPacketsPerSecond = DefaultMaxPacketsPerSecond
	}
	switch {
	case o.BufferBytes < 0:
		return o, errors.New("capture: negative BufferBytes")
	case o.BufferBytes == 0:
		o.BufferBytes = DefaultBufferBytes
	}
	return o, nil
}

// Filter returns the kernel filter for Ethernet frames (optionally with one
// 802.1Q tag), accepting DefaultSnaplen bytes of the frames it passes. See
// the package documentation for what passes.
func Filter() []bpf.RawInstruction {
	return mustFilter(LinkEthernet, DefaultSnaplen)
}

// FilterExpression is the tcpdump/pcap-filter equivalent of Filter, for
// documentation (the programs actually loaded are assembled by this package).
// libpcap applies udp[]/tcp[] offsets to IPv4 only, while Filter applies the
// payload tests to IPv6 (without extension headers) too.
func FilterExpression() string {
	const e = "(port 53 or port 3478 or port 5349 or port 19302 or port 21116 or port 5938)" +
		" or (udp and (port 5353 or port 443))" +
		" or (udp and udp[12:4] = 0x2112a442)" +
		" or (tcp and tcp[((tcp[12:1] & 0xf0) >> 2):2] = 0x1603)"
	return "(" + e + ") or (vlan and (" + e + "))"
}

// InterfaceError is the failure of one interface.
type InterfaceError struct {
	Interface string
	Err       error
}

func (e *InterfaceError) Error() string { return "capture: " + e.Interface + ": " + e.Err.Error() }
func (e *InterfaceError) Unwrap() error { return e.Err }
