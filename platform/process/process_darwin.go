package process

import (
	"context"
	"os/user"
	"strconv"

	gproc "github.com/shirou/gopsutil/v4/process"
)

func list(ctx context.Context) ([]Process, Counts, error) {
	names := make(map[uint32]string) // uid → name, for this scan only
	return listGopsutil(ctx, func(ctx context.Context, p *gproc.Process) string {
		uids, err := p.UidsWithContext(ctx)
		if err != nil || len(uids) == 0 {
			return ""
		}
		uid := uids[0]
		if name, ok := names[uid]; ok {
			return name
		}
		var name string
		if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil {
			name = u.Username
		}
		names[uid] = name
		return name
	}, liveSockets)
}
