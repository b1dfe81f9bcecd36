//go:build linux

package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAgentSteadyState builds the real agent and collector, enrolls the agent, runs it at a
// 60 s interval and measures, between minute 1 and the end (FARMWATCH_PERF_MINUTES, default
// 3), its resident memory (VmRSS, VmHWM) and its CPU time (utime+stime of /proc/PID/stat) as a
// percentage of one core. FARMWATCH_PERF_SNIFF=0 runs it with --no-sniff. Skipped unless
// FARMWATCH_PERF=1.
func TestAgentSteadyState(t *testing.T) {
	if os.Getenv("FARMWATCH_PERF") != "1" {
		t.Skip("set FARMWATCH_PERF=1 to run (several minutes)")
	}
	minutes := 3
	if v, err := strconv.Atoi(os.Getenv("FARMWATCH_PERF_MINUTES")); err == nil && v >= 2 {
		minutes = v
	}
	sniff := os.Getenv("FARMWATCH_PERF_SNIFF") != "0"
	dir := t.TempDir()
	bin := func(name, pkg string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-o", out, pkg) // the Makefile's tags
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = "../.."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, b)
		}
		return out
	}
	server := bin("farmwatch-server", "./server/cmd/farmwatch-server")
	agent := bin("farmwatch-agent", "./agent/cmd/farmwatch-agent")

	data := filepath.Join(dir, "server")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srvLog, _ := os.Create(filepath.Join(dir, "server.log"))
	srv := exec.Command(server, "serve", "--data", data, "--grpc-listen", addr, "--http-listen", "127.0.0.1:0")
	srv.Stdout, srv.Stderr = srvLog, srvLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			if _, err := os.Stat(filepath.Join(data, "ca.pem")); err == nil {
				break
			}
		}
		if i > 300 {
			b, _ := os.ReadFile(srvLog.Name())
			t.Fatalf("collector did not start:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command(server, "enroll-secret", "create", "--data", data, "--name", "perf").Output()
	if err != nil {
		t.Fatalf("enroll-secret: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	secret := strings.TrimSpace(lines[len(lines)-1])
	st := filepath.Join(dir, "agent")
	if b, err := exec.Command(agent, "enroll", "--state", st, "--server", addr, "--ca", filepath.Join(data, "ca.pem"), "--secret", secret).CombinedOutput(); err != nil {
		t.Fatalf("enroll: %v\n%s", err, b)
	}
	args := []string{"run", "--state", st, "--interval", "60s"}
	if !sniff {
		args = append(args, "--no-sniff")
	}
	agLog, _ := os.Create(filepath.Join(dir, "agent.log"))
	ag := exec.Command(agent, args...)
	ag.Stdout, ag.Stderr = agLog, agLog
	if err := ag.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ag.Process.Kill(); ag.Wait() }()
	pid := ag.Process.Pid

	time.Sleep(time.Minute)
	cpu0, t0 := cpuTicks(t, pid), time.Now()
	var rssMax, rssSum, n uint64
	var atMax kb
	for time.Since(t0) < time.Duration(minutes-1)*time.Minute {
		time.Sleep(5 * time.Second)
		s := statusKB(t, pid)
		if s.rss > rssMax {
			atMax = s
		}
		rssMax, rssSum, n = max(rssMax, s.rss), rssSum+s.rss, n+1
	}
	cpu1, wall := cpuTicks(t, pid), time.Since(t0)
	end := statusKB(t, pid)
	rss, hwm := end.rss, end.hwm
	pct := 100 * float64(cpu1-cpu0) / 100 / wall.Seconds() // USER_HZ = 100
	b, _ := os.ReadFile(agLog.Name())
	scans := bytes.Count(b, []byte("scan")) // rough: the log says how many scans ran
	t.Logf("sniff=%v minutes=%d: VmRSS end %.1f MiB (mean %.1f, max %.1f over minute 1..%d), VmHWM %.1f MiB; CPU %d ticks in %.0f s = %.3f%% of one core",
		sniff, minutes, float64(rss)/1024, float64(rssSum)/float64(n)/1024, float64(rssMax)/1024, minutes, float64(hwm)/1024,
		cpu1-cpu0, wall.Seconds(), pct)
	t.Logf("at the max VmRSS: RssAnon %.1f MiB, RssFile %.1f MiB; at the end: RssAnon %.1f MiB, RssFile %.1f MiB",
		float64(atMax.anon)/1024, float64(atMax.file)/1024, float64(end.anon)/1024, float64(end.file)/1024)
	t.Logf("agent log (%d lines mentioning scan):\n%s", scans, tail(b, 15))
	if float64(rssMax)/1024 > 25 {
		t.Errorf("resident memory %.1f MiB > 25 MiB", float64(rssMax)/1024)
	}
	if pct > 0.2 {
		t.Errorf("idle CPU %.3f%% > 0.2%% of one core", pct)
	}
}

// cpuTicks is utime+stime of /proc/PID/stat, in clock ticks.
func cpuTicks(t *testing.T, pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("agent gone: %v", err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	s, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return u + s
}

// kb are fields of /proc/PID/status, in KiB.
type kb struct{ rss, hwm, anon, file uint64 }

// statusKB returns VmRSS, VmHWM, RssAnon and RssFile of /proc/PID/status in KiB.
func statusKB(t *testing.T, pid int) (s kb) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("agent gone: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = n
		case "VmHWM":
			s.hwm = n
		case "RssAnon":
			s.anon = n
		case "RssFile":
			s.file = n
		}
	}
	return s
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
