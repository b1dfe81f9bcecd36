package loadgen

import (
	"container/list"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/state"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Config is one load run.
type Config struct {
	Server string // collector gRPC address, host:port
	CAPEM  []byte // collector CA (DATA/ca.pem)
	Secret string // enroll secret
	Corpus []Sample

	Devices int // simulated devices (distinct keys, certificates and hardware)
	// Rate is the total report rate (reports per second) of the open loop; 0 runs a closed
	// loop of Concurrency workers, each uploading as soon as its previous upload is answered.
	Rate float64
	// Concurrency is the closed loop's workers, or the open loop's cap on uploads in flight
	// (0: Devices).
	Concurrency int
	Warmup      time.Duration // load before the measured window
	Duration    time.Duration // the measured window

	// HeartbeatInterval, when set, makes every device also send a heartbeat that often
	// (spread evenly: Devices/HeartbeatInterval heartbeats per second in all).
	HeartbeatInterval time.Duration
	// Subscribe makes every device also hold a push stream, as agents do; a stream the
	// collector refuses (past its push-stream cap) is asked for again after its retry hint.
	Subscribe bool
	// Churn is the fraction of devices per minute whose connection is closed; their next call
	// opens a new connection (a new TLS handshake), as an agent that restarts or roams does.
	Churn float64

	EnrollConcurrency int
	// StateDir, when set, caches enrolled identities (keys, certificates, last sequences) for
	// runs against the same collector (same CA); cached devices skip enrollment.
	StateDir string
	// MaxConns bounds the device connections open at once (0: Devices). Past it, the least
	// recently used idle device's connection is closed. Each costs one file descriptor here
	// and one at the collector.
	MaxConns int
	// Timeout bounds each RPC (default 30 s).
	Timeout      time.Duration
	AgentVersion string // default "farmwatch-loadgen"

	Progress      io.Writer     // a progress line every ProgressEvery (nil: none)
	ProgressEvery time.Duration // default 10 s
	// OnWindow, when set, is called as the measured window opens (true) and closes (false).
	OnWindow func(open bool)
}

// Result is what a run measured. Counts cover the whole run (warm-up included) unless they say
// "window"; throughput and latencies cover the measured window only.
type Result struct {
	Devices        int     `json:"devices"`
	Enrolled       int     `json:"enrolled"`        // enrolled in this run
	Cached         int     `json:"cached"`          // identities from the state cache
	EnrollSeconds  float64 `json:"enroll_seconds"`  // wall time of this run's enrollments
	EnrollPerSec   float64 `json:"enroll_per_sec"`  // enrollments per second
	EnrollFailures int     `json:"enroll_failures"` // devices that could not enroll (left out)

	Mode        string  `json:"mode"` // "open loop" or "closed loop"
	TargetRate  float64 `json:"target_rate,omitempty"`
	Concurrency int     `json:"concurrency"`
	MaxConns    int     `json:"max_conns"`
	Warmup      float64 `json:"warmup_seconds"`
	Window      float64 `json:"window_seconds"`

	Acked         uint64            `json:"acked"`        // reports acknowledged (stored), whole run
	AckedWindow   uint64            `json:"acked_window"` // acknowledged within the window
	Duplicates    uint64            `json:"duplicates"`   // acknowledged as already stored
	BackPressure  uint64            `json:"back_pressure"`
	Errors        map[string]uint64 `json:"errors"` // by call and gRPC code
	Skipped       uint64            `json:"skipped,omitempty"`
	OfferedPerSec float64           `json:"offered_per_sec"` // uploads started per second (window)
	Throughput    float64           `json:"throughput"`      // acknowledged reports per second (window)
	LatencyP50    float64           `json:"latency_p50_ms"`
	LatencyP90    float64           `json:"latency_p90_ms"`
	LatencyP99    float64           `json:"latency_p99_ms"`
	LatencyMax    float64           `json:"latency_max_ms"`
	// From the first attempt to the acknowledgement, back-pressure waits and retries included.
	E2EP50         float64 `json:"e2e_p50_ms"`
	E2EP99         float64 `json:"e2e_p99_ms"`
	Heartbeats     uint64  `json:"heartbeats"`                     // answered, whole run
	StreamsAsked   uint64  `json:"push_streams_asked,omitempty"`   // Subscribe calls made
	StreamsRefused uint64  `json:"push_streams_refused,omitempty"` // RESOURCE_EXHAUSTED: past the collector's cap
	Pushes         uint64  `json:"pushes,omitempty"`               // push messages received
	HeartbeatsSec  float64 `json:"heartbeats_per_sec"`
	Resyncs        uint64  `json:"resyncs"`     // start-up heartbeats of cached devices
	Connections    uint64  `json:"connections"` // device connections opened
	ChurnCloses    uint64  `json:"churn_closes"`
	LimitCloses    uint64  `json:"limit_closes"` // closed to stay under MaxConns
	ReportBytes    int     `json:"report_bytes_avg"`
	LoadgenCPUSecs float64 `json:"loadgen_cpu_seconds,omitempty"`

	Collector *CollectorStats `json:"collector,omitempty"`
}

// CollectorStats is what was measured of a collector process the load generator started.
type CollectorStats struct {
	PeakRSSMiB       float64 `json:"peak_rss_mib"`       // VmHWM
	CPUSeconds       float64 `json:"cpu_seconds"`        // user+system, whole life
	CPUSecondsWindow float64 `json:"cpu_seconds_window"` // user+system, measured window
	CoresWindow      float64 `json:"cores_window"`       // CPUSecondsWindow / window
	DBBytes          int64   `json:"db_bytes,omitempty"` // farmwatch.db (+ -wal) at the end
	Version          string  `json:"version,omitempty"`  // farmwatch-server --version
	ServerArgs       string  `json:"server_args,omitempty"`
}

type device struct {
	idx    int
	ident  *Identity
	tmpl   *pb.Report // the sample's report with this device's host identity
	resync bool       // learn the collector's highest sequence before the first upload

	busy atomic.Bool // held by whoever uses the device: upload, heartbeat, churn, eviction
	// streaming is set while a push stream of the device is open or being asked for;
	// nextSub is when the collector said to ask again (Unix nanoseconds).
	streaming atomic.Bool
	nextSub   atomic.Int64
	// guarded by busy:
	seq  uint64
	conn *client.Conn
	elem *list.Element // in the connection LRU, guarded by gen.mu
}

type gen struct {
	cfg     Config
	roots   *x509.CertPool
	devices []*device
	sha     string
	spare   []*Identity // cached identities this run does not use
	begin   time.Time

	mu  sync.Mutex
	lru *list.List // devices with an open connection, most recently used first

	cursor atomic.Uint64

	acked, duplicates, backPressure, heartbeats, resyncs atomic.Uint64
	started, skipped, conns, churnCloses, limitCloses    atomic.Uint64
	streamsAsked, streamsRefused, pushes                 atomic.Uint64
	catalogVersion, policyVersion                        atomic.Pointer[string] // as pushed

	smu       sync.Mutex
	errs      map[string]uint64
	winStart  time.Time
	winEnd    time.Time       // zero while the window is open
	lat       []time.Duration // of the acknowledged attempt
	e2e       []time.Duration // from the first attempt, back-pressure waits included
	ackedWin  uint64
	startWin  uint64
	hbWin     uint64
	winOpened bool
}

// Run enrolls the devices (or takes them from the state cache), runs the load for
// Warmup+Duration (or until ctx ends) and returns what it measured.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Devices < 1 {
		return nil, errors.New("devices: want at least 1")
	}
	if len(cfg.Corpus) == 0 {
		return nil, errors.New("empty report corpus")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = cfg.Devices
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = cfg.Devices
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.EnrollConcurrency <= 0 {
		cfg.EnrollConcurrency = 8
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 10 * time.Second
	}
	if cfg.AgentVersion == "" {
		cfg.AgentVersion = "farmwatch-loadgen"
	}
	roots, err := state.PoolFromPEM(cfg.CAPEM)
	if err != nil {
		return nil, fmt.Errorf("collector CA: %w", err)
	}
	sum := sha256.Sum256([]byte("farmwatch-loadgen " + cfg.AgentVersion))
	g := &gen{cfg: cfg, roots: roots, lru: list.New(), errs: map[string]uint64{}, sha: hex.EncodeToString(sum[:])}
	res := &Result{Devices: cfg.Devices, Concurrency: cfg.Concurrency, MaxConns: cfg.MaxConns, Warmup: cfg.Warmup.Seconds()}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "open loop", cfg.Rate
	} else {
		res.Mode = "closed loop"
	}

	ids, err := g.identities(ctx, res)
	if err != nil {
		return nil, err
	}
	var bytesTotal int
	for i, id := range ids {
		s := cfg.Corpus[i%len(cfg.Corpus)].Report
		tmpl := &pb.Report{CatalogVersion: s.GetCatalogVersion(), Facts: forDevice(s.GetFacts(), id.Hardware, i/len(cfg.Corpus)), Findings: s.GetFindings(),
			Detectors: s.GetDetectors(), ScanDurationMicros: s.GetScanDurationMicros(), AgentVersion: cfg.AgentVersion}
		if i < len(cfg.Corpus) {
			bytesTotal += proto.Size(tmpl) + 16
		}
		g.devices = append(g.devices, &device{idx: i, ident: id, tmpl: tmpl, seq: id.Sequence, resync: res.Cached > i})
	}
	res.ReportBytes = bytesTotal / min(len(ids), len(cfg.Corpus))

	g.load(ctx)

	// Close every connection; remember the acknowledged sequences.
	for _, d := range g.devices {
		if d.conn != nil {
			d.conn.Close()
			d.conn = nil
		}
		d.ident.Sequence = d.seq
	}
	if cfg.StateDir != "" {
		if err := saveCache(cfg.StateDir, cfg.CAPEM, append(ids, g.spare...)); err != nil {
			return nil, fmt.Errorf("state cache: %w", err)
		}
	}
	g.fill(res)
	return res, nil
}

