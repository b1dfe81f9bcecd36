//go:build linux || darwin || windows

package capture

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
)

// pollInterval bounds how long a platform reader blocks: it is how quickly
// the reading goroutines notice Close.
const pollInterval = 100 * time.Millisecond

// queueFrames is the number of frames buffered between the reading
// goroutines and Read; beyond it frames are shed.
const queueFrames = 256

// errTimeout is returned by reader.next when nothing arrived in pollInterval.
var errTimeout = errors.New("capture: poll timeout")

// reader is one interface's kernel capture handle.
type reader interface {
	// next returns the next frame, valid until the next call, or
	// errTimeout after about pollInterval without one.
	next() (data []byte, ts time.Time, origLen int, err error)
	// drops returns the frames dropped by the kernel since open.
	drops() (uint64, error)
	close() error
}

// handle is an open interface.
type handle struct {
	name string
	link int
	r    reader
	// armed is when the filter was attached. Frames stamped before it may
	// have been queued unfiltered (Linux binds the socket before the filter
	// can be set) and are checked in user space with vm.
	armed time.Time
	vm    *bpf.VM
}

type frameBuf struct {
	data    []byte
	n       int
	link    int
	ts      time.Time
	iface   string
	origLen int
}

// source fans the handles' frames into one Source.
type source struct {
	handles []*handle
	snaplen int
	bucket  *bucket

	frames chan *frameBuf
	free   chan *frameBuf
	cur    *frameBuf // returned by the last Read, owned by the caller

	done     chan struct{} // closed by Close
	dead     chan struct{} // closed when every reading goroutine failed
	wg       sync.WaitGroup
	alive    atomic.Int32
	received atomic.Uint64
	shed     atomic.Uint64

	errMu sync.Mutex
	errs  []error

	mu      sync.Mutex // guards closed, dropped and the handles' drops
	closed  bool
	dropped uint64
}

// newSource starts one reading goroutine per handle. hs must not be empty.
func newSource(hs []*handle, o Options) *source {
	s := &source{
		handles: hs,
		snaplen: o.Snaplen,
		bucket:  newBucket(o.MaxPacketsPerSecond),
		frames:  make(chan *frameBuf, queueFrames),
		free:    make(chan *frameBuf, queueFrames+1),
		done:    make(chan struct{}),
		dead:    make(chan struct{}),
	}
	for range queueFrames {
		s.free <- &frameBuf{data: make([]byte, o.Snaplen)}
	}
	s.alive.Store(int32(len(hs)))
	s.wg.Add(len(hs))
	for _, h := range hs {
		go s.run(h)
	}
	return s
}

func (s *source) run(h *handle) {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		default:
		}
		data, ts, origLen, err := h.r.next()
		if err == errTimeout {
			continue
		}
		if err != nil {
			select {
			case <-s.done: // closing
			default:
				s.errMu.Lock()
				s.errs = append(s.errs, &InterfaceError{Interface: h.name, Err: err})
				s.errMu.Unlock()
				if s.alive.Add(-1) == 0 {
					close(s.dead)
				}
			}
			return
		}
		if len(data) > s.snaplen {
			data = data[:s.snaplen]
		}
		if h.vm != nil && ts.Before(h.armed) {
			if n, err := h.vm.Run(data); err != nil || n == 0 {
				continue
			}
		}
		s.received.Add(1)
		if !s.bucket.take() {
			s.shed.Add(1)
			continue
		}
		var fb *frameBuf
		select {
		case fb = <-s.free:
		default: // Read is behind: keep the kernel buffer moving
			s.shed.Add(1)
			continue
		}
		fb.n = copy(fb.data, data)
		fb.link, fb.ts, fb.iface, fb.origLen = h.link, ts, h.name, origLen
		s.frames <- fb // never blocks: there are queueFrames buffers
	}
}

func (s *source) Read(ctx context.Context) (Frame, error) {
	if s.cur != nil {
		s.free <- s.cur
		s.cur = nil
	}
	select {
	case fb := <-s.frames:
		return s.give(fb), nil
	default:
	}
	select {
	case fb := <-s.frames:
		return s.give(fb), nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	case <-s.done:
		return Frame{}, ErrClosed
	case <-s.dead:
		select {
		case fb := <-s.frames:
			return s.give(fb), nil
		default:
		}
		s.errMu.Lock()
		defer s.errMu.Unlock()
		return Frame{}, errors.Join(s.errs...)
	}
}

func (s *source) give(fb *frameBuf) Frame {
	s.cur = fb
	return Frame{Data: fb.data[:fb.n], Link: fb.link, Time: fb.ts, Interface: fb.iface, OrigLen: fb.origLen}
}

func (s *source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.dropped = s.kernelDrops()
	}
	return Stats{Received: s.received.Load(), Dropped: s.dropped, Shed: s.shed.Load()}
}

// kernelDrops sums the handles' drops; s.mu must be held and the handles
// open. A handle whose counters cannot be read keeps its last value.
func (s *source) kernelDrops() uint64 {
	var sum uint64
	for _, h := range s.handles {
		if d, err := h.r.drops(); err == nil {
			sum += d
		}
	}
	return max(sum, s.dropped)
}

func (s *source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.dropped = s.kernelDrops()
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.wg.Wait()
	var errs []error
	for _, h := range s.handles {
		if err := h.r.close(); err != nil {
			errs = append(errs, &InterfaceError{Interface: h.name, Err: err})
		}
	}
	return errors.Join(errs...)
}

// closeHandles closes handles opened before Open failed.
func closeHandles(hs []*handle) {
	for _, h := range hs {
		h.r.close()
	}
}

// newHandle checks the filter of link and returns a handle whose frames
// stamped before armed are re-checked in user space.
func newHandle(name string, link int, r reader, snaplen int, armed time.Time) (*handle, error) {
	prog, err := filterProgram(link, snaplen)
	if err != nil {
		return nil, err
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return nil, err
	}
	return &handle{name: name, link: link, r: r, armed: armed, vm: vm}, nil
}

// bucket is a token bucket of rate tokens per second and a tenth of a second
// of burst. A nil bucket never limits.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(perSecond int) *bucket {
	if perSecond < 0 {
		return nil
	}
	burst := max(1, float64(perSecond)/10)
	return &bucket{rate: float64(perSecond), burst: burst, tokens: burst, last: time.Now()}
}

func (b *bucket) take() bool {
	if b == nil {
		return true
	}
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
