package export

import (
	"context"
	"math/rand/v2"
	"time"
)

// retryPolicy is how sinks back off. Webhooks give up after attempts; syslog reconnects until
// the exporter closes, since its failures are the connection's, not the event's.
type retryPolicy struct {
	attempts      int           // webhook attempts per event, the first included
	base, max     time.Duration // the n-th retry waits about base·2ⁿ⁻¹, at most max
	maxRetryAfter time.Duration // a receiver's Retry-After is honoured up to this
}

var defaultRetry = retryPolicy{attempts: 8, base: 500 * time.Millisecond, max: 30 * time.Second, maxRetryAfter: 5 * time.Minute}

// delay is the wait before retry n (1-based): exponential with "equal jitter", half fixed and
// half random, so retries from many collectors spread out without ever retrying at once.
func (p retryPolicy) delay(n int) time.Duration {
	d := p.base
	for i := 1; i < n && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits d or until ctx is done, and says whether the full wait happened.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
