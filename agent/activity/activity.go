// Package activity keeps the laptop's usage profile: for each UTC day and UTC hour, how many
// minutes the agent was running and watching (sampled) and how many of those someone was
// using the machine (active), read from the OS idle timer (platform/idle). The collector turns
// it into the hours of the day the laptop is used in its user's time (location.activity_hours):
// a worker abroad drives the laptop at night in the laptop's own zone.
//
// The profile lives in one small JSON file in the agent state directory, written atomically
// with 0600 permissions at most every FlushEvery and on Close, and bounded to the last
// MaxDays days. A file that does not parse is set aside (renamed *.corrupt) with a warning and
// the profile restarts empty: a lost profile costs weeks of history, a crash costs the agent.
package activity

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"

	"github.com/farmwatch/farmwatch/platform/atomicfile"
	"github.com/farmwatch/farmwatch/platform/idle"
)

// Defaults.
const (
	// DefaultInterval is how often Run samples: one idle read a minute costs nothing and
	// resolves the hour histogram to the minute.
	DefaultInterval = 60 * time.Second
	// DefaultFlushEvery bounds how much a crash loses and how often the disk is written.
	DefaultFlushEvery = 5 * time.Minute
	// MaxDays is how many UTC days are kept (Activity.days holds at most 35).
	MaxDays = 35
	// FileName is the profile's file name in the agent state directory.
	FileName = "activity.json"
	// readTimeout bounds one idle read, so a hung X server cannot stall the sampler.
	readTimeout = 10 * time.Second
	// maxFile bounds the profile file read: 35 days of 48 numbers are ~15 KiB.
	maxFile = 1 << 20
	// maxNote bounds Activity.note.
	maxNote = 200
)

// fileVersion is the profile file's format version.
const fileVersion = 1

// IdleFunc reads the idle timers; idle.Idle in production, a recorded series in tests.
type IdleFunc func(context.Context) (idle.Reading, error)

// Sampler accumulates the profile. Its methods are safe for concurrent use.
type Sampler struct {
	// Interval is the expected time between samples; an elapsed time longer than twice it
	// (the laptop slept, the agent was stopped) counts only 2×Interval. Set before the first
	// Sample.
	Interval time.Duration
	// FlushEvery is the least time between two writes made by Sample. Set before the first
	// Sample.
	FlushEvery time.Duration
	// Logger receives warnings (corrupt file set aside, idle reads failing). Set before the
	// first Sample.
	Logger *slog.Logger

	path string
	now  func() time.Time

	mu        sync.Mutex
	days      map[int64]*day // by Unix seconds of 00:00 UTC
	last      time.Time      // previous sample, zero before the first
	source    string
	known     bool
	note      string
	dirty     bool
	lastFlush time.Time
}

// day holds seconds, not minutes, so that samples split across hour boundaries add up
// exactly; Facts rounds to minutes.
type day struct {
	Day     int64      `json:"day"`
	Sampled [24]uint32 `json:"sampled_seconds"`
	Active  [24]uint32 `json:"active_seconds"`
}

// file is the on-disk profile.
type file struct {
	Version int    `json:"version"`
	Last    int64  `json:"last_sample,omitempty"` // Unix seconds
	Source  string `json:"source,omitempty"`
	Days    []*day `json:"days"`
}

// Open loads the profile at path, or starts an empty one if there is none. A file that does
// not parse or holds impossible values is renamed to path+".corrupt" and the profile starts
// empty (warned through slog's default logger, as Logger is set only after Open); only a
// file that exists but cannot be read is an error. now is the clock (time.Now in production).
func Open(path string, now func() time.Time) (*Sampler, error) {
	if now == nil {
		now = time.Now
	}
	s := &Sampler{
		Interval:   DefaultInterval,
		FlushEvery: DefaultFlushEvery,
		path:       path,
		now:        now,
		days:       map[int64]*day{},
		known:      true,
	}
	b, err := readBounded(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read activity profile: %w", err)
	}
	f, err := decode(b)
	if err != nil {
		aside := path + ".corrupt"
		rerr := os.Rename(path, aside)
		slog.Warn("activity profile is corrupt: set aside, starting a new profile",
			"path", path, "error", err, "moved_to", aside, "rename_error", rerr)
		return s, nil
	}
	for _, d := range f.Days {
		s.days[d.Day] = d
	}
	if f.Last > 0 {
		s.last = time.Unix(f.Last, 0)
	}
	s.source = f.Source
	s.lastFlush = now()
	s.prune(now())
	return s, nil
}

// decode parses and validates a profile file.
func decode(b []byte) (*file, error) {
	if len(b) > maxFile {
		return nil, fmt.Errorf("larger than %d bytes", maxFile)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d, want %d", f.Version, fileVersion)
	}
	if len(f.Days) > 2*MaxDays {
		return nil, fmt.Errorf("%d days", len(f.Days))
	}
	seen := map[int64]bool{}
	for _, d := range f.Days {
		if d == nil || d.Day%86400 != 0 || seen[d.Day] {
			return nil, errors.New("bad or duplicate day")
		}
		seen[d.Day] = true
		for h := range 24 {
			if d.Sampled[h] > 3600 || d.Active[h] > d.Sampled[h] {
				return nil, fmt.Errorf("day %d hour %d: %d active of %d sampled seconds", d.Day, h, d.Active[h], d.Sampled[h])
			}
		}
	}
	if len(f.Source) > 64 {
		return nil, errors.New("source too long")
	}
	return &f, nil
}

