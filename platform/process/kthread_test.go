package process

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// TestKernelThreadsNeedOnlyStat checks, on the live machine, what readPID assumes of a kernel
// thread when it reads its stat alone: it runs as root, and has no command line, no
// executable and no descriptors. Every live kernel thread is checked against the files the
// shortcut skips, and at least one must exist (kthreadd, pid 2, always does).
func TestKernelThreadsNeedOnlyStat(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("kernel threads are Linux's")
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	users := map[uint32]string{0: "root"}
	buf := make([]byte, maxFile)
	checked := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		p, ok, _, kthread := readPID(dir, int32(pid), bootTime("/proc/stat"), users, buf)
		if !ok || !kthread {
			continue
		}
		status, err := os.ReadFile(dir + "/status")
		if err != nil {
			continue // gone meanwhile
		}
		if uid, ok := statusUID(status); !ok || uid != 0 || p.Username != "root" {
			t.Errorf("kernel thread %d (%s): uid %d in status, user %q", pid, p.Name, uid, p.Username)
		}
		if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil && len(cmdline) > 0 {
			t.Errorf("kernel thread %d (%s) has a command line %q", pid, p.Name, cmdline)
		}
		if exe, err := os.Readlink(dir + "/exe"); err == nil || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("kernel thread %d (%s): exe %q, %v", pid, p.Name, exe, err)
		}
		if fds, err := os.ReadDir(dir + "/fd"); len(fds) > 0 {
			t.Errorf("kernel thread %d (%s) has %d descriptors (%v)", pid, p.Name, len(fds), err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no kernel thread found: the PF_KTHREAD test reads the wrong field")
	}
	t.Logf("%d kernel threads checked", checked)
	// A user process is not one.
	self, err := os.ReadFile("/proc/self/stat")
	if _, _, _, flags, ok := parseStat(self); err != nil || !ok || flags&pfKthread != 0 {
		t.Fatalf("this test process taken for a kernel thread (%v)", err)
	}
}

func TestKernelThreadFlag(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want bool
	}{
		{"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0", true},
		{"1234 (bash) S 1 1234 1234 34816 1234 4194560 500 0 0 0 1 1 0 0 20 0 1 0 9 0 0", false},
		{"77 (a) b) c) S 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0", true}, // comm with parentheses
		{"9 (short) S 2 0 0 0 -1 2129984", false},                                  // cut short: not parsed
		{"9 (bad) S 2 0 0 0 -1 x 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0", false},
		{"no parenthesis", false},
	} {
		_, _, _, flags, ok := parseStat([]byte(tc.stat))
		if got := ok && flags&pfKthread != 0; got != tc.want {
			t.Errorf("kernel thread %q = %v", tc.stat, got)
		}
	}
}
