//go:build windows || darwin

package process

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gproc "github.com/shirou/gopsutil/v4/process"
)

// listGopsutil lists processes through gopsutil, asking only for the fields
// Process holds. username resolves the owner of one process; sockets finds
// the sockets of the listed processes.
func listGopsutil(ctx context.Context, username func(context.Context, *gproc.Process) string,
	sockets func(context.Context, []Process) (map[int32][]Socket, error)) ([]Process, Counts, error) {
	var counts Counts
	pids, err := gproc.PidsWithContext(ctx)
	if err != nil {
		return nil, counts, fmt.Errorf("list pids: %w", err)
	}
	out := make([]Process, 0, len(pids))
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, counts, err
		}
		// A literal avoids NewProcess's existence check; a process that has
		// gone fails its first read below and is skipped.
		gp := &gproc.Process{Pid: pid}
		name, err := gp.NameWithContext(ctx)
		if errors.Is(err, gproc.ErrorProcessNotRunning) {
			counts.Vanished++
			continue
		}
		p := Process{PID: pid, Name: name}
		p.PPID, _ = gp.PpidWithContext(ctx)
		if p.Executable, err = gp.ExeWithContext(ctx); err != nil {
			counts.Partial++
		}
		if cmd, err := gp.CmdlineWithContext(ctx); err == nil {
			p.CommandLine = strings.TrimSpace(cmd)
		}
		if ms, err := gp.CreateTimeWithContext(ctx); err == nil && ms > 0 {
			p.Started = time.UnixMilli(ms)
		}
		p.Username = username(ctx, gp)
		out = append(out, p)
	}
	return out, counts, attachSockets(out, func() (map[int32][]Socket, error) { return sockets(ctx, out) })
}

// capturedTreeSockets: a captured tree's sockets are read on Linux only.
const capturedTreeSockets = false

// attachSockets gives each process its sockets. A failed socket scan still
// returns the processes, with the error.
func attachSockets(procs []Process, scan func() (map[int32][]Socket, error)) error {
	byPID, err := scan()
	for i := range procs {
		procs[i].Sockets = byPID[procs[i].PID]
	}
	return err
}
