package rdpclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/platform/process"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// TestRealXrdpClientLayoutAndAddress runs Debian's xrdp and xrdp-sesman
// (Xvnc backend) on loopback, logs a local user in with FreeRDP sending
// the Korean layout, and reads the live system as the agent does.
func TestRealXrdpClientLayoutAndAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("real xrdp session: not in -short")
	}
	for _, b := range []string{"xrdp", "xrdp-sesman", "xfreerdp", "Xvfb", "Xvnc", "useradd", "userdel", "chpasswd"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Skipf("%s not installed (apt-get install xrdp freerdp2-x11 xvfb tigervnc-standalone-server)", b)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("xrdp reads its TLS key and sesman starts sessions as another user: root only")
	}
	// xrdp finds sesman at the port of /etc/xrdp/sesman.ini, 3350 by default.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:3350", 200*time.Millisecond); err == nil {
		c.Close()
		t.Skip("a sesman already listens on 127.0.0.1:3350")
	}
	dir := t.TempDir()
	name := "fwrdp" + hex.EncodeToString(randBytes(t, 3))
	pass := hex.EncodeToString(randBytes(t, 12))
	uid := addUser(t, name, pass)
	// The session's window manager: ~/startwm.sh, which sesman prefers.
	home := filepath.Join("/home", name)
	writeFile(t, filepath.Join(home, "startwm.sh"), "#!/bin/sh\nexec sleep 300\n", 0o755)
	if err := os.Chown(filepath.Join(home, "startwm.sh"), uid, uid); err != nil {
		t.Fatal(err)
	}

	xrdpLog, sesmanLog := filepath.Join(dir, "xrdp.log"), filepath.Join(dir, "sesman.log")
	writeFile(t, filepath.Join(dir, "xrdp.ini"), editIni(t, "/etc/xrdp/xrdp.ini", map[string]string{"autorun": "Xvnc", "LogFile": xrdpLog}), 0o644)
	writeFile(t, filepath.Join(dir, "sesman.ini"), editIni(t, "/etc/xrdp/sesman.ini", map[string]string{"LogFile": sesmanLog}), 0o644)
	start(t, nil, "xrdp-sesman", "--nodaemon", "-c", filepath.Join(dir, "sesman.ini"))
	port := freePort(t)
	start(t, nil, "xrdp", "--nodaemon", "--port", strconv.Itoa(port), "-c", filepath.Join(dir, "xrdp.ini"))
	waitListen(t, port)
	t.Cleanup(func() { killUser(uid) })

	display := xvfb(t)
	client := start(t, []string{"DISPLAY=" + display, "TZ=Asia/Seoul"}, "xfreerdp",
		fmt.Sprintf("/v:127.0.0.1:%d", port), "/u:"+name, "/p:"+pass, "/cert:ignore",
		"/kbd:0x00000412", "/client-hostname:FWTEST-KR")

	logs := func() string {
		a, _ := os.ReadFile(xrdpLog)
		b, _ := os.ReadFile(sesmanLog)
		return string(a) + "\n--- sesman ---\n" + string(b)
	}
	// The log lines arrive over a second or so: wait for the whole record.
	c := waitClient(t, "logged in", "FWTEST-KR", func(c *pb.RdpClient) bool {
		return c != nil && c.GetSession() != "" && c.GetKeyboardLayout() != "" && c.GetClientAddress() != ""
	}, logs)
	if c.GetClientAddress() != "127.0.0.1" || c.GetKeyboardLayout() != "00000412" || c.GetUser() != name ||
		!regexp.MustCompile(`^:\d+$`).MatchString(c.GetSession()) || c.GetSource() != SourceXrdpLog {
		t.Errorf("got %v; want address 127.0.0.1, layout 00000412, user %s, a display", c, name)
	}
	// xrdp 0.9 drops the client's time zone (TZ=Asia/Seoul here) unlogged.
	if c.GetTimeZone() != "" || c.GetOffsetKnown() {
		t.Errorf("time zone %q offset known %v: xrdp was not known to log it", c.GetTimeZone(), c.GetOffsetKnown())
	}

	// Disconnected, the session runs on and its last client is still reported.
	stop(client)
	time.Sleep(time.Second)
	if waitClient(t, "disconnected", "FWTEST-KR", func(c *pb.RdpClient) bool { return c != nil }, logs) == nil {
		t.Fatal("unreachable")
	}
	// Once the session ends, nothing is.
	killUser(uid)
	waitClient(t, "session ended", "FWTEST-KR", func(c *pb.RdpClient) bool { return c == nil }, logs)
}

// waitClient polls Clients (what is the stage, for the failure message) until the record of clientName (nil if none)
// satisfies ok, for up to 30 s.
func waitClient(t *testing.T, what, clientName string, ok func(*pb.RdpClient) bool, logs func() string) *pb.RdpClient {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, err := Clients(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		got := named(cs, clientName)
		// The scan's way: xrdp's daemons picked from the process list it just took.
		procs, err := process.List(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		listed := make([]Proc, len(procs))
		for i, p := range procs {
			listed[i] = Proc{PID: int(p.PID), Name: p.Name}
		}
		among, err := ClientsAmong(context.Background(), "", listed)
		if err != nil {
			t.Fatal(err)
		}
		gotAmong := named(among, clientName)
		if ok(got) && ok(gotAmong) && proto.Equal(got, gotAmong) {
			return got
		}
		if time.Now().After(deadline) {
			// What ran, for the record: whether each session's sesman and X server were alive.
			var ps strings.Builder
			for _, p := range procs {
				if strings.Contains(p.Name, "xrdp") || strings.HasPrefix(p.Name, "Xvnc") || p.Name == "sleep" {
					fmt.Fprintf(&ps, "%d (parent %d) %s %q\n", p.PID, p.PPID, p.Name, p.CommandLine)
				}
			}
			t.Fatalf("%s: RDP client %s: last seen %v (scan's way %v), all %v\nprocesses:\n%s%s", what, clientName, got, gotAmong, cs, ps.String(), logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// named is the last record of cs from the client clientName, or nil.
func named(cs []*pb.RdpClient, clientName string) *pb.RdpClient {
	var got *pb.RdpClient
	for _, c := range cs {
		if c.GetClientName() == clientName {
			got = c
		}
	}
	return got
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// addUser creates a local user with a home and password and removes it at
// the end of the test.
func addUser(t *testing.T, name, pass string) int {
	t.Helper()
	if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Skipf("useradd %s: %v %s", name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
			t.Logf("userdel %s: %v %s", name, err, out)
		}
	})
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(name + ":" + pass + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v %s", err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// killUser ends every process of uid (the session's window manager, Xvnc
// and chansrv, which sesman started as the user), each by its pid.
func killUser(uid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) == uid {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// editIni returns an ini file with the given keys set, wherever they are.
func editIni(t *testing.T, path string, set map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("xrdp configuration: %v", err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		k, _, ok := strings.Cut(l, "=")
		if v, found := set[strings.TrimSpace(k)]; ok && found {
			lines[i] = k + "=" + v
		}
	}
	return strings.Join(lines, "\n")
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// start runs a command in its own process group, stopped at the end of the test.
func start(t *testing.T, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".out"))
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
	if cmd.Process == nil || cmd.ProcessState != nil {
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

// xvfb starts a virtual X display for the client and returns its name (":N").
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

// BenchmarkClientsLive is what each agent scan pays on a Linux laptop (no xrdp running here).
func BenchmarkClientsLive(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Clients(context.Background(), ""); err != nil {
			b.Fatal(err)
		}
	}
}
