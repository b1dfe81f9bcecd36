// Command farmwatch-loadgen is the collector's load generator: N simulated agents, each with
// its own key, certificate and hardware identity, upload realistic reports (the scenario
// suite's recorded facts and findings) and heartbeats over real gRPC with mutual TLS, at a
// fixed rate or as fast as a number of workers allows, with connection churn. It prints
// throughput, latency percentiles, back-pressure refusals and errors by gRPC code; the last
// line is "N reports/s".
//
// With -short-run it starts a fresh collector itself (the farmwatch-server binary of
// -server-bin, limits raised so back-pressure does not cap the measurement), creates an enroll
// secret with its CLI, runs a load of under two minutes in all, stops the collector and adds
// its peak RSS and CPU time to the summary.
//
// Every simulated device holds its own connection (mutual TLS names the device by its client
// certificate). Connections open lazily and at most -max-conns at once (default: the open-file
// limit, raised to its hard limit at start, less a reserve); past it the least recently used
// idle connection is closed. Each connection is one file descriptor here and one at the
// collector.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/farmwatch/farmwatch/server/loadgen"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	cfg        loadgen.Config
	caFile     string
	secretFile string
	scenarios  string
	heartbeats bool
	asJSON     bool
	shortRun   bool
	serverBin  string
	keepData   bool
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runErr(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "farmwatch-loadgen:", err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

type usageError struct{ error }

func runErr(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	c := &o.cfg
	f := flag.NewFlagSet("farmwatch-loadgen", flag.ContinueOnError)
	f.SetOutput(stderr)
	f.StringVar(&c.Server, "server", "127.0.0.1:7443", "collector gRPC address HOST:PORT")
	f.StringVar(&o.caFile, "ca", "", "collector CA certificate, PEM (the collector's DATA/ca.pem)")
	f.StringVar(&c.Secret, "secret", "", "enroll secret (farmwatch-server enroll-secret create prints it on its last line)")
	f.StringVar(&o.secretFile, "secret-file", "", "file holding the enroll secret")
	f.IntVar(&c.Devices, "devices", 1000, "simulated devices")
	f.Float64Var(&c.Rate, "rate", 0, "reports per second from all devices (open loop); 0: as fast as possible, a closed loop of -concurrency workers")
	f.IntVar(&c.Concurrency, "concurrency", 0, "closed loop: workers (default 64); open loop: uploads in flight at most (default -devices)")
	f.DurationVar(&c.Duration, "duration", 60*time.Second, "measured window")
	f.DurationVar(&c.Warmup, "warmup", 10*time.Second, "load before the measured window (connections and handshakes, caches)")
	f.BoolVar(&o.heartbeats, "heartbeats", false, "also send heartbeats, one per device per -heartbeat-interval")
	f.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", time.Minute, "with -heartbeats: each device's heartbeat period")
	f.BoolVar(&c.Subscribe, "subscribe", false, "every device also holds a push stream, as agents do (refused past the collector's --push-streams, then asked for again after its hint)")
	f.Float64Var(&c.Churn, "churn", 0, "fraction of the devices per minute that disconnect and reconnect (a new connection and TLS handshake)")
	f.IntVar(&c.EnrollConcurrency, "enroll-concurrency", 8, "enrollments in flight")
	f.StringVar(&c.StateDir, "state", "", "directory caching the enrolled identities (keys, certificates, sequences): later runs against the same collector skip enrollment")
	f.IntVar(&c.MaxConns, "max-conns", 0, "device connections open at once (default: the open-file limit less 256, at most -devices)")
	f.DurationVar(&c.Timeout, "timeout", 30*time.Second, "deadline of each call")
	f.StringVar(&o.scenarios, "scenarios", "server/eval/testdata/scenarios", "scenario suite whose recorded reports make the report corpus")
	f.DurationVar(&c.ProgressEvery, "progress", 10*time.Second, "progress line period (stderr)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON (stdout holds only the JSON document)")
	f.BoolVar(&o.shortRun, "short-run", false, "start a fresh collector (-server-bin), enroll, load it for a fixed short run (defaults: -devices 2000 -warmup 10s -duration 60s -heartbeats, closed loop of 64), stop it and report; -server, -ca and -secret are not used")
	f.StringVar(&o.serverBin, "server-bin", "bin/farmwatch-server", "with -short-run: the farmwatch-server binary")
	f.BoolVar(&o.keepData, "keep-data", false, "with -short-run: keep the collector's data directory and log")
	f.Usage = func() {
		fmt.Fprintf(stderr, "usage: farmwatch-loadgen -server HOST:PORT -ca DATA/ca.pem -secret S [flags]\n       farmwatch-loadgen -short-run [-server-bin bin/farmwatch-server] [flags]\n\nflags:\n")
		f.PrintDefaults()
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if f.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", f.Arg(0))}
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if o.shortRun {
		if !set["devices"] {
			c.Devices = 2000
		}
		if !set["heartbeats"] {
			o.heartbeats = true
		}
	}
	if c.Rate == 0 && c.Concurrency == 0 {
		c.Concurrency = 64
	}
	switch {
	case c.Devices < 1:
		return usageError{errors.New("-devices: want at least 1")}
	case c.Rate < 0:
		return usageError{errors.New("-rate: want 0 or a rate in reports per second")}
	case c.Duration <= 0 || c.Warmup < 0:
		return usageError{errors.New("-duration must be positive and -warmup not negative")}
	case c.Churn < 0 || c.Churn > 60:
		return usageError{errors.New("-churn: want a fraction of the devices per minute (0..60)")}
	case o.heartbeats && c.HeartbeatInterval <= 0:
		return usageError{errors.New("-heartbeat-interval must be positive")}
	}
	if !o.heartbeats {
		c.HeartbeatInterval = 0
	}

	nofile := raiseNoFile()
	if c.MaxConns <= 0 {
		c.MaxConns = c.Devices
		if nofile > 0 {
			c.MaxConns = max(16, min(c.Devices, int(nofile)-256))
		}
	}
	corpus, err := loadgen.LoadCorpus(o.scenarios, time.Now())
	if err != nil {
		return fmt.Errorf("report corpus: %w", err)
	}
	c.Corpus = corpus
	c.Progress = stderr
	c.AgentVersion = "farmwatch-loadgen/" + version
	fmt.Fprintf(stderr, "report corpus: %d scenario devices from %s; open-file limit %d, connections at most %d\n", len(corpus), o.scenarios, nofile, c.MaxConns)

	var res *loadgen.Result
	cpu0 := selfCPU()
	if o.shortRun {
		res, err = shortRun(ctx, &o, stderr)
	} else {
		if err = o.clientSetup(); err != nil {
			return err
		}
		res, err = loadgen.Run(ctx, o.cfg)
	}
	if err != nil {
		return err
	}
	res.LoadgenCPUSecs = selfCPU() - cpu0
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return res.WriteText(stdout)
}

// clientSetup reads the CA and the secret for a run against a running collector.
func (o *options) clientSetup() error {
	if o.caFile == "" {
		return usageError{errors.New("-ca is required (the collector's DATA/ca.pem)")}
	}
	b, err := os.ReadFile(o.caFile)
	if err != nil {
		return err
	}
	o.cfg.CAPEM = b
	switch {
	case o.cfg.Secret != "" && o.secretFile != "":
		return usageError{errors.New("give -secret or -secret-file, not both")}
	case o.secretFile != "":
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return err
		}
		o.cfg.Secret = strings.TrimSpace(string(b))
	}
	if o.cfg.Secret == "" {
		return usageError{errors.New("an enroll secret is required: -secret or -secret-file")}
	}
	return nil
}
