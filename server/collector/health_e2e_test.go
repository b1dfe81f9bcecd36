package collector_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/agent/runner"
	"github.com/farmwatch/farmwatch/agent/spool"
	"github.com/farmwatch/farmwatch/agent/state"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/store"
)

func findingsByKey(t *testing.T, st store.Store, id string) map[string]store.Finding {
	t.Helper()
	fs, err := st.Findings(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]store.Finding{}
	for _, f := range fs {
		m[f.Key] = f
	}
	return m
}

// A device over its call rate gets RESOURCE_EXHAUSTED with a RetryInfo hint; the agent's
// sender waits at least that long, and every spooled report still arrives once.
func TestBackPressureRetryHint(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) {
		o.Limits = collector.Limits{DeviceRate: 4, DeviceBurst: 3}
	})
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	for range 8 {
		if _, err := a.r.ScanOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var hinted time.Duration
	sent := 0
	for tries := 0; ; tries++ {
		n, err := a.r.Flush(ctx)
		sent += n
		if err == nil {
			break
		}
		if status.Code(err) == codes.OK && runner.RetryHint(err) == 0 {
			t.Fatalf("flush failed without a retry hint: %v", err)
		}
		hinted = max(hinted, runner.RetryHint(err))
		if !strings.Contains(err.Error(), "busy") || tries > 40 {
			t.Fatalf("flush: %v", err)
		}
		time.Sleep(runner.RetryHint(err))
	}
	if hinted < 100*time.Millisecond || hinted > 2*time.Second {
		t.Fatalf("retry hint %s, want about 1/rate with jitter", hinted)
	}
	d, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil || d.HighestSequence != 8 || d.Reports != 8 || sent != 8 {
		t.Fatalf("stored %d reports up to %d, sent %d (%v)", d.Reports, d.HighestSequence, sent, err)
	}
	if c.col.Counters()["calls_limited"] == 0 {
		t.Fatal("no call counted as limited")
	}
	// The raw status carries the RetryInfo detail.
	conn := agentConn(t, a)
	var st *status.Status
	for range 20 {
		_, err := conn.Heartbeat(ctx, &pb.HeartbeatRequest{AgentTime: timestamppb.Now()})
		if status.Code(err) == codes.ResourceExhausted {
			st = status.Convert(err)
			break
		}
	}
	if st == nil {
		t.Fatal("20 heartbeats at once were all admitted")
	}
	var ri *errdetails.RetryInfo
	for _, d := range st.Details() {
		ri, _ = d.(*errdetails.RetryInfo)
	}
	if ri == nil || ri.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("no RetryInfo in %v", st.Proto())
	}
	// Goodbye is never limited.
	if _, err := conn.Goodbye(ctx, &pb.GoodbyeRequest{Reason: "upgrade"}); err != nil {
		t.Fatalf("goodbye limited: %v", err)
	}
}

// Reports the spool cap evicted during an outage are reported by the heartbeat and explain the
// gap they leave; a gap nothing explains is its own finding.
func TestSpoolEvictionAndGaps(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	// Reopen the agent's spool with a cap of about two reports: an outage that overflows it.
	a.r.Close()
	a.sp.Close()
	sp, err := spool.Open(a.dir.File(state.SpoolFile), spool.Options{MaxBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	a.r.Spool = sp
	if err := a.r.Connect(); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := a.r.ScanOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := sp.Stats(); st.Evicted != 4 || st.Pending != 1 {
		t.Fatalf("spool: %+v", st)
	}
	if err := a.r.RunOnce(ctx); err != nil { // heartbeat, one more scan (evicting a fifth), flush
		t.Fatal(err)
	}
	// Until the next heartbeat the fifth eviction is unexplained; then it is.
	if gap := findingsByKey(t, c.st, a.rec.DeviceID)["agent.sequence_gap|gap"]; gap.Evidence["unexplained"] != "1" {
		t.Fatalf("gap before the heartbeat: %+v", gap)
	}
	if err := a.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got := findingsByKey(t, c.st, a.rec.DeviceID)
	ev, ok := got["agent.sequence_gap|spool_evicted"]
	if !ok || ev.Evidence["evicted_total"] != "5" || ev.Severity != pb.Severity_SEVERITY_LOW {
		t.Fatalf("eviction finding: %+v (all: %v)", ev, got)
	}
	if _, ok := got["agent.sequence_gap|gap"]; ok {
		t.Fatalf("a gap the evictions explain was flagged: %+v", got["agent.sequence_gap|gap"])
	}
	d, _ := c.st.Device(ctx, a.rec.DeviceID)
	if d.Agent.Evicted != 5 || d.HighestSequence != 6 {
		t.Fatalf("device: %+v", d.Agent)
	}
	// Now a report skipping three sequences the agent never said it evicted.
	conn := agentConn(t, a)
	if _, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: minimalReport(10)}); err != nil {
		t.Fatal(err)
	}
	gap, ok := findingsByKey(t, c.st, a.rec.DeviceID)["agent.sequence_gap|gap"]
	if !ok || gap.Evidence["unexplained"] != "3" || gap.Evidence["ranges"] != "1-5, 7-9" {
		t.Fatalf("gap finding: %+v", gap)
	}
}

