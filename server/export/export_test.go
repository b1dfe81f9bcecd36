package export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error
	}{
		{"ftp webhook", Config{Webhooks: []Webhook{{URL: "ftp://example.com/x", Secret: "s"}}}, []string{"webhooks[0]", `scheme "ftp"`}},
		{"webhook without host", Config{Webhooks: []Webhook{{URL: "https:///path", Secret: "s"}}}, []string{"no host"}},
		{"webhook without secret", Config{Webhooks: []Webhook{{URL: "https://hooks.example.com/T1/tok3n"}}}, []string{"secret is required", "https://hooks.example.com"}},
		{"negative timeout", Config{Webhooks: []Webhook{{URL: "https://x.example", Secret: "s", Timeout: -1}}}, []string{"timeout"}},
		{"udp syslog", Config{Syslog: []Syslog{{Network: "udp", Address: "127.0.0.1:514"}}}, []string{"syslog[0]", `network "udp"`}},
		{"syslog without port", Config{Syslog: []Syslog{{Network: "tcp", Address: "logs.example.com"}}}, []string{"want host:port"}},
		{"syslog port 0", Config{Syslog: []Syslog{{Network: "tcp", Address: "logs.example.com:0"}}}, []string{"port must be 1-65535"}},
		{"syslog without host", Config{Syslog: []Syslog{{Network: "tcp", Address: ":514"}}}, []string{"no host"}},
		{"app name with space", Config{Syslog: []Syslog{{Network: "tcp", Address: "h:514", AppName: "farm watch"}}}, []string{"app name"}},
		{"jsonl in missing directory", Config{JSONLPath: filepath.Join(dir, "no", "such", "events.jsonl")}, []string{"jsonl: open"}},
		{"jsonl path is a directory", Config{JSONLPath: dir}, []string{"jsonl"}},
		{"max bytes without path", Config{JSONLMaxBytes: 10}, []string{"without JSONLPath"}},
		{"negative queue", Config{QueueSize: -1}, []string{"queue size"}},
		{"every problem at once", Config{
			Webhooks: []Webhook{{URL: "gopher://x", Secret: "s"}, {URL: "https://ok.example", Secret: "s"}},
			Syslog:   []Syslog{{Network: "tls", Address: "nope"}},
		}, []string{"webhooks[0]", "syslog[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			if err == nil {
				e.Close(context.Background())
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "tok3n") {
				t.Errorf("error %q leaks the URL's token", err)
			}
		})
	}
}

func TestNewAcceptsNoSinks(t *testing.T) {
	e := newExporter(t, Config{})
	e.Publish(Event{Kind: KindBandChange})
	if st := e.Stats(); len(st) != 0 {
		t.Errorf("Stats = %v, want none", st)
	}
	closeExporter(t, e)
}

func TestPublishFillsIDAndAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	e := newExporter(t, Config{JSONLPath: path})
	before := time.Now()
	e.Publish(Event{Kind: KindBandChange, DeviceID: "d"})
	e.Publish(Event{Kind: KindBandChange, DeviceID: "d"})
	closeExporter(t, e)
	got := readJSONL(t, path)
	if len(got) != 2 {
		t.Fatalf("%d events", len(got))
	}
	for _, ev := range got {
		if len(ev.ID) != 32 || ev.At.Before(before.Add(-time.Second)) || ev.At.After(time.Now()) || ev.At.Location() != time.UTC {
			t.Errorf("event %+v: want a 32-hex-digit id and At now in UTC", ev)
		}
	}
	if got[0].ID == got[1].ID {
		t.Errorf("two events share id %s", got[0].ID)
	}
}

// blockingHook is a webhook receiver that holds every request until release is closed.
func blockingHook(t testing.TB) (url string, received <-chan string, release func()) {
	t.Helper()
	ch := make(chan string, 100)
	gate := make(chan struct{})
	srv, _, _ := receiver(t, func(int) int { return http.StatusOK })
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- r.Header.Get(HeaderDelivery)
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
		inner.ServeHTTP(w, r)
	})
	var once bool
	return srv.URL, ch, func() {
		if !once {
			once = true
			close(gate)
		}
	}
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	url, received, release := blockingHook(t)
	defer release()
	e := newExporter(t, Config{Webhooks: []Webhook{{URL: url, Secret: testSecret}}, QueueSize: 3})
	e.Publish(bandEvent("q0", "h", "low", "high", 1))
	if id := recv(t, received); id != "q0" { // q0 is in flight: the queue is empty
		t.Fatalf("first delivery %s", id)
	}
	for i := 1; i <= 5; i++ {
		e.Publish(bandEvent(fmt.Sprint("q", i), "h", "low", "high", 1))
	}
	if st := onlyStats(t, e); st != (SinkStats{Dropped: 2, Queued: 4}) {
		t.Errorf("stats while blocked = %+v, want 2 dropped, 4 queued (1 in flight + 3)", st)
	}
	release()
	var got []string
	for range 3 {
		got = append(got, recv(t, received))
	}
	closeExporter(t, e)
	if fmt.Sprint(got) != "[q3 q4 q5]" {
		t.Errorf("delivered after q0: %v, want [q3 q4 q5] (q1, q2 dropped as oldest)", got)
	}
	if st := onlyStats(t, e); st != (SinkStats{Sent: 4, Dropped: 2}) {
		t.Errorf("stats = %+v, want 4 sent, 2 dropped", st)
	}
}

func TestCloseDrainsEveryQueuedEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	addr, frames := syslogReceiver(t, nil, 0)
	e := newExporter(t, Config{JSONLPath: path, Syslog: []Syslog{{Network: "tcp", Address: addr}}})
	const n = 5000
	for i := range n {
		e.Publish(bandEvent(fmt.Sprint(i), "h", "low", "high", 1))
	}
	closeExporter(t, e)
	if got := readJSONL(t, path); len(got) != n || got[0].ID != "0" || got[n-1].ID != fmt.Sprint(n-1) {
		t.Errorf("file has %d events, want all %d in order", len(got), n)
	}
	for name, st := range e.Stats() {
		if st != (SinkStats{Sent: n}) {
			t.Errorf("%s: stats = %+v, want %d sent", name, st, n)
		}
	}
	deadline := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-frames:
		case <-deadline:
			t.Fatalf("syslog receiver got %d of %d", i, n)
		}
	}
	e.Publish(bandEvent("late", "h", "low", "high", 1))
	if st := e.Stats()["jsonl:"+path]; st.Dropped != 1 {
		t.Errorf("publish after Close: stats %+v, want it dropped", st)
	}
}

func TestCloseGivesUpAtDeadline(t *testing.T) {
	url, received, release := blockingHook(t)
	defer release()
	e := newExporter(t, Config{Webhooks: []Webhook{{URL: url, Secret: testSecret}}})
	for i := range 4 {
		e.Publish(bandEvent(fmt.Sprint("d", i), "h", "low", "high", 1))
	}
	recv(t, received)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "4 events undelivered") {
		t.Errorf("Close = %v, want deadline exceeded with 4 events undelivered", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s after its deadline", d)
	}
	if st := onlyStats(t, e); st != (SinkStats{Failed: 1, Dropped: 3}) {
		t.Errorf("stats = %+v, want the in-flight one failed and 3 dropped", st)
	}
	if err2 := e.Close(context.Background()); err2 != err {
		t.Errorf("second Close = %v, want the first result", err2)
	}
}

func TestStatsNamesHideURLPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.jsonl")
	e := newExporter(t, Config{
		Webhooks:  []Webhook{{URL: "https://hooks.example.com/services/T1/s3cret", Secret: "s"}, {URL: "https://hooks.example.com/other", Secret: "s"}},
		Syslog:    []Syslog{{Network: "tls", Address: "logs.example.com:6514"}},
		JSONLPath: path,
	})
	want := []string{"webhook:https://hooks.example.com", "webhook:https://hooks.example.com#2", "syslog:tls://logs.example.com:6514", "jsonl:" + path}
	st := e.Stats()
	for _, n := range want {
		if _, ok := st[n]; !ok {
			t.Errorf("Stats lacks %q: %v", n, st)
		}
	}
	if len(st) != len(want) {
		t.Errorf("Stats has %d sinks, want %d", len(st), len(want))
	}
}

func TestQueueCompactsWithoutGrowing(t *testing.T) {
	q := newQueue(4)
	dropped := 0
	for i := range 1000 {
		d, ok := q.push(Event{ID: fmt.Sprint(i)})
		if !ok {
			t.Fatal("push refused")
		}
		dropped += d
	}
	if dropped != 996 || cap(q.buf) > 16 {
		t.Errorf("dropped %d (want 996), backing array %d (want bounded)", dropped, cap(q.buf))
	}
	batch, done := q.take(nil, 10)
	if done || len(batch) != 4 || batch[0].ID != "996" || batch[3].ID != "999" {
		t.Errorf("take = %v, %v; want the newest 4", batch, done)
	}
	q.close()
	if _, done := q.take(nil, 10); !done {
		t.Error("closed empty queue not done")
	}
	if _, ok := q.push(Event{}); ok {
		t.Error("closed queue accepted a push")
	}
}

func TestEventsFromStoreRecords(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d := store.Device{ID: "d-1", Hostname: "mbp-9", Band: "high", Score: 72.5, SerialNumber: "not exported"}
	if got, want := BandChange(d, "medium", at), (Event{Kind: KindBandChange, At: at, DeviceID: "d-1", Hostname: "mbp-9", From: "medium", To: "high", Score: 72.5}); !reflect.DeepEqual(got, want) {
		t.Errorf("BandChange = %+v, want %+v", got, want)
	}
	c := store.Cluster{ID: "c-1", Members: []string{"d-1", "d-2"}, Kinds: []string{"gateway_mac"}}
	got := NewCluster(c, at)
	c.Members[0] = "changed"
	want := Event{Kind: KindNewCluster, At: at, Cluster: &ClusterInfo{ID: "c-1", Members: []string{"d-1", "d-2"}, Kinds: []string{"gateway_mac"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewCluster = %+v, want %+v (a copy)", got, want)
	}
}
