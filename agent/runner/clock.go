package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ClockFile keeps the latest wall-clock time the agent has seen, and a rollback not yet
// reported, across restarts.
const ClockFile = "clock.json"

// RollbackTolerance is how far the wall clock may step back before it counts as a rollback:
// time synchronisation slews or steps by far less; setting the clock back by hand (to make
// activity look like another time of day, or to replay a certificate) does not.
const RollbackTolerance = 2 * time.Minute

type clockState struct {
	Latest  time.Time          `json:"latest"`
	Pending *clockRollbackJSON `json:"pending_rollback,omitempty"`
}

type clockRollbackJSON struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Noticed time.Time `json:"noticed"`
	How     string    `json:"how"`
}

// clockWatch notices the wall clock stepping back: while the agent runs (the wall clock falls
// behind the monotonic clock between two checks) or while it was not running (the clock is
// before the latest time already seen). A rollback stays pending, also on disk, until a
// heartbeat has carried it to the collector.
type clockWatch struct {
	path string

	mu       sync.Mutex
	st       clockState
	checked  bool
	lastWall time.Time     // wall clock at the previous check
	lastMono time.Duration // monotonic reading at the previous check
	saved    time.Duration // monotonic reading when the state was last written
}

// processStart anchors the monotonic readings.
var processStart = time.Now()

// monotonic is the time since the process started, from the monotonic clock.
func monotonic() time.Duration { return time.Since(processStart) }

func newClockWatch(dir string) *clockWatch {
	return &clockWatch{path: filepath.Join(dir, ClockFile)}
}

func (w *clockWatch) load() {
	b, err := os.ReadFile(w.path)
	if err != nil {
		return // first start, or unreadable: start afresh (the next write replaces it)
	}
	var st clockState
	if json.Unmarshal(b, &st) == nil {
		w.st = st
	}
}

// check looks at the clock: wall is the wall-clock time (no monotonic reading), mono the
// monotonic reading taken with it. It returns the pending rollback, if any.
func (w *clockWatch) check(wall time.Time, mono time.Duration) *pb.ClockRollback {
	w.mu.Lock()
	defer w.mu.Unlock()
	wall = wall.Round(0)
	if !w.checked {
		w.load()
		if !w.st.Latest.IsZero() && wall.Before(w.st.Latest.Add(-RollbackTolerance)) {
			w.st.Pending = &clockRollbackJSON{From: w.st.Latest, To: wall, Noticed: wall, How: "across a restart"}
		}
	} else if lag := (mono - w.lastMono) - wall.Sub(w.lastWall); lag > RollbackTolerance {
		// The monotonic clock moved on by more than the wall clock did: the wall clock was
		// set back by lag at some point since the last check.
		w.st.Pending = &clockRollbackJSON{From: wall.Add(lag), To: wall, Noticed: wall, How: "while running"}
	}
	if w.st.Pending != nil && w.st.Pending.Noticed.Equal(wall) {
		// Reported once: from now on the new timeline is the reference (a clock corrected
		// from years ahead must not be reported at every start).
		w.st.Latest = wall
	}
	first := !w.checked
	w.checked, w.lastWall, w.lastMono = true, wall, mono
	if wall.After(w.st.Latest) {
		w.st.Latest = wall
	}
	if first || w.st.Pending != nil || mono-w.saved >= time.Minute {
		w.save(mono)
	}
	return w.pending()
}

func (w *clockWatch) pending() *pb.ClockRollback {
	p := w.st.Pending
	if p == nil {
		return nil
	}
	return &pb.ClockRollback{From: timestamppb.New(p.From), To: timestamppb.New(p.To), Noticed: timestamppb.New(p.Noticed), How: p.How}
}

// reported clears the pending rollback once a heartbeat carried it.
func (w *clockWatch) reported(r *pb.ClockRollback) {
	if r == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if p := w.st.Pending; p != nil && p.Noticed.Equal(r.GetNoticed().AsTime()) {
		w.st.Pending = nil
		w.save(monotonic())
	}
}

func (w *clockWatch) save(mono time.Duration) {
	b, err := json.Marshal(w.st)
	if err != nil {
		return
	}
	if atomicfile.Write(w.path, append(b, '\n'), 0o600) == nil {
		w.saved = mono
	}
}
