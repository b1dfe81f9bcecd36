// Package process lists the running processes with their command lines,
// owners and network sockets.
//
// Detectors match these against the catalog of remote-control tools (a
// running RustDesk, an AnyDesk listener, a peer connected to a VNC server).
package process

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"time"
)

// Process is one running process.
type Process struct {
	PID, PPID int32
	// Name is the short process name: the kernel's comm on Linux (extended
	// from the command line when the kernel truncated it to 15 bytes), the
	// image name on Windows, the executable name on macOS.
	Name string
	// Executable is the full path of the program image; "" when access is
	// denied (other users' processes when not running as root/SYSTEM).
	// On Linux a replaced or removed binary ends in " (deleted)".
	Executable string
	// CommandLine is the arguments joined by spaces.
	CommandLine string
	// Username owns the process (real uid on Unix); "" when unknown.
	Username string
	// Started is when the process started; zero when unknown. Linux
	// resolution is one clock tick (10 ms).
	Started time.Time
	// Sockets are the process's inet sockets.
	Sockets []Socket
}

// Socket is one inet socket owned by a process.
type Socket struct {
	// Protocol is "tcp", "tcp6", "udp" or "udp6".
	Protocol     string
	LocalAddress string
	LocalPort    uint32
	// RemoteAddress is "" (and RemotePort 0) when the socket has no peer:
	// listeners and unconnected UDP sockets.
	RemoteAddress string
	RemotePort    uint32
	// State is the TCP state ("LISTEN", "ESTABLISHED", "TIME_WAIT", ...);
	// "" for UDP.
	State string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the running processes sorted by PID.
//
// root "" or "/" is the live system. Linux reads /proc directly in one pass
// (one read of stat, status and cmdline, one readlink of exe, one read of the
// fd directory and one readlink per descriptor per process, /etc/passwd
// once), then /proc/net/{tcp,tcp6,udp,udp6} once, and gives each socket inode
// to the process holding it. Windows and macOS use gopsutil. On Windows
// sockets come from one system-wide gopsutil connection scan grouped by PID. On macOS they come
// from libproc, called in-process: one proc_pidinfo(PROC_PIDLISTFDS) per
// listed process and one proc_pidfdinfo(PROC_PIDFDSOCKETINFO) per socket
// descriptor, with no subprocess; only if libproc cannot be loaded does it
// fall back to gopsutil, which runs lsof.
//
// Any other root is a captured Linux tree (ROOT/proc, ROOT/etc/passwd). Its
// processes are read on every OS; its sockets only on Linux, by the same
// reader as the live system's.
//
// Processes that exit during the scan are skipped, and fields that cannot be
// read (access denied) are left empty: neither fails the list. Sockets whose
// owner cannot be found (another user's, when not privileged) are left out.
func List(ctx context.Context, root string) ([]Process, error) {
	procs, _, err := ListCounted(ctx, root)
	return procs, err
}

// Counts says what a listing had to leave out or leave incomplete.
type Counts struct {
	// Vanished processes exited between being listed and being read.
	Vanished int
	// Partial processes could not be read fully (access denied to their executable): they are
	// listed with what could be read.
	Partial int
}

// ListCounted is List, also counting the processes skipped or read only in part.
func ListCounted(ctx context.Context, root string) ([]Process, Counts, error) {
	var procs []Process
	var counts Counts
	var err error
	if root != "" && root != "/" {
		procs, counts, err = readProcfs(root, capturedTreeSockets)
		if procs == nil {
			return nil, counts, err
		}
	} else {
		procs, counts, err = list(ctx)
	}
	if procs != nil {
		slices.SortFunc(procs, func(a, b Process) int { return int(a.PID) - int(b.PID) })
	}
	return procs, counts, err
}
