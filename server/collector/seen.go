package collector

import (
	"context"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// SeenEvery is how often the devices that sent heartbeats get their last seen time and
// address written: all of them in one derived-write transaction, instead of one write (and
// most of a transaction) per heartbeat. A device's last seen lags its heartbeats by at most
// this long; reports write theirs as they are stored.
const SeenEvery = 2 * time.Second

// seenBuffer holds the newest heartbeat of each device heard from since the last flush.
type seenBuffer struct {
	mu    sync.Mutex
	m     map[string]store.Seen
	flush sync.Mutex // one flush at a time, so that an older batch never lands after a newer
}

func (b *seenBuffer) note(s store.Seen) {
	b.mu.Lock()
	if b.m == nil {
		b.m = map[string]store.Seen{}
	}
	if p, ok := b.m[s.DeviceID]; !ok || !s.At.Before(p.At) {
		b.m[s.DeviceID] = s
	}
	b.mu.Unlock()
}

func (b *seenBuffer) take() []store.Seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.m) == 0 {
		return nil
	}
	out := make([]store.Seen, 0, len(b.m))
	for _, s := range b.m {
		out = append(out, s)
	}
	clear(b.m)
	return out
}

// FlushSeen writes the last seen time and address of every device heard from by heartbeat
// since the last flush. What could not be written is kept for the next flush.
func (c *Collector) FlushSeen(ctx context.Context) error {
	c.seen.flush.Lock()
	defer c.seen.flush.Unlock()
	seen := c.seen.take()
	if err := c.store.TouchMany(ctx, seen); err != nil {
		for _, s := range seen {
			c.seen.note(s) // unless a newer heartbeat came meanwhile
		}
		return err
	}
	return nil
}

// runSeen flushes the heartbeats' last seen times every SeenEvery, for the process's life.
func (c *Collector) runSeen() {
	t := time.NewTicker(SeenEvery)
	defer t.Stop()
	for range t.C {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.FlushSeen(ctx); err != nil {
			c.log.Warn("last seen of heartbeats not written; kept for the next try", "err", err)
		}
		cancel()
	}
}
