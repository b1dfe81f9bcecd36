package idle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// xvfb is a real X server on a free display, with a cookie file.
type xvfb struct {
	n      int
	auth   string
	cookie []byte
}

// startXvfb starts `Xvfb :N -auth FILE` on a free display, with the cookie written by xauth
// (an independent writer of the Xauthority format), and stops it when the test ends.
func startXvfb(t *testing.T) xvfb {
	t.Helper()
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Skip("Xvfb not installed (Debian: apt-get install xvfb): skipping the live X11 test")
	}
	xauthBin, err := exec.LookPath("xauth")
	if err != nil {
		t.Skip("xauth not installed (Debian: apt-get install xauth): skipping the live X11 test")
	}
	// Other test packages start X servers at the same time: pick a random free display and
	// make sure the server answering on it is ours (its lock file holds our pid), else retry.
	for attempt := 0; attempt < 20; attempt++ {
		var rb [2]byte
		rand.Read(rb[:])
		n := 300 + int(rb[0])<<8%600 + int(rb[1])%100
		lock := fmt.Sprintf("/tmp/.X%d-lock", n)
		if _, err := os.Stat(lock); err == nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		x := xvfb{n: n, auth: filepath.Join(t.TempDir(), "xauth"), cookie: make([]byte, 16)}
		rand.Read(x.cookie)
		if out, err := exec.Command(xauthBin, "-f", x.auth, "add", ":"+strconv.Itoa(n), ".", hex.EncodeToString(x.cookie)).CombinedOutput(); err != nil {
			t.Fatalf("xauth add: %v: %s", err, out)
		}
		cmd := exec.Command(bin, ":"+strconv.Itoa(n), "-auth", x.auth, "-nolisten", "tcp", "-noreset", "-screen", "0", "640x480x24")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			// SIGTERM lets Xvfb remove its socket and lock file; SIGKILL would leave them.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		ours := false
		for i := 0; i < 100 && !ours; i++ {
			select {
			case <-exited:
				i = 100 // lost the race for this display: try another
				continue
			default:
			}
			b, _ := os.ReadFile(lock)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid == cmd.Process.Pid {
				if c, err := net.Dial("unix", fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
					c.Close()
					ours = true
					break
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !ours {
			stop()
			continue
		}
		t.Cleanup(stop)
		return x
	}
	t.Fatal("could not start Xvfb on a free display in 20 attempts")
	return xvfb{}
}

func (x xvfb) query(t *testing.T, name string, cookie []byte) (time.Duration, error) {
	t.Helper()
	c, err := net.Dial("unix", fmt.Sprintf("/tmp/.X11-unix/X%d", x.n))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return queryX11Idle(context.Background(), c, name, cookie)
}

func TestX11CookieFromXauthParses(t *testing.T) {
	x := startXvfb(t)
	b, err := os.ReadFile(x.auth)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	got := cookies(parseXauthority(b), x.n, host)
	if len(got) != 1 || hex.EncodeToString(got[0]) != hex.EncodeToString(x.cookie) {
		t.Fatalf("cookies from xauth's file = %x, want [%x]", got, x.cookie)
	}
	if c := cookies(parseXauthority(b), x.n+1, host); len(c) != 0 {
		t.Errorf("cookies for another display = %x, want none", c)
	}
}

func TestX11ServerRefusesWrongCookie(t *testing.T) {
	x := startXvfb(t)
	if _, err := x.query(t, "", nil); !errors.Is(err, errRefused) {
		t.Errorf("no cookie: err = %v, want refused", err)
	}
	wrong := make([]byte, 16)
	if _, err := x.query(t, cookieName, wrong); !errors.Is(err, errRefused) {
		t.Errorf("wrong cookie: err = %v, want refused", err)
	}
	if _, err := x.query(t, cookieName, x.cookie); err != nil {
		t.Errorf("right cookie: %v", err)
	}
}

// The live path end to end: Idle finds the display from Xvfb's command line (-auth), the idle
// time grows while nobody touches it and drops when xdotool moves the pointer.
func TestX11IdleGrowsAndResetsOnInput(t *testing.T) {
	x := startXvfb(t)
	xdotool, err := exec.LookPath("xdotool")
	if err != nil {
		t.Skip("xdotool not installed (Debian: apt-get install xdotool): cannot inject input")
	}
	ctx := context.Background()
	host, _ := os.Hostname()
	read := func() time.Duration {
		t.Helper()
		d, err := displayIdle(ctx, "/", x.n, x11Auth("/")[x.n], host)
		if err != nil {
			t.Fatalf("display :%d: %v", x.n, err)
		}
		return d
	}
	r, err := Idle(ctx)
	if err != nil || r.Sessions < 1 || r.Source != "x11-screensaver" {
		t.Fatalf("Idle = %+v, %v; want at least one x11-screensaver session", r, err)
	}
	first := read()
	time.Sleep(1500 * time.Millisecond)
	second := read()
	if second-first < 1200*time.Millisecond {
		t.Fatalf("idle went from %v to %v over 1.5 s; want it to grow by ~1.5 s", first, second)
	}
	cmd := exec.Command(xdotool, "mousemove", "100", "100", "mousemove_relative", "5", "5")
	cmd.Env = append(os.Environ(), "DISPLAY=:"+strconv.Itoa(x.n), "XAUTHORITY="+x.auth)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xdotool: %v: %s", err, out)
	}
	after := read()
	if after >= 500*time.Millisecond || after >= second {
		t.Fatalf("idle after input = %v (before %v); want under 500 ms", after, second)
	}
	t.Logf("display :%d idle %v -> %v -> input -> %v", x.n, first, second, after)
}

func TestX11NoDisplayIsNoSession(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	_, err := x11Idle(context.Background(), root)
	if !errors.Is(err, ErrNoSession) {
		t.Fatalf("err = %v, want ErrNoSession", err)
	}
}

// A socket file left behind by a dead X server is no session either.
func TestX11StaleSocketIsNoSession(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "tmp", ".X11-unix")
	os.MkdirAll(dir, 0o755)
	l, err := net.Listen("unix", filepath.Join(dir, "X5"))
	if err != nil {
		t.Skipf("cannot bind a unix socket here: %v", err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if got := x11Displays(root); len(got) != 1 || got[0] != 5 {
		t.Fatalf("displays = %v, want [5]", got)
	}
	_, err = x11Idle(context.Background(), root)
	if !errors.Is(err, ErrNoSession) {
		t.Fatalf("err = %v, want ErrNoSession", err)
	}
}

// x11Auth on a captured /proc: the server's -auth first, then client XAUTHORITY and
// $HOME/.Xauthority; remote displays ignored.
func TestX11AuthFromProc(t *testing.T) {
	root := t.TempDir()
	write := func(pid, name, content string) {
		p := filepath.Join(root, "proc", pid)
		os.MkdirAll(p, 0o755)
		if err := os.WriteFile(filepath.Join(p, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("100", "cmdline", "/usr/lib/xorg/Xorg\x00vt2\x00-displayfd\x003\x00-auth\x00/run/user/1000/gdm/Xauthority\x00-nolisten\x00tcp\x00:1\x00")
	write("200", "environ", "HOME=/home/ann\x00DISPLAY=:1\x00XAUTHORITY=/home/ann/.xa\x00")
	write("300", "environ", "HOME=/home/bob\x00DISPLAY=:0.0\x00")
	write("400", "environ", "HOME=/home/eve\x00DISPLAY=localhost:10.0\x00")
	write("500", "environ", "PATH=/bin\x00")
	got := x11Auth(root)
	names := func(n int) []string {
		var s []string
		for _, f := range got[n] {
			s = append(s, f.name)
		}
		return s
	}
	if s := fmt.Sprint(names(1)); s != "[/run/user/1000/gdm/Xauthority /home/ann/.xa]" {
		t.Errorf("display 1 auth files = %s", s)
	}
	if s := fmt.Sprint(names(0)); s != "[/home/bob/.Xauthority]" {
		t.Errorf("display 0 auth files = %s", s)
	}
	if len(got) != 2 {
		t.Errorf("displays with auth = %d, want 2 (localhost:10.0 is not local)", len(got))
	}
}

// A user cannot make the agent read a file it does not own (XAUTHORITY=/etc/shadow), nor
// hang it on a FIFO.
func TestReadOwnedRefusesOthersAndFIFOs(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "xa")
	os.WriteFile(f, []byte("x"), 0o600)
	uid := uint32(os.Getuid())
	if _, err := readOwned(f, uid); err != nil {
		t.Errorf("own file: %v", err)
	}
	if _, err := readOwned(f, uid+1); err == nil {
		t.Error("file of another uid read")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() { _, err := readOwned(fifo, uid); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("FIFO read as an Xauthority file")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("readOwned blocked on a FIFO")
	}
}
