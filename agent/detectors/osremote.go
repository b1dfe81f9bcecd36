// Package detectors holds Farmwatch's detectors, one file each; importing the package
// registers them with agent/detect.
package detectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/probe"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/remoteaccess"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("os_remote", true, newOSRemote)
}

// Probe budget per scan: unknown listeners are asked what they speak, concurrently, and the
// answer is remembered for the life of the listening process.
const (
	probeWait     = 350 * time.Millisecond // x11vnc greets 100-300 ms after accepting
	probeRetries  = 3                      // silent listeners are asked again at later scans
	probeParallel = 8
	probeMax      = 32
)

// osRemote reports remote-desktop servers that listen for connections (os_remote.enabled) and
// the peers connected to them now (os_remote.session): RDP and VNC servers recognised by the
// catalog's ports and process names, or by the protocol they speak when renamed; and the OS's
// own remote access (Windows RDP and its sessions, macOS Screen Sharing).
type osRemote struct {
	log *slog.Logger

	mu     sync.Mutex
	probed map[probeKey]probe.Result
	silent map[probeKey]int // how often a listener said nothing
}

// noProbe are ports of well-known services that are not remote desktops; probing them would only
// put a malformed request in their logs.
var noProbe = map[uint32]bool{22: true, 25: true, 53: true, 80: true, 110: true, 143: true, 443: true, 587: true, 631: true,
	993: true, 995: true, 1433: true, 1521: true, 3306: true, 5353: true, 5432: true, 6379: true, 8080: true, 8443: true,
	9200: true, 11211: true, 27017: true}

type probeKey struct {
	pid     int32
	started int64
	port    uint32
}

func newOSRemote(log *slog.Logger) (detect.Detector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &osRemote{log: log, probed: map[probeKey]probe.Result{}, silent: map[probeKey]int{}}, nil
}

// server is one identified remote-desktop listener.
type server struct {
	listener   catalog.Listener
	proc       *pb.Process
	sock       *pb.Socket
	recognised string // how: "port", "process name", "RFB greeting ...", "RDP ..."
}