// Sample reads the idle timer once and adds the time since the previous sample (at most
// 2×Interval; nothing for the first sample, which only starts the clock) to the profile:
// all of it as sampled, and the part before the last input (elapsed − idle, at least 0) as
// active, split across UTC hour and day boundaries. "No interactive session" counts as
// sampled and inactive (the laptop was on, nobody at it); any other read error counts
// nothing and marks the profile unknown until a read succeeds. A clock that went backwards
// restarts the count. It writes the file if FlushEvery has passed since the last write, and
// returns only that write's error.
func (s *Sampler) Sample(ctx context.Context, read IdleFunc) error {
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	r, err := read(rctx)
	cancel()

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	prev := s.last
	s.last = now
	s.dirty = true
	noSession := errors.Is(err, idle.ErrNoSession)
	switch {
	case err != nil && !noSession:
		if s.known || s.note != noteOf(err) {
			s.logger().Warn("idle time unreadable: activity not recorded", "error", err)
		}
		s.known, s.note = false, noteOf(err)
	default:
		s.known, s.note = true, ""
		if r.Source != "" {
			s.source = r.Source
		}
		if !prev.IsZero() && now.After(prev) {
			elapsed := min(now.Sub(prev), 2*s.interval())
			start := now.Add(-elapsed)
			s.add(start, now, false)
			if !noSession && r.Idle < elapsed {
				s.add(start, now.Add(-max(r.Idle, 0)), true)
			}
		}
	}
	s.prune(now)
	if now.Sub(s.lastFlush) >= s.flushEvery() || now.Before(s.lastFlush) {
		return s.flushLocked(now)
	}
	return nil
}

// add adds [from, to) to the sampled (or active) seconds of each UTC hour it covers.
func (s *Sampler) add(from, to time.Time, active bool) {
	from, to = from.UTC(), to.UTC()
	for from.Before(to) {
		hourEnd := from.Truncate(time.Hour).Add(time.Hour)
		end := hourEnd
		if to.Before(end) {
			end = to
		}
		secs := uint32(end.Sub(from).Round(time.Second) / time.Second)
		dayStart := from.Truncate(24 * time.Hour).Unix()
		d := s.days[dayStart]
		if d == nil {
			d = &day{Day: dayStart}
			s.days[dayStart] = d
		}
		h := from.Hour()
		if active {
			d.Active[h] = min(d.Active[h]+secs, d.Sampled[h], 3600)
		} else {
			d.Sampled[h] = min(d.Sampled[h]+secs, 3600)
		}
		from = end
	}
}

// prune keeps the days of the MaxDays days ending today (UTC): older days, and days ahead of
// a clock that was set back, go.
func (s *Sampler) prune(now time.Time) {
	today := now.UTC().Truncate(24 * time.Hour).Unix()
	for k := range s.days {
		if k > today || k <= today-MaxDays*86400 {
			delete(s.days, k)
		}
	}
}

// Facts returns the profile as reported: days oldest first with minutes rounded from seconds,
// days with nothing sampled left out.
func (s *Sampler) Facts() *pb.Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &pb.Activity{
		Source:                s.source,
		SampleIntervalSeconds: uint32(s.interval() / time.Second),
		Known:                 s.known,
		Note:                  s.note,
	}
	for _, d := range s.sorted() {
		pd := &pb.ActivityDay{Day: d.Day, ActiveMinutes: make([]uint32, 24), SampledMinutes: make([]uint32, 24)}
		var any uint32
		for h := range 24 {
			pd.SampledMinutes[h] = (d.Sampled[h] + 30) / 60
			pd.ActiveMinutes[h] = (d.Active[h] + 30) / 60
			any |= d.Sampled[h]
		}
		if any != 0 {
			a.Days = append(a.Days, pd)
		}
	}
	return a
}

func (s *Sampler) sorted() []*day {
	out := make([]*day, 0, len(s.days))
	for _, d := range s.days {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *day) int { return cmp.Compare(a.Day, b.Day) })
	return out
}

// Flush writes the profile now if it changed since the last write.
func (s *Sampler) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked(s.now())
}

// Close flushes the profile. The Sampler may still be used after it, by mistake, harmlessly.
func (s *Sampler) Close() error { return s.Flush() }

func (s *Sampler) flushLocked(now time.Time) error {
	if !s.dirty {
		return nil
	}
	f := file{Version: fileVersion, Source: s.source, Days: s.sorted()}
	if !s.last.IsZero() {
		f.Last = s.last.Unix()
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, b, 0o600); err != nil {
		return fmt.Errorf("activity profile: %w", err)
	}
	s.dirty = false
	s.lastFlush = now
	return nil
}

// Run samples every Interval until ctx ends, then flushes. Write errors are logged, not
// fatal: the profile stays in memory and the next flush tries again.
func (s *Sampler) Run(ctx context.Context, read IdleFunc) error {
	t := time.NewTicker(s.interval())
	defer t.Stop()
	for {
		if err := s.Sample(ctx, read); err != nil {
			s.logger().Warn("activity profile not written", "error", err)
		}
		select {
		case <-ctx.Done():
			return s.Close()
		case <-t.C:
		}
	}
}

func (s *Sampler) interval() time.Duration {
	if s.Interval <= 0 {
		return DefaultInterval
	}
	return s.Interval
}

func (s *Sampler) flushEvery() time.Duration {
	if s.FlushEvery <= 0 {
		return DefaultFlushEvery
	}
	return s.FlushEvery
}

func (s *Sampler) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func noteOf(err error) string {
	n := err.Error()
	if len(n) > maxNote {
		n = n[:maxNote]
	}
	return n
}

// readBounded reads at most maxFile+1 bytes: a larger file is then refused by decode as
// corrupt.
func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFile+1))
}
