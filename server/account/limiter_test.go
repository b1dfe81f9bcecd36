package account

import (
	"fmt"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestLimiter(maxKeys int) (*Limiter, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return NewLimiter(LimiterConfig{MaxFailures: 10, Window: 15 * time.Minute, MaxKeys: maxKeys, Now: c.Now}), c
}

func TestLimiterLocksAfterTenFailuresUntilWindowEnds(t *testing.T) {
	l, clock := newTestLimiter(0)
	for i := range 10 {
		if ok, _ := l.Allow("192.0.2.1", "alice"); !ok {
			t.Fatalf("attempt %d refused, want allowed", i+1)
		}
		l.Failure("192.0.2.1", "alice")
		clock.Advance(time.Minute)
	}
	ok, retry := l.Allow("192.0.2.1", "alice")
	if ok {
		t.Fatal("11th attempt allowed, want locked")
	}
	// Window started at 12:00, now 12:10: five minutes left.
	if retry != 5*time.Minute {
		t.Errorf("retry = %v, want 5m", retry)
	}
	clock.Advance(5*time.Minute - time.Second)
	if ok, _ := l.Allow("192.0.2.1", "alice"); ok {
		t.Fatal("allowed one second before the window ends")
	}
	clock.Advance(time.Second)
	if ok, _ := l.Allow("192.0.2.1", "alice"); !ok {
		t.Fatal("refused after the window ended")
	}
	if n := l.Len(); n != 0 {
		t.Errorf("Len after expiry = %d, want 0", n)
	}
}

func TestLimiterKeysByAddressAndByUsername(t *testing.T) {
	tests := []struct {
		name    string
		failIP  func(i int) string
		failUsr func(i int) string
		tryIP   string
		tryUser string
		want    bool
	}{
		{"one address rotating usernames is locked for any username",
			func(int) string { return "192.0.2.1" }, func(i int) string { return fmt.Sprintf("user%d", i) },
			"192.0.2.1", "someone-else", false},
		{"other addresses are unaffected by that",
			func(int) string { return "192.0.2.1" }, func(i int) string { return fmt.Sprintf("user%d", i) },
			"192.0.2.2", "someone-else", true},
		{"one username from rotating addresses is locked from anywhere",
			func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }, func(int) string { return "alice" },
			"203.0.113.9", "alice", false},
		{"username key ignores case",
			func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }, func(int) string { return "Alice" },
			"203.0.113.9", "aLICE", false},
		{"other usernames are unaffected by that",
			func(i int) string { return fmt.Sprintf("198.51.100.%d", i) }, func(int) string { return "alice" },
			"203.0.113.9", "bob", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTestLimiter(0)
			for i := range 10 {
				l.Failure(tt.failIP(i), tt.failUsr(i))
			}
			if ok, _ := l.Allow(tt.tryIP, tt.tryUser); ok != tt.want {
				t.Errorf("Allow(%s, %s) = %v, want %v", tt.tryIP, tt.tryUser, ok, tt.want)
			}
		})
	}
}

func TestLimiterSuccessResetsUsernameNotAddress(t *testing.T) {
	l, _ := newTestLimiter(0)
	for range 9 {
		l.Failure("192.0.2.1", "alice")
	}
	l.Success("192.0.2.1", "alice")
	// The username's count restarted; the address still has 9 failures.
	l.Failure("198.51.100.7", "alice")
	if ok, _ := l.Allow("198.51.100.7", "alice"); !ok {
		t.Fatal("alice locked after success reset, want allowed")
	}
	l.Failure("192.0.2.1", "bob")
	if ok, _ := l.Allow("192.0.2.1", "carol"); ok {
		t.Fatal("address with 10 failures allowed, want locked")
	}
}

func TestLimiterMemoryIsBoundedEvictingOldest(t *testing.T) {
	l, clock := newTestLimiter(100)
	// The oldest key: an address locked first.
	for range 10 {
		l.Failure("192.0.2.1", "alice")
	}
	for i := range 1000 {
		clock.Advance(time.Millisecond)
		l.Failure(fmt.Sprintf("10.0.%d.%d", i/256, i%256), fmt.Sprintf("user%d", i))
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d, want 100 (the cap)", n)
	}
	if ok, _ := l.Allow("192.0.2.1", "x"); !ok {
		t.Error("oldest key still remembered after 2000 newer keys with cap 100")
	}
	// The newest keys are kept.
	if l.keys[limiterKeys("10.0.3.231", "user999")[0]] == nil {
		t.Error("newest address key was evicted")
	}
}

func TestLimiterBoundsKeyLength(t *testing.T) {
	l, _ := newTestLimiter(0)
	long := string(make([]byte, 1<<20))
	for range 10 {
		l.Failure("192.0.2.1", long)
	}
	for k := range l.keys {
		if len(k) > maxKeyBytes+8 {
			t.Fatalf("key of %d bytes kept", len(k))
		}
	}
	if ok, _ := l.Allow("192.0.2.9", long); ok {
		t.Error("long username not locked")
	}
}
