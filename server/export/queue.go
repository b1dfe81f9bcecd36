package export

import "sync"

// queue is one sink's bounded FIFO. push never blocks: when the queue is full it drops the
// oldest event, so during a long outage the sink keeps the newest events.
type queue struct {
	mu     sync.Mutex
	buf    []Event // buf[head:] are queued
	head   int
	max    int
	closed bool
	ready  chan struct{} // signalled (capacity 1) when events arrive or the queue closes
}

func newQueue(max int) *queue {
	return &queue{max: max, ready: make(chan struct{}, 1)}
}

// push queues ev and reports how many events it dropped to make room (0 or 1), and whether
// the queue accepted it (false after close).
func (q *queue) push(ev Event) (dropped int, ok bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, false
	}
	if len(q.buf)-q.head >= q.max {
		q.buf[q.head] = Event{} // let the garbage collector have it
		q.head++
		dropped = 1
	}
	if q.head > 0 && q.head >= len(q.buf)/2 && len(q.buf) == cap(q.buf) {
		// Compact instead of growing: the live part is at most half the backing array.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf = q.buf[:n]
		q.head = 0
	}
	q.buf = append(q.buf, ev)
	q.mu.Unlock()
	q.signal()
	return dropped, true
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes up to n events, oldest first, into dst. It returns done when the queue is
// closed and empty.
func (q *queue) take(dst []Event, n int) (batch []Event, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	live := q.buf[q.head:]
	if len(live) == 0 {
		return dst[:0], q.closed
	}
	if n > len(live) {
		n = len(live)
	}
	dst = append(dst[:0], live[:n]...)
	clear(live[:n])
	q.head += n
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return dst, false
}

// drain empties the queue and returns how many events it held.
func (q *queue) drain() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.buf) - q.head
	clear(q.buf)
	q.buf, q.head = q.buf[:0], 0
	return n
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}
