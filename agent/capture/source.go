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

// A reader may also have a method interrupt(), called by Close before it
// waits for the reading goroutines, which makes a blocked next return
// errTimeout at once.

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
//
// The reading goroutines hand frames over in batches, not one by one: a frame
// is copied into a free buffer and appended to ready under qmu, and Read is
// woken (notify) only when ready goes from empty to non-empty. Read takes the
// whole of ready at once and returns its frames without synchronisation, so a
// ring block of frames costs a few wake-ups instead of one per frame.
type source struct {
	handles []*handle
	snaplen int
	bucket  *bucket

	qmu    sync.Mutex  // guards ready and free
	ready  []*frameBuf // frames waiting for Read, oldest first
	free   []*frameBuf // buffers not in ready nor batch
	notify chan struct{}

	// batch and pos are owned by Read: the frames taken from ready, the
	// next one to return is batch[pos]. Their buffers go back to free when
	// the next batch is taken.
	batch []*frameBuf
	pos   int

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
		ready:   make([]*frameBuf, 0, queueFrames),
		free:    make([]*frameBuf, 0, queueFrames),
		batch:   make([]*frameBuf, 0, queueFrames),
		notify:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		dead:    make(chan struct{}),
	}
	// One allocation for all the buffers' bytes.
	mem := make([]byte, queueFrames*o.Snaplen)
	bufs := make([]frameBuf, queueFrames)
	for i := range bufs {
		bufs[i].data = mem[i*o.Snaplen : (i+1)*o.Snaplen : (i+1)*o.Snaplen]
		s.free = append(s.free, &bufs[i])
	}
	s.alive.Store(int32(len(hs)))
	s.wg.Add(len(hs))
	for _, h := range hs {
		go s.run(h)
	}
	return s
}

func (s *source) wake() {
	select {
	case s.notify <- struct{}{}:
	default: // Read has a wake-up pending already
	}
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
		if !s.bucket.take(ts) {
			s.shed.Add(1)
			continue
		}
		s.qmu.Lock()
		n := len(s.free)
		if n == 0 { // Read is behind: keep the kernel buffer moving
			s.qmu.Unlock()
			s.shed.Add(1)
			continue
		}
		fb := s.free[n-1]
		s.free = s.free[:n-1]
		fb.n = copy(fb.data, data)
		fb.link, fb.ts, fb.iface, fb.origLen = h.link, ts, h.name, origLen
		s.ready = append(s.ready, fb) // never grows: there are queueFrames buffers
		wake := len(s.ready) == 1
		s.qmu.Unlock()
		if wake {
			s.wake()
		}
	}
}

// take swaps the ready frames into batch and gives the previous batch's
// buffers back. It reports whether there is a frame to return.
func (s *source) take() bool {
	s.qmu.Lock()
	s.free = append(s.free, s.batch...)
	s.batch, s.ready = s.ready, s.batch[:0]
	s.qmu.Unlock()
	s.pos = 0
	return len(s.batch) > 0
}

func (s *source) Read(ctx context.Context) (Frame, error) {
	for {
		if s.pos < len(s.batch) || s.take() {
			fb := s.batch[s.pos]
			s.pos++
			return s.give(fb), nil
		}
		select {
		case <-s.notify:
			continue
		case <-ctx.Done():
			return Frame{}, ctx.Err()
		case <-s.done:
			return Frame{}, ErrClosed
		case <-s.dead:
			if s.take() {
				continue
			}
			s.errMu.Lock()
			defer s.errMu.Unlock()
			return Frame{}, errors.Join(s.errs...)
		}
	}
}

func (s *source) give(fb *frameBuf) Frame {
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
	for _, h := range s.handles {
		if i, ok := h.r.(interface{ interrupt() }); ok {
			i.interrupt()
		}
	}
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

// take takes a token at now, the frame's capture time (the kernel's
// timestamp, which costs nothing to read). A clock stepped backwards
// rebases the bucket without refilling it.
func (b *bucket) take(now time.Time) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	} else if d < -time.Second {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
