// Package score turns a device's current findings into a score from 0 to 100 and a band,
// under a policy, with a breakdown that traces every point to a finding, its weight, its
// decay and any allowlist entry. The combination rule is docs/scoring.md's.
//
// Score is a pure function of the policy, the findings and the time: call it again whenever
// either changes. It costs a few microseconds for a device with tens of findings.
package score

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// Device is what is scored: a device, its group (for sanctions) and its current findings.
type Device struct {
	ID, Group string
	Findings  []store.Finding
}

// Result is a device's score and why.
type Result struct {
	Score         float64 // 0..100, rounded to 0.1
	Band          string  // low, medium, high, critical
	PolicyVersion string
	// Base is the families' points combined (noisy-OR), before the conjunction bonus.
	Base float64
	// Conjunction is the bonus for findings in several families; Score = Base + Conjunction.
	Conjunction float64
	// Present lists the families at or above the conjunction floor.
	Present []string
	// Families are every family with findings, strongest first.
	Families []Family
	// Contributions are every finding, strongest first, including those that score nothing.
	Contributions []Contribution
}

// Family is one family's share of the score.
type Family struct {
	Name string
	// Points after in-family combination and the cap.
	Points float64
	// Capped says the family's findings were worth more than its cap.
	Capped bool
	// Findings counts the family's findings that score; Allowlisted those a policy entry quiets.
	Findings    int
	Allowlisted int
}

// Contribution is one finding's part in the score.
type Contribution struct {
	Signal, Key, Title, Family string
	Severity                   string  // info, low, medium, high, critical, unspecified
	Confidence                 float64 // as used: Policy.Confidence.Missing for none, at most 1
	Weight                     float64
	SeverityFactor             float64
	Decay                      float64 // 0.5^(AgeHours / half-life)
	AgeHours                   float64 // since the finding was last seen
	HalfLifeHours              float64 // 0: no decay
	// Points = Weight x SeverityFactor x Confidence x Decay, 0 when allowlisted or below the
	// policy's minimum confidence.
	Points float64
	// Allowlist is the reason of the policy entry that quiets the finding ("" if none).
	Allowlist string
	// DefaultWeight says the policy does not know the signal and its default was used.
	DefaultWeight bool
	// Note says why a finding scores nothing when it is not allowlisted.
	Note string

	// session identifies the remote session a *.session finding reports (its peer address),
	// so that one session seen by two detectors counts once.
	session string
}

