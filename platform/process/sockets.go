//go:build windows || darwin

package process

import (
	"context"
	"fmt"
	"net"
	"syscall"

	gnet "github.com/shirou/gopsutil/v4/net"
)

// scanSockets makes one system-wide connection scan and groups the result by
// PID. ctx may carry gopsutil's environment (HOST_PROC) for a captured tree.
func scanSockets(ctx context.Context) (map[int32][]Socket, error) {
	conns, err := gnet.ConnectionsWithoutUidsWithContext(ctx, "inet")
	if err != nil {
		return nil, fmt.Errorf("list inet connections: %w", err)
	}
	return groupSockets(conns), nil
}

func groupSockets(conns []gnet.ConnectionStat) map[int32][]Socket {
	out := make(map[int32][]Socket)
	for _, c := range conns {
		if c.Pid <= 0 {
			continue
		}
		s := Socket{
			Protocol:      protocol(c.Family, c.Type),
			LocalAddress:  c.Laddr.IP,
			LocalPort:     c.Laddr.Port,
			RemoteAddress: c.Raddr.IP,
			RemotePort:    c.Raddr.Port,
		}
		if s.Protocol == "" {
			continue
		}
		// Unconnected sockets have a wildcard remote end; say so with "".
		if ip := net.ParseIP(s.RemoteAddress); s.RemotePort == 0 && (ip == nil || ip.IsUnspecified()) {
			s.RemoteAddress = ""
		}
		if c.Type == syscall.SOCK_STREAM {
			s.State = c.Status
		}
		out[c.Pid] = append(out[c.Pid], s)
	}
	return out
}

func protocol(family, typ uint32) string {
	var p string
	switch typ {
	case syscall.SOCK_STREAM:
		p = "tcp"
	case syscall.SOCK_DGRAM:
		p = "udp"
	default:
		return ""
	}
	switch family {
	case syscall.AF_INET:
		return p
	case syscall.AF_INET6:
		return p + "6"
	}
	return ""
}
