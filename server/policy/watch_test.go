package policy

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the watcher goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatchReloadsGoodFilesAndKeepsThePolicyOnBadOnes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	write := func(s string) {
		t.Helper()
		// Write beside and rename, as editors and config management do.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("schema: 1\nsignals: {kvm.usb: 40}\n")

	applied := make(chan *Policy, 10)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		Watch(ctx, path, 5*time.Millisecond, func(p *Policy) error { applied <- p; return nil }, log)
		close(done)
	}()
	next := func() *Policy {
		t.Helper()
		select {
		case p := <-applied:
			return p
		case <-time.After(5 * time.Second):
			t.Fatalf("no policy applied; log:\n%s", logs.String())
			return nil
		}
	}

	if p := next(); p.Signals["kvm.usb"].Weight != 40 {
		t.Fatalf("initial policy: kvm.usb %+v", p.Signals["kvm.usb"])
	}

	// A bad file: logged with its line, never applied.
	write("schema: 1\nsignals:\n  kvm.usb: {weight: -3}\n")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "policy rejected") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "policy rejected") || !strings.Contains(out, "line=3") || !strings.Contains(out, "key=signals.kvm.usb.weight") {
		t.Fatalf("rejection not logged with its line:\n%s", out)
	}
	select {
	case p := <-applied:
		t.Fatalf("bad policy applied: %s", p.Version())
	case <-time.After(50 * time.Millisecond):
	}
	if n := strings.Count(logs.String(), "policy rejected"); n != 1 {
		t.Errorf("rejection logged %d times; once per bad content is enough", n)
	}

	// Fixed: applied, with the new version.
	write("schema: 1\nsignals: {kvm.usb: 50}\n")
	p := next()
	if p.Signals["kvm.usb"].Weight != 50 || p.Version() != "sha256:"+sha12("schema: 1\nsignals: {kvm.usb: 50}\n") {
		t.Fatalf("reloaded policy %s kvm.usb %+v", p.Version(), p.Signals["kvm.usb"])
	}

	// Same content written again: nothing to apply.
	write("schema: 1\nsignals: {kvm.usb: 50}\n")
	select {
	case p := <-applied:
		t.Fatalf("unchanged content applied again: %s", p.Version())
	case <-time.After(100 * time.Millisecond):
	}

	cancel()
	<-done
}

func TestWatchRetriesWhenApplyFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("schema: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan int, 10)
	n := 0
	go Watch(ctx, path, 5*time.Millisecond, func(*Policy) error {
		n++
		calls <- n
		if n == 1 {
			return os.ErrDeadlineExceeded
		}
		return nil
	}, slog.New(slog.DiscardHandler))
	for want := 1; want <= 2; want++ {
		select {
		case got := <-calls:
			if got != want {
				t.Fatalf("call %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("apply not retried after failing")
		}
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(path, []byte("schema: 1\nbands: {medium: 90}\n"), 0o644)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2: bands.high") {
		t.Errorf("Load error %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file loaded")
	}
}
