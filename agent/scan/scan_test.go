package scan

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

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
// x11vnc server on 5900, a RustDesk service) as `farmwatch-agent scan --root` does.
func TestScanCapturedTree(t *testing.T) {
	s := newScanner(t)
	s.Root = "testdata/laptop"
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
	if f.GetProcessCount() != 6 {
		t.Errorf("process count %d, want 6", f.GetProcessCount())
	}
	if len(rep.GetFindings()) != 1 {
		t.Fatalf("findings: %v", rep.GetFindings())
	}
	vnc := rep.GetFindings()[0]
	if vnc.GetSignal() != "os_remote.enabled" || vnc.GetEvidence()["process"] != "x11vnc" || vnc.GetEvidence()["listen"] != "0.0.0.0:5900" {
		t.Errorf("finding: %v", vnc)
	}
	for _, d := range rep.GetDetectors() {
		if !d.GetOk() {
			t.Errorf("%s failed on the captured tree: %s", d.GetName(), d.GetError())
		}
	}
}
