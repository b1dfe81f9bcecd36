package process

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListCapturedTree(t *testing.T) {
	boot := time.Unix(1716200000, 0)
	got, err := List(context.Background(), "testdata/debian")
	if err != nil {
		t.Fatal(err)
	}
	sshdSockets := []Socket{
		{Protocol: "tcp", LocalAddress: "0.0.0.0", LocalPort: 22, State: "LISTEN"},
		{Protocol: "tcp6", LocalAddress: "::", LocalPort: 22, State: "LISTEN"},
	}
	rustdeskSockets := []Socket{
		{Protocol: "tcp", LocalAddress: "0.0.0.0", LocalPort: 21118, State: "LISTEN"},
		{Protocol: "tcp", LocalAddress: "192.168.1.20", LocalPort: 51234, RemoteAddress: "203.0.113.7", RemotePort: 21116, State: "ESTABLISHED"},
		{Protocol: "udp", LocalAddress: "0.0.0.0", LocalPort: 21119},
	}
	if runtime.GOOS != "linux" { // sockets of captured trees are read on Linux only
		sshdSockets, rustdeskSockets = nil, nil
	}
	want := []Process{
		{PID: 1, Name: "systemd", Executable: "/usr/lib/systemd/systemd", CommandLine: "/sbin/init splash",
			Username: "root", Started: boot.Add(150 * time.Millisecond)},
		{PID: 2, Name: "kthreadd", Username: "root", Started: boot.Add(150 * time.Millisecond)},
		{PID: 812, PPID: 1, Name: "sshd", Executable: "/usr/sbin/sshd",
			CommandLine: "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
			Username:    "root", Started: boot.Add(4200 * time.Millisecond), Sockets: sshdSockets},
		// comm is cut to 15 bytes; the name comes back from argv[0].
		{PID: 2345, PPID: 1, Name: "rustdesk-service", Executable: "/usr/lib/rustdesk/rustdesk-service (deleted)",
			CommandLine: "/usr/lib/rustdesk/rustdesk-service --service", Username: "alice",
			Started: boot.Add(987650 * time.Millisecond), Sockets: rustdeskSockets},
		// comm with parentheses and spaces; uid 1001 has no passwd entry.
		{PID: 4242, PPID: 2345, Name: "weird) name (x", CommandLine: "./a.out", Started: boot.Add(1234560 * time.Millisecond)},
	}
	for _, p := range got {
		slices.SortFunc(p.Sockets, func(a, b Socket) int {
			return strings.Compare(a.Protocol+a.RemoteAddress, b.Protocol+b.RemoteAddress)
		})
	}
	if len(got) != len(want) {
		t.Fatalf("List() returned %d processes, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("process %d:\n got %+v\nwant %+v", want[i].PID, got[i], want[i])
		}
	}
}

func TestListMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), t.TempDir()); err == nil {
		t.Fatal("List(root without proc) returned no error")
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in        string
		comm      string
		ppid      int32
		starttime uint64
		ok        bool
	}{
		{"42 (bash) S 1 42 42 34816 42 4194304 1 2 3 4 5 6 7 8 20 0 1 0 777 1000 10", "bash", 1, 777, true},
		{"7 (a (b) c) R 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0", "a (b) c", 3, 9, true},
		{"7 (short) S 1 2 3", "", 0, 0, false},
		{"no parens at all", "", 0, 0, false},
		{"1 (x) S notanumber 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0", "", 0, 0, false},
		{"", "", 0, 0, false},
	}
	for _, tt := range tests {
		comm, ppid, st, _, ok := parseStat([]byte(tt.in))
		if comm != tt.comm || ppid != tt.ppid || st != tt.starttime || ok != tt.ok {
			t.Errorf("parseStat(%q) = %q, %d, %d, %v; want %q, %d, %d, %v", tt.in, comm, ppid, st, ok, tt.comm, tt.ppid, tt.starttime, tt.ok)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (bash) S 1 42 42 34816 42 4194304 1 2 3 4 5 6 7 8 20 0 1 0 777 1000 10"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseStat(b)
		statusUID(b)
	})
}

// TestListLive checks this machine: our own process, a child we start and a
// listener we open must all appear as they are.
func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live process test is for linux")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint32(ln.Addr().(*net.TCPAddr).Port)

	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	// Start returns once exec has begun; the new image's arguments appear a moment later
	// (under load the list could otherwise catch the child in between).
	for i := 0; i < 200; i++ {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child.Process.Pid)); len(b) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	before := time.Now()
	procs, err := List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(procs, func(a, b Process) int { return int(a.PID - b.PID) }) {
		t.Error("processes not sorted by PID")
	}
	find := func(pid int) *Process {
		i := slices.IndexFunc(procs, func(p Process) bool { return int(p.PID) == pid })
		if i < 0 {
			t.Fatalf("pid %d not listed", pid)
		}
		return &procs[i]
	}

	self := find(os.Getpid())
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if self.Executable != exe {
		t.Errorf("own Executable = %q, want %q", self.Executable, exe)
	}
	if self.PPID != int32(os.Getppid()) {
		t.Errorf("own PPID = %d, want %d", self.PPID, os.Getppid())
	}
	if !strings.HasPrefix(self.CommandLine, os.Args[0]) {
		t.Errorf("own CommandLine = %q, want prefix %q", self.CommandLine, os.Args[0])
	}
	if self.Started.IsZero() || self.Started.After(before) || before.Sub(self.Started) > time.Hour {
		t.Errorf("own Started = %v, implausible before %v", self.Started, before)
	}
	listening := Socket{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: port, State: "LISTEN"}
	if !slices.Contains(self.Sockets, listening) {
		t.Errorf("own sockets %+v lack %+v", self.Sockets, listening)
	}

	kid := find(child.Process.Pid)
	if kid.PPID != int32(os.Getpid()) || kid.Name != "sleep" || kid.CommandLine != "sleep 30" {
		t.Errorf("child = %+v, want sleep 30 under pid %d", *kid, os.Getpid())
	}
	if kid.Started.Before(self.Started) {
		t.Errorf("child started %v before its parent %v", kid.Started, self.Started)
	}
	if kid.Username == "" || kid.Username != self.Username {
		t.Errorf("child user %q, parent user %q: want equal and known", kid.Username, self.Username)
	}
}

func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	n := 0
	for b.Loop() {
		procs, err := List(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		n = len(procs)
	}
	b.ReportMetric(float64(n), "procs")
}

func TestVanishedProcessesAreCountedNotFatal(t *testing.T) {
	root := t.TempDir()
	if err := os.CopyFS(root, os.DirFS("testdata/debian")); err != nil {
		t.Fatal(err)
	}
	// A process directory whose files are gone: the process exited mid-scan.
	if err := os.MkdirAll(filepath.Join(root, "proc", "31337"), 0o755); err != nil {
		t.Fatal(err)
	}
	procs, counts, err := ListCounted(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if counts.Vanished != 1 {
		t.Errorf("vanished = %d, want 1", counts.Vanished)
	}
	for _, p := range procs {
		if p.PID == 31337 {
			t.Error("vanished process listed")
		}
	}
	if len(procs) == 0 {
		t.Error("the other processes were not listed")
	}
}
