package process

import (
	"context"

	gproc "github.com/shirou/gopsutil/v4/process"
)

func list(ctx context.Context) ([]Process, Counts, error) {
	return listGopsutil(ctx, func(ctx context.Context, p *gproc.Process) string {
		// DOMAIN\user from the process token; fails for protected processes.
		name, _ := p.UsernameWithContext(ctx)
		return name
	}, func(ctx context.Context, _ []Process) (map[int32][]Socket, error) { return scanSockets(ctx) })
}
