package collector_test

import (
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/collector"
)

// TestHeartbeatsLastSeenWrittenTogether: a heartbeat answers with the device's highest
// sequence at once; its last seen time and address reach the store within SeenEvery, written
// by the collector's own flush (not by the call), and a sweep of silent devices sees them.
func TestHeartbeatsLastSeenWrittenTogether(t *testing.T) {
	dir := t.TempDir()
	c := startCollector(t, filepath.Join(dir, "c"), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("seen"))
	ctx := ctxT(t)
	conn := agentConn(t, a)
	if resp, err := conn.UploadReport(ctx, &pb.UploadReportRequest{Report: minimalReport(1)}); err != nil || !resp.GetStored() {
		t.Fatalf("upload: %v, %v", resp, err)
	}
	c.col.Settled()
	before, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the heartbeat's time is after the report's
	resp, err := conn.Heartbeat(ctx, &pb.HeartbeatRequest{AgentTime: timestamppb.Now()})
	if err != nil || resp.GetHighestSequence() != 1 {
		t.Fatalf("heartbeat: %v, %v", resp, err)
	}
	deadline := time.Now().Add(collector.SeenEvery + 5*time.Second)
	for {
		d, err := c.st.Device(ctx, a.rec.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		if d.LastSeen.After(before.LastSeen) && d.LastAddress == "127.0.0.1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last seen %v from %q, still the report's %v", d.LastSeen, d.LastAddress, before.LastSeen)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A sweep writes what it has not yet written first.
	time.Sleep(50 * time.Millisecond)
	resp, err = conn.Heartbeat(ctx, &pb.HeartbeatRequest{AgentTime: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.col.SweepSilence(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if heard := resp.GetServerTime().AsTime().Truncate(time.Millisecond); d.LastSeen.Before(heard) {
		t.Errorf("after the sweep, last seen %v: the heartbeat at %v was not written first", d.LastSeen, heard)
	}
}
