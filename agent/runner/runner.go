// Package runner is the agent's main loop: scan on an interval, spool each report, send what is
// spooled in order and delete it only once acknowledged as stored, keep a heartbeat, renew the
// certificate before it expires, and act on pushes from the collector.
package runner

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/client"
	"github.com/farmwatch/farmwatch/agent/config"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
)

// Runner drives one enrolled agent.
type Runner struct {
	State        state.Dir
	Spool        *spool.Spool
	Scanner      *scan.Scanner
	Interval     time.Duration // between scans (default 5 min)
	Heartbeat    time.Duration // between heartbeats (default 60 s)
	AgentVersion string
	Log          *slog.Logger
	// Throttle, when set, is consulted before each scan: a positive duration holds the scan
	// back (the watchdog: the agent is over its CPU limit). A scheduled scan is skipped; a
	// requested one is retried once that time has passed.
	Throttle func() time.Duration

	conn  *client.Conn
	rec   state.Record
	scan  chan string // scan-now requests
	clock *clockWatch
}

func (r *Runner) defaults() {
	if r.Interval <= 0 {
		r.Interval = 5 * time.Minute
	}
	if r.Heartbeat <= 0 {
		r.Heartbeat = time.Minute
	}
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.scan == nil {
		r.scan = make(chan string, 1)
	}
	if r.clock == nil {
		r.clock = newClockWatch(r.State.Path)
	}
}

// Connect loads the enrollment and the last pushed catalog, and opens the connection (lazily).
func (r *Runner) Connect() error {
	r.defaults()
	if doc, err := r.State.Catalog(); err == nil && r.Scanner != nil {
		if c, err := catalog.ParsePushed(doc); err == nil {
			r.Scanner.SetCatalog(c)
		} else {
			r.Log.Error("saved catalog is invalid; using the built-in one", "err", err)
		}
	}
	rec, err := r.State.Record()
	if err != nil {
		return err
	}
	roots, err := r.State.CAPool()
	if err != nil {
		return err
	}
	cert, _, err := r.State.Certificate()
	if err != nil {
		return err
	}
	conn, err := client.Dial(rec.Server, roots, &cert)
	if err != nil {
		return err
	}
	r.conn, r.rec = conn, rec
	return nil
}

// Close closes the connection.
func (r *Runner) Close() error {
	if r.conn == nil {
		return nil
	}
	return r.conn.Close()
}

// Sync sends a heartbeat and raises the spool's sequence to the collector's highest stored
// one, so that after a lost spool new reports are never mistaken for replays.
func (r *Runner) Sync(ctx context.Context) error {
	st, err := r.Spool.Stats()
	if err != nil {
		return err
	}
	r.defaults()
	pinned, err := r.State.CACerts()
	if err != nil {
		return err
	}
	var fps []string
	for _, c := range pinned {
		fps = append(fps, pki.Fingerprint(c))
	}
	sent := time.Now()
	rollback := r.clock.check(sent, monotonic())
	resp, err := r.conn.Heartbeat(ctx, &pb.HeartbeatRequest{
		AgentTime: timestamppb.New(sent), LastSequence: st.LastSequence, Spooled: uint64(st.Pending), AgentVersion: r.AgentVersion,
		Evicted: st.Evicted, AgentSha256: selfSHA256(), AgentPlatform: runtime.GOOS + "/" + runtime.GOARCH, ClockRollback: rollback,
		PinnedCaSha256: fps, CatalogVersion: r.catalogVersion(), PolicyVersion: r.policyVersion(),
	})
	if err != nil {
		return fmt.Errorf("heartbeat: %w", explain(err))
	}
	for _, p := range resp.GetPushes() {
		r.handlePush(p)
	}
	if len(resp.GetCaCertificatesDer()) > 0 {
		if err := r.pinCAs(resp.GetCaCertificatesDer(), pinned); err != nil {
			r.Log.Error("collector CA bundle refused; keeping the pinned CAs", "err", err)
		}
	}
	if rollback != nil {
		r.Log.Warn("wall clock was set back; reported to the collector", "from", rollback.GetFrom().AsTime(), "to", rollback.GetTo().AsTime(), "how", rollback.GetHow())
		r.clock.reported(rollback)
	}
	if r.Scanner != nil && resp.GetServerTime() != nil {
		rtt := time.Since(sent)
		// The collector stamped its clock about half a round trip after we sent.
		r.Scanner.SetClock(resp.GetServerTime().AsTime().Sub(sent.Add(rtt/2)), rtt)
	}
	if advanced, err := r.Spool.AdvanceSequence(resp.GetHighestSequence()); err != nil {
		return err
	} else if advanced {
		r.Log.Warn("collector holds newer reports than this spool; sequence advanced", "to", resp.GetHighestSequence())
	}
	return nil
}