// identities returns cfg.Devices identities: cached ones first, the rest enrolled now.
func (g *gen) identities(ctx context.Context, res *Result) ([]*Identity, error) {
	cfg := g.cfg
	var ids []*Identity
	if cfg.StateDir != "" {
		cached, err := loadCache(cfg.StateDir, cfg.CAPEM, time.Now(), time.Hour)
		if err != nil {
			return nil, err
		}
		ids = cached[:min(len(cached), cfg.Devices)]
		// A bigger cache than this run needs stays whole for later runs.
		g.spare = cached[len(ids):]
	}
	res.Cached = len(ids)
	need := cfg.Devices - len(ids)
	if need == 0 {
		return ids, nil
	}
	start := time.Now()
	out := make([]*Identity, need)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < min(cfg.EnrollConcurrency, need); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.Dial(cfg.Server, g.roots, nil)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer conn.Close()
			for ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= need {
					return
				}
				i := len(ids) + k
				hw := newHardware(i, cfg.Corpus[i%len(cfg.Corpus)])
				for attempt := 0; ; attempt++ {
					cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
					id, err := enroll(cctx, conn, cfg.Secret, cfg.AgentVersion, hw)
					cancel()
					if err == nil {
						out[k] = id
						break
					}
					st := status.Convert(err)
					if st.Code() == codes.ResourceExhausted && ctx.Err() == nil {
						sleep(ctx, retryDelay(st))
						continue
					}
					if st.Code() == codes.PermissionDenied || attempt == 2 || ctx.Err() != nil {
						firstErr.CompareAndSwap(nil, fmt.Errorf("enroll: %w", err))
						failed.Add(1)
						if st.Code() == codes.PermissionDenied {
							next.Store(int64(need)) // a wrong secret fails them all
						}
						break
					}
					sleep(ctx, time.Second)
				}
				if n := next.Load(); cfg.Progress != nil && n > 0 && n%500 == 0 && out[k] != nil {
					fmt.Fprintf(cfg.Progress, "enrolled %d/%d devices (%.0f/s)\n", n, need, float64(n)/time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	res.EnrollSeconds = time.Since(start).Seconds()
	for _, id := range out {
		if id != nil {
			ids = append(ids, id)
			res.Enrolled++
		}
	}
	res.EnrollFailures = need - res.Enrolled
	if res.EnrollSeconds > 0 {
		res.EnrollPerSec = float64(res.Enrolled) / res.EnrollSeconds
	}
	if cfg.StateDir != "" && res.Enrolled > 0 {
		if err := saveCache(cfg.StateDir, cfg.CAPEM, append(ids[:len(ids):len(ids)], g.spare...)); err != nil {
			return nil, fmt.Errorf("state cache: %w", err)
		}
	}
	if len(ids) == 0 {
		if e, ok := firstErr.Load().(error); ok {
			return nil, fmt.Errorf("no device enrolled: %w", e)
		}
		return nil, errors.New("no device enrolled")
	}
	if e, ok := firstErr.Load().(error); ok && cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "%d device(s) could not enroll: %v\n", res.EnrollFailures, e)
	}
	res.Devices = len(ids)
	return ids, ctx.Err()
}

