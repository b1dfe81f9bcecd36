// Package watchdog watches the agent's own CPU time and resident memory and acts past the
// configured limits, as osquery's watchdog does but within far smaller limits:
//
//   - CPU: every Window (1 minute) the CPU time used over the window is compared with
//     Limits.CPUPercent of one core. Over the limit, the watchdog throttles: Throttle returns
//     the time left until the next window ends, and the runner skips the scans due meanwhile
//     (a warning is logged). Over the limit for RestartWindows (3) consecutive windows, it
//     restarts the agent.
//   - Memory: every Period (10 s) the resident set is compared with Limits.MemoryBytes. Over
//     it, the watchdog returns freed memory to the OS (runtime/debug.FreeOSMemory) and samples
//     again; still over, it restarts the agent.
//
// Restarting is logging an error with the figures, counting the restart in a small file in the
// state directory (RestartsFile) and exiting with ExitCode, so that the service manager starts
// the agent again (systemd Restart=, launchd KeepAlive, the Windows SCM recovery actions).
//
// Samples come from the OS: CPU time from getrusage(RUSAGE_SELF) on Unix and GetProcessTimes
// on Windows; resident memory from /proc/self/status (VmRSS) on Linux, GetProcessMemoryInfo
// (working set) on Windows, and on macOS, which has no pure-Go reader for it, the Go runtime's
// own view (runtime/metrics: memory mapped by the runtime and not released), an approximation
// that leaves out non-Go mappings.
package watchdog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
)

// ExitCode is the agent's exit status when the watchdog restarts it (EX_TEMPFAIL: try again).
const ExitCode = 75

// RestartsFile is the name, in the state directory, of the file counting watchdog restarts.
const RestartsFile = "watchdog.json"

// Defaults.
const (
	DefaultCPUPercent     = 5
	DefaultMemoryMiB      = 100
	DefaultPeriod         = 10 * time.Second
	DefaultWindow         = time.Minute
	DefaultRestartWindows = 3
)

// Limits configure a Watchdog. Zero fields take the defaults; a negative CPUPercent or
// MemoryBytes turns that check off.
type Limits struct {
	CPUPercent     float64       // of one core, averaged over Window
	MemoryBytes    int64         // resident set
	Period         time.Duration // between samples
	Window         time.Duration // CPU averaging window
	RestartWindows int           // consecutive windows over the CPU limit before a restart
}

func (l Limits) withDefaults() Limits {
	if l.CPUPercent == 0 {
		l.CPUPercent = DefaultCPUPercent
	}
	if l.MemoryBytes == 0 {
		l.MemoryBytes = DefaultMemoryMiB << 20
	}
	if l.Period <= 0 {
		l.Period = DefaultPeriod
	}
	if l.Window <= 0 {
		l.Window = DefaultWindow
	}
	if l.Window < l.Period {
		l.Window = l.Period
	}
	if l.RestartWindows <= 0 {
		l.RestartWindows = DefaultRestartWindows
	}
	return l
}

// Sample is one reading of the process's resource use.
type Sample struct {
	At  time.Time
	CPU time.Duration // user + system CPU time since the process started
	RSS uint64        // resident set, bytes
}

// Action is what the watchdog decided after a sample.
type Action int

const (
	None Action = iota
	Throttle
	Restart
)

func (a Action) String() string {
	switch a {
	case Throttle:
		return "throttle"
	case Restart:
		return "restart"
	}
	return "none"
}

// Decision is the outcome of one sample, with the figures it was made on.
type Decision struct {
	Action     Action
	Reason     string  // "cpu", "memory" or ""
	CPUPercent float64 // over the last complete window; -1 when no window has completed
	Windows    int     // consecutive windows over the CPU limit
	RSS        uint64  // bytes
}

// Watchdog samples and decides. Create with New; call Run, or Observe with samples of your own.
type Watchdog struct {
	Limits Limits
	// Sample reads the process's use (default: ReadSelf).
	Sample func() (Sample, error)
	// FreeOSMemory returns freed memory to the OS before a memory restart is decided
	// (default: runtime/debug.FreeOSMemory).
	FreeOSMemory func()
	// Exit ends the process (default: os.Exit). Run calls it with ExitCode on a restart.
	Exit func(code int)
	// RestartsPath is the file counting restarts ("" : not counted).
	RestartsPath string
	Log          *slog.Logger

	mu          sync.Mutex
	windowStart Sample
	started     bool
	over        int
	throttleEnd time.Time
	lastCPU     float64
}

// New returns a watchdog with the given limits, sampling this process.
func New(l Limits, restartsPath string, log *slog.Logger) *Watchdog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watchdog{Limits: l.withDefaults(), RestartsPath: restartsPath, Log: log, lastCPU: -1}
}

