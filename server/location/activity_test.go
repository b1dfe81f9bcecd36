package location

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/activity"
	"github.com/farmwatch/farmwatch/platform/idle"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// simWorker drives the agent's real Sampler with an injected clock over days of simulated
// time and returns what the agent would report. Each minute the laptop is awake it samples.
// In a minute in which busy says the user works, they type or move the pointer every few
// seconds (the last touch 0-7 s before the sample), except that one minute in ten they read
// without touching anything; the idle timer reads the time since the last touch, as the OS
// timer would, so reading pauses cost active minutes as they do on a real laptop.
type simWorker struct {
	start  time.Time            // first simulated minute (UTC)
	days   int                  // days simulated
	awake  func(time.Time) bool // the laptop is on (lid open); false: asleep, no sample
	busy   func(time.Time) bool // someone is using it during this minute
	people func(time.Time) int  // nil: one session; 0: "no interactive session"
}

func (w simWorker) run(t *testing.T) *pb.Activity {
	t.Helper()
	now := w.start
	s, err := activity.Open(filepath.Join(t.TempDir(), activity.FileName), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	s.FlushEvery = 24 * time.Hour
	rng := rand.New(rand.NewPCG(1, 2))
	lastInput := w.start.Add(-24 * time.Hour)
	read := func(context.Context) (idle.Reading, error) {
		if w.people != nil && w.people(now) == 0 {
			return idle.Reading{}, idle.ErrNoSession
		}
		return idle.Reading{Idle: now.Sub(lastInput), Source: "x11-screensaver", Sessions: 1}, nil
	}
	end := w.start.Add(time.Duration(w.days) * 24 * time.Hour)
	for ; now.Before(end); now = now.Add(time.Minute) {
		if w.busy(now) && rng.IntN(10) != 0 {
			lastInput = now.Add(-time.Duration(rng.IntN(8)) * time.Second)
		}
		if w.awake(now) {
			if err := s.Sample(context.Background(), read); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return s.Facts()
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("zoneinfo for %s not available: %v", name, err)
	}
	return z
}

// between says whether t's local clock in z is in [from, to) hours (fractions allowed),
// wrapping midnight when from > to.
func between(t time.Time, z *time.Location, from, to float64) bool {
	l := t.In(z)
	h := float64(l.Hour()) + float64(l.Minute())/60
	if from < to {
		return h >= from && h < to
	}
	return h >= from || h < to
}

func weekday(t time.Time, z *time.Location) bool {
	d := t.In(z).Weekday()
	return d != time.Saturday && d != time.Sunday
}

// A New York office worker: 09:00-17:00 weekdays with lunch 12:00-13:00 and a coffee break,
// some evening e-mail on Tuesdays and Thursdays, laptop asleep at night and on weekends.
func newYorkDayWorker(z *time.Location, start time.Time, days int) simWorker {
	return simWorker{
		start: start, days: days,
		awake: func(t time.Time) bool { return weekday(t, z) && between(t, z, 8, 21.5) },
		busy: func(t time.Time) bool {
			if !weekday(t, z) {
				return false
			}
			if between(t, z, 20, 20.25) {
				d := t.In(z).Weekday()
				return d == time.Tuesday || d == time.Thursday
			}
			return between(t, z, 9, 17) && !between(t, z, 12, 13) && !between(t, z, 15, 15.25)
		},
	}
}

func localOffset(z *time.Location, t time.Time) int32 {
	_, off := t.In(z).Zone()
	return int32(off)
}

func TestActivityNewYorkDayWorkerIsNotAnomalous(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, c := range []struct {
		name  string
		start time.Time
		want  int32 // UTC offset of the working day found
	}{
		{"winter, EST", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), -5 * 3600},
		{"summer, EDT", time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC), -4 * 3600},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := newYorkDayWorker(ny, c.start, 14).run(t)
			off := localOffset(ny, c.start.Add(7*24*time.Hour))
			r := AnalyzeActivity(a, off, DefaultActivityConfig())
			t.Logf("%+v", r)
			// Days are UTC days: 10 weekdays, and 2 Saturdays that hold Friday's evening
			// (21:30 in New York is after midnight UTC). Sundays, asleep, do not count.
			if r.Days != 12 {
				t.Errorf("Days = %d, want 12", r.Days)
			}
			// 10 days × (8 h − 1 h lunch − 15 min break) + 4 evenings × 15 min = 4110 busy
			// minutes, less the reading pauses (one minute in ten) and the seconds between the
			// last touch and each sample (3.5 s a minute on average): about 0.9 × 0.94.
			if r.ActiveMinutes < 3300 || r.ActiveMinutes > 3650 {
				t.Errorf("ActiveMinutes = %d, want about 3480", r.ActiveMinutes)
			}
			if !r.Enough || r.Anomalous || r.NightShare != 0 {
				t.Errorf("Enough %v Anomalous %v NightShare %.3f; want enough, not anomalous, no night use", r.Enough, r.Anomalous, r.NightShare)
			}
			if r.BestOffsetSeconds != c.want {
				t.Errorf("BestOffset = %s, want %s", offsetLabel(r.BestOffsetSeconds), offsetLabel(c.want))
			}
			if r.BestOffsetShare < 0.97 {
				t.Errorf("BestOffsetShare = %.3f, want the working day to hold ~98%%", r.BestOffsetShare)
			}
			// The local histogram is the office day on the laptop's clock: busy at 10:00, a
			// quarter less at 15:00 (the break), nothing at lunch or at night.
			h := r.LocalHistogram
			if h[10] < 35 || h[12] > 2 || h[3] != 0 || math.Abs(h[15]/h[10]-0.75) > 0.1 {
				t.Errorf("LocalHistogram 10h %.1f 12h %.1f 03h %.1f 15h %.1f; want ~45, ~0, 0, ~34", h[10], h[12], h[3], h[15])
			}
		})
	}
}

