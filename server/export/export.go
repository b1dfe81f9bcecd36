package export

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultQueueSize      = 10_000
	DefaultJSONLMaxBytes  = 100 << 20
	DefaultWebhookTimeout = 10 * time.Second
	DefaultAppName        = "farmwatch"
)

// Config says where events go. Every sink listed gets its own queue and goroutine.
type Config struct {
	Webhooks []Webhook
	Syslog   []Syslog
	// JSONLPath, when set, is a file that gets one JSON event per line (created 0600; an
	// existing file keeps its mode), synced to disk after every batch. When the next line would
	// take it past JSONLMaxBytes it is renamed to JSONLPath+".1" (replacing the previous one)
	// and a new file is started; a log shipper tailing the path should follow renames.
	JSONLPath     string
	JSONLMaxBytes int64 // default DefaultJSONLMaxBytes
	// QueueSize bounds each sink's queue (default DefaultQueueSize). When it is full the
	// oldest queued event is dropped and counted, so an outage loses the oldest events first.
	QueueSize int
	Logger    *slog.Logger // default: discard

	retry retryPolicy // zero: defaultRetry; tests shorten it
}

// Webhook is an HTTP(S) endpoint that receives each event as a signed JSON POST, in order,
// one at a time. Network errors, 5xx and 429 are retried with exponential backoff and jitter
// (honouring Retry-After up to 5 minutes), 8 attempts in all; other statuses, redirects
// included, fail the event at once.
type Webhook struct {
	URL string // http or https
	// Secret keys the HMAC-SHA256 in X-Farmwatch-Signature; required. See the package doc
	// for how a receiver verifies it.
	Secret  string
	Timeout time.Duration // per attempt; default DefaultWebhookTimeout
}

// Syslog is a syslog receiver reached over TCP or TLS with octet-counted framing. A failed
// write is retried, reconnecting with backoff (at most 30 s apart), until it succeeds or Close
// gives up; meanwhile the queue absorbs new events and, when full, drops the oldest.
type Syslog struct {
	Network string // "tcp" or "tls"
	Address string // host:port
	// TLS configures "tls" connections (RootCAs to trust a private CA, Certificates for
	// client authentication). Nil means the system roots; ServerName defaults to the host of
	// Address, and the minimum version is TLS 1.2.
	TLS      *tls.Config
	AppName  string // RFC 5424 APP-NAME; default DefaultAppName
	Hostname string // RFC 5424 HOSTNAME; default os.Hostname()
}

// SinkStats counts one sink's events. Every published event is in exactly one of the four:
// Queued (accepted, not yet finished), Sent, Failed (given up after retries, or refused by
// the receiver), or Dropped (pushed out of a full queue, or still queued when Close ran out
// of time).
type SinkStats struct {
	Sent    uint64 `json:"sent"`
	Failed  uint64 `json:"failed"`
	Dropped uint64 `json:"dropped"`
	Queued  uint64 `json:"queued"`
}

// sink delivers batches of events to one destination. deliver returns how many of the batch
// it delivered (in order); the rest failed, and err says why. Only the sink's own goroutine
// calls it.
type sink interface {
	deliver(ctx context.Context, batch []Event) (sent int, err error)
	close() error
}

// runner is one sink with its queue and counters.
type runner struct {
	name  string
	sink  sink
	q     *queue
	batch int // most events per deliver call

	sent, failed, dropped atomic.Uint64
	queued                atomic.Int64
}

// Exporter fans events out to the configured sinks. Its methods are safe for concurrent use.
type Exporter struct {
	log     *slog.Logger
	runners []*runner
	ctx     context.Context // cancelled when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, opens the JSON-lines file and starts one goroutine per sink. Syslog
// connections are made on first use, so a receiver that is down at start-up is retried
// rather than fatal. Invalid configuration returns every problem found, and starts nothing.
func New(cfg Config) (*Exporter, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	qsize := cfg.QueueSize
	switch {
	case qsize == 0:
		qsize = DefaultQueueSize
	case qsize < 0:
		return nil, fmt.Errorf("export: queue size %d: must be positive", qsize)
	}
	retry := cfg.retry
	if retry == (retryPolicy{}) {
		retry = defaultRetry
	}

	var (
		errs    []error
		runners []*runner
	)
	names := map[string]int{}
	add := func(name string, s sink, batch int) {
		if names[name]++; names[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, names[name])
		}
		runners = append(runners, &runner{name: name, sink: s, q: newQueue(qsize), batch: batch})
	}
	for i, w := range cfg.Webhooks {
		s, name, err := newWebhookSink(w, retry, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("export: webhooks[%d]: %w", i, err))
			continue
		}
		add(name, s, 1) // one at a time: the queue, not the sink, holds the backlog
	}
	for i, c := range cfg.Syslog {
		s, name, err := newSyslogSink(c, retry, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("export: syslog[%d]: %w", i, err))
			continue
		}
		add(name, s, 64)
	}
	if cfg.JSONLPath != "" || cfg.JSONLMaxBytes != 0 {
		s, err := newJSONLSink(cfg.JSONLPath, cfg.JSONLMaxBytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("export: jsonl: %w", err))
		} else {
			add("jsonl:"+cfg.JSONLPath, s, 512)
		}
	}
	if len(errs) > 0 {
		for _, r := range runners {
			r.sink.close()
		}
		return nil, errors.Join(errs...)
	}

	e := &Exporter{log: log, runners: runners}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, r := range runners {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			r.run(e.ctx, log.With("sink", r.name))
		}()
	}
	return e, nil
}

