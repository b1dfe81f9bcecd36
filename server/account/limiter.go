package account

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// LimiterConfig tunes a Limiter. Zero fields take the defaults.
type LimiterConfig struct {
	// MaxFailures is how many failed logins a key may have in one window before it is locked
	// until the window ends. Default 10.
	MaxFailures int
	// Window is how long failures are counted, from the first failure. Default 15 minutes.
	Window time.Duration
	// MaxKeys caps the keys remembered; when full, the oldest window is forgotten first.
	// Default 10000 (about 2 MB).
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter throttles console logins. Failures are counted per client address and per username
// in fixed windows; a key with MaxFailures failures is locked until its window ends. Counting
// per username stops a password guesser that rotates addresses; counting per address stops one
// that rotates usernames. Memory is bounded by MaxKeys. It is safe for concurrent use.
type Limiter struct {
	cfg LimiterConfig

	mu    sync.Mutex
	keys  map[string]*list.Element // of *window
	order *list.List               // windows, oldest start first
}

type window struct {
	key      string
	start    time.Time
	failures int
}

// maxKeyBytes bounds what one key can cost: usernames come straight from the login form.
const maxKeyBytes = 256

// NewLimiter returns a limiter with cfg's settings.
func NewLimiter(cfg LimiterConfig) *Limiter {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 10
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, keys: make(map[string]*list.Element), order: list.New()}
}

func limiterKeys(ip, username string) [2]string {
	u := strings.ToLower(username)
	if len(u) > maxKeyBytes {
		u = u[:maxKeyBytes]
	}
	if len(ip) > maxKeyBytes {
		ip = ip[:maxKeyBytes]
	}
	return [2]string{"ip\x00" + ip, "user\x00" + u}
}

// Allow reports whether a login from ip for username may be attempted now. When not, retry is
// how long until the later of the two locks ends.
func (l *Limiter) Allow(ip, username string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	ok = true
	for _, k := range limiterKeys(ip, username) {
		e, found := l.keys[k]
		if !found {
			continue
		}
		w := e.Value.(*window)
		end := w.start.Add(l.cfg.Window)
		if !now.Before(end) {
			l.remove(e)
			continue
		}
		if w.failures >= l.cfg.MaxFailures {
			ok = false
			retry = max(retry, end.Sub(now))
		}
	}
	return ok, retry
}

// Failure records a failed login from ip for username.
func (l *Limiter) Failure(ip, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	for _, k := range limiterKeys(ip, username) {
		if e, found := l.keys[k]; found {
			w := e.Value.(*window)
			if now.Before(w.start.Add(l.cfg.Window)) {
				w.failures++
				continue
			}
			l.remove(e)
		}
		for len(l.keys) >= l.cfg.MaxKeys {
			l.remove(l.order.Front())
		}
		l.keys[k] = l.order.PushBack(&window{key: k, start: now, failures: 1})
	}
}

// Success records a successful login: the username's failures are forgotten, the address's
// are kept (an address that guessed one account may be guessing others).
func (l *Limiter) Success(ip, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, found := l.keys[limiterKeys(ip, username)[1]]; found {
		l.remove(e)
	}
}

// Len returns the number of keys remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *Limiter) remove(e *list.Element) {
	delete(l.keys, e.Value.(*window).key)
	l.order.Remove(e)
}
