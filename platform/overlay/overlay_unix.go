//go:build linux || darwin

package overlay

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// dialUnix connects to the Tailscale LocalAPI unix socket.
func dialUnix(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
