package console

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

const (
	// signalDays is the overview's signal window.
	signalDays = 30
	// maxOverviewSignals bounds the signal table: the busiest signals first.
	maxOverviewSignals = 20
	// chartHeight is the drawing height of the score histogram's bars, in SVG units.
	chartHeight = 120
)

// countRow is one line of a count table: a label, its count, a bar width and where the
// matching devices are listed.
type countRow struct {
	Label string
	Class string // fixed word: a band or triage class
	Count int
	Bar   int // 0..100, relative to the largest count of the table
	URL   string
}

// histBar is one bar of the score histogram, in SVG units.
type histBar struct {
	X, Y, H, TextX, TextY int
	Label                 string // "0–9" …
	Count                 int
}

// signalRow is one signal's first-seen counts per day over the window, oldest day first.
type signalRow struct {
	Signal string
	URL    string
	Total  int
	Bars   []sparkBar
}

type sparkBar struct {
	X, Y, H int
	Title   string
}

type overviewData struct {
	Devices    int
	Bands      []countRow
	Triage     []countRow
	Histogram  []histBar
	HistMax    int
	Clusters   int
	NewestHigh []deviceRow
	Signals    []signalRow
	MoreSigs   int
	Since      string
}

// overview is GET /overview: the fleet at a glance. One store call, aggregated in SQL.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, s store.Session) {
	now := c.now()
	o, err := c.store.Overview(r.Context(), now, signalDays)
	if err != nil {
		c.log.Error("console overview", "err", err, "user", s.Username)
		c.renderError(w, r, http.StatusInternalServerError, "Overview unavailable",
			"The fleet overview could not be loaded. Try again in a moment.", s)
		return
	}
	c.show(w, r, s, "overview", "Overview", "overview", c.overviewView(o, now))
}

func (c *Console) overviewView(o store.Overview, now time.Time) overviewData {
	d := overviewData{Devices: o.Devices, Clusters: o.Clusters}
	for _, b := range []struct{ band, label string }{{"critical", "Critical"}, {"high", "High"}, {"medium", "Medium"}, {"low", "Low"}} {
		d.Bands = append(d.Bands, countRow{Label: b.label, Class: bandClass(b.band), Count: o.ByBand[b.band], URL: "/devices?band=" + b.band + "&sort=score"})
	}
	if n := o.ByBand[""]; n > 0 {
		d.Bands = append(d.Bands, countRow{Label: "Not scored yet", Class: "sev-unknown", Count: n})
	}
	scaleBars(d.Bands)
	for _, t := range triageChoices {
		d.Triage = append(d.Triage, countRow{Label: t.Label, Class: "triage-" + triageClass(t.Value), Count: o.ByTriage[t.Value], URL: "/devices?triage=" + t.Value + "&sort=score"})
	}
	scaleBars(d.Triage)

	for _, n := range o.ScoreBins {
		d.HistMax = max(d.HistMax, n)
	}
	const barW, gap, top = 36, 8, 16
	for i, n := range o.ScoreBins {
		h := 0
		if d.HistMax > 0 {
			h = n * chartHeight / d.HistMax
			if n > 0 {
				h = max(h, 2) // a bin with any device stays visible
			}
		}
		x := 30 + i*(barW+gap)
		d.Histogram = append(d.Histogram, histBar{
			X: x, Y: top + chartHeight - h, H: h, TextX: x + barW/2, TextY: top + chartHeight - h - 4,
			Label: fmt.Sprintf("%d–%d", i*10, i*10+9), Count: n,
		})
	}
	d.Histogram[9].Label = "90–100"

	for _, dev := range o.NewestHigh {
		d.NewestHigh = append(d.NewestHigh, deviceRow{
			ID: dev.ID, ShortID: dev.ID[:min(len(dev.ID), 12)], Hostname: dev.Hostname, Score: formatScore(dev.Score),
			Band: dev.Band, LastSeen: c.stamp(dev.ScoredAt), Triage: dev.Triage.State, Group: dev.Group,
		})
	}

	// Days of the window, oldest first, as UTC dates: the store counts by UTC day.
	first := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(signalDays - 1))
	d.Since = first.Format(time.DateOnly)
	bySignal := map[string]*signalRow{}
	perDay := map[string][]int{}
	for _, sd := range o.Signals {
		i := int(sd.Day.Sub(first) / (24 * time.Hour))
		if i < 0 || i >= signalDays {
			continue
		}
		row := bySignal[sd.Signal]
		if row == nil {
			row = &signalRow{Signal: sd.Signal}
			bySignal[sd.Signal] = row
			perDay[sd.Signal] = make([]int, signalDays)
		}
		row.Total += sd.Count
		perDay[sd.Signal][i] += sd.Count
	}
	rows := make([]*signalRow, 0, len(bySignal))
	for _, r := range bySignal {
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b *signalRow) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), cmp.Compare(a.Signal, b.Signal))
	})
	if len(rows) > maxOverviewSignals {
		d.MoreSigs = len(rows) - maxOverviewSignals
		rows = rows[:maxOverviewSignals]
	}
	const sparkH = 20
	for _, row := range rows {
		days := perDay[row.Signal]
		peak := slices.Max(days)
		for i, n := range days {
			h := 0
			if n > 0 {
				h = max(1, n*sparkH/peak)
			}
			row.Bars = append(row.Bars, sparkBar{X: i * 4, Y: sparkH - h, H: h,
				Title: fmt.Sprintf("%s: %d", first.AddDate(0, 0, i).Format(time.DateOnly), n)})
		}
		if signalFilterPattern.MatchString(row.Signal) {
			row.URL = "/devices?" + url.Values{"signal": {row.Signal}, "sort": {"score"}}.Encode()
		}
		d.Signals = append(d.Signals, *row)
	}
	return d
}

// scaleBars sets each row's bar length relative to the largest count.
func scaleBars(rows []countRow) {
	top := 0
	for _, r := range rows {
		top = max(top, r.Count)
	}
	for i := range rows {
		if top > 0 {
			rows[i].Bar = rows[i].Count * 100 / top
		}
	}
}
