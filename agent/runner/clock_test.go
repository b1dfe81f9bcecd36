package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClockRollbackWhileRunning(t *testing.T) {
	dir := t.TempDir()
	w := newClockWatch(dir)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if r := w.check(t0, time.Second); r != nil {
		t.Fatalf("first check: %v", r)
	}
	// NTP-sized corrections and a suspend (wall moves more than monotonic) are not rollbacks.
	if r := w.check(t0.Add(59*time.Second), time.Second+time.Minute); r != nil {
		t.Fatalf("1 s correction: %v", r)
	}
	if r := w.check(t0.Add(3*time.Hour), time.Second+2*time.Minute); r != nil {
		t.Fatalf("suspend: %v", r)
	}
	// One minute later by the monotonic clock, the wall clock reads 10 hours earlier.
	r := w.check(t0.Add(3*time.Hour-10*time.Hour+time.Minute), time.Second+3*time.Minute)
	if r == nil || r.GetHow() != "while running" {
		t.Fatalf("rollback not noticed: %v", r)
	}
	if step := r.GetFrom().AsTime().Sub(r.GetTo().AsTime()); step != 10*time.Hour {
		t.Fatalf("step %s, want 10h", step)
	}
	// Pending until reported, also across a restart; then gone.
	w2 := newClockWatch(dir)
	if r2 := w2.check(r.GetTo().AsTime().Add(time.Minute), time.Second); r2 == nil || !r2.GetNoticed().AsTime().Equal(r.GetNoticed().AsTime()) {
		t.Fatalf("pending rollback lost across a restart: %v", r2)
	}
	w2.reported(r)
	if r3 := w2.check(r.GetTo().AsTime().Add(2*time.Minute), 2*time.Second+time.Minute); r3 != nil {
		t.Fatalf("reported rollback still pending: %v", r3)
	}
}

func TestClockRollbackAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	newClockWatch(dir).check(t0, 0)
	w := newClockWatch(dir)
	if r := w.check(t0.Add(-time.Minute), 0); r != nil {
		t.Fatalf("a minute back across a restart is within tolerance: %v", r)
	}
	w = newClockWatch(dir)
	r := w.check(t0.Add(-48*time.Hour), 0)
	if r == nil || r.GetHow() != "across a restart" || !r.GetFrom().AsTime().Equal(t0) {
		t.Fatalf("rollback across a restart: %v", r)
	}
	w.reported(r)
	// The new timeline is the reference now: the next start does not report it again.
	if r := newClockWatch(dir).check(t0.Add(-47*time.Hour), 0); r != nil {
		t.Fatalf("reported twice: %v", r)
	}
	st, err := os.Stat(filepath.Join(dir, ClockFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("clock file: %v %v", st, err)
	}
	// A corrupt file is replaced, not fatal.
	os.WriteFile(filepath.Join(dir, ClockFile), []byte("{nonsense"), 0o600)
	if r := newClockWatch(dir).check(t0, 0); r != nil {
		t.Fatalf("corrupt file: %v", r)
	}
}

// The clock file is written by the agent but sits on a disk the adversary controls.
func FuzzClockFile(f *testing.F) {
	f.Add([]byte(`{"latest":"2026-11-02T09:00:00Z","pending_rollback":{"from":"2026-11-02T09:00:00Z","to":"2026-11-01T09:00:00Z","noticed":"2026-11-01T09:00:00Z","how":"across a restart"}}`))
	f.Add([]byte(`{"latest":"9999-12-31T23:59:59Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ClockFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		w := newClockWatch(dir)
		r := w.check(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), time.Second)
		w.reported(r)
		if r2 := w.check(time.Date(2026, 11, 2, 9, 1, 0, 0, time.UTC), time.Second+time.Minute); r2 != nil && r != nil && r2.GetNoticed().AsTime().Equal(r.GetNoticed().AsTime()) {
			t.Fatal("a reported rollback is still pending")
		}
	})
}