func (g *gen) load(ctx context.Context) {
	cfg := g.cfg
	// stop ends the scheduling of new calls; calls in flight finish (their acknowledgements
	// count, and the sequences stay in step with the collector).
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	begin := time.Now()
	g.begin = begin
	end := begin.Add(cfg.Warmup + cfg.Duration)

	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	var inflight sync.WaitGroup
	if cfg.Rate > 0 {
		run(func() { g.openLoop(stop, begin, &inflight) })
	} else {
		for w := 0; w < cfg.Concurrency; w++ {
			run(func() {
				for stop.Err() == nil {
					d := g.acquire(stop, true)
					if d == nil {
						return
					}
					g.started.Add(1)
					g.upload(stop, d)
					d.busy.Store(false)
				}
			})
		}
	}
	if cfg.HeartbeatInterval > 0 {
		run(func() { g.heartbeatLoop(stop, begin, &inflight) })
	}
	if cfg.Churn > 0 {
		run(func() { g.churnLoop(stop) })
	}

	progress := time.NewTicker(cfg.ProgressEvery)
	defer progress.Stop()
	winTimer := time.NewTimer(cfg.Warmup)
	endTimer := time.NewTimer(time.Until(end))
	var lastAcked uint64
	lastAt := begin
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-endTimer.C:
			done = true
		case <-winTimer.C:
			g.openWindow()
			endTimer.Reset(cfg.Duration) // the window lasts Duration from when it opened
		case now := <-progress.C:
			a := g.acked.Load()
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "%5.0fs acked %d (%.0f/s) back-pressure %d errors %d heartbeats %d connections open %d%s\n",
					now.Sub(begin).Seconds(), a, float64(a-lastAcked)/now.Sub(lastAt).Seconds(), g.backPressure.Load(), g.errorCount(),
					g.heartbeats.Load(), g.openConns(), g.phase())
			}
			lastAcked, lastAt = a, now
		}
	}
	g.closeWindow()
	cancel()
	wg.Wait()
	inflight.Wait()
}

