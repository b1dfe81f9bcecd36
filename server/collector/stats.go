package collector

import (
	"sync/atomic"

	"github.com/farmwatch/farmwatch/server/store"
)

// Event is what the collector tells other systems: a device changed band, or a new cluster of
// devices sharing a home appeared.
type Event struct {
	Kind     string // "band_change" or "new_cluster"
	DeviceID string
	Hostname string
	From, To string // bands
	Score    float64
	Cluster  *store.Cluster
}

type counters struct {
	reportsStored, reportsDuplicate, reportsRefused, reportsConflict atomic.Uint64
	enrolled, enrollRefused, heartbeats                              atomic.Uint64
	bandChanges, newClusters                                         atomic.Uint64
	reportsPruned                                                    atomic.Uint64
}

// Counters returns the collector's running totals since start, for metrics.
func (c *Collector) Counters() map[string]uint64 {
	return map[string]uint64{
		"reports_stored":      c.stats.reportsStored.Load(),
		"reports_duplicate":   c.stats.reportsDuplicate.Load(),
		"reports_refused":     c.stats.reportsRefused.Load(),
		"enrollments":         c.stats.enrolled.Load(),
		"enrollments_refused": c.stats.enrollRefused.Load(),
		"heartbeats":          c.stats.heartbeats.Load(),
		"band_changes":        c.stats.bandChanges.Load(),
		"new_clusters":        c.stats.newClusters.Load(),
		"reports_conflicting": c.stats.reportsConflict.Load(),
		"calls_limited":       c.limits.refused.Load(),
		"reports_pruned":      c.stats.reportsPruned.Load(),
	}
}

func (c *Collector) emit(e Event) {
	switch e.Kind {
	case "band_change":
		c.stats.bandChanges.Add(1)
	case "new_cluster":
		c.stats.newClusters.Add(1)
	}
	if c.onEvent != nil {
		c.onEvent(e)
	}
}