// Log messages other programs read (the fault tests count scans in a child agent's log): keep
// them stable.
const (
	LogScanSpooled = "scan spooled"
	LogScanFailed  = "scan failed"
)

// ScanOnce runs one scan and spools its report, returning the sequence it got.
func (r *Runner) ScanOnce(ctx context.Context) (uint64, error) {
	rep, err := r.Scanner.Scan(ctx)
	if err != nil {
		return 0, fmt.Errorf("scan: %w", err)
	}
	seq, err := r.Spool.Add(func(seq uint64) ([]byte, error) {
		rep.Sequence = seq
		return proto.MarshalOptions{Deterministic: true}.Marshal(rep)
	})
	if err != nil {
		return 0, fmt.Errorf("spool report: %w", err)
	}
	r.Log.Info(LogScanSpooled, "sequence", seq, "summary", scan.Summary(rep))
	return seq, nil
}

// Flush sends every spooled report in sequence order and deletes each once the collector
// acknowledged it as stored. It stops at the first transport error, leaving the rest spooled.
func (r *Runner) Flush(ctx context.Context) (int, error) {
	sent := 0
	for {
		batch, err := r.Spool.Pending(32)
		if err != nil {
			return sent, fmt.Errorf("read spool: %w", err)
		}
		if len(batch) == 0 {
			return sent, nil
		}
		for _, e := range batch {
			rep := &pb.Report{}
			if err := proto.Unmarshal(e.Body, rep); err != nil {
				r.Log.Error("spooled report does not decode; set aside", "sequence", e.Sequence, "err", err)
				if err := r.Spool.Reject(e.Sequence, "undecodable: "+err.Error()); err != nil {
					return sent, err
				}
				continue
			}
			resp, err := r.conn.UploadReport(ctx, &pb.UploadReportRequest{Report: rep})
			if status.Code(err) == codes.InvalidArgument {
				r.Log.Error("collector refused report as invalid; set aside", "sequence", e.Sequence, "err", err)
				if err := r.Spool.Reject(e.Sequence, status.Convert(err).Message()); err != nil {
					return sent, err
				}
				continue
			}
			if err != nil {
				return sent, fmt.Errorf("upload report %d: %w", e.Sequence, explain(err))
			}
			if !resp.GetStored() || resp.GetSequence() != e.Sequence {
				return sent, fmt.Errorf("collector did not acknowledge report %d as stored", e.Sequence)
			}
			if err := r.Spool.Ack(e.Sequence); err != nil {
				return sent, fmt.Errorf("delete acknowledged report %d: %w", e.Sequence, err)
			}
			sent++
			if resp.GetDuplicate() {
				r.Log.Info("report was already stored", "sequence", e.Sequence)
			}
		}
	}
}

