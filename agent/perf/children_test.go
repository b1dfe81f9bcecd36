//go:build linux

package perf

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary a helper child instead of running tests.
const childEnv = "FARMWATCH_PERF_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "tcp":
		holdSockets()
		return
	}
	code := m.Run()
	stopChildren()
	os.Exit(code)
}

// holdSockets listens on loopback, connects to itself twice and waits for its parent to die
// (Pdeathsig) or to kill it: three TCP sockets (LISTEN and two ESTABLISHED pairs) for the
// socket scan to attribute.
func holdSockets() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(2)
	}
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			os.Exit(2)
		}
		s, err := l.Accept()
		if err != nil {
			os.Exit(2)
		}
		held = append(held, c, s)
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin) // until the parent closes it or dies
	_ = held
}

var (
	childMu  sync.Mutex
	children []*exec.Cmd
)

// Sockets is how many children hold loopback TCP sockets.
const socketChildren = 10

// ensureProcesses starts children until /proc lists at least n processes: socketChildren
// copies of this binary holding sockets, the rest `sleep 3600`. They die with the test
// process (Pdeathsig) and are killed by TestMain at the end.
func ensureProcesses(tb testing.TB, n int) int {
	tb.Helper()
	childMu.Lock()
	defer childMu.Unlock()
	if len(children) == 0 {
		self, err := os.Executable()
		if err != nil {
			tb.Fatal(err)
		}
		for range socketChildren {
			cmd := exec.Command(self)
			cmd.Env = append(os.Environ(), childEnv+"=tcp")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			out, err := cmd.StdoutPipe()
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := cmd.StdinPipe(); err != nil {
				tb.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				tb.Fatal(err)
			}
			children = append(children, cmd)
			buf := make([]byte, 6)
			if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
				tb.Fatalf("socket child: %q %v", buf, err)
			}
		}
	}
	for count := countProcesses(tb); count < n; count++ {
		cmd := exec.Command("sleep", "3600")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		children = append(children, cmd)
	}
	// Wait until every sleep has exec'd (its cmdline is that of sleep, not of this binary).
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range children {
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Process.Pid))
			if len(b) > 0 && !strings.Contains(string(b), ".test") || c.Args[0] != "sleep" {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return countProcesses(tb)
}

func stopChildren() {
	childMu.Lock()
	defer childMu.Unlock()
	for _, c := range children {
		c.Process.Kill()
		c.Wait()
	}
	children = nil
}

// countProcesses counts the processes in /proc.
func countProcesses(tb testing.TB) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}
