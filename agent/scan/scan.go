// Package scan runs one scan of the machine: it reads the platform facts, runs the detectors
// over them and returns a report body (without a sequence number: the spool assigns that).
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/host"
	"github.com/farmwatch/farmwatch/platform/keyboard"
	"github.com/farmwatch/farmwatch/platform/lan"
	"github.com/farmwatch/farmwatch/platform/locale"
	"github.com/farmwatch/farmwatch/platform/netif"
	"github.com/farmwatch/farmwatch/platform/process"
	"github.com/farmwatch/farmwatch/platform/rdpclient"
	"github.com/farmwatch/farmwatch/platform/timezone"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Caps keep a report well under the wire limit on any machine.
const (
	maxProcesses   = 5000
	maxSockets     = 256
	maxCommandLine = 4096
	maxField       = 256
	maxPath        = 4096
)

// Scanner reads facts and runs detectors.
type Scanner struct {
	Root         string
	Detectors    *detect.Set
	AgentVersion string
	Log          *slog.Logger
	// Network is the live sniffer's analyzer (nil when the sniffer is off); NetworkErr says why
	// it is off, and is reported in every scan's detector statuses.
	Network    *netwatch.Analyzer
	NetworkErr error
	// Zones remembers zone changes across scans (nil: not tracked, e.g. a one-off scan).
	Zones *ZoneHistory
	// Activity returns the idle-timer activity profile (nil: not sampled, e.g. a one-off scan).
	Activity func() *pb.Activity

	catalog atomic.Pointer[catalog.Catalog]
	clock   atomic.Pointer[clockSample]
}

type clockSample struct {
	skew, rtt time.Duration
}

// SetClock records the clock skew against the collector and the round trip it was measured
// over; later scans report it.
func (s *Scanner) SetClock(skew, rtt time.Duration) { s.clock.Store(&clockSample{skew, rtt}) }

// NetworkWindow is how long relay observations stay in reports: a day, so that a session at
// night is still in the morning's reports, and memory stays bounded.
const NetworkWindow = 24 * time.Hour

// SetCatalog replaces the signature set used from the next scan on; safe while a scan runs.
func (s *Scanner) SetCatalog(c *catalog.Catalog) { s.catalog.Store(c) }

// Catalog returns the signature set in force: the last one set, else the built-in one.
func (s *Scanner) Catalog() *catalog.Catalog {
	if c := s.catalog.Load(); c != nil {
		return c
	}
	c, err := catalog.Default()
	if err != nil {
		panic(err) // the embedded catalog is validated by its tests
	}
	s.catalog.CompareAndSwap(nil, c)
	return s.catalog.Load()
}

