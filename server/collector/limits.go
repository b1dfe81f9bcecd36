package collector

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Limits bound what agents may ask of the collector, so that a fleet coming back from an
// outage, or one hostile agent, cannot knock it over. A call past a limit is refused at once
// with RESOURCE_EXHAUSTED and a RetryInfo detail saying when to come back (with jitter, so the
// fleet spreads out); nothing is queued in memory. Goodbye is never limited.
type Limits struct {
	// InFlight caps the agent calls served at once (default 512).
	InFlight int
	// DeviceRate and DeviceBurst bound one device's calls per second (default 20/s, burst
	// 100): a spool of thousands of reports drains in minutes; a flooding agent is held back.
	DeviceRate  float64
	DeviceBurst int
	// GlobalRate bounds the reports per second accepted from all agents (0: no bound beyond
	// InFlight), GlobalBurst its burst (default one second's worth).
	GlobalRate  float64
	GlobalBurst int
	// PushStreams caps the push streams held open (default 1,000; negative: none). Agents
	// past it get their pushes with heartbeats.
	PushStreams int
	// IdleClose closes an agent connection with no call in flight for this long (default
	// 2 s; negative: never), so that memory follows the agents talking now, not the fleet.
	// An open push stream is a call in flight.
	IdleClose time.Duration
	// MaxConnections caps the agent connections open at once (default 8,000: about 600 MiB
	// at most); past it new connections wait to be accepted.
	MaxConnections int
}

func (l Limits) withDefaults() Limits {
	if l.InFlight <= 0 {
		l.InFlight = 512
	}
	if l.DeviceRate <= 0 {
		l.DeviceRate = 20
	}
	if l.DeviceBurst <= 0 {
		l.DeviceBurst = 100
	}
	switch {
	case l.PushStreams == 0:
		l.PushStreams = 1000
	case l.PushStreams < 0:
		l.PushStreams = 0
	}
	switch {
	case l.IdleClose == 0:
		l.IdleClose = 2 * time.Second
	case l.IdleClose < 0:
		l.IdleClose = 0
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = 8000
	}
	if l.GlobalRate > 0 && l.GlobalBurst <= 0 {
		l.GlobalBurst = max(1, int(l.GlobalRate))
	}
	return l
}

// bucket is a token bucket; callers hold the limiter's lock.
type bucket struct {
	tokens float64
	last   time.Time
}

// take takes one token if there is one, else says how long until there will be.
func (b *bucket) take(now time.Time, rate float64, burst int) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(float64(burst), b.tokens+el*rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

type limiter struct {
	l        Limits
	inFlight atomic.Int64
	refused  atomic.Uint64

	mu      sync.Mutex
	devices map[string]*bucket
	global  bucket
	swept   time.Time
}

func newLimiter(l Limits) *limiter {
	return &limiter{l: l.withDefaults(), devices: map[string]*bucket{}}
}

// exhausted is the refusal: RESOURCE_EXHAUSTED with when to retry, jittered up to half again.
func exhausted(why string, wait time.Duration) error {
	wait = max(wait, 100*time.Millisecond)
	wait += rand.N(wait/2 + 1)
	st := status.New(codes.ResourceExhausted, why+"; retry later")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait.Round(time.Millisecond))}); err == nil {
		st = d
	}
	return st.Err()
}

// admit checks the device and global rates for one call of method.
func (lm *limiter) admit(device, method string, now time.Time) error {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if now.Sub(lm.swept) > 10*time.Minute {
		// Forget devices idle long enough to have refilled: the map stays the size of the
		// fleet active in the last minutes.
		full := time.Duration(float64(lm.l.DeviceBurst)/lm.l.DeviceRate*float64(time.Second)) + time.Minute
		for id, b := range lm.devices {
			if now.Sub(b.last) > full {
				delete(lm.devices, id)
			}
		}
		lm.swept = now
	}
	b := lm.devices[device]
	if b == nil {
		b = &bucket{}
		lm.devices[device] = b
	}
	if ok, wait := b.take(now, lm.l.DeviceRate, lm.l.DeviceBurst); !ok {
		return exhausted("this device is over its call rate", wait)
	}
	if lm.l.GlobalRate > 0 && strings.HasSuffix(method, "/UploadReport") {
		if ok, wait := lm.global.take(now, lm.l.GlobalRate, lm.l.GlobalBurst); !ok {
			b.tokens = min(float64(lm.l.DeviceBurst), b.tokens+1) // not this device's fault
			return exhausted("the collector is at its report rate", wait)
		}
	}
	return nil
}

// limitUnary applies the limits to an authenticated call; it runs after authentication, so
// only enrolled devices reach the per-device buckets and enrollment only meets InFlight.
func (c *Collector) limitUnary(ctx context.Context, method string, call func() (any, error)) (any, error) {
	if method == pb.AgentService_Goodbye_FullMethodName {
		return call()
	}
	if n := c.limits.inFlight.Add(1); n > int64(c.limits.l.InFlight) {
		c.limits.inFlight.Add(-1)
		c.limits.refused.Add(1)
		// The more over the cap, the longer the wait: from 1 s, at most 30 s.
		over := time.Duration(n-int64(c.limits.l.InFlight)) * time.Second / time.Duration(max(1, c.limits.l.InFlight/16))
		return nil, exhausted("the collector is busy", min(time.Second+over, 30*time.Second))
	}
	defer c.limits.inFlight.Add(-1)
	if id, ok := DeviceFromContext(ctx); ok {
		if err := c.limits.admit(id, method, time.Now()); err != nil {
			c.limits.refused.Add(1)
			return nil, err
		}
	}
	return call()
}

func (c *Collector) limitStream(ctx context.Context, method string) error {
	id, ok := DeviceFromContext(ctx)
	if !ok {
		return nil
	}
	if err := c.limits.admit(id, method, time.Now()); err != nil {
		c.limits.refused.Add(1)
		return err
	}
	return nil
}
