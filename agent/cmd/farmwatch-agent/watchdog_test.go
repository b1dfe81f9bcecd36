package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/watchdog"
)

// TestWatchdogRestartsAgentOverMemoryLimit runs the real agent binary with max_memory_mib: 5
// (below any Go program's resident set) against a collector that is not there (it keeps
// retrying enrollment), and expects the watchdog to end it with its exit status, its log line
// and a counted restart.
func TestWatchdogRestartsAgentOverMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the agent")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "farmwatch-agent")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	st := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := "server: 127.0.0.1:1\nenroll_secret: not-used\nca_pin: " + strings.Repeat("0", 64) +
		"\nstate_dir: " + st + "\nsniff: false\nmax_memory_mib: 5\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("agent still running after 60 s:\n%s", out.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != watchdog.ExitCode {
		t.Fatalf("agent ended with %v, want exit status %d:\n%s", err, watchdog.ExitCode, out.String())
	}
	if !strings.Contains(out.String(), "watchdog: restarting the agent: over its memory limit") || !strings.Contains(out.String(), "memory_limit_mib=5") {
		t.Errorf("log lacks the watchdog's line:\n%s", out.String())
	}
	if r, err := watchdog.ReadRestarts(filepath.Join(st, watchdog.RestartsFile)); err != nil || r.Count != 1 || r.LastReason != "memory" {
		t.Errorf("restart count %+v, %v", r, err)
	}
}
