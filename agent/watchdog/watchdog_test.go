package watchdog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is a sample s seconds in, with cpu seconds of CPU used so far and rss MiB resident.
func at(s, cpu float64, rss uint64) Sample {
	return Sample{At: t0.Add(time.Duration(s * float64(time.Second))), CPU: time.Duration(cpu * float64(time.Second)), RSS: rss << 20}
}

func newTest(l Limits) *Watchdog {
	w := New(l, "", nil)
	w.FreeOSMemory = func() {}
	return w
}

func TestCPUThrottleThenRestartAfterThreeWindows(t *testing.T) {
	w := newTest(Limits{CPUPercent: 5}) // 1-minute windows, 10 s samples
	cpu := 0.0
	var ds []Decision
	for s := 0; s <= 180; s += 10 { // the restart at 180 s ends the process
		ds = append(ds, w.Observe(at(float64(s), cpu, 20)))
		cpu += 1 // 1 s per 10 s: 10% of a core
	}
	// Windows end at 60, 120, 180 s (samples 6, 12, 18).
	for i, d := range ds {
		var want Action
		switch {
		case i < 6:
			want = None
		case i < 18:
			want = Throttle
		default:
			want = Restart
		}
		if d.Action != want {
			t.Errorf("sample %d (%d s): %v, want %v (%+v)", i, i*10, d.Action, want, d)
		}
	}
	if d := ds[18]; d.Reason != "cpu" || d.Windows != 3 || d.CPUPercent < 9.9 || d.CPUPercent > 10.1 {
		t.Errorf("restart decision %+v, want cpu, 3 windows, 10%%", d)
	}
}

func TestThrottleHookAndRecovery(t *testing.T) {
	w := newTest(Limits{CPUPercent: 5})
	now := time.Now()
	w.Observe(Sample{At: now.Add(-time.Minute), CPU: 0})
	if d := w.Observe(Sample{At: now, CPU: 6 * time.Second}); d.Action != Throttle { // 10%
		t.Fatalf("%+v, want throttle", d)
	}
	if th := w.Throttle(); th <= 50*time.Second || th > time.Minute {
		t.Errorf("Throttle() = %v, want about the window (1m)", th)
	}
	// A quiet window lifts it and resets the count.
	if d := w.Observe(Sample{At: now.Add(time.Minute), CPU: 6*time.Second + 100*time.Millisecond}); d.Action != None || d.Windows != 0 {
		t.Errorf("%+v, want none after a quiet window", d)
	}
	if th := w.Throttle(); th != 0 {
		t.Errorf("Throttle() = %v after a quiet window, want 0", th)
	}
	var nilW *Watchdog
	if nilW.Throttle() != 0 {
		t.Error("nil watchdog throttles")
	}
}

func TestTwoWindowsOverThenOneUnderDoesNotRestart(t *testing.T) {
	w := newTest(Limits{CPUPercent: 5})
	w.Observe(at(0, 0, 10))
	w.Observe(at(60, 6, 10))   // 10%
	w.Observe(at(120, 12, 10)) // 10%
	if d := w.Observe(at(180, 12.6, 10)); d.Action != None {
		t.Errorf("%+v, want none (1%%)", d)
	}
	if d := w.Observe(at(240, 18.6, 10)); d.Action != Throttle || d.Windows != 1 {
		t.Errorf("%+v, want throttle, window 1 again", d)
	}
}

func TestMemoryRestartWhenFreeingDoesNotHelp(t *testing.T) {
	w := newTest(Limits{MemoryBytes: 100 << 20})
	freed := 0
	w.FreeOSMemory = func() { freed++ }
	w.Sample = func() (Sample, error) { return at(1, 0, 130), nil }
	if d := w.Observe(at(0, 0, 90)); d.Action != None || freed != 0 {
		t.Fatalf("under the limit: %+v, freed %d", d, freed)
	}
	d := w.Observe(at(10, 0, 140))
	if d.Action != Restart || d.Reason != "memory" || d.RSS != 130<<20 || freed != 1 {
		t.Errorf("%+v freed %d, want a memory restart on the re-checked 130 MiB after one FreeOSMemory", d, freed)
	}
}

