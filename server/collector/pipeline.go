package collector

import (
	"container/heap"
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// The ingest pipeline. Reports are committed in groups: one goroutine takes whatever reports
// are waiting (up to MaxBatch) and stores them in one transaction, so N concurrent uploads
// cost one fsync rather than N, and a lone upload waits for no one. Each upload is answered
// after the commit that holds it.
//
// What the collector derives after a call (egress and round-trip records, location analysis,
// score) is settled afterwards by one worker, coalesced per device: however many reports and
// heartbeats a device sent meanwhile, it is analysed and scored once, on its newest state.

// MaxBatch bounds the reports committed together.
const MaxBatch = 256

type ingestReq struct {
	in   store.Ingest
	done chan ingestRes
}

type ingestRes struct {
	res store.IngestResult
	err error
}

type batcher struct {
	st   store.Store
	reqs chan *ingestReq
}

func newBatcher(st store.Store) *batcher {
	b := &batcher{st: st, reqs: make(chan *ingestReq, 4*MaxBatch)}
	go b.run()
	return b
}

// ingest queues one report and waits until the transaction holding it committed (or failed).
func (b *batcher) ingest(ctx context.Context, in store.Ingest) (store.IngestResult, error) {
	r := &ingestReq{in: in, done: make(chan ingestRes, 1)}
	select {
	case b.reqs <- r:
	case <-ctx.Done():
		return store.IngestResult{}, ctx.Err()
	}
	// Once queued, the outcome is awaited even if the caller gave up: the report may be
	// committed, and the caller's retry will be answered as a duplicate.
	out := <-r.done
	return out.res, out.err
}

func (b *batcher) run() {
	batch := make([]*ingestReq, 0, MaxBatch)
	for first := range b.reqs {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < MaxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		b.commit(batch)
	}
}

func (b *batcher) commit(batch []*ingestReq) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ins := make([]store.Ingest, len(batch))
	for i, r := range batch {
		ins[i] = r.in
	}
	res, errs, err := b.st.IngestReports(ctx, ins)
	if err == nil {
		for i, r := range batch {
			r.done <- ingestRes{res[i], errs[i]}
		}
		return
	}
	if len(batch) == 1 {
		batch[0].done <- ingestRes{err: err}
		return
	}
	// One report may have spoiled the batch: store them one by one, so only it fails.
	for _, r := range batch {
		res, err := b.st.IngestReport(ctx, r.in)
		r.done <- ingestRes{res, err}
	}
}

// settle is what remains to derive for one device.
type settle struct {
	egress    netip.Addr
	rtt       time.Duration
	hasRTT    bool
	newReport bool
}

type settler struct {
	mu      sync.Mutex
	pending map[string]*settle
	// due holds each pending device once, by when it may be settled (with every > 0), so
	// that finding the due ones costs no walk of every pending device at each call.
	due   dueHeap
	wake  chan struct{}
	idle  *sync.Cond // signalled when pending is empty and nothing is being settled
	busy  bool
	every time.Duration        // a device is settled at most this often (0: at once)
	last  map[string]time.Time // when each device was last settled (with every > 0)
	swept time.Time
}

func newSettler(every time.Duration) *settler {
	s := &settler{pending: map[string]*settle{}, wake: make(chan struct{}, 1), every: every, last: map[string]time.Time{}}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// add returns id's pending work, making it pending if it was not; the caller holds mu.
func (s *settler) add(id string) *settle {
	p := s.pending[id]
	if p == nil {
		p = &settle{}
		s.pending[id] = p
		if s.every > 0 {
			heap.Push(&s.due, dueDevice{at: s.last[id].Add(s.every), id: id})
		}
	}
	return p
}

// take removes and returns the pending work that is due, and how long until the next is.
func (s *settler) take(now time.Time) (map[string]*settle, time.Duration) {
	if s.every <= 0 {
		work := s.pending
		s.pending = map[string]*settle{}
		return work, 0
	}
	if now.Sub(s.swept) > time.Minute {
		for id, t := range s.last {
			if now.Sub(t) > s.every {
				delete(s.last, id)
			}
		}
		s.swept = now
	}
	work := map[string]*settle{}
	for len(s.due) > 0 && !now.Before(s.due[0].at) {
		id := heap.Pop(&s.due).(dueDevice).id
		work[id] = s.pending[id]
		delete(s.pending, id)
		s.last[id] = now
	}
	var next time.Duration
	if len(s.due) > 0 {
		next = s.due[0].at.Sub(now)
	}
	return work, next
}

// dueDevice is a pending device and when it may next be settled.
type dueDevice struct {
	at time.Time
	id string
}

// dueHeap orders pending devices by when they are due (container/heap).
type dueHeap []dueDevice

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueDevice)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// after queues the derivations a call calls for: the call's egress and round trip (measured
// now, while the connection is known), and whether it brought a new report.
func (c *Collector) after(ctx context.Context, id string, newReport bool) {
	egress, _ := netip.ParseAddr(remoteAddr(ctx))
	rtt, hasRTT := c.measureRTT(ctx)
	s := c.settle
	s.mu.Lock()
	p := s.add(id)
	if egress.IsValid() {
		p.egress = egress.Unmap()
	}
	if hasRTT && (!p.hasRTT || rtt < p.rtt) {
		p.rtt, p.hasRTT = rtt, true
	}
	p.newReport = p.newReport || newReport
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// runSettler settles pending devices until ctx ends.
func (c *Collector) runSettler(ctx context.Context) {
	s := c.settle
	for {
		s.mu.Lock()
		work, next := s.take(time.Now())
		s.busy = len(work) > 0
		if !s.busy && len(s.pending) == 0 {
			s.idle.Broadcast()
		}
		s.mu.Unlock()
		for id, w := range work {
			c.settleDevice(ctx, id, w)
		}
		if len(work) > 0 {
			continue
		}
		var due <-chan time.Time
		if next > 0 {
			due = time.After(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-due:
		}
	}
}

// Settled waits until every call answered so far has been fully derived (egress, location,
// score) and the heartbeats' last seen times are written. Tests and `RunOnce`-style callers
// use it; ingest never does.
func (c *Collector) Settled() {
	if err := c.FlushSeen(context.Background()); err != nil {
		c.log.Warn("last seen of heartbeats not written; kept for the next try", "err", err)
	}
	s := c.settle
	s.mu.Lock()
	for s.busy || len(s.pending) > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
		s.idle.Wait()
	}
	s.mu.Unlock()
}

func (c *Collector) settleDevice(ctx context.Context, id string, w *settle) {
	if c.observeWith(ctx, id, w.egress, w.rtt, w.hasRTT, w.newReport) || w.newReport {
		if _, err := c.Rescore(ctx, id); err != nil {
			c.log.Warn("score", "device", id, "err", err)
		}
	}
}