// Scan reads every fact source and runs the detectors. A fact source that fails is logged and
// reported as a failed pseudo-detector ("facts.<source>"); the scan goes on without it.
func (s *Scanner) Scan(ctx context.Context) (*pb.Report, error) {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	facts := &pb.Facts{}
	var statuses []*pb.DetectorStatus
	note := func(name string, t0 time.Time, err error) {
		st := &pb.DetectorStatus{Name: "facts." + name, Ok: err == nil, DurationMicros: uint32(time.Since(t0).Microseconds())}
		if err != nil {
			st.Error = err.Error()
			s.Log.Warn("fact source failed", "source", name, "err", err)
		}
		statuses = append(statuses, st)
	}

	t0 := time.Now()
	id, err := host.Read(ctx, s.Root)
	facts.Host = Identity(id)
	note("host", t0, err)

	t0 = time.Now()
	zone, zerr := timezone.Read(ctx, s.Root)
	loc, lerr := locale.Read(ctx, s.Root)
	facts.Time = &pb.TimeFacts{
		Zone: clip(zone.Name, maxField), Abbreviation: clip(zone.Abbreviation, maxField), UtcOffsetSeconds: zone.UTCOffsetSeconds,
		Dst: zone.DST, Locale: clip(loc.Locale, maxField), Languages: clipAll(loc.Languages, 64),
		WindowsZone: clip(zone.WindowsZone, maxField),
	}
	if c := s.clock.Load(); c != nil {
		facts.Time.ClockMeasured, facts.Time.ClockSkewMillis = true, c.skew.Milliseconds()
		facts.Time.RoundTripMillis = uint32(min(c.rtt.Milliseconds(), 1<<31))
	}
	var herr error
	if s.Zones != nil && zerr == nil {
		herr = s.Zones.Observe(facts.Time, time.Now())
	}
	note("time", t0, errors.Join(zerr, lerr, herr))

	t0 = time.Now()
	layouts, err := keyboard.List(ctx, s.Root)
	for _, l := range layouts {
		if len(facts.InputSources) == 128 {
			break
		}
		facts.InputSources = append(facts.InputSources, &pb.InputSource{
			Id: clip(l.ID, maxField), Language: clip(l.Language, maxField), Kind: clip(l.Kind, maxField),
			Source: clip(l.Source, maxField), User: clip(l.User, maxField),
		})
	}
	note("keyboard", t0, notImplemented(err, keyboard.ErrNotImplemented))

	if s.Activity != nil {
		facts.Activity = s.Activity()
	}

	t0 = time.Now()
	ifs, err := netif.List(ctx, s.Root)
	for _, i := range ifs {
		if len(facts.Interfaces) == 256 {
			break
		}
		facts.Interfaces = append(facts.Interfaces, &pb.NetworkInterface{
			Name: clip(i.Name, maxField), MacAddress: clip(i.MACAddress, maxField), Addresses: clipAll(i.Addresses, 256), Flags: clipAll(i.Flags, 32),
		})
	}
	note("interfaces", t0, err)

	t0 = time.Now()
	li, err := lan.Read(ctx, s.Root)
	facts.Lan = &pb.Lan{}
	for _, g := range li.Gateways {
		if len(facts.Lan.Gateways) < 16 {
			facts.Lan.Gateways = append(facts.Lan.Gateways, &pb.LanHost{Ip: clip(g.IP, maxField), Mac: clip(g.MAC, maxField), Interface: clip(g.Interface, maxField)})
		}
	}
	for _, n := range li.Neighbours {
		if len(facts.Lan.Neighbours) < 256 {
			facts.Lan.Neighbours = append(facts.Lan.Neighbours, &pb.LanHost{Ip: clip(n.IP, maxField), Mac: clip(n.MAC, maxField), Interface: clip(n.Interface, maxField), State: clip(n.State, maxField)})
		}
	}
	for _, w := range li.WiFi {
		if len(facts.Lan.Wifi) < 16 {
			facts.Lan.Wifi = append(facts.Lan.Wifi, &pb.WiFi{Interface: clip(w.Interface, maxField), Ssid: clip(w.SSID, maxField), Bssid: clip(w.BSSID, maxField), Known: w.Known, Note: clip(w.Note, maxField)})
		}
	}
	note("lan", t0, notImplemented(err, lan.ErrNotImplemented))

	t0 = time.Now()
	procs, counts, err := process.ListCounted(ctx, s.Root)
	facts.ProcessCount = uint32(len(procs))
	facts.ProcessesVanished, facts.ProcessesPartial = uint32(counts.Vanished), uint32(counts.Partial)
	for _, p := range procs {
		if len(facts.Processes) == maxProcesses {
			break
		}
		facts.Processes = append(facts.Processes, Process(p))
	}
	var listed []rdpclient.Proc // xrdp's daemons are found among them; nil: rdpclient walks /proc
	if err == nil {
		listed = make([]rdpclient.Proc, len(procs))
		for i, p := range procs {
			listed[i] = rdpclient.Proc{PID: int(p.PID), Name: p.Name}
		}
	}
	note("processes", t0, err)

	t0 = time.Now()
	clients, err := rdpclient.ClientsAmong(ctx, s.Root, listed)
	for _, c := range clients {
		if len(facts.RdpClients) == 32 {
			break
		}
		facts.RdpClients = append(facts.RdpClients, &pb.RdpClient{
			Session: clip(c.GetSession(), maxField), User: clip(c.GetUser(), maxField), ClientName: clip(c.GetClientName(), maxField),
			ClientAddress: clip(c.GetClientAddress(), maxField), KeyboardLayout: clip(c.GetKeyboardLayout(), maxField),
			TimeZone: clip(c.GetTimeZone(), maxField), ClientUtcOffsetSeconds: c.GetClientUtcOffsetSeconds(), OffsetKnown: c.GetOffsetKnown(),
			ClientBuild: clip(c.GetClientBuild(), maxField), Source: clip(c.GetSource(), maxField),
		})
	}
	note("rdp_clients", t0, notImplemented(err, rdpclient.ErrNotImplemented))

	s.hardware(ctx, facts, note)

	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if s.Network != nil || s.NetworkErr != nil {
		note("sniffer", time.Now(), s.NetworkErr)
	}
	cat := s.Catalog()
	now := time.Now()
	env := &detect.Env{Root: s.Root, Facts: facts, Catalog: cat, Now: now, Network: s.Network, NetworkSince: now.Add(-NetworkWindow)}
	if s.Network != nil {
		s.Network.Expire(env.NetworkSince)
	}
	findings, dstat := s.Detectors.Run(ctx, env)
	now = time.Now()
	for _, f := range findings {
		if f.FirstSeen == nil {
			f.FirstSeen = timestamppb.New(now)
		}
		if f.LastSeen == nil {
			f.LastSeen = timestamppb.New(now)
		}
	}
	return &pb.Report{
		Created:            timestamppb.New(now),
		AgentVersion:       s.AgentVersion,
		CatalogVersion:     cat.Version,
		Facts:              facts,
		Findings:           findings,
		Detectors:          append(statuses, dstat...),
		ScanDurationMicros: uint32(time.Since(start).Microseconds()),
	}, nil
}

