package collector_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/store"
)

// TestRetentionPrunesOldReportsOnly uploads four reports a day apart over mTLS to a real
// collector whose clock the test moves, then runs the retention pass: the reports older than
// the retention go, the recent ones and the device's current state stay, nothing counts as
// missing, and the metric counts what went.
func TestRetentionPrunesOldReportsOnly(t *testing.T) {
	ctx := context.Background()
	base := time.Now()
	var clock atomic.Int64
	clock.Store(base.UnixNano())
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", func(o *collector.Options) {
		o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	a := enrollAgent(t, c, c.secret("retention"))
	conn := agentConn(t, a)
	for seq := uint64(1); seq <= 4; seq++ {
		clock.Store(base.Add(time.Duration(seq-1) * 24 * time.Hour).UnixNano())
		rep := minimalReport(seq)
		rep.Findings = []*pb.Finding{{Signal: "remote_tool.running", Title: "AnyDesk is running", Severity: pb.Severity_SEVERITY_HIGH}}
		if resp, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: rep}); err != nil || !resp.GetStored() {
			t.Fatalf("upload %d: %v %v", seq, resp, err)
		}
	}
	// Now: a day and an hour after the last; 60 h retention keeps reports 3 and 4.
	clock.Store(base.Add(4*24*time.Hour + time.Hour).UnixNano())
	n, err := c.col.PruneOnce(ctx, 60*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	for seq, kept := range map[uint64]bool{1: false, 2: false, 3: true, 4: true} {
		_, err := c.st.Report(ctx, a.rec.DeviceID, seq)
		if kept != (err == nil) || err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("report %d after pruning: %v (want kept %v)", seq, err, kept)
		}
	}
	if gaps, err := c.st.SequenceGaps(ctx, a.rec.DeviceID); err != nil || len(gaps) != 0 {
		t.Fatalf("pruned history counted as missing: %v %v", gaps, err)
	}
	if d, err := c.st.Device(ctx, a.rec.DeviceID); err != nil || d.HighestSequence != 4 || d.FindingsCount != 1 {
		t.Fatalf("device after pruning: %+v %v", d, err)
	}
	if got := c.col.Counters()["reports_pruned"]; got != 2 {
		t.Fatalf("reports_pruned = %d", got)
	}
	// A second pass finds nothing more; the device's newest report never goes.
	if n, err := c.col.PruneOnce(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("second pass with 1 h retention pruned %d, %v; want 1 (report 3)", n, err)
	}
	if _, err := c.st.Report(ctx, a.rec.DeviceID, 4); err != nil {
		t.Fatalf("newest report pruned: %v", err)
	}
}
