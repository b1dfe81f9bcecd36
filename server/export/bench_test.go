package export

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPublishJSONL measures end-to-end throughput to a JSON-lines file: b.N events
// published, then Close waits until all are written and synced.
func BenchmarkPublishJSONL(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	e, err := New(Config{JSONLPath: path, QueueSize: b.N + 1, JSONLMaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	ev := bandEvent("", "laptop-0042.corp.example.com", "medium", "high", 64.5)
	ev.ID = ""
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		e.Publish(ev)
	}
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if st := e.Stats()["jsonl:"+path]; st.Sent != uint64(b.N) {
		b.Fatalf("stats %+v, want %d sent", st, b.N)
	}
}

// BenchmarkPublish measures the caller's cost alone: queueing into a full queue that drops.
func BenchmarkPublish(b *testing.B) {
	url, _, release := blockingHook(b)
	defer release()
	e, err := New(Config{Webhooks: []Webhook{{URL: url, Secret: testSecret}}, QueueSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		e.Close(ctx)
	}()
	ev := bandEvent("", "h", "medium", "high", 64.5)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		e.Publish(ev) // fills in a new ID each time
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