// Identity converts a platform identity to its wire form, keeping only well-formed MACs.
func Identity(id host.Identity) *pb.HardwareIdentity {
	h := &pb.HardwareIdentity{
		Hostname: clip(id.Hostname, maxField), Os: clip(id.OS, maxField), Platform: clip(id.Platform, maxField),
		OsVersion: clip(id.OSVersion, maxField), KernelVersion: clip(id.KernelVersion, maxField), Arch: clip(id.Arch, maxField),
		HardwareUuid: clip(id.HardwareUUID, maxField), SerialNumber: clip(id.SerialNumber, maxField), MachineId: clip(id.MachineID, maxField),
	}
	for _, m := range id.MACAddresses {
		if _, err := net.ParseMAC(m); err == nil && len(h.MacAddresses) < 256 {
			h.MacAddresses = append(h.MacAddresses, m)
		}
	}
	return h
}

// Process converts a platform process to its wire form.
func Process(p process.Process) *pb.Process {
	out := &pb.Process{
		Pid: p.PID, Ppid: p.PPID, Name: clip(p.Name, maxField), Executable: clip(p.Executable, maxPath),
		CommandLine: clip(p.CommandLine, maxCommandLine), Username: clip(p.Username, maxField),
	}
	if !p.Started.IsZero() {
		out.Started = timestamppb.New(p.Started)
	}
	for _, s := range p.Sockets {
		if len(out.Sockets) == maxSockets {
			break
		}
		out.Sockets = append(out.Sockets, &pb.Socket{
			Protocol: clip(s.Protocol, maxField), LocalAddress: clip(s.LocalAddress, maxField), LocalPort: s.LocalPort,
			RemoteAddress: clip(s.RemoteAddress, maxField), RemotePort: s.RemotePort, State: clip(s.State, maxField),
		})
	}
	return out
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence, and replaces invalid
// UTF-8 (protobuf strings must be valid).
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func clipAll(ss []string, max int) []string {
	var out []string
	for _, s := range ss {
		if len(out) == max {
			break
		}
		out = append(out, clip(s, maxField))
	}
	return out
}

// Summary is a one-line description of a report for logs.
func Summary(r *pb.Report) string {
	return fmt.Sprintf("%d findings, %d processes, %s", len(r.GetFindings()), r.GetFacts().GetProcessCount(),
		time.Duration(r.GetScanDurationMicros())*time.Microsecond)
}