func TestMemoryFreeingHelps(t *testing.T) {
	w := newTest(Limits{MemoryBytes: 100 << 20})
	w.Sample = func() (Sample, error) { return at(1, 0, 60), nil }
	if d := w.Observe(at(10, 0, 140)); d.Action != None || d.RSS != 60<<20 {
		t.Errorf("%+v, want none: back to 60 MiB after FreeOSMemory", d)
	}
	// A failed re-check keeps the first figure.
	w.Sample = func() (Sample, error) { return Sample{}, errors.New("no /proc") }
	if d := w.Observe(at(20, 0, 140)); d.Action != Restart {
		t.Errorf("%+v, want restart when the re-check fails", d)
	}
}

func TestLimitsOff(t *testing.T) {
	w := newTest(Limits{CPUPercent: -1, MemoryBytes: -1})
	w.Observe(at(0, 0, 1<<10))
	for s := 60; s <= 300; s += 60 {
		if d := w.Observe(at(float64(s), float64(s), 1<<10)); d.Action != None {
			t.Fatalf("%+v with limits off", d)
		}
	}
}

func TestReadSelf(t *testing.T) {
	s, err := ReadSelf()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 1<<20 || s.RSS > 4<<30 {
		t.Errorf("RSS %d bytes implausible", s.RSS)
	}
	// Spin until the CPU time moves (the machine may be busy: give it 5 s of wall time).
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		s2, err := ReadSelf()
		if err != nil {
			t.Fatal(err)
		}
		if s2.CPU-s.CPU >= 20*time.Millisecond {
			return
		}
	}
	t.Errorf("CPU time did not move by 20 ms in 5 s of spinning (from %v)", s.CPU)
}

func TestCountRestart(t *testing.T) {
	p := filepath.Join(t.TempDir(), RestartsFile)
	for i := 1; i <= 2; i++ {
		n, err := CountRestart(p, Decision{Reason: "memory", RSS: 5 << 20, CPUPercent: -1}, t0)
		if err != nil || n != i {
			t.Fatalf("CountRestart = %d, %v; want %d", n, err, i)
		}
	}
	r, err := ReadRestarts(p)
	if err != nil || r.Count != 2 || r.LastReason != "memory" || !r.Last.Equal(t0) {
		t.Errorf("ReadRestarts = %+v, %v", r, err)
	}
}

// childEnv makes the test binary a CPU hog under a watchdog (TestCPUHogChildIsRestarted).
const childEnv = "FARMWATCH_WATCHDOG_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "burn" {
		burn()
		return
	}
	os.Exit(m.Run())
}

// burn runs the watchdog at a 1 s sample period, 3 s windows and a 20% CPU limit, and burns a
// core until it is restarted (exits with ExitCode).
func burn() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	w := New(Limits{CPUPercent: 20, Period: time.Second, Window: 3 * time.Second}, os.Getenv("RESTARTS"), log)
	go w.Run(context.Background())
	x := 0
	for {
		x++
	}
}

func TestCPUHogChildIsRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child for about 10 s")
	}
	restarts := filepath.Join(t.TempDir(), RestartsFile)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=burn", "RESTARTS="+restarts)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
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
		t.Fatalf("the CPU hog was not restarted within 60 s:\n%s", stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitCode {
		t.Fatalf("child ended with %v, want exit status %d:\n%s", err, ExitCode, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{"watchdog: over the CPU limit, holding scans back", "watchdog: restarting the agent: over its cpu limit", "reason=cpu", "windows_over=3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if r, err := ReadRestarts(restarts); err != nil || r.Count != 1 || r.LastReason != "cpu" {
		t.Errorf("restart count %+v, %v", r, err)
	}
	t.Logf("restarted after %v (%d cores)", time.Since(start).Round(time.Second), runtime.NumCPU())
}