// RunOnce scans once, sends everything spooled and returns when it is all acknowledged.
func (r *Runner) RunOnce(ctx context.Context) error {
	if err := r.Sync(ctx); err != nil {
		return err
	}
	if _, err := r.ScanOnce(ctx); err != nil {
		return err
	}
	sent, err := r.Flush(ctx)
	if err != nil {
		return err
	}
	st, err := r.Spool.Stats()
	if err != nil {
		return err
	}
	if st.Pending > 0 {
		return fmt.Errorf("%d reports still spooled", st.Pending)
	}
	r.Log.Info("all reports acknowledged", "sent", sent, "last_sequence", st.LastSequence)
	return nil
}

// Run loops until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	go r.subscribe(ctx)
	flushNow := make(chan struct{}, 1)
	kick := func() {
		select {
		case flushNow <- struct{}{}:
		default:
		}
	}
	go r.sender(ctx, flushNow)

	if err := r.Sync(ctx); err != nil {
		r.Log.Warn("collector not reachable yet; scanning and spooling anyway", "err", err)
	}
	scanTick := time.NewTicker(r.Interval)
	defer scanTick.Stop()
	hbTick := time.NewTicker(r.Heartbeat)
	defer hbTick.Stop()
	doScan := func(why string) {
		if r.Throttle != nil {
			if d := r.Throttle(); d > 0 {
				r.Log.Warn("scan held back: the agent is over its CPU limit", "why", why, "for", d.Round(time.Second))
				if why != "interval" {
					time.AfterFunc(d, func() { r.RequestScan(why) })
				}
				return
			}
		}
		if _, err := r.ScanOnce(ctx); err != nil {
			r.Log.Error(LogScanFailed, "why", why, "err", err)
			return
		}
		kick()
	}
	doScan("start")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-scanTick.C:
			doScan("interval")
		case why := <-r.scan:
			doScan(why)
		case <-hbTick.C:
			if err := r.Sync(ctx); err != nil {
				r.Log.Warn("heartbeat failed", "err", err)
				continue
			}
			kick()
			r.renewIfDue(ctx)
		}
	}
}

// sender flushes on demand and retries with exponential backoff and jitter while the
// collector is unreachable, so that a fleet coming back does not arrive all at once.
func (r *Runner) sender(ctx context.Context, flushNow <-chan struct{}) {
	backoff := time.Duration(0)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-flushNow:
		case <-retry:
		}
		retry = nil
		if _, err := r.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = nextBackoff(backoff)
			wait := max(backoff, RetryHint(err))
			r.Log.Warn("send failed; reports stay spooled", "err", err, "retry_in", wait.Round(time.Millisecond))
			retry = time.After(wait)
			continue
		}
		backoff = 0
	}
}

func nextBackoff(d time.Duration) time.Duration {
	const lo, hi = time.Second, 5 * time.Minute
	d = min(max(2*d, lo), hi)
	// Full jitter over the upper half keeps retries spread out.
	return d/2 + rand.N(d/2+1)
}

// catalogVersion is the version of the catalog in use ("" before there is a scanner).
func (r *Runner) catalogVersion() string {
	if r.Scanner == nil {
		return ""
	}
	return r.Scanner.Catalog().Version
}

// policyVersion is the version of the policy the collector last pushed ("" for none).
func (r *Runner) policyVersion() string {
	if p, ok, err := config.LoadPolicy(r.State.Path); err == nil && ok {
		return p.Version
	}
	return ""
}

