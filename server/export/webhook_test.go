package export

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testSecret = "whsec_test_0123456789"

type delivery struct {
	header http.Header
	body   []byte
	ev     Event
	at     time.Time
}

// receiver is a webhook endpoint that verifies signatures as a real receiver must and answers
// attempt n (1-based) with status(n).
func receiver(t testing.TB, status func(n int) int) (*httptest.Server, <-chan delivery, *atomic.Int32) {
	t.Helper()
	ch := make(chan delivery, 100)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempt := int(n.Add(1))
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
			return
		}
		if err := Verify(testSecret, r.Header.Get(HeaderSignature), body, time.Now(), DefaultTolerance); err != nil {
			t.Errorf("attempt %d: signature: %v", attempt, err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		code := status(attempt)
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(code)
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body is not an event: %v: %s", err, body)
		}
		ch <- delivery{header: r.Header.Clone(), body: body, ev: ev, at: time.Now()}
	}))
	t.Cleanup(srv.Close)
	return srv, ch, &n
}

func TestWebhookPostsSignedEvent(t *testing.T) {
	srv, ch, _ := receiver(t, func(int) int { return http.StatusNoContent })
	e := newExporter(t, Config{Webhooks: []Webhook{{URL: srv.URL + "/hooks/T0123/secret-token", Secret: testSecret}}})
	want := bandEvent("e1", "laptop-7", "medium", "critical", 91.2)
	e.Publish(want)
	d := recv(t, ch)
	closeExporter(t, e)

	for h, v := range map[string]string{"Content-Type": "application/json", HeaderEvent: KindBandChange, HeaderDelivery: "e1"} {
		if got := d.header.Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	if d.ev.ID != want.ID || d.ev.DeviceID != want.DeviceID || d.ev.Hostname != want.Hostname ||
		d.ev.From != "medium" || d.ev.To != "critical" || d.ev.Score != 91.2 || !d.ev.At.Equal(want.At) {
		t.Errorf("received %+v, want %+v", d.ev, want)
	}
	// The same body under another secret, or changed by one byte, must not verify.
	sig := d.header.Get(HeaderSignature)
	if err := Verify("other", sig, d.body, time.Now(), 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify with wrong secret = %v, want ErrBadSignature", err)
	}
	tampered := []byte(strings.Replace(string(d.body), "critical", "low", 1))
	if err := Verify(testSecret, sig, tampered, time.Now(), 0); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of tampered body = %v, want ErrBadSignature", err)
	}
	if st := onlyStats(t, e); st != (SinkStats{Sent: 1}) {
		t.Errorf("stats = %+v, want 1 sent", st)
	}
	name := "webhook:" + srv.URL
	if _, ok := e.Stats()[name]; !ok {
		t.Errorf("Stats keys %v, want %q (no path: it holds a token)", e.Stats(), name)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name       string
		status     func(n int) int
		attempts   int32
		want       SinkStats
		minSpacing time.Duration // between the last two attempts
	}{
		{"500 twice then 200 is delivered once", func(n int) int {
			if n <= 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		}, 3, SinkStats{Sent: 1}, 0},
		{"400 is not retried", func(int) int { return http.StatusBadRequest }, 1, SinkStats{Failed: 1}, 0},
		{"redirect is not followed or retried", func(int) int { return http.StatusFound }, 1, SinkStats{Failed: 1}, 0},
		{"503 forever gives up after 8 attempts", func(int) int { return http.StatusServiceUnavailable }, 8, SinkStats{Failed: 1}, 0},
		{"429 waits for Retry-After", func(n int) int {
			if n == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusOK
		}, 2, SinkStats{Sent: 1}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch, n := receiver(t, tt.status)
			e := newExporter(t, Config{Webhooks: []Webhook{{URL: srv.URL, Secret: testSecret}}})
			e.Publish(bandEvent("r1", "h", "low", "high", 60))
			closeExporter(t, e)

			if got := n.Load(); got != tt.attempts {
				t.Errorf("attempts = %d, want %d", got, tt.attempts)
			}
			if st := onlyStats(t, e); st != tt.want {
				t.Errorf("stats = %+v, want %+v", st, tt.want)
			}
			var ds []delivery
			for len(ch) > 0 {
				ds = append(ds, <-ch)
			}
			if len(ds) != int(tt.attempts) {
				t.Fatalf("received %d requests, want %d", len(ds), tt.attempts)
			}
			for _, d := range ds {
				if id := d.header.Get(HeaderDelivery); id != "r1" {
					t.Errorf("retry carries delivery id %q, want the event's r1", id)
				}
			}
			if tt.minSpacing > 0 {
				if gap := ds[len(ds)-1].at.Sub(ds[len(ds)-2].at); gap < tt.minSpacing {
					t.Errorf("retried after %s, want at least Retry-After %s", gap, tt.minSpacing)
				}
			}
		})
	}
}

