package export

import (
	"context"
	"testing"
	"time"
)

// fastRetry keeps retry tests quick while still exercising backoff.
var fastRetry = retryPolicy{attempts: 8, base: 5 * time.Millisecond, max: 20 * time.Millisecond, maxRetryAfter: 5 * time.Second}

func newExporter(t *testing.T, cfg Config) *Exporter {
	t.Helper()
	if cfg.retry == (retryPolicy{}) {
		cfg.retry = fastRetry
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		e.Close(ctx)
	})
	return e
}

func closeExporter(t *testing.T, e *Exporter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// onlyStats returns the stats of the exporter's single sink.
func onlyStats(t *testing.T, e *Exporter) SinkStats {
	t.Helper()
	st := e.Stats()
	if len(st) != 1 {
		t.Fatalf("Stats has %d sinks, want 1: %v", len(st), st)
	}
	for _, s := range st {
		return s
	}
	panic("unreachable")
}

func bandEvent(id, hostname, from, to string, score float64) Event {
	return Event{Kind: KindBandChange, ID: id, At: time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC),
		DeviceID: "dev-" + id, Hostname: hostname, From: from, To: to, Score: score}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for delivery")
		panic("unreachable")
	}
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
