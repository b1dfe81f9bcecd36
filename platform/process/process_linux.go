package process

import (
	"context"

	"github.com/shirou/gopsutil/v4/common"
)

func list(ctx context.Context) ([]Process, Counts, error) {
	procs, counts, err := readProcfs("/")
	if err != nil {
		return nil, counts, err
	}
	return procs, counts, attachSockets(procs, func() (map[int32][]Socket, error) { return scanSockets(ctx) })
}

// capturedSockets points gopsutil at ROOT/proc, ROOT/sys and ROOT/etc.
func capturedSockets(ctx context.Context, root string) (map[int32][]Socket, error) {
	ctx = context.WithValue(ctx, common.EnvKey, common.EnvMap{
		common.HostProcEnvKey: root + "/proc",
		common.HostSysEnvKey:  root + "/sys",
		common.HostEtcEnvKey:  root + "/etc",
	})
	return scanSockets(ctx)
}
