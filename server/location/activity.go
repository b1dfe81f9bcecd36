package location

import (
	"fmt"
	"math"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// ActivityConfig tunes AnalyzeActivity. Zero fields take the defaults of
// DefaultActivityConfig.
type ActivityConfig struct {
	// MinDays is the fewest days with samples worth judging (default 7: one week, so that
	// weekends are in and one odd night is not a pattern).
	MinDays int
	// NightStart and NightEnd are the local night, hours [NightStart, NightEnd) on the
	// laptop's clock; NightStart > NightEnd wraps midnight (22, 6). Default 0 and 6:
	// 00:00-05:59, when almost nobody who lives in the laptop's zone works.
	NightStart, NightEnd int
	// MinActiveMinutes is the least activity over the window worth judging (default 600: ten
	// hours, about a working day and a half).
	MinActiveMinutes int
	// NightShare is the share of activity in the local night at or above which the profile
	// is anomalous (default 0.35: a day worker's late evenings stay under 0.05; a night shift
	// of 22:00-06:00 puts 0.75 there).
	NightShare float64
	// ElsewhereHours and ElsewhereShare catch a working day kept in another zone that does
	// not reach far into the local night (Seoul's 09:00-18:00 is 18:00-03:00 in Chicago): the
	// profile is also anomalous when the best-fitting offset lies ElsewhereHours or more from
	// the laptop's own (default 6), holds ElsewhereShare of the activity (default 0.75), and
	// the laptop's own working day holds at most half of it.
	ElsewhereHours int
	ElsewhereShare float64
}

// DefaultActivityConfig returns the defaults.
func DefaultActivityConfig() ActivityConfig {
	return ActivityConfig{MinDays: 7, NightStart: 0, NightEnd: 6, MinActiveMinutes: 600, NightShare: 0.35, ElsewhereHours: 6, ElsewhereShare: 0.75}
}

// ActivityResult is the reading of an activity profile.
type ActivityResult struct {
	// Days is the number of days with at least one sampled minute.
	Days int
	// ActiveMinutes is the activity over those days.
	ActiveMinutes int
	// NightShare is the share of ActiveMinutes in the local night hours.
	NightShare float64
	// BestOffsetSeconds is the whole-hour UTC offset (-12 h to +14 h) whose local working
	// day 08:00-18:59 holds the most activity; see AnalyzeActivity for ties.
	BestOffsetSeconds int32
	// BestOffsetShare is the share of activity inside that working day.
	BestOffsetShare float64
	// OffsetRangeSeconds is the first and last offset tied with the best (within
	// activityTieTolerance of its share): an 8-hour block fits an 11-hour working day at 4
	// consecutive offsets, and hours of use alone cannot tell them apart.
	OffsetRangeSeconds [2]int32
	// LocalHistogram is the active minutes per local hour (laptop clock), averaged per day.
	LocalHistogram [24]float64
	// Enough says there were at least MinDays days and MinActiveMinutes minutes.
	Enough bool
	// OwnDayShare is the share of activity inside 08:00-18:59 on the laptop's own clock.
	OwnDayShare float64
	// Anomalous says Enough and NightShare >= the configured NightShare, or Elsewhere.
	Anomalous bool
	// Elsewhere says the activity fits a working day ElsewhereHours or more away from the
	// laptop's zone, and not the laptop's own.
	Elsewhere bool
	// Reason says in words why Enough or Anomalous is what it is.
	Reason string
}

// activityTieTolerance is how close (as a share of all activity) another offset's working-day
// share must be to the best to count as tied: a few evening e-mails must not move the answer
// by an hour.
const activityTieTolerance = 0.02

// activityMaxDays bounds the days read from a report (the agent sends at most 35).
const activityMaxDays = 62

// Offsets tried for the working day, in hours, and the working day itself: local hours
// [8, 19), whose middle is 13:30.
const (
	activityMinOffset = -12
	activityMaxOffset = 14
	workStart         = 8
	workEnd           = 19
	workMiddle        = 13.5
)

// AnalyzeActivity reads an activity profile (minutes sampled and active per UTC hour of each
// UTC day) against the laptop's UTC offset, offsetSeconds.
//
// The maths. Let A[h] be the active minutes summed over all days for UTC hour h (0..23),
// counting only days with a sampled minute, and only well-formed days (24 hours each, at most
// 60 minutes an hour, active at most sampled, one entry per day). T = Σ A[h].
//
//   - The laptop-local histogram shifts A by the offset o: local hour l collects A[h] for
//     h + o/3600 ≡ l (mod 24). For offsets that are not whole hours (+5:30, +5:45) an hour of
//     UTC straddles two local hours and is split between them in proportion (activity is
//     taken as even within an hour). LocalHistogram[l] is that divided by Days.
//   - NightShare = Σ LocalHistogram[l] over the night hours l ∈ [NightStart, NightEnd), times
//     Days, over T: the share of use that happened at night on the laptop's clock.
//   - For every whole-hour offset k from -12 to +14, W(k) = Σ A[h] over the UTC hours h with
//     (h + k) mod 24 ∈ [8, 19), the activity that falls in a working day 08:00-18:59 at k.
//     BestOffsetShare = max W(k) / T. Offsets with W(k) ≥ max W − 2% of T are tied (an
//     8-hour block fits the 11-hour window at four consecutive offsets, and +13/+14 repeat
//     −11/−10). Among the tied, the winner puts the activity's circular mean hour (the
//     direction of Σ A[h]·e^{2πi(h+½)/24}) closest to 13:30 local, the working day's middle;
//     an exact tie goes to the offset nearest the laptop's own. OffsetRangeSeconds spans
//     the tied offsets that are contiguous with the winner.
//
// Enough needs Days ≥ MinDays and T ≥ MinActiveMinutes; Anomalous needs Enough and either
// NightShare ≥ the NightShare threshold or Elsewhere (see ActivityConfig). Known=false in the report changes nothing here: the
// caller decides whether to trust a profile whose timer is failing now. The input is
// untrusted; malformed days are skipped and said in Reason. Cost: O(days × 24).
func AnalyzeActivity(a *pb.Activity, offsetSeconds int32, cfg ActivityConfig) ActivityResult {
	cfg = activityDefaults(cfg)
	var r ActivityResult
	var utc [24]float64
	seen := map[int64]bool{}
	bad := 0
	for _, d := range a.GetDays() {
		if len(seen)+bad >= activityMaxDays {
			bad++
			continue
		}
		act, smp := d.GetActiveMinutes(), d.GetSampledMinutes()
		if len(act) != 24 || len(smp) != 24 || d.GetDay()%86400 != 0 || seen[d.GetDay()] {
			bad++
			continue
		}
		sampled := false
		for h := range 24 {
			s := min(smp[h], 60)
			sampled = sampled || s > 0
			utc[h] += float64(min(act[h], s))
		}
		if sampled {
			seen[d.GetDay()] = true
		}
	}
	r.Days = len(seen)
	var total float64
	for _, v := range utc {
		total += v
	}
	r.ActiveMinutes = int(total)
	r.LocalHistogram = shiftHours(utc, offsetSeconds)

	if total > 0 {
		var night float64
		for l, v := range r.LocalHistogram {
			if inHours(l, cfg.NightStart, cfg.NightEnd) {
				night += v
			}
		}
		r.NightShare = night / total
		var day float64
		for l := 8; l <= 18; l++ {
			day += r.LocalHistogram[l]
		}
		r.OwnDayShare = day / total
		r.BestOffsetSeconds, r.BestOffsetShare, r.OffsetRangeSeconds = bestOffset(utc, total, offsetSeconds)
	}
	if r.Days > 0 {
		for l := range r.LocalHistogram {
			r.LocalHistogram[l] /= float64(r.Days)
		}
	}

	malformed := ""
	if bad > 0 {
		malformed = fmt.Sprintf("; %d malformed days skipped", bad)
	}
	r.Enough = r.Days >= cfg.MinDays && r.ActiveMinutes >= cfg.MinActiveMinutes
	switch {
	case !r.Enough:
		r.Reason = fmt.Sprintf("not enough activity to judge: %d days (need %d), %d active minutes (need %d)%s",
			r.Days, cfg.MinDays, r.ActiveMinutes, cfg.MinActiveMinutes, malformed)
	default:
		shift := (r.BestOffsetSeconds - offsetSeconds) / 3600
		if shift < 0 {
			shift = -shift
		}
		if shift > 12 {
			shift = 24 - shift
		}
		ownTied := offsetSeconds >= r.OffsetRangeSeconds[0] && offsetSeconds <= r.OffsetRangeSeconds[1]
		r.Elsewhere = int(shift) >= cfg.ElsewhereHours && !ownTied && r.BestOffsetShare >= cfg.ElsewhereShare && r.OwnDayShare <= 0.5
		r.Anomalous = r.NightShare >= cfg.NightShare || r.Elsewhere
		verdict := "under"
		if r.NightShare >= cfg.NightShare {
			verdict = "at or over"
		}
		if r.Elsewhere {
			malformed = fmt.Sprintf("; only %.0f%% falls in the laptop's own working day", 100*r.OwnDayShare) + malformed
		}
		r.Reason = fmt.Sprintf("%.0f%% of %d active minutes over %d days fell in local night %02d:00-%02d:59 (UTC%s), %s the %.0f%% threshold; "+
			"%.0f%% fits a working day at UTC%s (UTC%s to UTC%s fit as well)%s",
			100*r.NightShare, r.ActiveMinutes, r.Days, cfg.NightStart, (cfg.NightEnd+23)%24, offsetLabel(offsetSeconds), verdict, 100*cfg.NightShare,
			100*r.BestOffsetShare, offsetLabel(r.BestOffsetSeconds), offsetLabel(r.OffsetRangeSeconds[0]), offsetLabel(r.OffsetRangeSeconds[1]), malformed)
	}
	return r
}

// activityDefaults fills zero and out-of-range fields.
func activityDefaults(c ActivityConfig) ActivityConfig {
	d := DefaultActivityConfig()
	if c.MinDays <= 0 {
		c.MinDays = d.MinDays
	}
	if c.MinActiveMinutes <= 0 {
		c.MinActiveMinutes = d.MinActiveMinutes
	}
	if c.NightShare <= 0 || c.NightShare > 1 || math.IsNaN(c.NightShare) {
		c.NightShare = d.NightShare
	}
	if c.NightStart < 0 || c.NightStart > 23 || c.NightEnd < 0 || c.NightEnd > 24 || c.NightStart == c.NightEnd {
		c.NightStart, c.NightEnd = d.NightStart, d.NightEnd
	}
	if c.ElsewhereHours <= 0 || c.ElsewhereHours > 12 {
		c.ElsewhereHours = d.ElsewhereHours
	}
	if c.ElsewhereShare <= 0 || c.ElsewhereShare > 1 || math.IsNaN(c.ElsewhereShare) {
		c.ElsewhereShare = d.ElsewhereShare
	}
	return c
}

// inHours says whether hour l is in [start, end), wrapping midnight when start > end.
func inHours(l, start, end int) bool {
	if start < end {
		return l >= start && l < end
	}
	return l >= start || l < end
}

// shiftHours moves a UTC-hour histogram to local hours at offset off (seconds), splitting
// each hour between two local hours when the offset is not a whole number of hours.
func shiftHours(utc [24]float64, off int32) [24]float64 {
	var out [24]float64
	whole := int(math.Floor(float64(off) / 3600))
	frac := float64(off)/3600 - float64(whole) // in [0, 1)
	for h, v := range utc {
		l := ((h+whole)%24 + 24) % 24
		out[l] += v * (1 - frac)
		out[(l+1)%24] += v * frac
	}
	return out
}

// bestOffset finds the working-day offset (see AnalyzeActivity).
func bestOffset(utc [24]float64, total float64, laptop int32) (best int32, share float64, span [2]int32) {
	var w [activityMaxOffset - activityMinOffset + 1]float64
	top := 0.0
	for i := range w {
		k := activityMinOffset + i
		for h, v := range utc {
			if l := ((h+k)%24 + 24) % 24; l >= workStart && l < workEnd {
				w[i] += v
			}
		}
		top = max(top, w[i])
	}
	mean := circularMeanHour(utc)
	bi, bestDist := -1, 0.0
	for i := range w {
		if w[i] < top-activityTieTolerance*total {
			continue
		}
		k := activityMinOffset + i
		dist := math.Abs(math.Remainder(mean+float64(k)-workMiddle, 24))
		if bi < 0 || dist < bestDist-1e-9 ||
			(math.Abs(dist-bestDist) <= 1e-9 && math.Abs(float64(k*3600-int(laptop))) < math.Abs(float64((activityMinOffset+bi)*3600-int(laptop)))) {
			bi, bestDist = i, dist
		}
	}
	lo, hi := bi, bi
	for lo > 0 && w[lo-1] >= top-activityTieTolerance*total {
		lo--
	}
	for hi < len(w)-1 && w[hi+1] >= top-activityTieTolerance*total {
		hi++
	}
	return int32((activityMinOffset + bi) * 3600), w[bi] / total,
		[2]int32{int32((activityMinOffset + lo) * 3600), int32((activityMinOffset + hi) * 3600)}
}

// circularMeanHour is the mean UTC hour of the activity on the 24-hour circle, taking each
// hour's mass at its middle (h + ½).
func circularMeanHour(utc [24]float64) float64 {
	var x, y float64
	for h, v := range utc {
		a := 2 * math.Pi * (float64(h) + 0.5) / 24
		x += v * math.Cos(a)
		y += v * math.Sin(a)
	}
	m := math.Atan2(y, x) * 24 / (2 * math.Pi)
	if m < 0 {
		m += 24
	}
	return m
}

// offsetLabel writes an offset as "+09:00", "-05:00", "+05:30".
func offsetLabel(off int32) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return fmt.Sprintf("%s%02d:%02d", sign, off/3600, off%3600/60)
}
