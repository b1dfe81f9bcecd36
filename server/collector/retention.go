package collector

import (
	"context"
	"time"
)

// Report history. Every report's body is kept (the console's history, exports, replay and
// conflict checks) until it is older than the retention period; then PruneReports deletes
// it, never a device's newest. What was derived from a report (findings, facts, scores,
// egress, clusters) does not expire with it.

const (
	// PruneBatch bounds the reports one prune transaction deletes: about 20 ms holding
	// SQLite's writer (store BenchmarkPruneReports), so uploads wait no longer than a busy
	// commit.
	PruneBatch = 1000
	// PruneEvery is how often the retention pass runs.
	PruneEvery = time.Hour
	// prunePause is the break between two batches of one pass, for uploads to get through.
	prunePause = 50 * time.Millisecond
)

// PruneOnce deletes every report received more than retention ago (but each device's newest),
// PruneBatch at a time, and returns how many it deleted.
func (c *Collector) PruneOnce(ctx context.Context, retention time.Duration) (int, error) {
	cutoff := c.now().Add(-retention)
	total := 0
	for {
		n, err := c.store.PruneReports(ctx, cutoff, PruneBatch)
		total += n
		c.stats.reportsPruned.Add(uint64(n))
		if err != nil || n < PruneBatch {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(prunePause):
		}
	}
}

// WatchRetention runs PruneOnce a minute after start and then every interval until ctx ends;
// retention 0 keeps every report.
func (c *Collector) WatchRetention(ctx context.Context, retention, interval time.Duration) {
	if retention <= 0 {
		return
	}
	next := time.Minute
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
		next = interval
		start := time.Now()
		n, err := c.PruneOnce(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			c.log.Warn("report retention", "pruned", n, "err", err)
		case n > 0:
			c.log.Info("report retention", "pruned", n, "older_than", retention, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}
