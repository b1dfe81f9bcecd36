//go:build linux

package perf

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors"
	"github.com/farmwatch/farmwatch/agent/scan"
)

// targetProcesses is the machine size the issue sets the scan budget for.
const targetProcesses = 300

// percentiles reports p50 and p99 of ds as metrics, in milliseconds.
func percentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func newScanner(tb testing.TB) *scan.Scanner {
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &scan.Scanner{Detectors: dets, AgentVersion: "perf"}
}

// BenchmarkScan300 is BenchmarkScan in agent/scan (one full live scan: every fact source and
// every detector) with at least 300 processes on the machine.
func BenchmarkScan300(b *testing.B) {
	n := ensureProcesses(b, targetProcesses)
	s := newScanner(b)
	// Warm up: catalog, caches, and the listener probes. os_remote asks a listener that said
	// nothing again at each of the next scans, three in all (probeRetries), each waiting up to
	// 2 x 350 ms on the network: the first three scans take ~1.4 s of wall time (not CPU)
	// until the silent listeners of this benchmark's children are settled.
	for range 3 {
		if _, err := s.Scan(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	var ds []time.Duration
	procs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		rep, err := s.Scan(context.Background())
		ds = append(ds, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		procs = int(rep.GetFacts().GetProcessCount())
	}
	percentiles(b, ds)
	b.ReportMetric(float64(max(n, procs)), "procs")
}

// BenchmarkRawFloor reads the files BenchmarkScan300 reads (see rawFloor) with no parsing, on
// the same machine: the floor the scan is held to (scan p50 ≤ 2 × floor p50).
func BenchmarkRawFloor(b *testing.B) {
	n := ensureProcesses(b, targetProcesses)
	rawFloor()
	var ds []time.Duration
	var f floor
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		f = rawFloor()
		ds = append(ds, time.Since(t0))
	}
	percentiles(b, ds)
	b.ReportMetric(float64(n), "procs")
	b.ReportMetric(float64(f.files), "files")
	b.ReportMetric(float64(f.bytes)/1024, "KiB")
}
