package collector

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// connRTT reads TCP_INFO: the minimum RTT the kernel has seen on the connection (tcpi_min_rtt,
// Linux 4.6+), else its smoothed estimate.
func connRTT(c net.Conn) (time.Duration, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var serr error
	if err := raw.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil || serr != nil {
		return 0, false
	}
	us := info.Min_rtt
	if us == 0 || us == ^uint32(0) {
		us = info.Rtt
	}
	if us == 0 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}
