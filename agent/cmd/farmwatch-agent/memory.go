package main

import (
	"os"
	"runtime/debug"
)

// memGCPercent is the GOGC of `farmwatch-agent run`: a collection when the heap has grown by a
// quarter of the live heap (plus stacks and globals) since the last one, instead of doubling.
//
// The agent's live heap is ~3-4 MiB; a scan allocates ~8 MiB that is garbage right after.
// With GOGC=100 the heap grew to ~8 MiB and the runtime kept those pages resident; with 25 the
// resident anonymous memory is ~1.3 MiB lower, for a few more collections of a small heap per
// scan (measured: no change in idle CPU; docs/performance.md). A soft memory limit
// (debug.SetMemoryLimit) at 8-12 MiB saved another ~1.3 MiB but made the runtime collect
// hundreds of times per scan and continuously with the sniffer on (up to 7 % of a core), so
// there is none.
const memGCPercent = 25

// tuneMemory applies memGCPercent unless GOGC is set in the environment.
func tuneMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(memGCPercent)
	}
}
