package detectors

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/service"
	"github.com/farmwatch/farmwatch/platform/software"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// detectFacts runs the remote_tool detector over facts as an agent on goos would report them.
// The inventory comes from an empty captured tree, so only processes and sockets count.
func detectFacts(t *testing.T, goos string, procs ...*pb.Process) []*pb.Finding {
	t.Helper()
	return detectFactsIn(t, t.TempDir(), goos, procs...)
}

// detectFactsIn is detectFacts over a captured tree at root (executables are read from it).
func detectFactsIn(t *testing.T, root, goos string, procs ...*pb.Process) []*pb.Finding {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newRemoteTool(nil)
	fs, err := d.Detect(context.Background(), &detect.Env{
		Root:    root,
		Facts:   &pb.Facts{Host: &pb.HardwareIdentity{Os: goos}, Processes: procs},
		Catalog: cat,
		Now:     time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func bySignalKey(fs []*pb.Finding, signal, key string) *pb.Finding {
	for _, f := range fs {
		if f.GetSignal() == signal && f.GetKey() == key {
			return f
		}
	}
	return nil
}

func TestRemoteToolOnWindowsProcesses(t *testing.T) {
	// Recorded from a Windows 11 machine receiving a TeamViewer session: the service, the tray
	// app, and the session-only desktop process with its IPC arguments.
	fs := detectFacts(t, "windows",
		&pb.Process{Pid: 4120, Ppid: 688, Name: "TeamViewer_Service.exe", Executable: `C:\Program Files\TeamViewer\TeamViewer_Service.exe`,
			Sockets: []*pb.Socket{{Protocol: "tcp", LocalAddress: "10.0.0.8", LocalPort: 50412, RemoteAddress: "213.227.162.11", RemotePort: 5938, State: "ESTABLISHED"}}},
		&pb.Process{Pid: 6020, Ppid: 4120, Name: "TeamViewer_Desktop.exe", Executable: `C:\Program Files\TeamViewer\TeamViewer_Desktop.exe`,
			CommandLine: `"C:\Program Files\TeamViewer\TeamViewer_Desktop.exe" --IPCport 5939 --Module 1`},
		&pb.Process{Pid: 7100, Ppid: 5000, Name: "AnyDesk.exe", Executable: `C:\Users\ana\Downloads\AnyDesk.exe`},
	)
	running := bySignalKey(fs, "remote_tool.running", "teamviewer")
	if running == nil || !strings.Contains(running.GetEvidence()["pids"], "4120") || !strings.Contains(running.GetEvidence()["pids"], "6020") {
		t.Fatalf("teamviewer running: %v", running)
	}
	if s := bySignalKey(fs, "remote_tool.session", "teamviewer:process:6020"); s == nil || s.GetSeverity() != pb.Severity_SEVERITY_HIGH {
		t.Errorf("no TeamViewer session from TeamViewer_Desktop.exe: %v", fs)
	}
	if bySignalKey(fs, "remote_tool.running", "anydesk") == nil {
		t.Error("portable AnyDesk not found by name")
	}
	if m := bySignalKey(fs, "remote_tool.multiple", "multiple"); m == nil || !strings.Contains(m.GetEvidence()["tools"], "anydesk") {
		t.Errorf("multiple vendors: %v", m)
	}
}

func TestRemoteToolIdleIsNotASession(t *testing.T) {
	// RustDesk's idle service talks to hbbs on 21116 only; a relayed session adds hbbr 21117.
	service := &pb.Process{Pid: 900, Name: "rustdesk", Executable: "/usr/bin/rustdesk", CommandLine: "/usr/bin/rustdesk --service",
		Sockets: []*pb.Socket{{Protocol: "tcp", LocalAddress: "192.168.1.20", LocalPort: 40100, RemoteAddress: "203.0.113.7", RemotePort: 21116, State: "ESTABLISHED"}}}
	fs := detectFacts(t, "linux", service)
	for _, f := range fs {
		if f.GetSignal() == "remote_tool.session" {
			t.Fatalf("idle RustDesk reported in a session: %v", f)
		}
	}
	if bySignalKey(fs, "remote_tool.running", "rustdesk") == nil {
		t.Fatal("rustdesk not running")
	}
	service.Sockets = append(service.Sockets, &pb.Socket{Protocol: "tcp", LocalAddress: "192.168.1.20", LocalPort: 40102, RemoteAddress: "203.0.113.9", RemotePort: 21117, State: "ESTABLISHED"})
	fs = detectFacts(t, "linux", service)
	s := bySignalKey(fs, "remote_tool.session", "rustdesk:relay:203.0.113.9:21117")
	if s == nil || s.GetEvidence()["relay"] != "203.0.113.9:21117" {
		t.Fatalf("relayed session: %v", fs)
	}
}

func TestRemoteToolOnMacProcesses(t *testing.T) {
	fs := detectFacts(t, "darwin", &pb.Process{Pid: 301, Name: "AnyDesk", Executable: "/Applications/AnyDesk.app/Contents/MacOS/AnyDesk"})
	r := bySignalKey(fs, "remote_tool.running", "anydesk")
	if r == nil {
		t.Fatalf("AnyDesk on macOS: %v", fs)
	}
	// Linux names never match on another OS's facts, and an unrelated process matches nothing.
	if fs := detectFacts(t, "darwin", &pb.Process{Pid: 1, Name: "launchd", Executable: "/sbin/launchd"}); len(fs) != 0 {
		t.Errorf("launchd matched: %v", fs)
	}
}

func TestGlobRegexp(t *testing.T) {
	for _, tc := range []struct {
		glob, goos, path string
		want             bool
	}{
		{`C:\Program Files\TeamViewer\*`, "windows", `c:\program files\teamviewer\TeamViewer.exe`, true},
		{`%ProgramData%\AnyDesk\*`, "windows", `C:\ProgramData\AnyDesk\service.conf`, true},
		{`**\*-qs-*.exe`, "windows", `C:\Users\a\Downloads\rustdesk-1.2-qs-x.exe`, true},
		{`/opt/teamviewer`, "linux", "/opt/teamviewer/tv_bin/TeamViewer", true},
		{`/opt/teamviewer`, "linux", "/opt/teamviewers", false},
		{`~/.config/rustdesk/*`, "linux", "/home/ana/.config/rustdesk/RustDesk.toml", true},
		{`/usr/bin/rustdesk`, "linux", "/usr/bin/RUSTDESK", false},
		{`/Applications/AnyDesk.app`, "darwin", "/Applications/anydesk.app/Contents/MacOS/AnyDesk", true},
	} {
		re, err := globRegexp(tc.glob, tc.goos)
		if err != nil {
			t.Fatal(err)
		}
		if got := re.MatchString(tc.path); got != tc.want {
			t.Errorf("%s ~ %s = %v, want %v (%s)", tc.glob, tc.path, got, tc.want, re)
		}
	}
}

func TestRenamedForkIsRecognisedByItsPorts(t *testing.T) {
	// A rebranded RustDesk build under a meaningless name, registered with a self-hosted hbbs.
	fork := &pb.Process{Pid: 4242, Name: "svc-helper", Executable: "/opt/acme/svc-helper",
		Sockets: []*pb.Socket{{Protocol: "tcp", LocalAddress: "192.168.1.20", LocalPort: 51000, RemoteAddress: "198.51.100.44", RemotePort: 21116, State: "ESTABLISHED"}}}
	fs := detectFacts(t, "linux", fork)
	r := bySignalKey(fs, "remote_tool.running", "rustdesk")
	if r == nil || !strings.Contains(r.GetEvidence()["recognised_by"], "port 21116") || r.GetConfidence() != 0.6 {
		t.Fatalf("renamed fork: %v", fs)
	}
	// Talking to 443 says nothing about the tool.
	web := &pb.Process{Pid: 4243, Name: "curl", Sockets: []*pb.Socket{{Protocol: "tcp", RemoteAddress: "198.51.100.44", RemotePort: 443, State: "ESTABLISHED"}}}
	if fs := detectFacts(t, "linux", web); len(fs) != 0 {
		t.Fatalf("443 matched a tool: %v", fs)
	}
}

func TestInventoryMatchingPerOS(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	d := &remoteTool{}
	win := matchInventory(d.index(cat, "windows"), inventory{
		packages: []software.Package{{Name: "TeamViewer 15", Source: "windows", ID: "TeamViewer"}, {Name: "Notepad++ (64-bit x64)", Source: "windows"}},
		services: []service.Service{{Name: "AnyDesk", Manager: "scm", Program: `C:\Program Files (x86)\AnyDesk\AnyDesk.exe`, Enabled: true}},
	})
	mac := matchInventory(d.index(cat, "darwin"), inventory{
		packages: []software.Package{{Name: "AnyDesk", Source: "macos-app", ID: "com.philandro.anydesk", Path: "/Applications/AnyDesk.app"}},
		services: []service.Service{{Name: "com.carriez.RustDesk_service", Manager: "launchd", Enabled: true}},
	})
	ids := func(m map[int]*hit, x *toolIndex) string {
		var out []string
		for i := range m {
			out = append(out, x.tools[i].ID)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if got := ids(win, d.index(cat, "windows")); got != "anydesk,teamviewer" {
		t.Errorf("windows inventory matched %q", got)
	}
	if got := ids(mac, d.index(cat, "darwin")); got != "anydesk,rustdesk" {
		t.Errorf("macOS inventory matched %q", got)
	}
}

func TestRelayConnectionsFromTheSocketTable(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newRelay(nil)
	facts := &pb.Facts{Processes: []*pb.Process{
		{Pid: 700, Name: "svc", Sockets: []*pb.Socket{{Protocol: "tcp", LocalAddress: "192.168.1.5", LocalPort: 50500, RemoteAddress: "203.0.113.9", RemotePort: 21117, State: "ESTABLISHED"}}},
		{Pid: 701, Name: "tailscaled", Sockets: []*pb.Socket{{Protocol: "tcp", LocalAddress: "100.101.102.103", LocalPort: 50600, RemoteAddress: "100.64.1.2", RemotePort: 22, State: "ESTABLISHED"}}},
		{Pid: 702, Name: "curl", Sockets: []*pb.Socket{{Protocol: "tcp", RemoteAddress: "203.0.113.10", RemotePort: 443, State: "ESTABLISHED"}}},
	}}
	// No sniffer: the connection table alone.
	fs, err := d.Detect(context.Background(), &detect.Env{Facts: facts, Catalog: cat, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if f := bySignalKey(fs, "relay.connection", "relay.connection:rustdesk:700:203.0.113.9:21117"); f == nil || f.GetEvidence()["recognised_by"] != "remote port 21117" {
		t.Errorf("RustDesk relay port: %v", fs)
	}
	if f := bySignalKey(fs, "relay.connection", "relay.connection:tailscale:701:100.64.1.2:22"); f == nil || !strings.Contains(f.GetEvidence()["recognised_by"], "100.64.0.0/10") {
		t.Errorf("tailnet address: %v", fs)
	}
	for _, f := range fs {
		if f.GetEvidence()["pid"] == "702" {
			t.Errorf("a plain HTTPS connection was flagged: %v", f)
		}
	}
}

func TestOverlayFromProcessAlone(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := newOverlay(nil)
	fs, err := d.Detect(context.Background(), &detect.Env{Root: t.TempDir(), Catalog: cat, Now: time.Now(),
		Facts: &pb.Facts{Host: &pb.HardwareIdentity{Os: "windows"}, Processes: []*pb.Process{{Pid: 88, Name: "astrill.exe", Executable: `C:\Program Files (x86)\Astrill\astrill.exe`}}}})
	if err != nil {
		t.Fatal(err)
	}
	if f := bySignalKey(fs, "overlay.vpn", "overlay.vpn:astrill"); f == nil || f.GetEvidence()["state"] != "running" || !strings.Contains(f.GetEvidence()["source"], "astrill.exe") {
		t.Fatalf("Astrill from its process: %v", fs)
	}
}

// On Linux Astrill is known by its install path only; a VPN is an overlay, not a remote tool.
func TestAstrillOnLinuxIsAnOverlayNotARemoteTool(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	facts := &pb.Facts{Host: &pb.HardwareIdentity{Os: "linux"}, Processes: []*pb.Process{{Pid: 91, Name: "astrill", Executable: "/usr/local/Astrill/astrill"}}}
	d, _ := newOverlay(nil)
	fs, err := d.Detect(context.Background(), &detect.Env{Root: t.TempDir(), Catalog: cat, Now: time.Now(), Facts: facts})
	if err != nil {
		t.Fatal(err)
	}
	if f := bySignalKey(fs, "overlay.vpn", "overlay.vpn:astrill"); f == nil || f.GetEvidence()["state"] != "running" {
		t.Fatalf("Astrill from its install path: %v", fs)
	}
	for _, f := range detectFactsIn(t, t.TempDir(), "linux", facts.Processes...) {
		if strings.HasPrefix(f.GetSignal(), "remote_tool.") {
			t.Fatalf("Astrill reported as a remote tool: %v", f)
		}
	}
}
