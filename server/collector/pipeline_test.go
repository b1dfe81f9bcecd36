package collector

import (
	"testing"
	"time"
)

// A device is settled at once the first time, then at most every `every`; what arrives in
// between is coalesced into one piece of work.
func TestSettlerCoalesces(t *testing.T) {
	s := newSettler(100 * time.Millisecond)
	t0 := time.Now()
	s.pending["a"] = &settle{newReport: true}
	if work, _ := s.take(t0); len(work) != 1 {
		t.Fatalf("first call not settled at once: %v", work)
	}
	s.pending["a"] = &settle{}
	s.pending["b"] = &settle{}
	work, next := s.take(t0.Add(40 * time.Millisecond))
	if len(work) != 1 || work["b"] == nil || next != 60*time.Millisecond {
		t.Fatalf("second call of a settled too soon: %v next %s", work, next)
	}
	if work, _ := s.take(t0.Add(100 * time.Millisecond)); len(work) != 1 || work["a"] == nil {
		t.Fatalf("a not settled when due: %v", work)
	}
	// With every = 0 everything is due at once.
	s0 := newSettler(0)
	s0.pending["a"], s0.pending["b"] = &settle{}, &settle{}
	if work, next := s0.take(t0); len(work) != 2 || next != 0 {
		t.Fatalf("no coalescing: %v %s", work, next)
	}
}
