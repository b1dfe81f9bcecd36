package process

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// libSystem exports libproc's proc_pidinfo and proc_pidfdinfo.
const libSystemPath = "/usr/lib/libSystem.B.dylib"

const (
	procPIDListFDs      = 1 // PROC_PIDLISTFDS: array of struct proc_fdinfo
	procPIDFDSocketInfo = 3 // PROC_PIDFDSOCKETINFO: struct socket_fdinfo
	proxFDTypeSocket    = 2 // PROX_FDTYPE_SOCKET
	procFDInfoSize      = 8 // sizeof(struct proc_fdinfo): int32 proc_fd, uint32 proc_fdtype
)

type libproc struct {
	// int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize)
	pidinfo func(pid, flavor int32, arg uint64, buf unsafe.Pointer, size int32) int32
	// int proc_pidfdinfo(int pid, int fd, int flavor, void *buffer, int buffersize)
	pidfdinfo func(pid, fd, flavor int32, buf unsafe.Pointer, size int32) int32
}

// loadLibproc opens libSystem once. The handle is never closed (see
// gopsutil issue 1832 on why closing shared handles crashes).
var loadLibproc = sync.OnceValues(func() (*libproc, error) {
	h, err := purego.Dlopen(libSystemPath, purego.RTLD_LAZY|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", libSystemPath, err)
	}
	var lp libproc
	for _, f := range []struct {
		sym string
		fn  any
	}{{"proc_pidinfo", &lp.pidinfo}, {"proc_pidfdinfo", &lp.pidfdinfo}} {
		// Dlsym first: RegisterLibFunc panics on a missing symbol.
		addr, err := purego.Dlsym(h, f.sym)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", f.sym, err)
		}
		purego.RegisterFunc(f.fn, addr)
	}
	return &lp, nil
})

// liveSockets returns the inet sockets of procs from libproc: one
// proc_pidinfo(PROC_PIDLISTFDS) per process (a second only when it has more
// descriptors than the buffer holds) and one proc_pidfdinfo per socket
// descriptor; no subprocess. Processes that cannot be inspected (another
// user's when not root, or exited) are skipped. Only when libproc cannot be
// loaded does it fall back to gopsutil, which runs lsof.
func liveSockets(ctx context.Context, procs []Process) (map[int32][]Socket, error) {
	lp, err := loadLibproc()
	if err != nil {
		out, ferr := scanSockets(ctx)
		if ferr != nil {
			return nil, fmt.Errorf("libproc: %v; fallback: %w", err, ferr)
		}
		return out, nil
	}
	return lp.sockets(ctx, procs)
}

func (lp *libproc) sockets(ctx context.Context, procs []Process) (map[int32][]Socket, error) {
	out := make(map[int32][]Socket)
	fds := make([]byte, 256*procFDInfoSize)
	info := make([]byte, socketFDInfoSize)
	for _, p := range procs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		var n int
		fds, n = lp.listFDs(p.PID, fds)
		for off := 0; off+procFDInfoSize <= n; off += procFDInfoSize {
			if binary.LittleEndian.Uint32(fds[off+4:]) != proxFDTypeSocket {
				continue
			}
			fd := int32(binary.LittleEndian.Uint32(fds[off:]))
			got := lp.pidfdinfo(p.PID, fd, procPIDFDSocketInfo, unsafe.Pointer(&info[0]), int32(len(info)))
			if got <= 0 { // closed since listed, or not permitted
				continue
			}
			if s, ok := parseSocketFDInfo(info[:got]); ok {
				out[p.PID] = append(out[p.PID], s)
			}
		}
	}
	return out, nil
}

// listFDs fills buf with the process's struct proc_fdinfo array and returns
// it (grown if needed) with the number of bytes used; 0 when the process
// cannot be read. The kernel truncates to the buffer, so a full buffer may
// mean more descriptors: grow and ask again.
func (lp *libproc) listFDs(pid int32, buf []byte) ([]byte, int) {
	for {
		n := int(lp.pidinfo(pid, procPIDListFDs, 0, unsafe.Pointer(&buf[0]), int32(len(buf))))
		if n <= 0 {
			return buf, 0
		}
		if n < len(buf) || len(buf) >= 1<<24 {
			return buf, min(n, len(buf))
		}
		buf = make([]byte, 2*len(buf))
	}
}
