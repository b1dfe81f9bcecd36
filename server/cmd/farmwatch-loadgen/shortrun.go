package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/farmwatch/farmwatch/server/loadgen"
)

// shortRun starts a fresh collector from o.serverBin on a loopback port and a temporary data
// directory, with its limits raised so that back-pressure does not cap the measurement,
// creates an enroll secret with its CLI, runs the load against it, stops it and adds what it
// cost (peak RSS, CPU time) to the result.
func shortRun(ctx context.Context, o *options, stderr io.Writer) (*loadgen.Result, error) {
	bin, err := filepath.Abs(o.serverBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("-server-bin: %w (run make build)", err)
	}
	if o.cfg.StateDir != "" {
		fmt.Fprintln(stderr, "-state is not used with -short-run: every short run starts a fresh collector")
		o.cfg.StateDir = ""
	}
	tmp, err := os.MkdirTemp("", "farmwatch-loadgen-")
	if err != nil {
		return nil, err
	}
	if o.keepData {
		defer fmt.Fprintf(stderr, "collector data and log kept in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	data := filepath.Join(tmp, "data")
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data", data, "--grpc-listen", addr, "--http-listen", "127.0.0.1:0",
		"--limit-in-flight", "100000", "--limit-device-rate", "1000000", "--limit-device-burst", "1000000", "--idle-close", "0"}
	logf, err := os.Create(filepath.Join(tmp, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start collector: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stopped := false
	stopServer := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stopServer()
	fmt.Fprintf(stderr, "collector: %s %s (pid %d, log %s)\n", bin, strings.Join(args, " "), pid, logf.Name())

	if err := waitReady(ctx, addr, filepath.Join(data, "ca.pem"), exited); err != nil {
		return nil, fmt.Errorf("%w; collector log:\n%s", err, tail(logf.Name(), 20))
	}
	out, err := exec.CommandContext(ctx, bin, "enroll-secret", "create", "--data", data, "--name", "loadgen").Output()
	if err != nil {
		return nil, fmt.Errorf("enroll-secret create: %w", err)
	}
	secret := lastLine(out)
	if secret == "" {
		return nil, errors.New("enroll-secret create printed no secret")
	}
	ver, _ := exec.CommandContext(ctx, bin, "version").Output()
	caPEM, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil {
		return nil, err
	}
	cfg := o.cfg
	cfg.Server, cfg.CAPEM, cfg.Secret = addr, caPEM, secret
	var cpuOpen, cpuWindow float64
	cfg.OnWindow = func(open bool) {
		t := loadgen.ProcessCPU(pid)
		if open {
			cpuOpen = t
		} else {
			cpuWindow = t - cpuOpen
		}
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cs := &loadgen.CollectorStats{PeakRSSMiB: float64(procHWM(pid)) / 1024, CPUSecondsWindow: cpuWindow,
		Version: strings.TrimSpace(string(ver)), ServerArgs: strings.Join(args, " ")}
	for _, name := range []string{"farmwatch.db", "farmwatch.db-wal"} {
		if fi, err := os.Stat(filepath.Join(data, name)); err == nil {
			cs.DBBytes += fi.Size()
		}
	}
	cpuBefore := loadgen.ProcessCPU(pid)
	stopServer()
	cs.CPUSeconds = exitedCPU(cmd.ProcessState, cpuBefore)
	if res.Window > 0 {
		cs.CoresWindow = cpuWindow / res.Window
	}
	res.Collector = cs
	return res, nil
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until the collector has written its CA and accepts connections.
func waitReady(ctx context.Context, addr, caFile string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("collector exited at start")
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if _, err := os.Stat(caFile); err == nil {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("collector not listening after 60s")
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// procHWM is a process's peak resident set size in KiB (VmHWM of /proc/PID/status; 0 when
// unknown).
func procHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// exitedCPU is an exited child's user+system CPU seconds (fallback when unknown).
func exitedCPU(ps *os.ProcessState, fallback float64) float64 {
	if ps == nil {
		return fallback
	}
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}