// A laptop in New York used 22:00-06:00 New York time (with a meal break at Seoul noon) on
// Seoul's weekdays: the night-shift pattern of a worker abroad.
func TestActivityNightShiftOnNewYorkLaptopIsAnomalous(t *testing.T) {
	ny, seoul := mustZone(t, "America/New_York"), mustZone(t, "Asia/Seoul")
	for _, c := range []struct {
		name  string
		start time.Time
	}{
		{"winter, EST", time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		{"summer, EDT", time.Date(2026, 7, 6, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := simWorker{
				start: c.start, days: 14,
				awake: func(t time.Time) bool { return true }, // never sleeps: left on in a farm
				busy: func(t time.Time) bool {
					return weekday(t, seoul) && between(t, ny, 22, 6) && !between(t, seoul, 12, 13)
				},
			}
			a := w.run(t)
			off := localOffset(ny, c.start.Add(7*24*time.Hour))
			r := AnalyzeActivity(a, off, DefaultActivityConfig())
			t.Logf("%+v", r)
			if !r.Enough || !r.Anomalous {
				t.Fatalf("Enough %v Anomalous %v, want an anomaly: %s", r.Enough, r.Anomalous, r.Reason)
			}
			if r.Days != 14 {
				t.Errorf("Days = %d, want 14 (the laptop sampled every day)", r.Days)
			}
			// 8 hours a night minus the hour of the break, 6 of the 7 in 00:00-05:59.
			if math.Abs(r.NightShare-6.0/7) > 0.01 {
				t.Errorf("NightShare = %.3f, want 6/7", r.NightShare)
			}
			// 22:00-06:00 in New York is 11:00-19:00 (EDT) or 12:00-20:00 (EST) in Seoul. The
			// 7 hours fit an 08:00-18:59 working day at several offsets; +8 must be among them
			// and the pick must be in Asia, not in the Americas.
			lo, hi := r.OffsetRangeSeconds[0], r.OffsetRangeSeconds[1]
			if lo > 8*3600 || hi < 8*3600 {
				t.Errorf("offsets %s..%s do not include +08:00", offsetLabel(lo), offsetLabel(hi))
			}
			if r.BestOffsetSeconds < 5*3600 || r.BestOffsetSeconds > 9*3600 || r.BestOffsetShare < 0.99 {
				t.Errorf("BestOffset %s share %.3f, want +05:00..+09:00 holding it all", offsetLabel(r.BestOffsetSeconds), r.BestOffsetShare)
			}
			if !strings.Contains(r.Reason, "at or over the 35% threshold") {
				t.Errorf("Reason %q", r.Reason)
			}
		})
	}
}

// A worker in Seoul working 09:00-18:00 Seoul time drives a laptop that sits in New York:
// the analysis names UTC+9 exactly.
func TestActivitySeoulWorkerOnNewYorkLaptopFitsPlusNine(t *testing.T) {
	ny, seoul := mustZone(t, "America/New_York"), mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	w := simWorker{
		start: start, days: 14,
		awake: func(time.Time) bool { return true },
		busy: func(t time.Time) bool {
			return weekday(t, seoul) && between(t, seoul, 9, 18) && !between(t, seoul, 12, 13)
		},
	}
	r := AnalyzeActivity(w.run(t), localOffset(ny, start), DefaultActivityConfig())
	t.Logf("%+v", r)
	if !r.Anomalous || r.BestOffsetSeconds != 9*3600 {
		t.Fatalf("Anomalous %v BestOffset %s, want anomalous at +09:00: %s", r.Anomalous, offsetLabel(r.BestOffsetSeconds), r.Reason)
	}
	// 19:00-04:00 EST: 00:00-03:59 is 4 of the 8 working hours.
	if math.Abs(r.NightShare-0.5) > 0.01 {
		t.Errorf("NightShare = %.3f, want 0.5", r.NightShare)
	}
}

// The same Seoul worker on a laptop in Seoul: a day worker, at +9.
func TestActivitySeoulWorkerAtHomeIsNotAnomalous(t *testing.T) {
	seoul := mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	w := simWorker{
		start: start, days: 14,
		awake: func(t time.Time) bool { return between(t, seoul, 7, 23) },
		busy: func(t time.Time) bool {
			return weekday(t, seoul) && between(t, seoul, 9, 18) && !between(t, seoul, 12, 13)
		},
	}
	r := AnalyzeActivity(w.run(t), localOffset(seoul, start), DefaultActivityConfig())
	t.Logf("%+v", r)
	if !r.Enough || r.Anomalous || r.NightShare != 0 || r.BestOffsetSeconds != 9*3600 {
		t.Fatalf("%+v; want enough, not anomalous, +09:00", r)
	}
	// Weekends: the laptop was on, nobody used it; they count as days.
	if r.Days != 14 {
		t.Errorf("Days = %d, want 14", r.Days)
	}
}

func TestActivityFewerThanSevenDaysIsNotEnough(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	r := AnalyzeActivity(newYorkDayWorker(ny, start, 5).run(t), -5*3600, DefaultActivityConfig())
	if r.Days != 5 || r.Enough || r.Anomalous {
		t.Fatalf("Days %d Enough %v Anomalous %v, want 5 days, not enough", r.Days, r.Enough, r.Anomalous)
	}
	if !strings.Contains(r.Reason, "5 days (need 7)") {
		t.Errorf("Reason %q", r.Reason)
	}
	// Plenty of days but hardly any use is not enough either.
	w := simWorker{start: start, days: 14, awake: func(time.Time) bool { return true },
		busy: func(t time.Time) bool { return between(t, ny, 2, 2.5) }}
	if r := AnalyzeActivity(w.run(t), -5*3600, DefaultActivityConfig()); r.Days != 14 || r.Enough || r.ActiveMinutes > 14*30 || r.ActiveMinutes < 300 {
		t.Errorf("14 days × 30 min: Days %d Enough %v ActiveMinutes %d, want 14 days, not enough, under 420", r.Days, r.Enough, r.ActiveMinutes)
	}
}

// A laptop on with nobody logged in (no interactive session) has days, no activity.
func TestActivityNoSessionDaysCountButHoldNothing(t *testing.T) {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	w := simWorker{start: start, days: 8, awake: func(time.Time) bool { return true },
		busy: func(time.Time) bool { return false }, people: func(time.Time) int { return 0 }}
	a := w.run(t)
	r := AnalyzeActivity(a, 0, DefaultActivityConfig())
	if r.Days != 8 || r.ActiveMinutes != 0 || r.Enough || r.NightShare != 0 {
		t.Fatalf("%+v; want 8 days, nothing active, not enough", r)
	}
	if got := a.Days[3].SampledMinutes[5]; got != 60 {
		t.Errorf("sampled minutes in a no-session hour = %d, want 60", got)
	}
}

func actDay(day int64, active map[int]uint32) *pb.ActivityDay {
	d := &pb.ActivityDay{Day: day, ActiveMinutes: make([]uint32, 24), SampledMinutes: make([]uint32, 24)}
	for h := range 24 {
		d.SampledMinutes[h] = 60
	}
	for h, v := range active {
		d.ActiveMinutes[h] = v
	}
	return d
}

func TestActivityMaths(t *testing.T) {
	t.Run("half-hour offset splits hours", func(t *testing.T) {
		// 60 min at 10:00-10:59 UTC is 15:30-16:29 at +05:30: 30 min in each local hour.
		a := &pb.Activity{Days: []*pb.ActivityDay{actDay(0, map[int]uint32{10: 60})}}
		r := AnalyzeActivity(a, 5*3600+1800, ActivityConfig{})
		if r.LocalHistogram[15] != 30 || r.LocalHistogram[16] != 30 {
			t.Fatalf("local 15h %.1f 16h %.1f, want 30 30", r.LocalHistogram[15], r.LocalHistogram[16])
		}
		// and -03:30 puts it at 06:30-07:29.
		r = AnalyzeActivity(a, -3*3600-1800, ActivityConfig{})
		if r.LocalHistogram[6] != 30 || r.LocalHistogram[7] != 30 {
			t.Fatalf("local 6h %.1f 7h %.1f, want 30 30", r.LocalHistogram[6], r.LocalHistogram[7])
		}
	})
	t.Run("night window wraps midnight", func(t *testing.T) {
		a := &pb.Activity{Days: []*pb.ActivityDay{actDay(0, map[int]uint32{22: 30, 23: 30, 3: 20, 12: 20})}}
		r := AnalyzeActivity(a, 0, ActivityConfig{NightStart: 22, NightEnd: 6})
		if math.Abs(r.NightShare-0.8) > 1e-9 {
			t.Fatalf("NightShare = %v, want 0.8", r.NightShare)
		}
	})
	t.Run("working day and ties", func(t *testing.T) {
		// 10:00-13:59 UTC only: every offset from -2 to +5 holds it all in 08:00-18:59; the
		// mean hour is 12:00 UTC, so +1 or +2 centres it on 13:30 equally, and the laptop's
		// +2 decides.
		a := &pb.Activity{Days: []*pb.ActivityDay{actDay(0, map[int]uint32{10: 60, 11: 60, 12: 60, 13: 60})}}
		r := AnalyzeActivity(a, 2*3600, ActivityConfig{})
		if r.BestOffsetSeconds != 2*3600 || r.BestOffsetShare != 1 || r.OffsetRangeSeconds != [2]int32{-2 * 3600, 5 * 3600} {
			t.Fatalf("best %s share %v range %v", offsetLabel(r.BestOffsetSeconds), r.BestOffsetShare, r.OffsetRangeSeconds)
		}
		if r = AnalyzeActivity(a, 1*3600, ActivityConfig{}); r.BestOffsetSeconds != 3600 {
			t.Fatalf("laptop at +1: best %s, want +01:00", offsetLabel(r.BestOffsetSeconds))
		}
	})
	t.Run("untrusted input is bounded", func(t *testing.T) {
		short := &pb.ActivityDay{Day: 86400, ActiveMinutes: []uint32{60}, SampledMinutes: []uint32{60}}
		over := actDay(2*86400, map[int]uint32{9: 4000})
		over.SampledMinutes[9] = 4000
		empty := &pb.ActivityDay{Day: 3 * 86400, ActiveMinutes: make([]uint32, 24), SampledMinutes: make([]uint32, 24)}
		unaligned := actDay(4*86400+5, map[int]uint32{9: 60})
		dup := actDay(2*86400, map[int]uint32{9: 60})
		r := AnalyzeActivity(&pb.Activity{Days: []*pb.ActivityDay{short, over, empty, unaligned, dup, nil}}, 0, ActivityConfig{})
		if r.Days != 1 || r.ActiveMinutes != 60 || !strings.Contains(r.Reason, "4 malformed days skipped") {
			t.Fatalf("Days %d ActiveMinutes %d Reason %q; want 1 day, 60 min (capped), 4 skipped", r.Days, r.ActiveMinutes, r.Reason)
		}
		if r := AnalyzeActivity(nil, 0, ActivityConfig{}); r.Days != 0 || r.Enough {
			t.Fatalf("nil activity: %+v", r)
		}
	})
}

func BenchmarkAnalyzeActivity(b *testing.B) {
	a := &pb.Activity{}
	for d := range 35 {
		a.Days = append(a.Days, actDay(int64(d)*86400, map[int]uint32{1: 50, 2: 60, 3: 60, 14: 30}))
	}
	for b.Loop() {
		AnalyzeActivity(a, -5*3600, DefaultActivityConfig())
	}
}

// The profile comes from the device: any values must give bounded shares and no panic.
func FuzzAnalyzeActivity(f *testing.F) {
	f.Add([]byte{1, 2, 3, 60, 60, 0}, int32(-18000))
	f.Fuzz(func(t *testing.T, b []byte, off int32) {
		a := &pb.Activity{}
		for len(b) >= 49 {
			d := &pb.ActivityDay{Day: int64(b[0]) * 86400}
			for h := range 24 {
				d.ActiveMinutes = append(d.ActiveMinutes, uint32(b[1+h])*300)
				d.SampledMinutes = append(d.SampledMinutes, uint32(b[25+h]))
			}
			a.Days = append(a.Days, d)
			b = b[49:]
		}
		r := AnalyzeActivity(a, off%(15*3600), ActivityConfig{})
		if r.NightShare < 0 || r.NightShare > 1+1e-9 || r.BestOffsetShare < 0 || r.BestOffsetShare > 1+1e-9 {
			t.Fatalf("shares out of range: %+v", r)
		}
	})
}

// A Seoul working day on a Chicago laptop reaches only three hours into the local night
// (18:00-03:00 local): under the night threshold, but it fits a day nine hours away and not the
// laptop's own, so it is anomalous. A contractor working 12:00-22:00 local is not.
func TestActivityWorkingDayElsewhere(t *testing.T) {
	chicago, seoul := mustZone(t, "America/Chicago"), mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	seoulDay := simWorker{start: start, days: 14, awake: func(time.Time) bool { return true },
		busy: func(t time.Time) bool {
			return weekday(t, seoul) && between(t, seoul, 9, 18) && !between(t, seoul, 12, 13)
		}}
	r := AnalyzeActivity(seoulDay.run(t), localOffset(chicago, start), DefaultActivityConfig())
	if !r.Anomalous || !r.Elsewhere || r.OwnDayShare > 0.5 || r.BestOffsetSeconds != 9*3600 {
		t.Fatalf("Seoul day on a Chicago laptop: %+v", r)
	}
	late := simWorker{start: start, days: 14, awake: func(time.Time) bool { return true },
		busy: func(t time.Time) bool { return weekday(t, chicago) && between(t, chicago, 12, 22) }}
	if r := AnalyzeActivity(late.run(t), localOffset(chicago, start), DefaultActivityConfig()); r.Anomalous || r.Elsewhere {
		t.Fatalf("late worker: %+v", r)
	}
}
