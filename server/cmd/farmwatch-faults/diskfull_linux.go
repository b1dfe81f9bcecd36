package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/farmwatch/farmwatch/agent/runner"
)

// diskFull is scenario 4: the agent's state directory is a small tmpfs, filled to ENOSPC
// while the agent runs, then freed.
func diskFull(ctx context.Context, o *options, r *result) error {
	dir := filepath.Join(o.tmp, "disk-full")
	stateDir := filepath.Join(dir, "agent")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		r.skipped = "not root: cannot mount a tmpfs"
		return errSkip
	}
	if err := syscall.Mount("tmpfs", stateDir, "tmpfs", 0, fmt.Sprintf("size=%dm,mode=0700", o.diskMiB)); err != nil {
		r.skipped = fmt.Sprintf("mount -t tmpfs on %s: %v", stateDir, err)
		return errSkip
	}
	defer func() {
		killAll() // nothing may hold the mount
		if err := syscall.Unmount(stateDir, 0); err != nil {
			if err := syscall.Unmount(stateDir, syscall.MNT_DETACH); err != nil {
				r.fail("unmount %s: %v", stateDir, err)
			}
		}
	}()
	col, err := newCollector(o, dir)
	if err != nil {
		return err
	}
	agentLog := filepath.Join(dir, "agent.log") // outside the tmpfs: it must not fill it
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
	p, err := startChild(o, agentLog, stateDir, "-interval", "50ms", "-heartbeat", "1s")
	if err != nil {
		return err
	}
	storedAtLeast := func(n int) func() (bool, error) {
		return func() (bool, error) {
			if !p.alive() {
				return false, fmt.Errorf("agent exited: %v", p.err)
			}
			got, err := poll.stored(ctx, device)
			return got >= n, err
		}
	}
	if err := waitFor(ctx, 30*time.Second, 20*time.Millisecond, "3 reports stored before the disk fills", storedAtLeast(3)); err != nil {
		return err
	}

	filler := filepath.Join(stateDir, "filler")
	filled, err := fill(filler)
	if err != nil {
		return err
	}
	failedBefore := countInFile(agentLog, "spool report")
	// Let the agent run while the disk is full: until three scans failed to spool, or 40
	// intervals if the spool's free pages absorb them.
	deadline := time.Now().Add(40 * 50 * time.Millisecond)
	for time.Now().Before(deadline) && countInFile(agentLog, "spool report")-failedBefore < 3 {
		if !p.alive() {
			return fmt.Errorf("agent died with the disk full: %v", p.err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !p.alive() {
		return fmt.Errorf("agent died with the disk full: %v", p.err)
	}

	// A crash with the disk full, and a restart on the still full disk: the spool must
	// reopen as it is (not be set aside as corrupt) or the agent must wait for space.
	if err := p.kill9(); err != nil {
		return err
	}
	r.kills++
	startsBefore := countInFile(agentLog, "agent-child running")
	attemptsBefore := countInFile(agentLog, runner.LogScanSpooled) + countInFile(agentLog, runner.LogScanFailed)
	if p, err = startChild(o, agentLog, stateDir, "-interval", "50ms", "-heartbeat", "1s"); err != nil {
		return err
	}
	if err := waitFor(ctx, 30*time.Second, 20*time.Millisecond, "the restarted agent to scan 3 times on the full disk", func() (bool, error) {
		if !p.alive() {
			return true, nil
		}
		return countInFile(agentLog, "agent-child running") > startsBefore &&
			countInFile(agentLog, runner.LogScanSpooled)+countInFile(agentLog, runner.LogScanFailed)-attemptsBefore >= 3, nil
	}); err != nil {
		return err
	}
	restartedFull := "restarted on the full disk and ran"
	if !p.alive() {
		restartedFull = "could not start on the full disk (exited: " + lastLine(agentLog, "agent-child failed") + "); started again after freeing"
	}
	spoolFailures := countInFile(agentLog, "spool report") - failedBefore
	ackFailures := countInFile(agentLog, "delete acknowledged report")
	if err := os.Remove(filler); err != nil {
		return err
	}
	if !p.alive() {
		if p, err = startChild(o, agentLog, stateDir, "-interval", "50ms", "-heartbeat", "1s"); err != nil {
			return err
		}
	}
	before, err := poll.stored(ctx, device)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, 30*time.Second, 20*time.Millisecond, "3 more reports stored after space was freed", storedAtLeast(before+3)); err != nil {
		return err
	}
	if err := p.stop(10 * time.Second); err != nil {
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
	r.note("%d MiB tmpfs filled with %d KiB; %d scans failed to spool, %d acks failed to delete, agent alive; killed -9 while full and %s; spool opens cleanly",
		o.diskMiB, filled>>10, spoolFailures, ackFailures, restartedFull)
	if spoolFailures == 0 {
		r.note("no spool write failed while full (bbolt reused free pages)")
	}
	return nil
}

// fill writes path until the file system is full and returns how many bytes it holds.
func fill(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	for _, chunk := range []int{256 << 10, 4 << 10, 512, 1} {
		buf := make([]byte, chunk)
		for {
			n, err := f.Write(buf)
			total += int64(n)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}
