package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

const (
	// TPACKET_V3 block; a multiple of every page size. 32 KiB: a 512 KiB
	// ring (DefaultBufferBytes) has 16 blocks, and a block retired by its
	// timeout with a single frame in it wastes less of the ring.
	ringBlockSize    = 32 << 10
	ringBlockTimeout = 32 * time.Millisecond
)

func open(o Options) (Source, error) {
	return openEach(o, openLinux)
}

// linkOf returns how frames of the interface are read: Ethernet and loopback
// raw (LinkEthernet), any other type from the network header (LinkRaw).
// loopback is true for the loopback interface.
func linkOf(ifc *net.Interface) (link int, sock afpacket.OptSocketType, loopback bool) {
	b, err := os.ReadFile("/sys/class/net/" + ifc.Name + "/type")
	if err == nil {
		if t, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			switch t {
			case unix.ARPHRD_LOOPBACK:
				return LinkEthernet, afpacket.SocketRaw, true
			case unix.ARPHRD_ETHER:
				return LinkEthernet, afpacket.SocketRaw, false
			}
			return LinkRaw, afpacket.SocketDgram, false
		}
	}
	if ifc.Flags&net.FlagLoopback != 0 {
		return LinkEthernet, afpacket.SocketRaw, true
	}
	if len(ifc.HardwareAddr) == 6 {
		return LinkEthernet, afpacket.SocketRaw, false
	}
	return LinkRaw, afpacket.SocketDgram, false
}

// dropOutgoing prefixes a filter with "drop PACKET_OUTGOING" (Linux
// ancillary data): on loopback every packet is seen once leaving and once
// arriving, and only the arriving copy is kept.
func dropOutgoing(filter []bpf.RawInstruction) ([]bpf.RawInstruction, error) {
	prefix, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		return nil, err
	}
	return append(prefix, filter...), nil
}

func openLinux(name string, o Options) (*handle, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	link, sock, loopback := linkOf(ifc)
	frameSize := 2048
	for frameSize < o.Snaplen+256 { // room for the tpacket3_hdr and sockaddr_ll
		frameSize *= 2
	}
	blockSize := max(ringBlockSize, frameSize)
	blocks := max(2, o.BufferBytes/blockSize)
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.OptSocketType(sock),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(frameSize),
		afpacket.OptBlockSize(blockSize),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(ringBlockTimeout),
		// Never block in poll(2): a goroutine blocked in a system call
		// keeps the runtime's sysmon waking up every few tens of
		// microseconds. Waiting is done on the netpoller (afReader.wait).
		afpacket.OptPollTimeout(0),
	)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("%w: AF_PACKET socket on %s: %w", ErrNotPermitted, name, err)
		}
		return nil, fmt.Errorf("AF_PACKET TPACKET_V3 socket: %w", err)
	}
	filter, err := filterFor(link, o.Snaplen)
	if err == nil && loopback {
		filter, err = dropOutgoing(filter)
	}
	if err != nil {
		tp.Close()
		return nil, err
	}
	if err := tp.SetBPF(filter); err != nil {
		tp.Close()
		return nil, fmt.Errorf("attaching the BPF filter: %w", err)
	}
	// The socket was bound before the filter was attached: frames queued
	// meanwhile are filtered again in user space (without the loopback
	// prefix, which the VM cannot run: a few early loopback frames may be
	// seen twice).
	r := &afReader{tp: tp}
	if err := r.pollable(name); err != nil {
		tp.Close()
		return nil, err
	}
	h, err := newHandle(name, link, r, o.Snaplen, time.Now())
	if err != nil {
		r.close()
		return nil, err
	}
	return h, nil
}

// afReader reads a TPACKET_V3 ring. The TPacket never blocks (its poll
// timeout is 0): when no block is ready, the reader waits for the socket to
// become readable on Go's netpoller, through a duplicate of the socket's
// descriptor, which costs no thread and no timer while idle.
type afReader struct {
	tp   *afpacket.TPacket
	file *os.File        // the duplicate descriptor; nil: sleep instead
	rc   syscall.RawConn // of file
}

// pollable registers a duplicate of the TPacket's socket with the
// netpoller. afpacket does not export the descriptor; if it cannot be found
// (another gopacket version), the reader falls back to sleeping between
// ring checks.
func (a *afReader) pollable(name string) error {
	v := reflect.ValueOf(a.tp).Elem().FieldByName("fd")
	if !v.IsValid() || v.Kind() != reflect.Int {
		return nil
	}
	fd, err := unix.FcntlInt(uintptr(v.Int()), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("duplicating the AF_PACKET socket: %w", err)
	}
	// O_NONBLOCK is shared with the TPacket's descriptor, which afpacket
	// only polls.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "afpacket:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return fmt.Errorf("AF_PACKET socket: %w", err)
	}
	a.file, a.rc = f, rc
	return nil
}

func (a *afReader) next() ([]byte, time.Time, int, error) {
	for {
		data, ci, err := a.tp.ZeroCopyReadPacketData()
		if err == nil {
			return data, ci.Timestamp, ci.Length, nil
		}
		if err != afpacket.ErrTimeout {
			return nil, time.Time{}, 0, err
		}
		if !a.wait() {
			return nil, time.Time{}, 0, errTimeout
		}
	}
}

// wait waits for the socket to become readable (a ring block was retired).
// It returns false when interrupted by Close, or after a poll interval when
// it cannot wait on the netpoller.
func (a *afReader) wait() bool {
	if a.rc != nil {
		// Readiness is edge-triggered and remembered: a block retired
		// since the ring was checked makes the wait return at once.
		waited := false
		err := a.rc.Read(func(uintptr) bool {
			if waited {
				return true
			}
			waited = true
			return false
		})
		if err == nil {
			return true
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
			return false
		}
		a.rc = nil // not pollable after all
	}
	time.Sleep(pollInterval / 4) // less than ringBlockTimeout
	return false
}

// interrupt makes a pending and every later wait return false at once.
func (a *afReader) interrupt() {
	if a.file != nil {
		a.file.SetReadDeadline(time.Unix(1, 0))
	}
}

func (a *afReader) drops() (uint64, error) {
	_, v3, err := a.tp.SocketStats()
	if err != nil {
		return 0, err
	}
	return uint64(v3.Drops()), nil
}

func (a *afReader) close() error {
	if a.file != nil {
		a.file.Close()
	}
	a.tp.Close()
	return nil
}
