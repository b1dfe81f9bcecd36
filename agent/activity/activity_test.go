package activity

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/platform/idle"
)

// clock is an injected clock the test moves.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// reading returns an IdleFunc that reads d (or fails with err).
func reading(d time.Duration, err error) IdleFunc {
	return func(context.Context) (idle.Reading, error) {
		if err != nil {
			return idle.Reading{}, err
		}
		return idle.Reading{Idle: d, Source: "x11-screensaver", Sessions: 1}, nil
	}
}

func open(t *testing.T, c *clock) (*Sampler, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(path, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// seconds returns the (sampled, active) seconds of the UTC hour that starts at h.
func (s *Sampler) seconds(h time.Time) (uint32, uint32) {
	d := s.days[h.UTC().Truncate(24*time.Hour).Unix()]
	if d == nil {
		return 0, 0
	}
	return d.Sampled[h.UTC().Hour()], d.Active[h.UTC().Hour()]
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSampleSplitsAcrossHoursAndDays(t *testing.T) {
	for _, c := range []struct {
		name            string
		from, to        string
		idle            time.Duration
		firstSampled    uint32 // seconds in the hour of from
		firstActive     uint32
		secondSampled   uint32 // seconds in the next hour
		secondActive    uint32
		firstH, secondH string
	}{
		{"hour boundary, busy", "2025-03-04T10:59:30Z", "2025-03-04T11:00:30Z", 0, 30, 30, 30, 30, "2025-03-04T10:00:00Z", "2025-03-04T11:00:00Z"},
		{"hour boundary, idle since 10:59:50", "2025-03-04T10:59:30Z", "2025-03-04T11:00:30Z", 40 * time.Second, 30, 20, 30, 0, "2025-03-04T10:00:00Z", "2025-03-04T11:00:00Z"},
		{"day boundary", "2025-03-04T23:59:45Z", "2025-03-05T00:00:45Z", 0, 15, 15, 45, 45, "2025-03-04T23:00:00Z", "2025-03-05T00:00:00Z"},
		{"idle longer than the interval", "2025-03-04T10:59:30Z", "2025-03-04T11:00:30Z", 10 * time.Minute, 30, 0, 30, 0, "2025-03-04T10:00:00Z", "2025-03-04T11:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{at(c.from)}
			s, _ := open(t, clk)
			s.Sample(context.Background(), reading(0, nil)) // starts the clock, counts nothing
			clk.t = at(c.to)
			s.Sample(context.Background(), reading(c.idle, nil))
			if sa, ac := s.seconds(at(c.firstH)); sa != c.firstSampled || ac != c.firstActive {
				t.Errorf("%s: sampled %d active %d, want %d %d", c.firstH, sa, ac, c.firstSampled, c.firstActive)
			}
			if sa, ac := s.seconds(at(c.secondH)); sa != c.secondSampled || ac != c.secondActive {
				t.Errorf("%s: sampled %d active %d, want %d %d", c.secondH, sa, ac, c.secondSampled, c.secondActive)
			}
		})
	}
}

// A laptop that slept for an hour counts 2×Interval, not the hour, and the active part is
// the start of that capped window.
func TestSampleCapsElapsedAtTwoIntervals(t *testing.T) {
	clk := &clock{at("2025-03-04T10:00:00Z")}
	s, _ := open(t, clk)
	s.Sample(context.Background(), reading(0, nil))
	clk.t = clk.t.Add(time.Hour)
	s.Sample(context.Background(), reading(30*time.Second, nil))
	sa, ac := s.seconds(at("2025-03-04T10:00:00Z"))
	if sa != 120 || ac != 90 {
		t.Fatalf("sampled %d active %d, want 120 and 90", sa, ac)
	}
}

func TestSampleClockBackwardsCountsNothing(t *testing.T) {
	clk := &clock{at("2025-03-04T10:30:00Z")}
	s, _ := open(t, clk)
	s.Sample(context.Background(), reading(0, nil))
	clk.t = at("2025-03-04T10:20:00Z")
	s.Sample(context.Background(), reading(0, nil))
	clk.t = at("2025-03-04T10:21:00Z")
	s.Sample(context.Background(), reading(0, nil))
	if sa, ac := s.seconds(at("2025-03-04T10:00:00Z")); sa != 60 || ac != 60 {
		t.Fatalf("sampled %d active %d, want 60 60 (only the minute after the step back)", sa, ac)
	}
}

// The recorded series: nobody at the laptop, then use, an unreadable timer, a gap.
func TestSampleRecordedSeries(t *testing.T) {
	f, err := os.Open("testdata/series.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	clk := &clock{}
	s, _ := open(t, clk)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		ts, v, _ := strings.Cut(line, ",")
		clk.t = at(ts)
		switch v {
		case "nosession":
			s.Sample(context.Background(), reading(0, fmt.Errorf("x11: %w", idle.ErrNoSession)))
		case "error":
			s.Sample(context.Background(), reading(0, errors.New("display :0: X error code 10")))
			if a := s.Facts(); a.Known || !strings.Contains(a.Note, "X error code 10") {
				t.Fatalf("after a read error: known %v note %q, want unknown with the error", a.Known, a.Note)
			}
		default:
			ms, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			s.Sample(context.Background(), reading(time.Duration(ms)*time.Millisecond, nil))
		}
	}
	// 08:55:00 only starts the clock. Per sample, seconds (sampled, active) in hour 08 | 09;
	// the active part is elapsed − idle, at the start of the elapsed window:
	//   08:56:00 nosession       60, 0
	//   08:57:00 idle 4 s        60, 56
	//   08:58:00 idle 1.2 s      60, 59   (58.8 s rounded)
	//   08:59:01 idle 30.5 s     61, 31   (30.5 s rounded)
	//   09:00:01 idle 90 s       59 | 1, 0 (idle longer than the 60 s elapsed)
	//   09:01:02 idle 150.5 s    | 61, 0
	//   09:02:02 error           nothing
	//   09:03:02 idle 0          | 60, 60
	//   09:07:02 idle 0.1 s      | 120, 120 (capped at 2×60 s: 09:05:02-09:07:02, 119.9→120)
	//   09:08:02 idle 59 s       | 60, 1
	sa, ac := s.seconds(at("2025-03-04T08:00:00Z"))
	if sa != 300 || ac != 146 {
		t.Errorf("08h: sampled %d active %d, want 300 146", sa, ac)
	}
	sa, ac = s.seconds(at("2025-03-04T09:00:00Z"))
	if sa != 302 || ac != 181 {
		t.Errorf("09h: sampled %d active %d, want 302 181", sa, ac)
	}
	a := s.Facts()
	if !a.Known || a.Note != "" || a.Source != "x11-screensaver" || a.SampleIntervalSeconds != 60 {
		t.Errorf("facts: known %v note %q source %q interval %d", a.Known, a.Note, a.Source, a.SampleIntervalSeconds)
	}
	if len(a.Days) != 1 || a.Days[0].SampledMinutes[8] != 5 || a.Days[0].ActiveMinutes[8] != 2 ||
		a.Days[0].SampledMinutes[9] != 5 || a.Days[0].ActiveMinutes[9] != 3 {
		t.Errorf("facts days = %v", a.Days)
	}
}

func TestPersistFlushesAtMostEveryFlushEveryAndOnClose(t *testing.T) {
	clk := &clock{at("2025-03-04T10:00:00Z")}
	s, path := open(t, clk)
	s.FlushEvery = 5 * time.Minute
	ctx := context.Background()
	s.Sample(ctx, reading(0, nil)) // first write: nothing on disk yet
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("first sample not written: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	for range 4 {
		clk.t = clk.t.Add(time.Minute)
		s.Sample(ctx, reading(0, nil))
	}
	if b, _ := os.ReadFile(path); string(b) != string(first) {
		t.Fatal("written again within FlushEvery")
	}
	clk.t = clk.t.Add(time.Minute)
	s.Sample(ctx, reading(0, nil))
	if b, _ := os.ReadFile(path); string(b) == string(first) {
		t.Fatal("not written after FlushEvery")
	}
	clk.t = clk.t.Add(time.Minute)
	s.Sample(ctx, reading(20*time.Second, nil))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := again.Facts().String(), s.Facts().String(); got != want {
		t.Fatalf("reopened profile\n%s\nwant\n%s", got, want)
	}
	if sa, ac := again.seconds(at("2025-03-04T10:00:00Z")); sa != 360 || ac != 340 {
		t.Fatalf("reopened: sampled %d active %d, want 360 340", sa, ac)
	}
	// The last sample time survives a restart: a minute later counts a minute.
	clk.t = clk.t.Add(time.Minute)
	again.Sample(ctx, reading(0, nil))
	if sa, _ := again.seconds(at("2025-03-04T10:00:00Z")); sa != 420 {
		t.Fatalf("after restart: sampled %d, want 420", sa)
	}
}

func TestCorruptFileIsSetAsideAndRestarted(t *testing.T) {
	for name, content := range map[string]string{
		"not json":        "{\"version\":1,\"days\":[",
		"wrong version":   `{"version":9,"days":[]}`,
		"impossible hour": `{"version":1,"days":[{"day":86400,"sampled_seconds":[3601,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"active_seconds":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}`,
		"unaligned day":   `{"version":1,"days":[{"day":86401}]}`,
		"too large":       strings.Repeat(" ", maxFile+10),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			os.WriteFile(path, []byte(content), 0o600)
			clk := &clock{at("2025-03-04T10:00:00Z")}
			s, err := Open(path, clk.now)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if b, err := os.ReadFile(path + ".corrupt"); err != nil || string(b) != content {
				t.Fatalf("corrupt file not set aside: %v", err)
			}
			if n := len(s.Facts().Days); n != 0 {
				t.Fatalf("%d days from a corrupt file", n)
			}
			s.Sample(context.Background(), reading(0, nil))
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path, clk.now); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path + ".corrupt"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestKeepsTheLast35Days(t *testing.T) {
	clk := &clock{at("2025-01-01T12:00:00Z")}
	s, path := open(t, clk)
	ctx := context.Background()
	for range 50 {
		s.Sample(ctx, reading(0, nil))
		clk.t = clk.t.Add(time.Minute)
		s.Sample(ctx, reading(0, nil))
		clk.t = clk.t.Add(24*time.Hour - time.Minute)
	}
	clk.t = clk.t.Add(-24 * time.Hour)
	days := s.Facts().Days
	if len(days) != MaxDays {
		t.Fatalf("%d days kept, want %d", len(days), MaxDays)
	}
	today := clk.t.Truncate(24 * time.Hour).Unix()
	if days[0].Day != today-(MaxDays-1)*86400 || days[len(days)-1].Day != today {
		t.Fatalf("days %d..%d, want %d..%d", days[0].Day, days[len(days)-1].Day, today-(MaxDays-1)*86400, today)
	}
	s.Flush()
	if fi, _ := os.Stat(path); fi.Size() > 16<<10 {
		t.Errorf("profile of 35 days is %d bytes", fi.Size())
	}
}

// A read that hangs is cut off, and counts nothing rather than stalling the agent.
func TestSampleBoundsAHungRead(t *testing.T) {
	clk := &clock{at("2025-03-04T10:00:00Z")}
	s, _ := open(t, clk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Sample(ctx, func(ctx context.Context) (idle.Reading, error) { <-ctx.Done(); return idle.Reading{}, ctx.Err() })
	if a := s.Facts(); a.Known {
		t.Fatal("a cancelled read left the profile known")
	}
}
