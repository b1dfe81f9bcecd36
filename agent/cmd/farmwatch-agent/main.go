// Command farmwatch-agent is the Farmwatch endpoint agent: it enrolls with a collector, scans
// this laptop for remote-control tools, KVM-over-IP hardware, relays and location anomalies,
// and reports what it finds.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/activity"
	"github.com/farmwatch/farmwatch/agent/capture"
	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors" // registers the detectors
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/sniffer"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/agent/watchdog"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/idle"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// version is set at build time (-X main.version=...).
var version = "dev"

const usage = `farmwatch-agent finds the signs of a laptop farm on this computer and reports them.

Usage:
  farmwatch-agent enroll [--config FILE] --server HOST:PORT --ca CA.pem --secret SECRET [--state DIR]
  farmwatch-agent run [--config FILE] [--once] [--interval 5m] [--state DIR]
  farmwatch-agent install [--config FILE]     register the service (root / LocalSystem)
  farmwatch-agent uninstall [--token TOKEN]   remove it (the policy may require a token)
  farmwatch-agent start | stop | status       status exits 0 running, 3 stopped, 4 not installed
  farmwatch-agent config check [--config FILE]
  farmwatch-agent scan [--json] [--root DIR]
  farmwatch-agent sniff --pcap FILE [--json]
  farmwatch-agent version

Run 'farmwatch-agent COMMAND -h' for the flags of a command.

Configuration, lowest precedence first: built-in defaults; the config file (--config, else
FARMWATCH_CONFIG, else %s); on macOS the managed preferences of a configuration
profile (domain com.farmwatch.agent); environment variables FARMWATCH_SERVER, FARMWATCH_CA,
FARMWATCH_ENROLL_SECRET, FARMWATCH_ENROLL_SECRET_FILE, FARMWATCH_STATE_DIR, FARMWATCH_INTERVAL,
FARMWATCH_HEARTBEAT, FARMWATCH_SNIFF, FARMWATCH_LOG_LEVEL, FARMWATCH_UNINSTALL_TOKEN_SHA256;
then flags. 'farmwatch-agent config check' shows where each value comes from.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "enroll":
		err = cmdEnroll(ctx, args[1:], stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stderr)
	case "scan":
		err = cmdScan(ctx, args[1:], stdout, stderr)
	case "sniff":
		err = cmdSniff(ctx, args[1:], stdout, stderr)
	case "install", "uninstall", "start", "stop", "status":
		err = cmdControl(ctx, newController(stdout, stderr), args[0], args[1:], stderr)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "farmwatch-agent %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText())
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usageText())
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "farmwatch-agent: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "farmwatch-agent: %v\n", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

func usageText() string {
	return fmt.Sprintf(usage, config.DefaultPaths(runtime.GOOS, os.Getenv).ConfigFile)
}

// flagKey ties a command-line flag to the configuration setting it overrides; value, when set,
// turns the flag's text into the setting's (--no-sniff into sniff: false).
type flagKey struct {
	key   string
	value func(string) string
}

// loadConfig merges the configuration with the flags the user actually set on fs.
func loadConfig(fs *flag.FlagSet, file string, keys map[string]flagKey) (config.Config, []config.Source, error) {
	var fl []config.Flag
	fs.Visit(func(f *flag.Flag) {
		k, ok := keys[f.Name]
		if !ok {
			return
		}
		v := f.Value.String()
		if k.value != nil {
			v = k.value(v)
		}
		fl = append(fl, config.Flag{Key: k.key, Name: "--" + f.Name, Value: v})
	})
	return config.Load(config.Options{File: file, Flags: fl})
}

func level(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return slog.LevelInfo
	}
	return l
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("farmwatch-agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func logger(stderr io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
}

func cmdEnroll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("enroll", stderr)
	configFile := fs.String("config", "", "configuration file (default: FARMWATCH_CONFIG or the OS default)")
	fs.String("state", "", "state directory (keys, certificate, spool); default from the configuration")
	fs.String("server", "", "collector gRPC address, host:port (or server: in the configuration)")
	fs.String("ca", "", "collector CA certificate (the collector's DATA/ca.pem) to pin (or ca_file:)")
	fs.String("secret", "", "enroll secret (or FARMWATCH_ENROLL_SECRET, enroll_secret_file:)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(fs, *configFile, map[string]flagKey{
		"state": {key: "state_dir"}, "server": {key: "server"}, "ca": {key: "ca_file"}, "secret": {key: "enroll_secret"},
	})
	if err != nil {
		return err
	}
	switch {
	case cfg.Server == "":
		return usageError{errors.New("--server (or server: in the configuration) is required")}
	case cfg.CAFile == "" && cfg.CAPEM == "" && cfg.CAPin == "":
		return usageError{errors.New("--ca (or ca_file:, ca_pem: or ca_pin: in the configuration) is required")}
	case cfg.EnrollSecret == "":
		return usageError{errors.New("--secret (or FARMWATCH_ENROLL_SECRET, or enroll_secret_file: in the configuration) is required")}
	}
	dir, err := state.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rec, err := enrollFromConfig(ctx, cfg, dir, logger(stderr, false))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled as device %s with %s; certificate valid until %s\n", rec.DeviceID, rec.Server, rec.NotAfter.Format(time.RFC3339))
	return nil
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	configFile := fs.String("config", "", "configuration file (default: FARMWATCH_CONFIG or the OS default)")
	fs.String("state", "", "state directory; default from the configuration")
	once := fs.Bool("once", false, "scan once, send everything spooled, wait for the acknowledgements and exit")
	fs.Duration("interval", 5*time.Minute, "time between scans (interval:)")
	fs.Duration("heartbeat", time.Minute, "time between heartbeats (heartbeat:)")
	root := fs.String("root", "", "read a captured file-system tree instead of this machine (testing)")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --once: give up after this long")
	fs.Bool("no-sniff", false, "do not start the packet sniffer (sniff: false)")
	fs.Bool("v", false, "debug logging (log_level: debug)")
	fs.Float64("max-cpu-percent", config.DefaultMaxCPUPercent, "watchdog: CPU limit, % of one core over a minute; 0 = none (max_cpu_percent:)")
	fs.Int("max-memory-mib", config.DefaultMaxMemoryMiB, "watchdog: resident memory limit in MiB; 0 = none (max_memory_mib:)")
	if err := parse(fs, args); err != nil {
		return err
	}
	not := func(v string) string { b, _ := strconv.ParseBool(v); return strconv.FormatBool(!b) }
	debug := func(v string) string {
		if b, _ := strconv.ParseBool(v); b {
			return "debug"
		}
		return "info"
	}
	cfg, _, err := loadConfig(fs, *configFile, map[string]flagKey{
		"state": {key: "state_dir"}, "interval": {key: "interval"}, "heartbeat": {key: "heartbeat"},
		"no-sniff": {key: "sniff", value: not}, "v": {key: "log_level", value: debug},
		"max-cpu-percent": {key: "max_cpu_percent"}, "max-memory-mib": {key: "max_memory_mib"},
	})
	if err != nil {
		return err
	}
	prog := &program{stateDir: cfg.StateDir}
	svc, err := newService(prog, *configFile)
	if err != nil {
		return err
	}
	log, closeLog, err := serviceLog(svc, level(cfg.LogLevel), stderr)
	if err != nil {
		return fmt.Errorf("open the log: %w", err)
	}
	defer closeLog()
	prog.log = log
	dir, err := state.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	tuneMemory()
	wd := startWatchdog(ctx, cfg, dir, log)
	if err := enrollIfNeeded(ctx, cfg, dir, log); err != nil {
		return err
	}
	dets, err := detect.New(log, nil, nil)
	if err != nil {
		return err
	}
	sp, err := spool.OpenOrSetAside(dir.File(state.SpoolFile), spool.Options{}, log)
	if err != nil {
		return err
	}
	defer sp.Close()
	zones, err := scan.OpenZoneHistory(dir.File("zones.json"))
	if err != nil {
		log.Warn("zone history", "err", err)
	}
	scanner := &scan.Scanner{Root: *root, Detectors: dets, AgentVersion: version, Log: log, Zones: zones}
	var sampler *activity.Sampler
	if *root == "" {
		if sampler, err = activity.Open(dir.File(activity.FileName), time.Now); err != nil {
			log.Warn("activity profile", "err", err)
		}
		if sampler != nil {
			sampler.Logger = log
			defer sampler.Close()
			scanner.Activity = sampler.Facts
		}
	}
	r := &runner.Runner{
		State: dir, Spool: sp, Interval: cfg.Interval, Heartbeat: cfg.Heartbeat, AgentVersion: version, Log: log,
		Scanner: scanner, Throttle: wd.Throttle,
	}
	if err := r.Connect(); err != nil {
		return err
	}
	defer r.Close()
	if *once {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return r.RunOnce(ctx)
	}
	log.Info("agent running", "version", version, "interval", cfg.Interval, "detectors", strings.Join(dets.Names(), ","))
	prog.goodbye = func(reason string) {
		if takeGoodbyeMark(dir.Path, time.Now()) {
			return // `farmwatch-agent stop` or `uninstall` already told the collector
		}
		actor := "service manager"
		if service.Interactive() {
			actor = "signal to the agent in a terminal"
		}
		if err := r.Goodbye(context.Background(), reason, actor, false); err != nil {
			log.Warn("could not tell the collector this agent is stopping", "reason", reason, "err", err)
			return
		}
		log.Info("told the collector this agent is stopping", "reason", reason)
	}
	prog.run = func(ctx context.Context) error {
		if *root == "" && cfg.Sniff {
			an := netwatch.New(scanner.Catalog())
			live, err := sniffer.Start(ctx, capture.Options{}, an, log)
			if err != nil {
				log.Warn("packet sniffer off: relay DNS/TLS/STUN findings need it", "reason", err)
				scanner.NetworkErr = fmt.Errorf("packet sniffer off: %w", err)
			} else {
				defer live.Close()
				scanner.Network = an
				log.Info("packet sniffer on")
			}
		}
		if sampler != nil {
			go sampler.Run(ctx, idle.Idle)
		}
		return r.Run(ctx)
	}
	if err := svc.Run(); err != nil {
		return err
	}
	return prog.err
}

// startWatchdog watches the agent's own CPU and memory against max_cpu_percent and
// max_memory_mib until ctx ends: over the CPU limit it holds scans back (Runner.Throttle), and
// past the limits for good it logs, counts the restart in the state directory and exits with
// watchdog.ExitCode for the service manager to start the agent again.
func startWatchdog(ctx context.Context, cfg config.Config, dir state.Dir, log *slog.Logger) *watchdog.Watchdog {
	l := watchdog.Limits{CPUPercent: cfg.MaxCPUPercent, MemoryBytes: int64(cfg.MaxMemoryMiB) << 20}
	if cfg.MaxCPUPercent == 0 {
		l.CPUPercent = -1 // configured 0: no limit (a zero Limits field means the default)
	}
	if cfg.MaxMemoryMiB == 0 {
		l.MemoryBytes = -1
	}
	wd := watchdog.New(l, dir.File(watchdog.RestartsFile), log)
	if rs, err := watchdog.ReadRestarts(wd.RestartsPath); err != nil {
		log.Warn("watchdog restart count", "err", err)
	} else if rs.Count > 0 {
		log.Info("watchdog restarts so far", "count", rs.Count, "last", rs.Last, "reason", rs.LastReason, "detail", rs.LastDetail)
	}
	log.Debug("watchdog on", "max_cpu_percent", cfg.MaxCPUPercent, "max_memory_mib", cfg.MaxMemoryMiB)
	go wd.Run(ctx)
	return wd
}

// cmdControl runs install, uninstall, start, stop and status.
func cmdControl(ctx context.Context, c *controller, name string, args []string, stderr io.Writer) error {
	fs := newFlags(name, stderr)
	configFile := fs.String("config", "", "configuration file (default: FARMWATCH_CONFIG or the OS default); install passes it to the service")
	var token *string
	if name == "uninstall" {
		token = fs.String("token", "", "the uninstall token, when the policy requires one (or FARMWATCH_UNINSTALL_TOKEN)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, _, err := loadConfig(fs, *configFile, nil)
	switch name {
	case "install":
		if err != nil {
			return fmt.Errorf("not installing: %w\n(farmwatch-agent config check lists the problems)", err)
		}
		return c.install(cfg, *configFile)
	case "start":
		return c.start(*configFile)
	case "status":
		return c.status(*configFile)
	}
	// stop and uninstall need the state directory (token, enrollment for the goodbye); a
	// configuration problem elsewhere must not keep an admin from stopping the agent.
	if err != nil && cfg.StateDir == "" {
		return err
	}
	if err != nil {
		fmt.Fprintf(stderr, "farmwatch-agent: warning: %v\n", err)
	}
	if name == "stop" {
		return c.stop(ctx, cfg, *configFile)
	}
	t := *token
	if t == "" {
		t = os.Getenv("FARMWATCH_UNINSTALL_TOKEN")
	}
	return c.uninstall(ctx, cfg, *configFile, strings.TrimSpace(t))
}

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("scan", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	root := fs.String("root", "", "read a captured file-system tree instead of this machine")
	verbose := fs.Bool("v", false, "debug logging")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *root != "" {
		if st, err := os.Stat(*root); err != nil || !st.IsDir() {
			return usageError{fmt.Errorf("--root %s: not a directory", *root)}
		}
	}
	log := logger(stderr, *verbose)
	dets, err := detect.New(log, nil, nil)
	if err != nil {
		return err
	}
	rep, err := (&scan.Scanner{Root: *root, Detectors: dets, AgentVersion: version, Log: log}).Scan(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(rep)
		if err != nil {
			return err
		}
		var v any // re-indent through encoding/json for stable output
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return scan.WriteText(stdout, rep)
}

func cmdSniff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sniff", stderr)
	pcap := fs.String("pcap", "", "analyse this capture file (pcap or pcapng) offline")
	asJSON := fs.Bool("json", false, "print findings as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *pcap == "" {
		return usageError{errors.New("--pcap is required (live sniffing runs inside farmwatch-agent run)")}
	}
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	an := netwatch.New(cat)
	read, decoded, err := sniffer.ReadPcap(*pcap, an)
	if err != nil {
		return err
	}
	dets, err := detect.New(logger(stderr, false), nil, otherThan("relay"))
	if err != nil {
		return err
	}
	findings, _ := dets.Run(ctx, &detect.Env{Facts: &pb.Facts{}, Catalog: cat, Now: time.Now(), Network: an})
	rep := &pb.Report{Created: timestamppb.Now(), AgentVersion: version, CatalogVersion: cat.Version, Findings: findings}
	if *asJSON {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(rep)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(stdout, "%s: %d packets, %d decoded, %d observations\n", *pcap, read, decoded, len(an.Snapshot(time.Time{})))
	return scan.WriteFindings(stdout, findings)
}

// otherThan lists every registered detector but keep, to run that one alone.
func otherThan(keep string) []string {
	var out []string
	for _, n := range detect.Names() {
		if n != keep {
			out = append(out, n)
		}
	}
	return out
}