// Observe feeds one sample to the decision logic. For a memory sample over the limit it frees
// memory (FreeOSMemory) and samples again (Sample) before deciding on a restart.
func (w *Watchdog) Observe(s Sample) Decision {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.Limits.withDefaults()
	if !w.started {
		w.started, w.windowStart, w.lastCPU = true, s, -1
	}
	d := Decision{CPUPercent: w.lastCPU, Windows: w.over, RSS: s.RSS}
	if l.CPUPercent > 0 {
		if wall := s.At.Sub(w.windowStart.At); wall >= l.Window {
			pct := 100 * float64(s.CPU-w.windowStart.CPU) / float64(wall)
			w.windowStart, w.lastCPU, d.CPUPercent = s, pct, pct
			if pct > l.CPUPercent {
				w.over++
				w.throttleEnd = s.At.Add(l.Window)
			} else {
				w.over = 0
				w.throttleEnd = time.Time{}
			}
			d.Windows = w.over
			switch {
			case w.over >= l.RestartWindows:
				d.Action, d.Reason = Restart, "cpu"
			case w.over > 0:
				d.Action, d.Reason = Throttle, "cpu"
			}
		} else if s.At.Before(w.throttleEnd) {
			d.Action, d.Reason = Throttle, "cpu"
		}
	}
	if l.MemoryBytes > 0 && s.RSS > uint64(l.MemoryBytes) && d.Action != Restart {
		free, sample := w.FreeOSMemory, w.Sample
		if free == nil {
			free = debug.FreeOSMemory
		}
		if sample == nil {
			sample = ReadSelf
		}
		free()
		again, err := sample()
		if err != nil {
			again = s // cannot re-check: keep the first figure
		}
		d.RSS = again.RSS
		if again.RSS > uint64(l.MemoryBytes) {
			d.Action, d.Reason = Restart, "memory"
		}
	}
	return d
}

// Throttle is the hook the runner consults before a scan: how long to hold scans back while
// the agent is over its CPU limit (0: scan now).
func (w *Watchdog) Throttle() time.Duration {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return max(0, time.Until(w.throttleEnd))
}

// Run samples every Period until ctx ends, logging throttles and restarting (log, count, Exit)
// when a limit is passed for good.
func (w *Watchdog) Run(ctx context.Context) {
	l := w.Limits.withDefaults()
	sample := w.Sample
	if sample == nil {
		sample = ReadSelf
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(l.Period)
	defer tick.Stop()
	logged := 0 // windows over the limit already warned about
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
		s, err := sample()
		if err != nil {
			w.Log.Warn("watchdog: cannot read own resource use", "err", err)
			continue
		}
		d := w.Observe(s)
		switch d.Action {
		case Throttle:
			if d.Windows != logged { // once per window over the limit
				w.Log.Warn("watchdog: over the CPU limit, holding scans back",
					"cpu_percent", round(d.CPUPercent), "limit_percent", l.CPUPercent,
					"window", l.Window, "windows_over", d.Windows, "restart_after", l.RestartWindows)
				logged = d.Windows
			}
		case Restart:
			w.restart(d, l)
			return
		default:
			if logged > 0 && d.Windows == 0 {
				w.Log.Info("watchdog: back under the CPU limit", "cpu_percent", round(d.CPUPercent), "limit_percent", l.CPUPercent)
				logged = 0
			}
		}
	}
}

func (w *Watchdog) restart(d Decision, l Limits) {
	n, err := CountRestart(w.RestartsPath, d, time.Now())
	if err != nil {
		w.Log.Warn("watchdog: cannot count the restart", "err", err)
	}
	w.Log.Error("watchdog: restarting the agent: over its "+d.Reason+" limit",
		"reason", d.Reason, "cpu_percent", round(d.CPUPercent), "cpu_limit_percent", l.CPUPercent,
		"windows_over", d.Windows, "rss_mib", round(float64(d.RSS)/(1<<20)),
		"memory_limit_mib", round(float64(l.MemoryBytes)/(1<<20)), "restarts", n, "exit_status", ExitCode)
	exit := w.Exit
	if exit == nil {
		exit = os.Exit
	}
	exit(ExitCode)
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Restarts is the content of RestartsFile.
type Restarts struct {
	Count      int       `json:"count"`
	Last       time.Time `json:"last"`
	LastReason string    `json:"last_reason"`
	LastDetail string    `json:"last_detail"`
}

// ReadRestarts reads the restart count; a missing file is zero restarts.
func ReadRestarts(path string) (Restarts, error) {
	var r Restarts
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Restarts{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// CountRestart adds one restart to the file at path ("" : nothing) and returns the new count.
func CountRestart(path string, d Decision, now time.Time) (int, error) {
	if path == "" {
		return 0, nil
	}
	r, err := ReadRestarts(path)
	if err != nil {
		r = Restarts{} // a damaged counter starts again rather than blocking the restart
	}
	r.Count++
	r.Last, r.LastReason = now.UTC(), d.Reason
	r.LastDetail = fmt.Sprintf("cpu %.2f%% over %d windows, rss %.1f MiB", d.CPUPercent, d.Windows, float64(d.RSS)/(1<<20))
	b, _ := json.Marshal(r)
	return r.Count, atomicfile.Write(path, append(b, '\n'), 0o600)
}