// Score scores a device under a policy at time now.
func Score(p *policy.Policy, d Device, now time.Time) Result {
	r := Result{PolicyVersion: p.Version(), Contributions: make([]Contribution, len(d.Findings))}
	all := r.Contributions
	for i := range d.Findings {
		all[i] = contribution(p, d, &d.Findings[i], now)
	}
	// Strongest first; ties in a stable, readable order. Sort indexes, then move the wide
	// records once.
	var buf [64]int
	order := buf[:0]
	for i := range all {
		order = append(order, i)
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &all[i], &all[j]
		if a.Points != b.Points {
			if a.Points > b.Points {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Signal, b.Signal); c != 0 {
			return c
		}
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return i - j
	})
	// order[k] is the record that goes to k; follow each cycle of the permutation.
	for k := range order {
		if order[k] < 0 || order[k] == k {
			continue
		}
		tmp, at := all[k], k
		for order[at] != k {
			next := order[at]
			all[at], order[at] = all[next], -1
			at = next
		}
		all[at], order[at] = tmp, -1
	}
	// One session, two detectors: the OS's remote-desktop server and the remote-tool catalog
	// both report an xrdp or VNC session with the same peer. The strongest counts; the other
	// is shown with a note and scores nothing.
	var sessions map[string]string
	for k := range all {
		c := &all[k]
		if c.session == "" || c.Points == 0 {
			continue
		}
		if first, dup := sessions[c.session]; dup {
			c.Points, c.Note = 0, "same session as "+first+" (peer "+c.session+"): counted once"
			continue
		}
		if sessions == nil {
			sessions = map[string]string{}
		}
		sessions[c.session] = c.Signal
	}
	r.Families = make([]Family, 0, 10)

	// Within a family: the strongest in full, each other for RestShare, then the cap. The
	// contributions are sorted, so a family's first is its strongest.
	rest := p.Combine.RestShare
	for k := range r.Contributions {
		c := &r.Contributions[k]
		i := slices.IndexFunc(r.Families, func(f Family) bool { return f.Name == c.Family })
		if i < 0 {
			r.Families = append(r.Families, Family{Name: c.Family})
			i = len(r.Families) - 1
		}
		f := &r.Families[i]
		switch {
		case c.Allowlist != "":
			f.Allowlisted++
		case c.Points > 0:
			if f.Findings == 0 {
				f.Points = c.Points
			} else {
				f.Points += rest * c.Points
			}
			f.Findings++
		}
	}

	// Across families: noisy-OR, so that each family closes part of the remaining distance to
	// 100, then the conjunction bonus for every present family beyond the first.
	miss := 1.0
	for i := range r.Families {
		f := &r.Families[i]
		if cap := p.FamilyCap(f.Name); f.Points > cap {
			f.Points, f.Capped = cap, true
		}
		miss *= 1 - f.Points/100
		if f.Points > 0 && f.Points >= p.Combine.ConjunctionFloor {
			r.Present = append(r.Present, f.Name)
		}
	}
	base := 100 * (1 - miss)
	bonus := 0.0
	if n := len(r.Present); n > 1 {
		bonus = min(p.Combine.ConjunctionBonus*float64(n-1), p.Combine.ConjunctionCap)
	}
	total := min(100, base+bonus)

	r.Score = round(total, 1)
	r.Base = round(base, 1)
	r.Conjunction = round(r.Score-r.Base, 1)
	r.Band = p.Bands.Band(r.Score)
	for i := range r.Families {
		r.Families[i].Points = round(r.Families[i].Points, 1)
	}
	slices.SortStableFunc(r.Families, func(a, b Family) int {
		if a.Points != b.Points {
			if a.Points > b.Points {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	slices.Sort(r.Present)
	for i := range r.Contributions {
		c := &r.Contributions[i]
		c.Points, c.Decay, c.AgeHours = round(c.Points, 2), round(c.Decay, 3), round(c.AgeHours, 1)
	}
	return r
}

func contribution(p *policy.Policy, d Device, f *store.Finding, now time.Time) Contribution {
	sig, known := p.Lookup(f.Signal)
	c := Contribution{
		Signal: f.Signal, Key: f.Key, Title: f.Title, Family: sig.Family,
		Severity:       policy.SeverityName(f.Severity),
		Confidence:     f.Confidence,
		Weight:         sig.Weight,
		SeverityFactor: p.Severity.Factor(f.Severity),
		Decay:          1,
		HalfLifeHours:  sig.HalfLife.Hours(),
		DefaultWeight:  !known,
	}
	switch {
	case !(c.Confidence > 0): // 0 (not set), negative, NaN
		c.Confidence = p.Confidence.Missing
	case c.Confidence > 1:
		c.Confidence = 1
	}
	seen := f.LastSeen
	if seen.IsZero() {
		seen = f.FirstSeen
	}
	if !seen.IsZero() && now.After(seen) {
		age := now.Sub(seen)
		c.AgeHours = age.Hours()
		if sig.HalfLife > 0 {
			c.Decay = math.Exp2(-float64(age) / float64(sig.HalfLife))
		}
	}
	if reason := allowlisted(p, d.Group, f); reason != "" {
		c.Allowlist = reason
		return c
	}
	if c.Confidence < p.Confidence.Min {
		c.Note = "confidence below the policy's minimum"
		return c
	}
	c.Points = c.Weight * c.SeverityFactor * c.Confidence * c.Decay
	if strings.HasSuffix(f.Signal, ".session") {
		c.session = f.Evidence["peer_address"]
	}
	return c
}

// allowlisted returns the reason a policy entry quiets a finding, or "".
func allowlisted(p *policy.Policy, group string, f *store.Finding) string {
	ev := f.Evidence
	if s, ok := p.Sanctioning(f.Signal, ev, group); ok {
		return "sanctioned (" + s.String() + ")"
	}
	if f.Signal == "remote_tool.multiple" && len(p.Sanctioned) > 0 {
		// Several vendors on one laptop; those sanctioned for this device do not count.
		tools := strings.Split(ev["tools"], ",")
		left := 0
		for _, t := range tools {
			tev := map[string]string{"tool": strings.TrimSpace(t)}
			if _, ok := p.Sanctioning(f.Signal, tev, group); !ok {
				left++
			}
		}
		if left < 2 {
			return "sanctioned: fewer than two unsanctioned tools among " + ev["tools"]
		}
	}
	if strings.HasPrefix(f.Signal, "fleet.") && ev["value"] != "" {
		// The fleet correlator already drops these values; a finding made under an older
		// policy is quieted here until the next correlation replaces it.
		var why []string
		for _, v := range strings.Split(ev["value"], ",") {
			v = strings.TrimSpace(v)
			if pr, ok := p.CorporateAddress(v); ok {
				why = append(why, "corporate egress "+pr.String())
			} else if p.IgnoredValue(v) {
				why = append(why, "shared on purpose: "+strings.ToLower(v))
			} else {
				return ""
			}
		}
		return strings.Join(why, "; ")
	}
	return ""
}

func round(f float64, places int) float64 {
	m := math.Pow10(places)
	return math.Round(f*m) / m
}