// subscribe holds the push stream open, reopening it when it ends. A collector that holds no
// more streams says when to ask again; meanwhile pushes come with heartbeats.
func (r *Runner) subscribe(ctx context.Context) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		stream, err := r.conn.Subscribe(ctx, &pb.SubscribeRequest{AgentVersion: r.AgentVersion, CatalogVersion: r.catalogVersion(), PolicyVersion: r.policyVersion()})
		if err == nil {
			for {
				p, rerr := stream.Recv()
				if rerr != nil {
					err = rerr
					break
				}
				backoff = 0
				r.handlePush(p)
			}
		}
		if ctx.Err() != nil {
			return
		}
		backoff = nextBackoff(backoff)
		wait := backoff
		if st := status.Convert(err); st.Code() == codes.ResourceExhausted {
			wait = max(wait, retryInfo(st))
		}
		r.Log.Debug("push stream closed; reconnecting", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (r *Runner) handlePush(p *pb.Push) {
	switch k := p.GetKind().(type) {
	case *pb.Push_ScanNow:
		r.Log.Info("collector asked for a scan", "reason", k.ScanNow.GetReason(), "by", k.ScanNow.GetRequestedBy())
		select {
		case r.scan <- "scan now: " + k.ScanNow.GetReason():
		default: // one is already queued
		}
	case *pb.Push_Catalog:
		c, err := catalog.ParsePushed(k.Catalog.GetContent())
		if err != nil {
			r.Log.Error("pushed catalog refused; keeping the current one", "version", k.Catalog.GetVersion(), "err", err)
			return
		}
		if err := r.State.SaveCatalog(k.Catalog.GetContent()); err != nil {
			r.Log.Warn("pushed catalog not saved; in use until restart", "err", err)
		}
		r.Scanner.SetCatalog(c)
		r.Log.Info("catalog updated", "version", c.Version)
	case *pb.Push_Policy:
		r.applyPolicy(k.Policy)
	default:
		r.Log.Warn("unknown push ignored", "id", p.GetId())
	}
}

// applyPolicy keeps the agent's part of a pushed policy (the uninstall token hash) in the state
// directory, where `farmwatch-agent uninstall` checks it. The rest of the policy is the
// collector's scoring and is not the agent's business.
func (r *Runner) applyPolicy(u *pb.PolicyUpdate) {
	p, set, err := config.ParsePolicy(u.GetContent())
	if err != nil {
		r.Log.Error("pushed policy refused; keeping the current uninstall token", "version", u.GetVersion(), "err", err)
		return
	}
	if !set {
		r.Log.Info("policy update received; no agent settings in it", "version", u.GetVersion())
		return
	}
	p.Version, p.Received = u.GetVersion(), time.Now().UTC()
	if err := config.SavePolicy(r.State.Path, p); err != nil {
		r.Log.Error("pushed policy not saved; uninstall keeps the previous token", "version", u.GetVersion(), "err", err)
		return
	}
	r.Log.Info("policy update applied", "version", u.GetVersion(), "uninstall_token_required", p.UninstallTokenHash != "")
}

// GoodbyeTimeout bounds Goodbye: a stop or an uninstall must not hang on an unreachable
// collector.
const GoodbyeTimeout = 5 * time.Second

// Goodbye tells the collector the agent is about to go (reason: stop, uninstall, upgrade or
// shutdown; actor: who asked, as the OS told us; authorized: an uninstall that presented the
// policy's token). It gives up after GoodbyeTimeout. It needs Connect, not Run.
func (r *Runner) Goodbye(ctx context.Context, reason, actor string, authorized bool) error {
	if r.conn == nil {
		return errors.New("goodbye: not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, GoodbyeTimeout)
	defer cancel()
	var last uint64
	if r.Spool != nil {
		if st, err := r.Spool.Stats(); err == nil {
			last = st.LastSequence
		}
	}
	_, err := r.conn.Goodbye(ctx, &pb.GoodbyeRequest{
		Reason: reason, At: timestamppb.Now(), Actor: actor, Authorized: authorized, LastSequence: last,
	})
	if err != nil {
		return fmt.Errorf("goodbye: %w", explain(err))
	}
	return nil
}

func (r *Runner) renewIfDue(ctx context.Context) {
	if r.rec.RenewAfter.IsZero() || time.Now().Before(r.rec.RenewAfter) {
		return
	}
	if err := r.Renew(ctx); err != nil {
		r.Log.Error("certificate renewal failed", "err", err, "not_after", r.rec.NotAfter)
	}
}

// Renew gets a fresh certificate for the same key and swaps it in.
func (r *Runner) Renew(ctx context.Context) error {
	key, _, err := r.State.Key()
	if err != nil {
		return err
	}
	csr, err := state.CSR(key, r.rec.DeviceID)
	if err != nil {
		return err
	}
	resp, err := r.conn.Renew(ctx, &pb.RenewRequest{CsrDer: csr})
	if err != nil {
		return fmt.Errorf("renew: %w", explain(err))
	}
	if ders := resp.GetCaCertificatesDer(); len(ders) > 0 {
		pinned, err := r.State.CACerts()
		if err != nil {
			return err
		}
		if err := r.pinCAs(ders, pinned); err != nil {
			return fmt.Errorf("renew: %w", err)
		}
	}
	rec := r.rec
	rec.NotAfter, rec.RenewAfter = resp.GetNotAfter().AsTime(), resp.GetRenewAfter().AsTime()
	if err := r.State.SaveEnrollment(key, resp.GetCertificateDer(), rec); err != nil {
		return err
	}
	cert, _, err := r.State.Certificate()
	if err != nil {
		return err
	}
	r.conn.SetCertificate(&cert)
	r.rec = rec
	r.Log.Info("certificate renewed", "not_after", rec.NotAfter)
	return nil
}

// pinCAs pins the collector's CA bundle (a CA rotation) when it differs from the pinned one,
// and uses it for the next handshakes.
func (r *Runner) pinCAs(ders [][]byte, pinned []*x509.Certificate) error {
	certs, err := state.CheckCABundle(ders, pinned)
	if err != nil {
		return err
	}
	if slices.EqualFunc(certs, pinned, func(a, b *x509.Certificate) bool { return a.Equal(b) }) {
		return nil
	}
	if err := r.State.SaveCABundle(certs); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	var names []string
	for _, c := range certs {
		pool.AddCert(c)
		names = append(names, pki.Fingerprint(c)[:16])
	}
	r.conn.SetRoots(pool)
	r.Log.Info("collector CA bundle pinned (CA rotation)", "cas", names)
	return nil
}

// RequestScan asks the run loop for a scan (as a push does).
func (r *Runner) RequestScan(why string) {
	r.defaults()
	select {
	case r.scan <- why:
	default:
	}
}

// busyError is the collector's back-pressure: RESOURCE_EXHAUSTED with when to come back.
type busyError struct {
	msg   string
	retry time.Duration
}

func (e *busyError) Error() string {
	if e.retry > 0 {
		return fmt.Sprintf("collector is busy (%s): retry in %s", e.msg, e.retry.Round(time.Millisecond))
	}
	return fmt.Sprintf("collector is busy (%s)", e.msg)
}

// RetryHint is how long the collector asked the agent to wait (its RetryInfo), zero when err
// carries no such hint. Hints are capped at 10 minutes: a hostile or broken collector cannot
// silence an agent for longer than that.
func RetryHint(err error) time.Duration {
	var b *busyError
	if errors.As(err, &b) {
		return b.retry
	}
	return 0
}

func retryInfo(s *status.Status) time.Duration {
	for _, d := range s.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return min(max(ri.GetRetryDelay().AsDuration(), 0), 10*time.Minute)
		}
	}
	return 0
}

// explain turns gRPC status errors into sentences an IT person can act on.
func explain(err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch s.Code() {
	case codes.ResourceExhausted:
		return &busyError{msg: s.Message(), retry: retryInfo(s)}
	case codes.Unauthenticated:
		return fmt.Errorf("collector refused this agent's certificate (%s): enroll again", s.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("collector refused this device (%s)", s.Message())
	case codes.Unavailable:
		return fmt.Errorf("collector unavailable (%s)", s.Message())
	case codes.DeadlineExceeded:
		return errors.New("collector did not answer in time")
	}
	return err
}
