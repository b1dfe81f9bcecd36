package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// BenchmarkDeviceListPage100k renders the device list, sorted by score, over a real SQLite
// store holding 100,000 devices, as a signed-in analyst's browser would ask for it: pages from
// the first to the last. Filling the store (one transaction per device, through the store's
// own methods, about two minutes) is not timed. Each sub-benchmark reports the p50 and p95 of
// the request latency; the target is p95 ≤ 150 ms.
func BenchmarkDeviceListPage100k(b *testing.B) {
	const devices = 100_000
	h := newHarness(b, false)
	ctx := context.Background()
	start := time.Now()
	bands := []string{"low", "low", "low", "medium", "medium", "high", "critical"}
	states := []string{store.TriageNew, store.TriageNew, store.TriageInvestigating, store.TriageConfirmedFarm, store.TriageBenign}
	for i := range devices {
		id := fmt.Sprintf("%032x", i+1)
		at := t0.Add(-time.Duration(i) * time.Second)
		err := h.store.Enroll(ctx, store.Enrollment{
			Device: store.Device{ID: id, Hostname: fmt.Sprintf("laptop-%06d", i), OS: []string{"linux", "windows", "darwin"}[i%3],
				OSVersion: "12", EnrolledAt: at, LastAddress: "198.51.100.7:40000", SerialNumber: fmt.Sprintf("SN%08d", i)},
			Certificate: store.Certificate{Serial: fmt.Sprint(i + 1), DeviceID: id, NotBefore: at, NotAfter: at.Add(time.Hour), IssuedAt: at},
		})
		if err != nil {
			b.Fatal(err)
		}
		// Scores spread over 0..100 in a scrambled order, so the sort does real work.
		score := float64((i*7919)%10000) / 100
		if err := h.store.SetScore(ctx, id, store.Score{Value: score, Band: bands[i%len(bands)], At: at}); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			if err := h.store.SetTriage(ctx, id, store.Triage{State: states[(i/10)%len(states)], By: "ana", At: at}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("filled %d devices in %s", devices, time.Since(start).Round(time.Millisecond))
	c := h.signedIn()
	lastPage := devices / pageSize
	// Shallow pages are what people page through; deep ones cost the store an OFFSET scan of
	// every row before them, so they are measured apart.
	for _, set := range []struct {
		name  string
		pages []int
	}{
		{"pages=1-100", []int{1, 2, 3, 5, 10, 20, 50, 100}},
		{"pages=1000-2000", []int{1000, 1500, lastPage - 1, lastPage}},
	} {
		b.Run(set.name, func(b *testing.B) {
			var took []time.Duration
			i := 0
			for b.Loop() {
				pg := set.pages[i%len(set.pages)]
				i++
				t := time.Now()
				r := h.get(c, fmt.Sprintf("/devices?sort=score&order=desc&page=%d", pg))
				took = append(took, time.Since(t))
				if r.StatusCode != http.StatusOK || !strings.Contains(r.Body, fmt.Sprintf("%d–%d of %d", (pg-1)*pageSize+1, pg*pageSize, devices)) {
					b.Fatalf("page %d: %d", pg, r.StatusCode)
				}
			}
			slices.Sort(took)
			pct := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
		})
	}
}