// Publish queues ev for every sink and returns at once (a few hundred nanoseconds: a copy of
// the event into each sink's queue, under that queue's lock). It fills in ID and At (now) when
// they are empty, and stores At in UTC. Events published after Close are dropped and counted.
func (e *Exporter) Publish(ev Event) {
	if ev.ID == "" {
		ev.ID = newID()
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.At = ev.At.UTC()
	if ev.Cluster != nil { // the caller keeps its slices; sinks read ours concurrently
		c := *ev.Cluster
		c.Members = append([]string(nil), c.Members...)
		c.Kinds = append([]string(nil), c.Kinds...)
		ev.Cluster = &c
	}
	for _, r := range e.runners {
		dropped, ok := r.q.push(ev)
		switch {
		case !ok:
			r.dropped.Add(1)
		case dropped > 0:
			r.dropped.Add(uint64(dropped))
			r.queued.Add(1 - int64(dropped))
		default:
			r.queued.Add(1)
		}
	}
}

// Close stops accepting events and waits until every sink has finished what it holds, or
// until ctx is done: then in-flight deliveries are abandoned, what is still queued is counted
// as dropped, and the error says how many events were left. Later calls return the same result.
func (e *Exporter) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		for _, r := range e.runners {
			r.q.close()
		}
		done := make(chan struct{})
		go func() {
			e.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			var left int64
			for _, r := range e.runners {
				left += r.queued.Load()
			}
			e.cancel()
			<-done
			e.closeErr = fmt.Errorf("export: close: %w with %d events undelivered", ctx.Err(), left)
		}
		e.cancel()
	})
	return e.closeErr
}

// Stats returns each sink's counters, keyed by sink name: "webhook:<scheme>://<host>" (the
// path and query, which often embed a token, are left out), "syslog:<network>://<address>",
// "jsonl:<path>"; a repeated name gets "#2", "#3"….
func (e *Exporter) Stats() map[string]SinkStats {
	out := make(map[string]SinkStats, len(e.runners))
	for _, r := range e.runners {
		out[r.name] = r.stats()
	}
	return out
}

// RegisterMetrics exposes the sinks' counters in m, read when m is scraped:
// farmwatch_export_events_total{sink,result="sent|failed|dropped"} and
// farmwatch_export_queued_events{sink}.
func (e *Exporter) RegisterMetrics(m *Metrics) {
	m.collect("farmwatch_export_events_total", "Events each export sink finished, by result.", "counter",
		[]string{"sink", "result"}, func(emit func(v float64, labelValues ...string)) {
			for _, r := range e.runners {
				s := r.stats()
				emit(float64(s.Sent), r.name, "sent")
				emit(float64(s.Failed), r.name, "failed")
				emit(float64(s.Dropped), r.name, "dropped")
			}
		})
	m.collect("farmwatch_export_queued_events", "Events accepted by each export sink and not yet finished.", "gauge",
		[]string{"sink"}, func(emit func(v float64, labelValues ...string)) {
			for _, r := range e.runners {
				emit(float64(r.stats().Queued), r.name)
			}
		})
}

func (r *runner) stats() SinkStats {
	q := r.queued.Load()
	if q < 0 { // momentarily, between a take and the counter update
		q = 0
	}
	return SinkStats{Sent: r.sent.Load(), Failed: r.failed.Load(), Dropped: r.dropped.Load(), Queued: uint64(q)}
}

// run delivers the queue until it is closed and empty, or until ctx is cancelled.
func (r *runner) run(ctx context.Context, log *slog.Logger) {
	defer func() {
		if err := r.sink.close(); err != nil {
			log.Warn("export: close sink", "err", err)
		}
	}()
	buf := make([]Event, 0, r.batch)
	for {
		batch, done := r.q.take(buf, r.batch)
		if done {
			return
		}
		if len(batch) == 0 {
			select {
			case <-r.q.ready:
			case <-ctx.Done():
				r.abandon(0)
				return
			}
			continue
		}
		if ctx.Err() != nil {
			r.abandon(len(batch))
			return
		}
		sent, err := r.sink.deliver(ctx, batch)
		r.sent.Add(uint64(sent))
		r.failed.Add(uint64(len(batch) - sent))
		r.queued.Add(-int64(len(batch)))
		if err != nil {
			log.Warn("export: delivery failed", "events", len(batch)-sent, "err", err)
		}
		buf = batch[:0]
	}
}

// abandon counts the events in hand and those still queued as dropped.
func (r *runner) abandon(inHand int) {
	n := int64(inHand + r.q.drain())
	r.dropped.Add(uint64(n))
	r.queued.Add(-n)
}