func TestWebhookRetriesNetworkErrors(t *testing.T) {
	// A port with nothing listening: every attempt is a refused connection.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e := newExporter(t, Config{Webhooks: []Webhook{{URL: url + "/x?token=hunter2", Secret: testSecret}}})
	e.Publish(bandEvent("n1", "h", "low", "high", 60))
	closeExporter(t, e)
	if st := onlyStats(t, e); st != (SinkStats{Failed: 1}) {
		t.Errorf("stats = %+v, want 1 failed", st)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_767_225_600, 0)
	body := []byte(`{"kind":"band_change","id":"abc"}`)
	good := Sign(testSecret, body, now)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   error // nil: valid
	}{
		{"valid", good, body, now, nil},
		{"valid 4m59s later", good, body, now.Add(4*time.Minute + 59*time.Second), nil},
		{"replayed 6 minutes later", good, body, now.Add(6 * time.Minute), ErrStaleSignature},
		{"timestamp 6 minutes in the future", good, body, now.Add(-6 * time.Minute), ErrStaleSignature},
		{"body changed", good, []byte(`{"kind":"band_change","id":"abd"}`), now, ErrBadSignature},
		{"timestamp changed", strings.Replace(good, "t=1767225600", "t=1767225601", 1), body, now, ErrBadSignature},
		{"signed with another secret", Sign("other", body, now), body, now, ErrBadSignature},
		{"one of two v1 matches (secret rotation)", Sign("old", body, now) + ",v1=" + strings.SplitN(good, "v1=", 2)[1], body, now, nil},
		{"spaces after commas", strings.Replace(good, ",", ", ", 1), body, now, nil},
		{"empty header", "", body, now, ErrNoSignature},
		{"no v1", "t=1767225600", body, now, ErrNoSignature},
		{"v1 not hex", "t=1767225600,v1=zz", body, now, ErrNoSignature},
		{"t not a number", "t=soon," + strings.SplitN(good, ",", 2)[1], body, now, ErrNoSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(testSecret, tt.header, tt.body, tt.now, 5*time.Minute)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestWebhookRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &webhookSink{retry: defaultRetry, now: func() time.Time { return now }}
	tests := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"86400":                         5 * time.Minute, // capped
		"Sun, 01 Mar 2026 12:00:30 GMT": 30 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
		"later":                         0,
	}
	for h, want := range tests {
		if got := s.retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", h, got, want)
		}
	}
}

func TestBackoffGrowsWithJitterAndCap(t *testing.T) {
	p := retryPolicy{base: 100 * time.Millisecond, max: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 20: time.Second} {
		seen := map[time.Duration]bool{}
		for range 50 {
			d := p.delay(n)
			if d < want/2 || d > want {
				t.Fatalf("delay(%d) = %s, want within [%s, %s]", n, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("delay(%d) always %v: no jitter", n, seen)
		}
	}
}