func (g *gen) phase() string {
	g.smu.Lock()
	defer g.smu.Unlock()
	if !g.winOpened {
		return " (warm-up)"
	}
	return ""
}

func (g *gen) openWindow() {
	g.smu.Lock()
	if !g.winOpened {
		g.winOpened = true
		g.winStart = time.Now()
		g.startWin = g.started.Load()
		g.hbWin = g.heartbeats.Load()
	}
	g.smu.Unlock()
	if g.cfg.OnWindow != nil {
		g.cfg.OnWindow(true)
	}
}

func (g *gen) closeWindow() {
	g.smu.Lock()
	opened := g.winOpened
	if !opened {
		// Ended during the warm-up: measure what there is from the start.
		g.winOpened = true
		g.winStart = g.begin
		g.ackedWin = g.acked.Load()
	}
	g.winEnd = time.Now()
	g.startWin = g.started.Load() - g.startWin
	g.hbWin = g.heartbeats.Load() - g.hbWin
	g.smu.Unlock()
	if opened && g.cfg.OnWindow != nil {
		g.cfg.OnWindow(false)
	}
}

// acquire takes the next idle device, round robin. With wait, it waits while every device
// is busy; without, it gives up after one pass.
func (g *gen) acquire(ctx context.Context, wait bool) *device {
	n := uint64(len(g.devices))
	for ctx.Err() == nil {
		start := g.cursor.Add(1)
		for k := uint64(0); k < n; k++ {
			d := g.devices[(start+k)%n]
			if d.busy.CompareAndSwap(false, true) {
				if k > 0 {
					g.cursor.Add(k)
				}
				return d
			}
		}
		if !wait {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// openLoop starts uploads at cfg.Rate per second on idle devices, at most cfg.Concurrency in
// flight. A start with no idle device or no free slot is skipped and counted: the offered rate
// then falls short of the target, and the result says so.
func (g *gen) openLoop(stop context.Context, begin time.Time, inflight *sync.WaitGroup) {
	slots := make(chan struct{}, g.cfg.Concurrency)
	var due uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case now := <-tick.C:
			want := uint64(now.Sub(begin).Seconds() * g.cfg.Rate)
			for ; due < want; due++ {
				select {
				case slots <- struct{}{}:
				default:
					g.skipped.Add(1)
					continue
				}
				d := g.acquire(stop, false)
				if d == nil {
					<-slots
					g.skipped.Add(1)
					continue
				}
				g.started.Add(1)
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					g.upload(stop, d)
					d.busy.Store(false)
					<-slots
				}()
			}
		}
	}
}

