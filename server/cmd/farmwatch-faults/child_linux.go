package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/farmwatch/farmwatch/agent/activity"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors" // registers the detectors, as the agent does
	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/platform/idle"
)

// agentVersion is what the harness's agents report.
const agentVersion = "farmwatch-faults"

// childMain is `farmwatch-faults agent-child`: the agent's run loop built as
// farmwatch-agent's cmdRun builds it (state, detectors, spool with set-aside of a corrupt
// file, zone history, activity sampler, scanner, runner), with a short interval that the
// shipped binary refuses and without the packet sniffer (as with --no-sniff). With
// -flush-only it sends what is spooled until the spool is empty and exits 0.
func childMain(args []string) int {
	fs := flag.NewFlagSet("farmwatch-faults agent-child", flag.ContinueOnError)
	stateDir := fs.String("state", "", "enrolled agent state directory")
	interval := fs.Duration("interval", 50*time.Millisecond, "time between scans")
	heartbeat := fs.Duration("heartbeat", time.Second, "time between heartbeats")
	spoolMax := fs.Int64("spool-max", 0, "spool byte cap (0: the agent's default)")
	flushOnly := fs.Bool("flush-only", false, "send everything spooled, exit 0 once the spool is empty")
	timeout := fs.Duration("timeout", time.Minute, "with -flush-only: give up after this long")
	disable := fs.String("disable", "", "detectors to leave out, comma-separated (default: all run, as in the agent)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var off []string
	if *disable != "" {
		off = strings.Split(*disable, ",")
	}
	if err := child(ctx, log, *stateDir, *interval, *heartbeat, *spoolMax, *flushOnly, *timeout, off); err != nil {
		log.Error("agent-child failed", "err", err)
		return 1
	}
	return 0
}

func child(ctx context.Context, log *slog.Logger, stateDir string, interval, heartbeat time.Duration, spoolMax int64, flushOnly bool, timeout time.Duration, disable []string) error {
	dir, err := state.Open(stateDir)
	if err != nil {
		return err
	}
	dets, err := detect.New(log, nil, disable)
	if err != nil {
		return err
	}
	sp, err := spool.OpenOrSetAside(dir.File(state.SpoolFile), spool.Options{MaxBytes: spoolMax}, log)
	if err != nil {
		return err
	}
	defer sp.Close()
	zones, err := scan.OpenZoneHistory(dir.File("zones.json"))
	if err != nil {
		log.Warn("zone history", "err", err)
	}
	scanner := &scan.Scanner{Detectors: dets, AgentVersion: agentVersion, Log: log, Zones: zones}
	sampler, err := activity.Open(dir.File(activity.FileName), time.Now)
	if err != nil {
		log.Warn("activity profile", "err", err)
	}
	if sampler != nil {
		sampler.Logger = log
		defer sampler.Close()
		scanner.Activity = sampler.Facts
	}
	r := &runner.Runner{
		State: dir, Spool: sp, Interval: interval, Heartbeat: heartbeat, AgentVersion: agentVersion, Log: log,
		Scanner: scanner,
	}
	if err := r.Connect(); err != nil {
		return err
	}
	defer r.Close()
	if flushOnly {
		return flushAll(ctx, r, sp, log, timeout)
	}
	log.Info("agent-child running", "interval", interval, "spool_max", spoolMax)
	if sampler != nil {
		go sampler.Run(ctx, idle.Idle)
	}
	return r.Run(ctx)
}

// flushAll syncs (the heartbeat carries the spool's counters) and flushes until nothing is
// spooled, retrying while the collector is unreachable.
func flushAll(ctx context.Context, r *runner.Runner, sp *spool.Spool, log *slog.Logger, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	synced := false
	for {
		if !synced {
			if err := r.Sync(ctx); err != nil {
				log.Warn("flush-only: heartbeat failed", "err", err)
			} else {
				synced = true
			}
		}
		if synced {
			if _, err := r.Flush(ctx); err != nil {
				log.Warn("flush-only: send failed", "err", err)
			}
		}
		st, err := sp.Stats()
		if err != nil {
			return err
		}
		if synced && st.Pending == 0 {
			log.Info("flush-only: spool empty", "last_sequence", st.LastSequence, "evicted", st.Evicted, "rejected", st.Rejected)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush-only: %d reports still spooled: %w", st.Pending, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
