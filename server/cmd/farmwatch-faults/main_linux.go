package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type options struct {
	serverBin, agentBin string
	agentKills          int
	collectorKills      int
	devices             int
	reports             int
	spoolReports        int
	diskMiB             int
	only                map[string]bool
	keep                bool
	rng                 *rand.Rand
	tmp                 string
	ownExe              string
}

// result is one scenario's row.
type result struct {
	name                                     string
	kills, sent, acked, stored, lost, dupped int
	notes                                    []string
	failures                                 []string
	skipped                                  string
	logs                                     []string
	took                                     time.Duration
}

func (r *result) note(format string, a ...any) { r.notes = append(r.notes, fmt.Sprintf(format, a...)) }
func (r *result) fail(format string, a ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, a...))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "agent-child" {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(run())
}

func run() int {
	var o options
	flag.StringVar(&o.serverBin, "server-bin", "bin/farmwatch-server", "collector binary")
	flag.StringVar(&o.agentBin, "agent-bin", "bin/farmwatch-agent", "agent binary (used to enroll)")
	flag.IntVar(&o.agentKills, "agent-kills", 100, "scenario agent-kill: SIGKILLs of the agent")
	flag.IntVar(&o.collectorKills, "collector-kills", 20, "scenario collector-kill: SIGKILLs of the collector")
	flag.IntVar(&o.devices, "devices", 20, "scenario collector-kill: simulated devices")
	flag.IntVar(&o.reports, "reports", 0, "scenario collector-kill: reports per device (0: upload until the kills are done)")
	flag.IntVar(&o.spoolReports, "spool-reports", 5, "scenario outage: spool cap in reports")
	flag.IntVar(&o.diskMiB, "disk-mib", 4, "scenario disk-full: tmpfs size in MiB")
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock)")
	only := flag.String("only", "agent-kill,collector-kill,outage,disk-full,replicas", "scenarios to run, comma-separated")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, stores, spools)")
	flag.Parse()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	o.rng = rand.New(rand.NewPCG(*seed, *seed>>1|1))
	o.only = map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		o.only[strings.TrimSpace(s)] = true
	}
	for _, b := range []*string{&o.serverBin, &o.agentBin} {
		abs, err := filepath.Abs(*b)
		if err == nil {
			*b = abs
		}
		if st, err := os.Stat(*b); err != nil || st.IsDir() {
			fmt.Fprintf(os.Stderr, "farmwatch-faults: %s not found (make build)\n", *b)
			return 2
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-faults:", err)
		return 2
	}
	o.ownExe = exe
	o.tmp, err = os.MkdirTemp("", "farmwatch-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-faults:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer killAll()
	go func() {
		<-ctx.Done()
		interrupt()
	}()
	fmt.Printf("farmwatch-faults: seed %d, work dir %s\n", *seed, o.tmp)

	scenarios := []struct {
		name string
		fn   func(context.Context, *options, *result) error
	}{
		{"agent-kill", agentKill},
		{"collector-kill", collectorKill},
		{"outage", outage},
		{"disk-full", diskFull},
		{"replicas", replicas},
	}
	start := time.Now()
	var results []*result
	for _, s := range scenarios {
		if !o.only[s.name] {
			continue
		}
		r := &result{name: s.name}
		t0 := time.Now()
		fmt.Printf("--- %s\n", s.name)
		err := s.fn(ctx, &o, r)
		killAll()
		r.took = time.Since(t0)
		switch {
		case errors.Is(err, errSkip):
		case err != nil:
			r.fail("%v", err)
		}
		results = append(results, r)
		fmt.Printf("    %s in %s\n", verdict(r), r.took.Round(100*time.Millisecond))
		if ctx.Err() != nil {
			break
		}
	}

	var failed []string
	for _, r := range results {
		if len(r.failures) > 0 {
			failed = append(failed, r.name+": "+strings.Join(r.failures, "; "))
			for _, l := range r.logs {
				fmt.Printf("\n--- %s: last lines of %s\n%s\n", r.name, l, tail(l, 25))
			}
		}
	}
	if ctx.Err() != nil {
		failed = append(failed, "interrupted")
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tkills\tsent\tacked\tstored\tlost\tduplicated\tnotes")
	for _, r := range results {
		notes := strings.Join(r.notes, "; ")
		if r.skipped != "" {
			notes = "SKIPPED: " + r.skipped
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t%s\n", r.name, notes)
			continue
		}
		if len(r.failures) > 0 {
			notes = "FAILED: " + strings.Join(r.failures, "; ") + "; " + notes
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s (%s)\n", r.name, r.kills, r.sent, r.acked, r.stored, r.lost, r.dupped,
			notes, r.took.Round(100*time.Millisecond))
	}
	tw.Flush()
	fmt.Printf("total %s\n", time.Since(start).Round(100*time.Millisecond))
	if len(failed) > 0 || o.keep {
		fmt.Printf("work dir kept: %s\n", o.tmp)
	} else {
		os.RemoveAll(o.tmp)
	}
	if len(failed) > 0 {
		fmt.Printf("faults: FAILED (%s)\n", strings.Join(failed, " | "))
		return 1
	}
	fmt.Println("faults: OK")
	return 0
}

func verdict(r *result) string {
	switch {
	case r.skipped != "":
		return "skipped (" + r.skipped + ")"
	case len(r.failures) > 0:
		return "FAILED"
	}
	return "ok"
}
