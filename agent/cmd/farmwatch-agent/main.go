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
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/activity"
	"github.com/farmwatch/farmwatch/agent/capture"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors" // registers the detectors
	"github.com/farmwatch/farmwatch/agent/enroll"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/sniffer"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/host"
	"github.com/farmwatch/farmwatch/platform/idle"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// version is set at build time (-X main.version=...).
var version = "dev"

const usage = `farmwatch-agent finds the signs of a laptop farm on this computer and reports them.

Usage:
  farmwatch-agent enroll --server HOST:PORT --ca CA.pem --secret SECRET [--state DIR]
  farmwatch-agent run [--once] [--interval 5m] [--state DIR]
  farmwatch-agent scan [--json] [--root DIR]
  farmwatch-agent sniff --pcap FILE [--json]
  farmwatch-agent version

Run 'farmwatch-agent COMMAND -h' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
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
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "farmwatch-agent %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
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

func defaultStateDir() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "Farmwatch", "state")
	case "darwin":
		return "/Library/Application Support/Farmwatch/state"
	}
	return "/var/lib/farmwatch"
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
	stateDir := fs.String("state", defaultStateDir(), "state directory (keys, certificate, spool)")
	server := fs.String("server", "", "collector gRPC address, host:port")
	caPath := fs.String("ca", "", "collector CA certificate (the collector's DATA/ca.pem) to pin")
	secret := fs.String("secret", "", "enroll secret (or set FARMWATCH_ENROLL_SECRET)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *secret == "" {
		*secret = os.Getenv("FARMWATCH_ENROLL_SECRET")
	}
	switch {
	case *server == "":
		return usageError{errors.New("--server is required")}
	case *caPath == "":
		return usageError{errors.New("--ca is required")}
	case *secret == "":
		return usageError{errors.New("--secret (or FARMWATCH_ENROLL_SECRET) is required")}
	}
	caPEM, err := os.ReadFile(*caPath)
	if err != nil {
		return fmt.Errorf("read collector CA: %w", err)
	}
	dir, err := state.Open(*stateDir)
	if err != nil {
		return err
	}
	id, err := host.Read(ctx, "")
	if err != nil {
		logger(stderr, false).Warn("host identity incomplete", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rec, err := enroll.Enroll(ctx, dir, enroll.Request{
		Server: *server, CAPEM: caPEM, Secret: strings.TrimSpace(*secret), Hardware: scan.Identity(id), AgentVersion: version,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled as device %s with %s; certificate valid until %s\n", rec.DeviceID, rec.Server, rec.NotAfter.Format(time.RFC3339))
	return nil
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	stateDir := fs.String("state", defaultStateDir(), "state directory")
	once := fs.Bool("once", false, "scan once, send everything spooled, wait for the acknowledgements and exit")
	interval := fs.Duration("interval", 5*time.Minute, "time between scans")
	heartbeat := fs.Duration("heartbeat", time.Minute, "time between heartbeats")
	root := fs.String("root", "", "read a captured file-system tree instead of this machine (testing)")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --once: give up after this long")
	noSniff := fs.Bool("no-sniff", false, "do not start the packet sniffer")
	verbose := fs.Bool("v", false, "debug logging")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *interval < 10*time.Second {
		return usageError{errors.New("--interval must be at least 10s")}
	}
	log := logger(stderr, *verbose)
	dir, err := state.Open(*stateDir)
	if err != nil {
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
		State: dir, Spool: sp, Interval: *interval, Heartbeat: *heartbeat, AgentVersion: version, Log: log,
		Scanner: scanner,
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
	log.Info("agent running", "version", version, "interval", *interval, "detectors", strings.Join(dets.Names(), ","))
	return runService(func(ctx context.Context) error {
		if *root == "" && !*noSniff {
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
	})
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