// A report for a stored sequence with other content is a second agent on the identity: kept
// apart, flagged, acknowledged as a duplicate; an identical retry is just a retry.
func TestDuplicateIdentity(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// A copy of the state directory: the clone has the same key and the same spool sequence.
	clone := &testAgent{rec: a.rec}
	cdir := filepath.Join(t.TempDir(), "clone")
	if err := os.CopyFS(cdir, os.DirFS(a.dir.Path)); err != nil {
		t.Fatal(err)
	}
	clone.dir, _ = state.Open(cdir)
	clone.open(t)
	if _, err := a.r.ScanOnce(ctx); err != nil { // sequence 2 on the original
		t.Fatal(err)
	}
	if _, err := a.r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if f := findingsByKey(t, c.st, a.rec.DeviceID); len(filter(f, "agent.tamper")) != 0 {
		t.Fatalf("tamper before the clone spoke: %v", f)
	}
	if _, err := clone.r.ScanOnce(ctx); err != nil { // sequence 2 on the clone, other content
		t.Fatal(err)
	}
	if _, err := clone.r.Flush(ctx); err != nil {
		t.Fatalf("clone's report not acknowledged: %v", err)
	}
	f, ok := findingsByKey(t, c.st, a.rec.DeviceID)["agent.tamper|duplicate_identity"]
	if !ok || f.Severity != pb.Severity_SEVERITY_HIGH || f.Evidence["sequence"] != "2" {
		t.Fatalf("duplicate identity finding: %+v", f)
	}
	if c.col.Counters()["reports_conflicting"] != 1 {
		t.Fatalf("counters: %v", c.col.Counters())
	}
	// The stored report is still the original's.
	rep, err := c.st.Report(ctx, a.rec.DeviceID, 2)
	if err != nil || rep.GetSequence() != 2 {
		t.Fatal(rep, err)
	}
}

func filter(m map[string]store.Finding, signal string) []store.Finding {
	var out []store.Finding
	for _, f := range m {
		if f.Signal == signal {
			out = append(out, f)
		}
	}
	return out
}

