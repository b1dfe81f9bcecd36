//go:build !linux

package collector

import (
	"net"
	"time"
)

// connRTT is Linux-only: elsewhere the collector does not measure round trips and the
// round-trip bound stays off (docs/signals.md says so).
func connRTT(net.Conn) (time.Duration, bool) { return 0, false }
