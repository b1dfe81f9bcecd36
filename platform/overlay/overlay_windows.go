package overlay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

// tailscalePipe is tailscaled's LocalAPI pipe (paths.DefaultTailscaledSocket
// on Windows). Its ACL admits only Administrators and SYSTEM.
const tailscalePipe = `\\.\pipe\ProtectedPrefix\Administrators\Tailscale\tailscaled`

// liveConfig: the Tailscale pipe, the state under %ProgramData%, and
// net.Interfaces names (adapter friendly names) with their descriptions
// from GetAdaptersAddresses ("Tailscale Tunnel", "ZeroTier Virtual Port",
// "WireGuard Tunnel", Astrill's adapter).
func liveConfig() (config, error) {
	pd := os.Getenv("ProgramData")
	if pd == "" {
		pd = `C:\ProgramData`
	}
	return config{
		goos:            "windows",
		live:            true,
		tailscaleSocket: tailscalePipe,
		dialTailscale:   dialPipe,
		zeroTierPorts:   []int{defaultZeroTierPort},
		ngrokPorts:      defaultNgrokPorts,
		cfPorts:         defaultCFPorts,
		tailscaleState:  []string{filepath.Join(pd, "Tailscale", "server-state.conf")},
		zeroTierHomes:   []string{filepath.Join(pd, "ZeroTier", "One")},
		interfaces:      liveInterfaces,
	}, nil
}

// dialPipe opens a named pipe for overlapped I/O, so the os.File it becomes
// supports deadlines and the HTTP client's timeout can interrupt it. The
// server may identify but not impersonate us. A busy pipe is retried until
// ctx ends.
func dialPipe(ctx context.Context, path string) (net.Conn, error) {
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	for {
		h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_OVERLAPPED|windows.SECURITY_SQOS_PRESENT|windows.SECURITY_IDENTIFICATION, 0)
		if err == nil {
			return pipeConn{os.NewFile(uintptr(h), path)}, nil
		}
		if err != windows.ERROR_PIPE_BUSY {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: pipe busy: %w", path, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// pipeConn is a pipe handle as a net.Conn.
type pipeConn struct{ *os.File }

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

func (c pipeConn) LocalAddr() net.Addr  { return pipeAddr(c.Name()) }
func (c pipeConn) RemoteAddr() net.Addr { return pipeAddr(c.Name()) }

func refused(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) || errors.Is(err, syscall.ECONNREFUSED)
}
