package collector

import (
	"fmt"
	"testing"
	"time"
)

// A device is settled at once the first time, then at most every `every`; what arrives in
// between is coalesced into one piece of work.
func TestSettlerCoalesces(t *testing.T) {
	s := newSettler(100 * time.Millisecond)
	t0 := time.Now()
	s.add("a").newReport = true
	if work, _ := s.take(t0); len(work) != 1 {
		t.Fatalf("first call not settled at once: %v", work)
	}
	s.add("a")
	s.add("b")
	work, next := s.take(t0.Add(40 * time.Millisecond))
	if len(work) != 1 || work["b"] == nil || next != 60*time.Millisecond {
		t.Fatalf("second call of a settled too soon: %v next %s", work, next)
	}
	if work, _ := s.take(t0.Add(100 * time.Millisecond)); len(work) != 1 || work["a"] == nil {
		t.Fatalf("a not settled when due: %v", work)
	}
	// With every = 0 everything is due at once.
	s0 := newSettler(0)
	s0.add("a")
	s0.add("b")
	if work, next := s0.take(t0); len(work) != 2 || next != 0 {
		t.Fatalf("no coalescing: %v %s", work, next)
	}
}

// Many pending devices: each is settled once, when due, in the order they fall due, and the
// time to the next is that of the earliest left.
func TestSettlerManyDevices(t *testing.T) {
	s := newSettler(time.Second)
	t0 := time.Now()
	for i := range 1000 {
		s.add(fmt.Sprint(i))
	}
	if work, next := s.take(t0); len(work) != 1000 || next != 0 || len(s.pending) != 0 {
		t.Fatalf("first calls: %d settled, next %s, %d left", len(work), next, len(s.pending))
	}
	// Calls again: each device may be settled a second after it last was.
	for i := range 1000 {
		s.add(fmt.Sprint(i)).newReport = true
		s.add(fmt.Sprint(i)) // a second call of the same device coalesces
	}
	if len(s.due) != 1000 {
		t.Fatalf("%d queued for 1000 pending devices", len(s.due))
	}
	if work, next := s.take(t0.Add(999 * time.Millisecond)); len(work) != 0 || next != time.Millisecond {
		t.Fatalf("settled too soon: %d, next %s", len(work), next)
	}
	work, next := s.take(t0.Add(time.Second))
	if len(work) != 1000 || next != 0 || len(s.due) != 0 {
		t.Fatalf("when due: %d settled, next %s, %d queued", len(work), next, len(s.due))
	}
	for id, w := range work {
		if !w.newReport {
			t.Fatalf("%s: work lost its new report", id)
		}
	}
	// Settled at t0+1s: due again at t0+2s, one at a time as they come.
	s.add("7")
	s.add("3")
	if work, next := s.take(t0.Add(1500 * time.Millisecond)); len(work) != 0 || next != 500*time.Millisecond {
		t.Fatalf("settled too soon: %v next %s", work, next)
	}
	if work, _ := s.take(t0.Add(2 * time.Second)); len(work) != 2 || work["7"] == nil || work["3"] == nil {
		t.Fatalf("due devices: %v", work)
	}
}