func (g *gen) countErr(call string, c codes.Code) {
	g.smu.Lock()
	g.errs[call+" "+c.String()]++
	g.smu.Unlock()
}

func (g *gen) errorCount() uint64 {
	g.smu.Lock()
	defer g.smu.Unlock()
	var n uint64
	for _, v := range g.errs {
		n += v
	}
	return n
}

func (g *gen) openConns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lru.Len()
}

// connFor returns d's connection, opening it (and closing the least recently used idle one
// past MaxConns). The caller holds d.
func (g *gen) connFor(d *device) (*client.Conn, error) {
	g.mu.Lock()
	if d.conn != nil {
		g.lru.MoveToFront(d.elem)
		g.mu.Unlock()
		g.subscribe(d, d.conn)
		return d.conn, nil
	}
	var victims []*device
	for e := g.lru.Back(); e != nil && g.lru.Len()-len(victims) >= g.cfg.MaxConns; e = e.Prev() {
		v := e.Value.(*device)
		if v.busy.CompareAndSwap(false, true) {
			victims = append(victims, v)
		}
	}
	for _, v := range victims {
		g.lru.Remove(v.elem)
		v.elem = nil
	}
	g.mu.Unlock()
	for _, v := range victims {
		v.conn.Close()
		v.conn = nil
		v.busy.Store(false)
		g.limitCloses.Add(1)
	}
	conn, err := client.Dial(g.cfg.Server, g.roots, &d.ident.Cert)
	if err != nil {
		return nil, err
	}
	g.conns.Add(1)
	g.mu.Lock()
	d.conn = conn
	d.elem = g.lru.PushFront(d)
	g.mu.Unlock()
	g.subscribe(d, conn)
	return conn, nil
}

// subscribe opens d's push stream when Subscribe is on, unless one is open or the collector
// said to wait. The stream is read until it ends (its connection closes, or the collector
// ends it); the catalog and policy it pushes set the versions later streams ask with.
func (g *gen) subscribe(d *device, conn *client.Conn) {
	if !g.cfg.Subscribe || time.Now().UnixNano() < d.nextSub.Load() || !d.streaming.CompareAndSwap(false, true) {
		return
	}
	version := func(p *atomic.Pointer[string]) string {
		if v := p.Load(); v != nil {
			return *v
		}
		return ""
	}
	go func() {
		defer d.streaming.Store(false)
		stream, err := conn.Subscribe(context.Background(), &pb.SubscribeRequest{AgentVersion: g.cfg.AgentVersion,
			CatalogVersion: version(&g.catalogVersion), PolicyVersion: version(&g.policyVersion)})
		if err == nil {
			g.streamsAsked.Add(1)
			for {
				var p *pb.Push
				if p, err = stream.Recv(); err != nil {
					break
				}
				g.pushes.Add(1)
				if v := p.GetCatalog().GetVersion(); v != "" {
					g.catalogVersion.Store(&v)
				}
				if v := p.GetPolicy().GetVersion(); v != "" {
					g.policyVersion.Store(&v)
				}
			}
		}
		wait := time.Second
		if st := status.Convert(err); st.Code() == codes.ResourceExhausted {
			g.streamsRefused.Add(1)
			wait = retryDelay(st)
		}
		d.nextSub.Store(time.Now().Add(wait).UnixNano())
	}()
}

