package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// slowDetector is left out of the agent in this scenario: it probes every unknown listening
// socket (the collector's own ports among them) and waits 350 ms for a greeting, twice,
// remembering answers only for the life of the process, so each freshly started agent's first
// scans take about 700 ms: longer than the 20-400 ms the agent lives between kills.
const slowDetector = "os_remote"

// agentKill is scenario 1: SIGKILL the agent at random moments, restart it, repeat; then
// flush, stop the collector and compare the spool with the store.
func agentKill(ctx context.Context, o *options, r *result) error {
	dir := filepath.Join(o.tmp, "agent-kill")
	stateDir := filepath.Join(dir, "agent")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	col, err := newCollector(o, dir)
	if err != nil {
		return err
	}
	agentLog := filepath.Join(dir, "agent.log")
	r.logs = []string{col.log, agentLog}
	if err := col.start(ctx); err != nil {
		return err
	}
	defer col.stop()
	device, err := enrollAgent(ctx, o, col, stateDir)
	if err != nil {
		return err
	}
	poll, err := newPoller(col.dbPath())
	if err != nil {
		return err
	}
	defer poll.close()

	exitedEarly := 0
	for i := 0; i < o.agentKills; i++ {
		p, err := startChild(o, agentLog, stateDir, "-interval", "50ms", "-heartbeat", "1s", "-disable", slowDetector)
		if err != nil {
			return err
		}
		after := time.Duration(20+o.rng.IntN(381)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			exitedEarly++
			r.fail("agent exited by itself before kill %d: %v", i+1, p.err)
		case <-time.After(after):
			if err := p.kill9(); err != nil {
				return err
			}
			r.kills++
		}
		if exitedEarly > 3 {
			return fmt.Errorf("agent keeps exiting by itself")
		}
	}
	during, err := poll.stored(ctx, device)
	if err != nil {
		return err
	}
	if err := flushChild(ctx, o, agentLog, stateDir); err != nil {
		return err
	}
	poll.close()
	if err := col.stop(); err != nil {
		return err
	}
	sv, err := readSpool(stateDir)
	if err != nil {
		return err
	}
	views, err := readStore(ctx, col.dbPath(), []string{device})
	if err != nil {
		return err
	}
	v := views[device]
	a := account(sv, v)
	a.check(r, sv, v)
	if sv.stats.Evicted > 0 {
		r.fail("%d reports evicted under the default cap", sv.stats.Evicted)
	}
	if during == 0 || a.assigned == 0 {
		r.fail("no progress: %d reports stored during the kills, %d assigned", during, a.assigned)
	}
	replays := countInFile(col.log, "replayed report acknowledged without storing")
	setAside := countInFile(agentLog, "spool file was corrupt")
	r.note("detector %s off (see slowDetector)", slowDetector)
	r.note("%d stored while killing; %d replays deduplicated (kill between commit and ack); gaps %d; corrupt spools %d",
		during, replays, len(v.gaps), setAside)
	return nil
}
