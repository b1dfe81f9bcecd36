package scan

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func newScanner(t testing.TB) *Scanner {
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Scanner{Detectors: dets, AgentVersion: "test"}
}

func TestLiveScanSeesThisProcessAndItsListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := uint32(l.Addr().(*net.TCPAddr).Port)
	rep, err := newScanner(t).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	hn, _ := os.Hostname()
	if got := rep.GetFacts().GetHost().GetHostname(); got != hn {
		t.Errorf("hostname %q, want %q", got, hn)
	}
	var me *pb.Process
	for _, p := range rep.GetFacts().GetProcesses() {
		if p.GetPid() == int32(os.Getpid()) {
			me = p
		}
	}
	if me == nil {
		t.Fatal("own process missing from the scan")
	}
	found := false
	for _, s := range me.GetSockets() {
		if s.GetState() == "LISTEN" && s.GetLocalPort() == port {
			found = true
		}
	}
	if !found {
		t.Errorf("listener on port %d not attributed to pid %d: %v", port, os.Getpid(), me.GetSockets())
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Farmwatch scan of "+hn) || !strings.Contains(buf.String(), "processes") {
		t.Errorf("text output:\n%s", buf.String())
	}
}

func TestClipKeepsUTF8Valid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"},             // é is two bytes: never split it
		{"a\xffb", 10, "a\uFFFDb"}, // invalid bytes replaced
	} {
		if got := clip(tc.in, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// BenchmarkScan is one full live scan: every fact source and every detector.
func BenchmarkScan(b *testing.B) {
	s := newScanner(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Scan(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestScanCapturedTree scans a captured laptop tree (Debian, Chicago time, German locale, an
// x11vnc server on 5900, RustDesk with its session-only connection manager, AnyDesk installed
// as a service with an unattended-access password and a fresh incoming connection in its log,
// TeamViewer under /opt) as `farmwatch-agent scan --root` does.
func TestScanCapturedTree(t *testing.T) {
	const root = "testdata/laptop"
	trace := root + "/home/ana/.anydesk/connection_trace.txt"
	now := time.Now()
	if err := os.Chtimes(trace, now, now); err != nil {
		t.Fatal(err)
	}
	s := newScanner(t)
	s.Root = root
	rep, err := s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f := rep.GetFacts()
	if h := f.GetHost(); h.GetHostname() != "farm-laptop-07" || h.GetPlatform() != "debian" || h.GetSerialNumber() != "PF2ABCDE" {
		t.Errorf("host: %v", h)
	}
	if tm := f.GetTime(); tm.GetZone() != "America/Chicago" || tm.GetLocale() != "de_DE.UTF-8" {
		t.Errorf("time: %v", tm)
	}
	langs := map[string]bool{}
	for _, in := range f.GetInputSources() {
		langs[in.GetLanguage()+"/"+in.GetKind()] = true
	}
	if !langs["ko-KR/layout"] || !langs["ko-KR/ime"] || !langs["en-US/layout"] {
		t.Errorf("input sources: %v", f.GetInputSources())
	}
	if gw := f.GetLan().GetGateways(); len(gw) != 1 || gw[0].GetIp() != "192.168.1.1" || gw[0].GetMac() != "a4:2b:b0:11:22:33" || len(f.GetLan().GetNeighbours()) != 3 {
		t.Errorf("lan: %v", f.GetLan())
	}
	if f.GetProcessCount() != 7 {
		t.Errorf("process count %d, want 7", f.GetProcessCount())
	}
	for _, d := range rep.GetDetectors() {
		if !d.GetOk() {
			t.Errorf("%s failed on the captured tree: %s", d.GetName(), d.GetError())
		}
	}
	for _, w := range []struct{ signal, key, evKey, evWant string }{
		{"os_remote.enabled", "vnc:5900", "listen", "0.0.0.0:5900"},
		{"remote_tool.installed", "anydesk", "packages", "dpkg:anydesk"},
		{"remote_tool.installed", "anydesk", "services", "systemd:anydesk.service (enabled)"},
		{"remote_tool.installed", "rustdesk", "packages", "dpkg:rustdesk"},
		{"remote_tool.installed", "teamviewer", "packages", "opt:teamviewer"},
		{"remote_tool.running", "rustdesk", "pids", "2345, 2399"},
		{"remote_tool.running", "x11vnc", "pids", "3001"},
		{"remote_tool.session", "rustdesk:process:2399", "marker", "session-only process"},
		{"remote_tool.session", "anydesk:log:/home/ana/.anydesk/connection_trace.txt", "line", "Incoming 2026-11-21, 22:02 Passwd 812733501 812733501"},
		{"remote_tool.unattended", "anydesk:/etc/anydesk/system.conf", "setting", "ad.anynet.pwd_hash"},
		{"remote_tool.multiple", "multiple", "tools", "anydesk, rustdesk, teamviewer, x11vnc"},
		{"kvm.display", "display:card0-HDMI-A-1:pikvm_edid_v4plus", "serial_string", "CAFEBABE"},
	} {
		got := findingByKey(rep, w.signal, w.key)
		if got == nil {
			t.Errorf("no %s %s", w.signal, w.key)
			continue
		}
		if got.GetEvidence()[w.evKey] != w.evWant {
			t.Errorf("%s %s: %s = %q, want %q", w.signal, w.key, w.evKey, got.GetEvidence()[w.evKey], w.evWant)
		}
	}
	// x11vnc's package was removed (config files left): not "installed" from dpkg.
	if got := findingByKey(rep, "remote_tool.installed", "x11vnc"); got != nil {
		t.Errorf("removed package reported installed: %v", got)
	}
	for _, f := range rep.GetFindings() {
		if strings.Contains(f.GetEvidence()["setting"], "8e6ed7cd") {
			t.Errorf("password hash leaked into evidence: %v", f)
		}
	}

	// An old log line is history, not a session now.
	old := now.Add(-2 * time.Hour)
	if err := os.Chtimes(trace, old, old); err != nil {
		t.Fatal(err)
	}
	rep, err = s.Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := findingByKey(rep, "remote_tool.session", "anydesk:log:/home/ana/.anydesk/connection_trace.txt"); got != nil {
		t.Errorf("stale log reported as a session: %v", got)
	}
}

func findingByKey(r *pb.Report, signal, key string) *pb.Finding {
	for _, f := range r.GetFindings() {
		if f.GetSignal() == signal && f.GetKey() == key {
			return f
		}
	}
	return nil
}