// closeConn closes d's connection; the caller holds d.
func (g *gen) closeConn(d *device) bool {
	if d.conn == nil {
		return false
	}
	g.mu.Lock()
	g.lru.Remove(d.elem)
	d.elem = nil
	g.mu.Unlock()
	d.conn.Close()
	d.conn = nil
	return true
}

// upload sends d's next report until it is acknowledged, refused for good, or stop ends a
// back-pressure wait. The caller holds d.
func (g *gen) upload(stop context.Context, d *device) {
	conn, err := g.connFor(d)
	if err != nil {
		g.countErr("dial", codes.Unknown)
		return
	}
	for d.resync {
		// A cached identity: learn where the collector is, as an agent does at start.
		cctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
		resp, err := conn.Heartbeat(cctx, g.heartbeat(d))
		cancel()
		if st := status.Convert(err); st.Code() == codes.ResourceExhausted {
			g.backPressure.Add(1)
			if !sleep(stop, retryDelay(st)) {
				return
			}
			continue
		} else if err != nil {
			g.countErr("resync-heartbeat", st.Code())
			return
		}
		g.resynced(d, resp)
	}
	seq := d.seq + 1
	t := d.tmpl
	first := time.Now()
	for {
		rep := &pb.Report{Sequence: seq, Created: timestamppb.Now(), AgentVersion: t.AgentVersion, CatalogVersion: t.CatalogVersion,
			Facts: t.Facts, Findings: t.Findings, Detectors: t.Detectors, ScanDurationMicros: t.ScanDurationMicros}
		// Not stop: a call in flight when the run ends still completes, so that the device's
		// sequence stays in step with what the collector stored.
		cctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
		start := time.Now()
		resp, err := conn.UploadReport(cctx, &pb.UploadReportRequest{Report: rep})
		done := time.Now()
		cancel()
		if err == nil {
			if !resp.GetStored() || resp.GetSequence() != seq {
				g.countErr("upload", codes.Unknown) // an answer that is not an acknowledgement
				if resp.GetHighestSequence() > d.seq {
					d.seq = resp.GetHighestSequence()
				}
				return
			}
			d.seq = seq
			g.acked.Add(1)
			if resp.GetDuplicate() {
				g.duplicates.Add(1)
			}
			g.smu.Lock()
			if g.winOpened && g.winEnd.IsZero() { // acknowledged within the window
				g.ackedWin++
				g.lat = append(g.lat, done.Sub(start))
				g.e2e = append(g.e2e, done.Sub(first))
			}
			g.smu.Unlock()
			return
		}
		st := status.Convert(err)
		if st.Code() == codes.ResourceExhausted {
			g.backPressure.Add(1)
			if !sleep(stop, retryDelay(st)) {
				return
			}
			continue // the same sequence
		}
		g.countErr("upload", st.Code())
		return // kept: the next turn retries the same sequence, as the agent's spool does
	}
}

// resynced takes a cached device's sequence from the collector's answer to its first
// heartbeat; the caller holds d.
func (g *gen) resynced(d *device, resp *pb.HeartbeatResponse) {
	d.seq = max(d.seq, resp.GetHighestSequence())
	d.resync = false
	g.resyncs.Add(1)
}

func (g *gen) heartbeat(d *device) *pb.HeartbeatRequest {
	hw := d.ident.Hardware
	return &pb.HeartbeatRequest{AgentTime: timestamppb.Now(), LastSequence: d.seq, AgentVersion: g.cfg.AgentVersion,
		AgentSha256: g.sha, AgentPlatform: hw.GetOs() + "/" + hw.GetArch()}
}

