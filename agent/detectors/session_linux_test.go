package detectors

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/scan"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// These tests start real remote-desktop servers and clients from Debian's packages (Xvfb,
// x11vnc, TigerVNC's viewer, xrdp, FreeRDP) on loopback and scan the live machine as the agent
// does. .ci/run installs the packages; without them the tests fail in CI and skip elsewhere.

func need(t *testing.T, bins ...string) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("real sessions: not in -short")
	}
	paths := map[string]string{}
	for _, b := range bins {
		p, err := exec.LookPath(b)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed: .ci/run must install it", b)
			}
			t.Skipf("%s not installed (apt-get install xvfb x11vnc tigervnc-viewer xrdp freerdp2-x11)", b)
		}
		paths[b] = p
	}
	return paths
}

// start runs a command in its own process group and stops the whole group at the end of the test.
func start(t *testing.T, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { stop(cmd); log.Close() })
	return cmd
}

func stop(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// xvfb starts a virtual X display and returns its name (":N").
func xvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "800x600x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { stop(cmd) })
	buf := make([]byte, 16)
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.ReadAtLeast(r, buf, 2)
	r.Close()
	if err != nil {
		t.Fatalf("Xvfb display: %v", err)
	}
	return ":" + strings.TrimSpace(string(buf[:n]))
}

func waitListen(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

func liveScan(t *testing.T) []*pb.Finding {
	t.Helper()
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&scan.Scanner{Detectors: dets}).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range rep.GetDetectors() {
		if !d.GetOk() {
			t.Logf("detector %s failed: %s", d.GetName(), d.GetError())
		}
	}
	return rep.GetFindings()
}

type want struct {
	signal string
	ev     map[string]string // evidence that must match exactly
	has    map[string]string // evidence that must contain the value
}

func find(fs []*pb.Finding, w want) *pb.Finding {
	for _, f := range fs {
		if f.GetSignal() != w.signal {
			continue
		}
		ok := true
		for k, v := range w.ev {
			if f.GetEvidence()[k] != v {
				ok = false
			}
		}
		for k, v := range w.has {
			if !strings.Contains(f.GetEvidence()[k], v) {
				ok = false
			}
		}
		if ok {
			return f
		}
	}
	return nil
}

// waitFindings scans until every wanted finding is there (sockets take a moment to show).
func waitFindings(t *testing.T, what string, ws ...want) []*pb.Finding {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fs := liveScan(t)
		missing := ""
		for _, w := range ws {
			if find(fs, w) == nil {
				missing = fmt.Sprintf("%s %v %v", w.signal, w.ev, w.has)
				break
			}
		}
		if missing == "" {
			return fs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no finding %s; findings:\n%s", what, missing, describe(fs))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func describe(fs []*pb.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "  %s %s %v\n", f.GetSignal(), f.GetTitle(), f.GetEvidence())
	}
	return b.String()
}

func TestRealVNCSessionIsSeenAndClears(t *testing.T) {
	need(t, "Xvfb", "x11vnc", "vncviewer")
	server := xvfb(t)
	port := freePort(t)
	start(t, nil, "x11vnc", "-display", server, "-rfbport", fmt.Sprint(port), "-forever", "-shared", "-nopw", "-quiet")
	waitListen(t, port)
	listen := fmt.Sprintf("0.0.0.0:%d", port)

	waitFindings(t, "x11vnc running",
		want{signal: "remote_tool.running", ev: map[string]string{"tool": "x11vnc"}},
		want{signal: "os_remote.enabled", ev: map[string]string{"service": "vnc", "listen": listen, "process": "x11vnc"}})

	viewerDisplay := xvfb(t)
	viewer := start(t, []string{"DISPLAY=" + viewerDisplay}, "vncviewer", "-SecurityTypes", "None", fmt.Sprintf("127.0.0.1::%d", port))
	fs := waitFindings(t, "VNC client connected",
		want{signal: "os_remote.session", ev: map[string]string{"service": "vnc", "peer_address": "127.0.0.1", "process": "x11vnc"}},
		want{signal: "remote_tool.session", ev: map[string]string{"tool": "x11vnc", "peer_address": "127.0.0.1"}})
	s := find(fs, want{signal: "os_remote.session", ev: map[string]string{"service": "vnc"}})
	if s.GetSeverity() != pb.Severity_SEVERITY_HIGH || !strings.HasSuffix(s.GetEvidence()["local"], fmt.Sprint(port)) {
		t.Errorf("session finding: %v", s)
	}

	stop(viewer)
	deadline := time.Now().Add(20 * time.Second)
	for {
		fs = liveScan(t)
		if find(fs, want{signal: "os_remote.session", ev: map[string]string{"service": "vnc"}}) == nil &&
			find(fs, want{signal: "remote_tool.session", ev: map[string]string{"tool": "x11vnc"}}) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session findings did not clear after the client left:\n%s", describe(fs))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if find(fs, want{signal: "os_remote.enabled", ev: map[string]string{"listen": listen}}) == nil {
		t.Error("server no longer reported as listening after the client left")
	}
}