// Heartbeats carry the executable's hash and the clock's rollbacks.
func TestBinaryChangeAndClockRollback(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	conn := agentConn(t, a)
	hb := func(r *pb.HeartbeatRequest) {
		t.Helper()
		r.AgentTime = timestamppb.Now()
		if _, err := conn.Heartbeat(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	h1, h2, h3 := strings.Repeat("a1", 32), strings.Repeat("b2", 32), strings.Repeat("c3", 32)
	hb(&pb.HeartbeatRequest{AgentVersion: "1.0.0", AgentSha256: h1, AgentPlatform: "linux/amd64"})
	hb(&pb.HeartbeatRequest{AgentVersion: "1.1.0", AgentSha256: h2, AgentPlatform: "linux/amd64"}) // an upgrade
	hb(&pb.HeartbeatRequest{AgentVersion: "1.1.0", AgentSha256: "not hex", AgentPlatform: "linux/amd64;rm -rf"})
	if got := filter(findingsByKey(t, c.st, a.rec.DeviceID), "agent.tamper"); len(got) != 0 {
		t.Fatalf("upgrade or garbage flagged: %+v", got)
	}
	d, _ := c.st.Device(ctx, a.rec.DeviceID)
	if d.Agent.SHA256 != "" || d.Agent.Platform != "" {
		t.Fatalf("garbage stored: %+v", d.Agent)
	}
	hb(&pb.HeartbeatRequest{AgentVersion: "1.1.0", AgentSha256: h2, AgentPlatform: "linux/amd64"})
	hb(&pb.HeartbeatRequest{AgentVersion: "1.1.0", AgentSha256: h3, AgentPlatform: "linux/amd64"}) // same version, other binary
	f, ok := findingsByKey(t, c.st, a.rec.DeviceID)["agent.tamper|binary_changed"]
	if !ok || f.Severity != pb.Severity_SEVERITY_HIGH || f.Evidence["sha256_before"] != h2 || f.Evidence["sha256_now"] != h3 {
		t.Fatalf("binary change: %+v", f)
	}
	audit, _ := c.st.AuditLog(ctx, 20)
	upgraded := false
	for _, e := range audit {
		upgraded = upgraded || e.Action == "agent.upgraded"
	}
	if !upgraded {
		t.Fatal("upgrade not audited")
	}
	now := time.Now()
	hb(&pb.HeartbeatRequest{ClockRollback: &pb.ClockRollback{From: timestamppb.New(now), To: timestamppb.New(now.Add(time.Hour)), How: "while running"}})
	if _, ok := findingsByKey(t, c.st, a.rec.DeviceID)["agent.tamper|clock_rollback"]; ok {
		t.Fatal("a forward step was taken for a rollback")
	}
	hb(&pb.HeartbeatRequest{ClockRollback: &pb.ClockRollback{From: timestamppb.New(now), To: timestamppb.New(now.Add(-9 * time.Hour)), Noticed: timestamppb.New(now), How: "across a restart"}})
	f, ok = findingsByKey(t, c.st, a.rec.DeviceID)["agent.tamper|clock_rollback"]
	if !ok || f.Evidence["step"] != "9h0m0s" || f.Evidence["how"] != "across a restart" {
		t.Fatalf("clock rollback: %+v", f)
	}
	// The real agent sends its own hash and platform.
	if err := a.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	d, _ = c.st.Device(ctx, a.rec.DeviceID)
	if len(d.Agent.SHA256) != 64 || !strings.Contains(d.Agent.Platform, "/") {
		t.Fatalf("agent health from the runner: %+v", d.Agent)
	}
}

// A device unheard for the policy's silent_after gets agent.silent (medium after a week); it
// goes when the device is heard again.
func TestSilence(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) { o.Now = clock; o.CertTTL = 60 * 24 * time.Hour })
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sweep := func() (int, int) {
		t.Helper()
		f, cl, err := c.col.SweepSilence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return f, cl
	}
	if f, cl := sweep(); f != 0 || cl != 0 {
		t.Fatalf("fresh device: flagged %d cleared %d", f, cl)
	}
	now.Add(int64(73 * time.Hour))
	if f, _ := sweep(); f != 1 {
		t.Fatalf("after 73h flagged %d", f)
	}
	if f, _ := sweep(); f != 0 {
		t.Fatalf("flagged again without change: %d", f)
	}
	s := findingsByKey(t, c.st, a.rec.DeviceID)["agent.silent|silent"]
	if s.Severity != pb.Severity_SEVERITY_LOW {
		t.Fatalf("silent finding: %+v", s)
	}
	d, _ := c.st.Device(ctx, a.rec.DeviceID)
	if d.Score == 0 {
		t.Fatal("silence did not rescore")
	}
	now.Add(int64(5 * 24 * time.Hour))
	if f, _ := sweep(); f != 1 || findingsByKey(t, c.st, a.rec.DeviceID)["agent.silent|silent"].Severity != pb.Severity_SEVERITY_MEDIUM {
		t.Fatal("a week of silence is not medium")
	}
	now.Add(int64(time.Minute))
	if err := a.r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, cl := sweep(); cl != 1 {
		t.Fatalf("heard again: cleared %d", cl)
	}
	if _, ok := findingsByKey(t, c.st, a.rec.DeviceID)["agent.silent|silent"]; ok {
		t.Fatal("silent finding kept after the device was heard")
	}
}