// heartbeatLoop sends Devices/HeartbeatInterval heartbeats per second, each on a random idle
// device.
func (g *gen) heartbeatLoop(stop context.Context, begin time.Time, inflight *sync.WaitGroup) {
	rate := float64(len(g.devices)) / g.cfg.HeartbeatInterval.Seconds()
	slots := make(chan struct{}, 256)
	var due uint64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	n := len(g.devices)
	for {
		select {
		case <-stop.Done():
			return
		case now := <-tick.C:
			want := uint64(now.Sub(begin).Seconds() * rate)
			for ; due < want; due++ {
				// A random idle device (the upload cursor sweeps in order: neighbours are busy
				// together); when none of a few is idle, or too many heartbeats are in flight,
				// try again at the next tick.
				var d *device
				for k := 0; k < 8 && d == nil; k++ {
					if c := g.devices[rand.IntN(n)]; c.busy.CompareAndSwap(false, true) {
						d = c
					}
				}
				if d == nil {
					break
				}
				slot := false
				select {
				case slots <- struct{}{}:
					slot = true
				default:
				}
				if !slot {
					d.busy.Store(false)
					break
				}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					defer func() { <-slots }()
					defer d.busy.Store(false)
					conn, err := g.connFor(d)
					if err != nil {
						g.countErr("dial", codes.Unknown)
						return
					}
					cctx, cancel := context.WithTimeout(context.Background(), g.cfg.Timeout)
					resp, err := conn.Heartbeat(cctx, g.heartbeat(d))
					cancel()
					if err != nil {
						if status.Code(err) == codes.ResourceExhausted {
							g.backPressure.Add(1)
						} else {
							g.countErr("heartbeat", status.Code(err))
						}
						return
					}
					g.heartbeats.Add(1)
					if d.resync { // a cached identity learns where the collector is
						g.resynced(d, resp)
					}
				}()
			}
		}
	}
}

// churnLoop closes the connections of Churn*Devices devices a minute, chosen at random among
// idle ones.
func (g *gen) churnLoop(stop context.Context) {
	perSec := g.cfg.Churn * float64(len(g.devices)) / 60
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	var done uint64
	for {
		select {
		case <-stop.Done():
			return
		case now := <-tick.C:
			want := uint64(now.Sub(begin).Seconds() * perSec)
			for ; done < want; done++ {
				for try := 0; try < 16; try++ {
					d := g.devices[rand.IntN(len(g.devices))]
					if !d.busy.CompareAndSwap(false, true) {
						continue
					}
					if g.closeConn(d) {
						g.churnCloses.Add(1)
					}
					d.busy.Store(false)
					break
				}
			}
		}
	}
}

// retryDelay is the collector's RetryInfo delay (1 s when it gives none, at most a minute).
func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return min(max(ri.GetRetryDelay().AsDuration(), 0), time.Minute)
		}
	}
	return time.Second
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (g *gen) fill(r *Result) {
	g.smu.Lock()
	defer g.smu.Unlock()
	win := g.winEnd.Sub(g.winStart).Seconds()
	r.Window = win
	r.Acked, r.AckedWindow = g.acked.Load(), g.ackedWin
	r.Duplicates, r.BackPressure, r.Skipped = g.duplicates.Load(), g.backPressure.Load(), g.skipped.Load()
	r.Errors = map[string]uint64{}
	for k, v := range g.errs {
		r.Errors[k] = v
	}
	r.Heartbeats, r.Resyncs = g.heartbeats.Load(), g.resyncs.Load()
	r.StreamsAsked, r.StreamsRefused, r.Pushes = g.streamsAsked.Load(), g.streamsRefused.Load(), g.pushes.Load()
	r.Connections, r.ChurnCloses, r.LimitCloses = g.conns.Load(), g.churnCloses.Load(), g.limitCloses.Load()
	if win > 0 {
		r.Throughput = float64(g.ackedWin) / win
		r.OfferedPerSec = float64(g.startWin) / win
		r.HeartbeatsSec = float64(g.hbWin) / win
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	quantiles := func(ds []time.Duration) func(float64) float64 {
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return func(p float64) float64 {
			if len(ds) == 0 {
				return 0
			}
			return ms(ds[min(len(ds)-1, int(p*float64(len(ds))))])
		}
	}
	q, e := quantiles(g.lat), quantiles(g.e2e)
	r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyMax = q(0.50), q(0.90), q(0.99), q(1)
	r.E2EP50, r.E2EP99 = e(0.50), e(0.99)
}