func TestRenamedVNCServerIsRecognisedByItsProtocol(t *testing.T) {
	bins := need(t, "Xvfb", "x11vnc")
	display := xvfb(t)
	renamed := filepath.Join(t.TempDir(), "zz-quiet-helper")
	b, err := os.ReadFile(bins["x11vnc"])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(renamed, b, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	start(t, nil, renamed, "-display", display, "-rfbport", fmt.Sprint(port), "-forever", "-nopw", "-quiet")
	waitListen(t, port)
	fs := waitFindings(t, "renamed VNC server",
		want{signal: "os_remote.enabled", ev: map[string]string{"service": "vnc", "listen": fmt.Sprintf("0.0.0.0:%d", port)}, has: map[string]string{"recognised_by": "RFB greeting"}})
	f := find(fs, want{signal: "os_remote.enabled", ev: map[string]string{"listen": fmt.Sprintf("0.0.0.0:%d", port)}})
	if !strings.HasPrefix(f.GetEvidence()["process"], "zz-quiet-helpe") || f.GetSeverity() != pb.Severity_SEVERITY_HIGH {
		t.Errorf("renamed server finding: %v", f)
	}
	if find(fs, want{signal: "remote_tool.running", ev: map[string]string{"tool": "x11vnc"}, has: map[string]string{"pids": fmt.Sprint(f.GetEvidence()["pid"])}}) != nil {
		t.Log("note: renamed binary also matched by name")
	}
}

func TestRealRDPSessionIsSeenAndClears(t *testing.T) {
	need(t, "Xvfb", "xrdp", "xfreerdp")
	if os.Geteuid() != 0 {
		t.Skip("xrdp reads its TLS key, which only root may read")
	}
	port := freePort(t)
	start(t, nil, "xrdp", "--nodaemon", "--port", fmt.Sprint(port))
	waitListen(t, port)
	waitFindings(t, "xrdp listening",
		want{signal: "remote_tool.running", ev: map[string]string{"tool": "xrdp"}},
		want{signal: "os_remote.enabled", ev: map[string]string{"service": "rdp", "process": "xrdp"}})

	display := xvfb(t)
	client := start(t, []string{"DISPLAY=" + display}, "xfreerdp", fmt.Sprintf("/v:127.0.0.1:%d", port), "/u:nobody", "/p:not-a-password", "/cert:ignore")
	waitFindings(t, "RDP client connected",
		want{signal: "os_remote.session", ev: map[string]string{"service": "rdp", "peer_address": "127.0.0.1", "process": "xrdp"}})
	stop(client)
	deadline := time.Now().Add(20 * time.Second)
	for {
		fs := liveScan(t)
		if find(fs, want{signal: "os_remote.session", ev: map[string]string{"service": "rdp"}}) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RDP session finding did not clear:\n%s", describe(fs))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestRealTigerVNCServerSession(t *testing.T) {
	need(t, "Xtigervnc", "Xvfb", "vncviewer")
	port := freePort(t)
	// Xtigervnc is an X server and a VNC server in one process; pick a display number from the port.
	display := fmt.Sprintf(":%d", 100+port%800)
	start(t, nil, "Xtigervnc", display, "-rfbport", fmt.Sprint(port), "-SecurityTypes", "None", "-geometry", "800x600", "-nolisten", "tcp")
	waitListen(t, port)
	waitFindings(t, "TigerVNC server listening",
		want{signal: "remote_tool.running", ev: map[string]string{"tool": "tigervnc"}},
		want{signal: "os_remote.enabled", ev: map[string]string{"service": "vnc", "process": "Xtigervnc"}})
	viewerDisplay := xvfb(t)
	start(t, []string{"DISPLAY=" + viewerDisplay}, "vncviewer", "-SecurityTypes", "None", fmt.Sprintf("127.0.0.1::%d", port))
	waitFindings(t, "TigerVNC client connected",
		want{signal: "os_remote.session", ev: map[string]string{"service": "vnc", "peer_address": "127.0.0.1", "process": "Xtigervnc"}})
}
