//lint:file-ignore SA1019 the syscall package's BPF ioctl wrappers are the only pure-Go way to issue these ioctls on Darwin (x/sys/unix has no struct ioctls there).

package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	dltNull   = 0
	dltEN10MB = 1
	dltRaw    = 12
	dltRawAlt = 14 // DLT_RAW on some BSDs
	// Darwin caps the bpf buffer with debug.bpf_maxbufsize (512 KiB to
	// 2 MiB depending on the release); BIOCSBLEN clamps larger requests.
	maxBPFBuffer = 2 << 20
)

func open(o Options) (Source, error) {
	return openEach(o, openBPF)
}

// openBPFDevice opens the first free /dev/bpfN.
func openBPFDevice() (int, error) {
	var last error = os.ErrNotExist
	for i := 0; i < 256; i++ {
		fd, err := unix.Open("/dev/bpf"+strconv.Itoa(i), unix.O_RDWR|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.EBUSY:
			last = err
			continue
		case errors.Is(err, os.ErrPermission):
			return -1, fmt.Errorf("%w: /dev/bpf%d: %w", ErrNotPermitted, i, err)
		case err == unix.ENOENT:
			return -1, fmt.Errorf("no free /dev/bpf device: %w", last)
		default:
			return -1, fmt.Errorf("/dev/bpf%d: %w", i, err)
		}
	}
	return -1, fmt.Errorf("no free /dev/bpf device: %w", last)
}

func openBPF(name string, o Options) (h *handle, err error) {
	if _, err := net.InterfaceByName(name); err != nil {
		return nil, err
	}
	fd, err := openBPFDevice()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	// The buffer size must be set before the interface.
	buflen, err := syscall.SetBpfBuflen(fd, min(o.BufferBytes, maxBPFBuffer))
	if err != nil {
		return nil, fmt.Errorf("BIOCSBLEN: %w", err)
	}
	if err := syscall.SetBpfInterface(fd, name); err != nil {
		return nil, fmt.Errorf("BIOCSETIF: %w", err)
	}
	if err := syscall.SetBpfImmediate(fd, 1); err != nil {
		return nil, fmt.Errorf("BIOCIMMEDIATE: %w", err)
	}
	tv := syscall.NsecToTimeval(pollInterval.Nanoseconds())
	if err := syscall.SetBpfTimeout(fd, &tv); err != nil {
		return nil, fmt.Errorf("BIOCSRTIMEOUT: %w", err)
	}
	dlt, err := syscall.BpfDatalink(fd)
	if err != nil {
		return nil, fmt.Errorf("BIOCGDLT: %w", err)
	}
	var link int
	switch dlt {
	case dltEN10MB:
		link = LinkEthernet
	case dltNull:
		link = LinkLoop
	case dltRaw, dltRawAlt:
		link = LinkRaw
	default:
		return nil, fmt.Errorf("unsupported data link type %d", dlt)
	}
	filter, err := filterFor(link, o.Snaplen)
	if err != nil {
		return nil, err
	}
	insns := make([]syscall.BpfInsn, len(filter))
	for i, f := range filter {
		insns[i] = syscall.BpfInsn{Code: f.Op, Jt: f.Jt, Jf: f.Jf, K: f.K}
	}
	// BIOCSETF also flushes what was buffered before it.
	if err := syscall.SetBpf(fd, insns); err != nil {
		return nil, fmt.Errorf("BIOCSETF: %w", err)
	}
	r := &bpfReader{fd: fd, buf: make([]byte, buflen)}
	return newHandle(name, link, r, o.Snaplen, time.Now())
}

// bpfReader reads /dev/bpf: each read returns several records, each a
// bpf_hdr and the captured bytes, aligned on BPF_ALIGNMENT.
type bpfReader struct {
	fd  int
	buf []byte
	n   int // bytes in buf
	off int // next record
}

func (b *bpfReader) next() ([]byte, time.Time, int, error) {
	const hdrSize = int(unsafe.Sizeof(unix.BpfHdr{}))
	for {
		if b.off+hdrSize <= b.n {
			var hdr unix.BpfHdr
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&hdr)), hdrSize), b.buf[b.off:])
			start := b.off + int(hdr.Hdrlen)
			end := start + int(hdr.Caplen)
			if hdr.Hdrlen == 0 || end > b.n {
				b.off = b.n // corrupt: skip the rest of the buffer
				continue
			}
			b.off += bpfWordAlign(int(hdr.Hdrlen) + int(hdr.Caplen))
			ts := time.Unix(int64(hdr.Tstamp.Sec), int64(hdr.Tstamp.Usec)*1000)
			return b.buf[start:end], ts, int(hdr.Datalen), nil
		}
		n, err := unix.Read(b.fd, b.buf)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			return nil, time.Time{}, 0, errTimeout
		case err != nil:
			return nil, time.Time{}, 0, err
		case n == 0:
			return nil, time.Time{}, 0, errTimeout
		}
		b.n, b.off = n, 0
	}
}

func bpfWordAlign(x int) int {
	return (x + unix.BPF_ALIGNMENT - 1) &^ (unix.BPF_ALIGNMENT - 1)
}

func (b *bpfReader) drops() (uint64, error) {
	st, err := syscall.BpfStats(b.fd)
	if err != nil {
		return 0, err
	}
	return uint64(st.Drop), nil
}

func (b *bpfReader) close() error { return unix.Close(b.fd) }
