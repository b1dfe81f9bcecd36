package collector

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Past InFlight concurrent calls, the next is refused at once (not queued) with a retry hint.
func TestInFlightCap(t *testing.T) {
	c := &Collector{limits: newLimiter(Limits{InFlight: 2})}
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	for range 2 {
		go c.limitUnary(context.Background(), pb.AgentService_Heartbeat_FullMethodName, func() (any, error) {
			started <- struct{}{}
			<-release
			return nil, nil
		})
	}
	<-started
	<-started
	t0 := time.Now()
	_, err := c.limitUnary(context.Background(), pb.AgentService_Heartbeat_FullMethodName, func() (any, error) { return nil, nil })
	if status.Code(err) != codes.ResourceExhausted || time.Since(t0) > time.Second {
		t.Fatalf("third call: %v after %s", err, time.Since(t0))
	}
	// Goodbye passes even now.
	if _, err := c.limitUnary(context.Background(), pb.AgentService_Goodbye_FullMethodName, func() (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	close(release)
	for c.limits.inFlight.Load() != 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := c.limitUnary(context.Background(), pb.AgentService_Heartbeat_FullMethodName, func() (any, error) { return nil, nil }); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// The per-device bucket refills at its rate; idle devices are forgotten.
func TestDeviceBucket(t *testing.T) {
	lm := newLimiter(Limits{DeviceRate: 10, DeviceBurst: 2, GlobalRate: 1000})
	t0 := time.Now()
	for i := range 2 {
		if err := lm.admit("d1", "/x/UploadReport", t0); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := lm.admit("d1", "/x/UploadReport", t0); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("over burst: %v", err)
	}
	if err := lm.admit("d2", "/x/UploadReport", t0); err != nil {
		t.Fatalf("another device: %v", err)
	}
	if err := lm.admit("d1", "/x/UploadReport", t0.Add(110*time.Millisecond)); err != nil {
		t.Fatalf("after refill: %v", err)
	}
	lm.admit("d3", "/x/Heartbeat", t0.Add(11*time.Minute))
	if len(lm.devices) != 1 {
		t.Fatalf("idle devices kept: %d", len(lm.devices))
	}
}

// The global report rate holds back every device's uploads, not their heartbeats.
func TestGlobalReportRate(t *testing.T) {
	lm := newLimiter(Limits{GlobalRate: 1, GlobalBurst: 1})
	t0 := time.Now()
	if err := lm.admit("d1", pb.AgentService_UploadReport_FullMethodName, t0); err != nil {
		t.Fatal(err)
	}
	err := lm.admit("d2", pb.AgentService_UploadReport_FullMethodName, t0)
	if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "the collector is at its report rate; retry later" {
		t.Fatalf("second upload: %v", err)
	}
	if err := lm.admit("d2", pb.AgentService_Heartbeat_FullMethodName, t0); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
}