func (d *osRemote) Detect(ctx context.Context, env *detect.Env) ([]*pb.Finding, error) {
	if env.Catalog == nil {
		return nil, errors.New("no catalog")
	}
	byPort := map[uint32]catalog.Listener{}
	byName := map[string]catalog.Listener{}
	byID := map[string]catalog.Listener{}
	for _, l := range env.Catalog.OSRemoteListeners {
		byID[l.ID] = l
		for _, p := range l.Ports {
			byPort[p] = l
		}
		for _, n := range l.Processes {
			byName[strings.ToLower(n)] = l
		}
	}

	var servers []server
	var unknown []server
	for _, p := range env.Facts.GetProcesses() {
		for _, s := range p.GetSockets() {
			if !isListen(s) {
				continue
			}
			if l, ok := knownName(p, byName); ok {
				servers = append(servers, server{l, p, s, "process name " + p.GetName()})
			} else if l, ok := byPort[s.GetLocalPort()]; ok {
				servers = append(servers, server{l, p, s, fmt.Sprintf("port %d", s.GetLocalPort())})
			} else if !noProbe[s.GetLocalPort()] {
				unknown = append(unknown, server{proc: p, sock: s})
			}
		}
	}
	// Renamed or unlisted servers: ask the listener what it speaks (live system only).
	if env.Root == "" || env.Root == "/" {
		for _, u := range d.probe(ctx, unknown) {
			switch u.res.Protocol {
			case probe.RFB:
				servers = append(servers, server{byID["vnc"], u.proc, u.sock, "RFB greeting \"" + u.res.Banner + "\" on " + dialAddr(u.sock)})
			case probe.RDP:
				servers = append(servers, server{byID["rdp"], u.proc, u.sock, u.res.Banner + " on " + dialAddr(u.sock)})
			}
		}
	}

	var out []*pb.Finding
	listening := map[uint32]server{} // local port -> server, for session matching
	seen := map[string]bool{}
	for _, sv := range servers {
		if sv.listener.ID == "" {
			continue // catalog without a vnc/rdp entry
		}
		port := sv.sock.GetLocalPort()
		listening[port] = sv
		key := sv.listener.ID + ":" + strconv.Itoa(int(port))
		if seen[key] {
			continue // the same server on IPv4 and IPv6
		}
		seen[key] = true
		out = append(out, enabledFinding(sv))
	}

	// Sessions: established connections to one of those listeners' ports.
	for _, p := range env.Facts.GetProcesses() {
		for _, s := range p.GetSockets() {
			if !isEstablished(s) {
				continue
			}
			sv, ok := listening[s.GetLocalPort()]
			if !ok || !sameServer(sv, p) {
				continue
			}
			peer := hostPort(s.GetRemoteAddress(), s.GetRemotePort())
			out = append(out, &pb.Finding{
				Signal:     "os_remote.session",
				Severity:   pb.Severity_SEVERITY_HIGH,
				Confidence: 0.9,
				Title:      fmt.Sprintf("%s session from %s (%s)", sv.listener.Name, plainAddr(s.GetRemoteAddress()), p.GetName()),
				Attack:     sv.listener.Attack,
				Key:        sv.listener.ID + ":" + strconv.Itoa(int(s.GetLocalPort())) + ":" + peer,
				Evidence: map[string]string{
					"service":       sv.listener.ID,
					"process":       p.GetName(),
					"pid":           strconv.Itoa(int(p.GetPid())),
					"executable":    clipEvidence(p.GetExecutable()),
					"local":         hostPort(s.GetLocalAddress(), s.GetLocalPort()),
					"peer":          peer,
					"peer_address":  plainAddr(s.GetRemoteAddress()),
					"recognised_by": sv.recognised,
				},
			})
		}
	}

	st, err := remoteaccess.Read(ctx, env.Root)
	if err != nil && !errors.Is(err, remoteaccess.ErrNotImplemented) {
		return out, fmt.Errorf("remote access state: %w", err)
	}
	out = append(out, osFindings(st, byID)...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func knownName(p *pb.Process, byName map[string]catalog.Listener) (catalog.Listener, bool) {
	for _, n := range names(p) {
		if l, ok := byName[n]; ok {
			return l, true
		}
	}
	return catalog.Listener{}, false
}

// sameServer says whether an established socket of p belongs to server sv: the same process,
// or a process of the same name (xrdp and sshd-style servers hand connections to children).
func sameServer(sv server, p *pb.Process) bool {
	return p.GetPid() == sv.proc.GetPid() || p.GetName() == sv.proc.GetName() || p.GetPpid() == sv.proc.GetPid()
}

func enabledFinding(sv server) *pb.Finding {
	addr := hostPort(sv.sock.GetLocalAddress(), sv.sock.GetLocalPort())
	sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.9
	if strings.HasPrefix(sv.recognised, "port ") {
		conf = 0.6 // only the port says so
	}
	if strings.Contains(sv.recognised, "RFB") || strings.Contains(sv.recognised, "RDP") {
		// A server that speaks the protocol under a name we do not know: renamed or custom.
		sev, conf = pb.Severity_SEVERITY_HIGH, 0.95
	}
	if isLoopback(sv.sock.GetLocalAddress()) {
		// Reachable only through a tunnel or from this machine: still worth a look.
		sev, conf = pb.Severity_SEVERITY_LOW, conf-0.3
	}
	return &pb.Finding{
		Signal:     "os_remote.enabled",
		Severity:   sev,
		Confidence: conf,
		Title:      fmt.Sprintf("%s listening on port %d (%s)", sv.listener.Name, sv.sock.GetLocalPort(), sv.proc.GetName()),
		Attack:     sv.listener.Attack,
		Key:        sv.listener.ID + ":" + strconv.Itoa(int(sv.sock.GetLocalPort())),
		Evidence: map[string]string{
			"service":       sv.listener.ID,
			"process":       sv.proc.GetName(),
			"pid":           strconv.Itoa(int(sv.proc.GetPid())),
			"executable":    clipEvidence(sv.proc.GetExecutable()),
			"command_line":  clipEvidence(sv.proc.GetCommandLine()),
			"listen":        addr,
			"recognised_by": sv.recognised,
		},
	}
}

type probed struct {
	server
	res probe.Result
}

// probe identifies unknown listeners, at most probeMax per scan, probeParallel at a time,
// remembering answers per (process, start time, port).
func (d *osRemote) probe(ctx context.Context, unknown []server) []probed {
	var out []probed
	var todo []server
	d.mu.Lock()
	for _, u := range unknown {
		k := probeKey{u.proc.GetPid(), u.proc.GetStarted().GetSeconds(), u.sock.GetLocalPort()}
		if r, ok := d.probed[k]; ok {
			out = append(out, probed{u, r})
			continue
		}
		if len(todo) < probeMax && !dupPort(todo, u) {
			todo = append(todo, u)
		}
	}
	d.mu.Unlock()
	results := make([]probe.Result, len(todo))
	sem := make(chan struct{}, probeParallel)
	var wg sync.WaitGroup
	for i, u := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := probe.Identify(ctx, dialAddr(u.sock), probeWait)
			if err != nil {
				d.log.Debug("listener probe failed", "addr", dialAddr(u.sock), "err", err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.probed)+len(d.silent) > 4096 {
		clear(d.probed) // processes come and go; keep the memory bounded
		clear(d.silent)
	}
	for i, u := range todo {
		k := probeKey{u.proc.GetPid(), u.proc.GetStarted().GetSeconds(), u.sock.GetLocalPort()}
		if r := results[i]; !r.Silent || d.silent[k]+1 >= probeRetries {
			d.probed[k] = r
			delete(d.silent, k)
		} else {
			d.silent[k]++
		}
		out = append(out, probed{u, results[i]})
	}
	// The IPv6 twin of a probed IPv4 listener shares its answer.
	for _, u := range unknown {
		for _, p := range out {
			if p.proc.GetPid() == u.proc.GetPid() && p.sock.GetLocalPort() == u.sock.GetLocalPort() && p.sock != u.sock {
				out = append(out, probed{u, p.res})
				break
			}
		}
	}
	return out
}

func dupPort(todo []server, u server) bool {
	for _, t := range todo {
		if t.proc.GetPid() == u.proc.GetPid() && t.sock.GetLocalPort() == u.sock.GetLocalPort() {
			return true
		}
	}
	return false
}

func isLoopback(addr string) bool {
	return addr == "::1" || strings.HasPrefix(addr, "127.")
}

// osFindings turn the OS's own remote-access state (Windows RDP, macOS sharing) into findings.
func osFindings(st remoteaccess.State, byID map[string]catalog.Listener) []*pb.Finding {
	var out []*pb.Finding
	rdp, vnc := byID["rdp"], byID["vnc"]
	if c := st.RDP; c != nil && c.Enabled {
		sev := pb.Severity_SEVERITY_MEDIUM
		if !c.NLA {
			sev = pb.Severity_SEVERITY_HIGH // anyone who reaches the port gets a logon screen
		}
		out = append(out, &pb.Finding{
			Signal: "os_remote.enabled", Severity: sev, Confidence: 0.95, Attack: rdp.Attack,
			Title: fmt.Sprintf("Remote Desktop is enabled on port %d", c.Port),
			Key:   "rdp:config",
			Evidence: map[string]string{
				"service": "rdp", "port": strconv.Itoa(int(c.Port)), "nla": strconv.FormatBool(c.NLA),
				"shadow": strconv.Itoa(int(c.Shadow)), "source": c.Source, "recognised_by": "system configuration",
			},
		})
	}
	if m := st.ScreenSharing; m != nil && (m.ScreenSharing || m.RemoteManagement) {
		what := "Screen Sharing"
		if m.RemoteManagement {
			what = "Remote Management (ARD)"
		}
		out = append(out, &pb.Finding{
			Signal: "os_remote.enabled", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.95, Attack: vnc.Attack,
			Title: "macOS " + what + " is enabled", Key: "macos:sharing",
			Evidence: map[string]string{
				"service": "screen_sharing", "screen_sharing": strconv.FormatBool(m.ScreenSharing),
				"remote_management": strconv.FormatBool(m.RemoteManagement), "source": m.Source, "recognised_by": "system configuration",
			},
		})
	}
	for _, s := range st.Sessions {
		if s.Protocol != "rdp" || s.State == "disconnected" {
			continue
		}
		ev := map[string]string{
			"service": "rdp", "session_id": strconv.Itoa(int(s.ID)), "user": s.User, "domain": s.Domain,
			"state": s.State, "client_name": s.ClientName, "peer_address": s.ClientAddress, "recognised_by": "session table",
		}
		if s.ClientBuild != 0 {
			ev["client_build"] = strconv.Itoa(int(s.ClientBuild))
		}
		if s.ClientKeyboardLayout != 0 {
			ev["client_keyboard_layout"] = fmt.Sprintf("%08x", s.ClientKeyboardLayout)
		}
		if s.ClientTimeZone != "" {
			ev["client_time_zone"] = s.ClientTimeZone
		}
		out = append(out, &pb.Finding{
			Signal: "os_remote.session", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.95, Attack: rdp.Attack,
			Title: fmt.Sprintf("Remote Desktop session of %s from %s (%s)", s.User, s.ClientAddress, s.ClientName),
			Key:   "rdp:session:" + strconv.Itoa(int(s.ID)), Evidence: ev,
		})
	}
	return out
}
