package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/server/store"
)

// evictionKey is the finding the collector records when an agent's heartbeat reports evicted
// reports: signal agent.sequence_gap, key spool_evicted (stored as "signal|key").
const evictionKey = "agent.sequence_gap|spool_evicted"

// outage is scenario 3: the collector is down while the agent spools three times its cap;
// then it comes back and the agent drains.
func outage(ctx context.Context, o *options, r *result) error {
	dir := filepath.Join(o.tmp, "outage")
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
	// The cap: the size of spoolReports reports of this machine.
	rep, err := baseReport(ctx)
	if err != nil {
		return err
	}
	size, err := proto.MarshalOptions{Deterministic: true}.Marshal(rep)
	if err != nil {
		return err
	}
	capBytes := int64(len(size) * o.spoolReports)
	if err := col.stop(); err != nil {
		return err
	}

	p, err := startChild(o, agentLog, stateDir, "-interval", "50ms", "-heartbeat", "1s", "-spool-max", fmt.Sprint(capBytes))
	if err != nil {
		return err
	}
	want := 3 * o.spoolReports
	if err := waitFor(ctx, 60*time.Second, 20*time.Millisecond, fmt.Sprintf("%d reports spooled during the outage", want), func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("agent exited: %v", p.err)
		}
		return countInFile(agentLog, `msg="`+runner.LogScanSpooled+`"`) >= want, nil
	}); err != nil {
		return err
	}
	if err := col.start(ctx); err != nil {
		return err
	}
	poll, err := newPoller(col.dbPath())
	if err != nil {
		return err
	}
	defer poll.close()
	if err := waitFor(ctx, 30*time.Second, 20*time.Millisecond, "the agent to send after the outage", func() (bool, error) {
		if !p.alive() {
			return false, fmt.Errorf("agent exited: %v", p.err)
		}
		n, err := poll.stored(ctx, device)
		return n >= o.spoolReports, err
	}); err != nil {
		return err
	}
	if err := p.stop(10 * time.Second); err != nil {
		return err
	}
	if err := flushChild(ctx, o, agentLog, stateDir, "-spool-max", fmt.Sprint(capBytes)); err != nil {
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
	if sv.stats.Evicted == 0 {
		r.fail("nothing evicted although %d reports were spooled under a cap of %d", want, o.spoolReports)
	}
	// Nothing was stored before the outage: the reports that never arrived are the oldest.
	minStored := uint64(0)
	for s := range v.count {
		if minStored == 0 || s < minStored {
			minStored = s
		}
	}
	for i, s := range a.missing {
		if s != uint64(i+1) || s > minStored {
			r.fail("undelivered reports are not the oldest: %v, oldest stored %d", head(a.missing, 8), minStored)
			break
		}
	}
	if v.count[a.assigned] == 0 {
		r.fail("the newest report (%d) did not arrive", a.assigned)
	}
	if got := a.stored + a.undelivered; got != int(a.assigned) {
		r.fail("sent %d != stored %d + evicted %d", a.assigned, a.stored, a.undelivered)
	}
	r.note("sent = stored + evicted: %d = %d + %d; evicted counter %d", a.assigned, a.stored, a.undelivered, sv.stats.Evicted)
	if extra := int(sv.stats.Evicted) - a.undelivered; extra > 0 {
		r.note("%d evicted while already in flight and delivered anyway", extra)
	}
	r.note("cap %d B (%d reports); %d outage warnings logged", capBytes, o.spoolReports,
		countInFile(agentLog, "send failed")+countInFile(agentLog, "collector not reachable"))
	// The collector records the agent's evictions from its heartbeat.
	if f, ok := evictionFinding(v.findings); ok {
		r.note("eviction finding recorded (%s: %s)", f.Key, f.Evidence["evicted_total"])
		if f.Evidence["evicted_total"] != strconv.FormatUint(sv.stats.Evicted, 10) {
			r.fail("eviction finding says %s evicted, the spool %d", f.Evidence["evicted_total"], sv.stats.Evicted)
		}
	} else {
		r.fail("no %s finding for the device although the heartbeat carries evictions", evictionKey)
	}
	return nil
}

// evictionFinding finds the collector's finding about spool evictions.
func evictionFinding(fs []store.Finding) (store.Finding, bool) {
	for _, f := range fs {
		if f.Key == evictionKey {
			return f, true
		}
	}
	return store.Finding{}, false
}
