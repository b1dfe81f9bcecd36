package main

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The Go runtime's memory settings of `farmwatch-agent run`, for a small steady-state footprint
// (target: 25 MiB resident, of which ~16 MiB are pages of the executable; docs/performance.md).
// The agent's live heap is ~3 MiB between scans, and a scan allocates ~8 MiB that is garbage
// right after: with the defaults (GOGC=100, no limit) the heap grew to ~8 MiB and the runtime
// kept the freed pages for minutes.
const (
	// memGCPercent is GOGC: the heap may grow by half the live heap before a collection.
	memGCPercent = 50
	// memSoftLimit is the soft memory limit (GOMEMLIMIT) while the live heap is small; it
	// counts everything the Go runtime maps (heap, stacks, runtime metadata: ~2.5 MiB).
	memSoftLimit = 8 << 20
	// memCheckEvery is how often the limit is adapted to the live heap.
	memCheckEvery = 30 * time.Second
)

// memLimitFor is the soft memory limit for a live heap of live bytes: memSoftLimit, or 1.5
// times the live heap plus 4 MiB when that is more. The limit must stay well above the live
// heap: a heap near the limit makes the runtime collect continuously (the runtime caps that at
// half a core, far over the watchdog's CPU limit).
func memLimitFor(live uint64) int64 {
	return max(memSoftLimit, int64(live+live/2+4<<20))
}

// tuneMemory applies memGCPercent and the soft limit, unless GOGC or GOMEMLIMIT are set in the
// environment, and until ctx ends adapts the limit to the live heap (a heap that outgrows
// the limit, say during a scan of a machine with thousands of processes, raises it within
// memCheckEvery; one that shrinks lowers it again).
func tuneMemory(ctx context.Context) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(memGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(memSoftLimit)
	debug.SetMemoryLimit(limit)
	go func() {
		t := time.NewTicker(memCheckEvery)
		defer t.Stop()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(s)
			if l := memLimitFor(s[0].Value.Uint64()); l != limit {
				limit = l
				debug.SetMemoryLimit(limit)
			}
		}
	}()
}
