// Package eval runs the labelled scenario suite through the collector's own analysis —
// location derivation, fleet correlation and scoring under a policy — and measures how well
// the scores separate farm devices from benign ones: precision, recall and false-positive
// rate per band and per signal family, and the misclassified devices with their breakdowns.
// docs/scenarios.md describes the suite's format.
package eval

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/fleet"
	"github.com/farmwatch/farmwatch/server/location"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
	"github.com/farmwatch/farmwatch/server/store"
)

// Bands are the bands measured, lowest first: a device at or above a band is flagged at it.
var Bands = []string{policy.BandMedium, policy.BandHigh, policy.BandCritical}

// GateBand is the band the thresholds and the misclassified list refer to.
const GateBand = policy.BandHigh

// Report is the outcome of one evaluation.
type Report struct {
	Scenarios     string          `json:"scenarios"`
	PolicyVersion string          `json:"policy_version"`
	Now           time.Time       `json:"now"`
	Devices       int             `json:"devices"`
	Farm          int             `json:"farm"`
	Benign        int             `json:"benign"`
	Fleets        []FleetSummary  `json:"fleets"`
	Bands         []Metrics       `json:"bands"`
	Families      []FamilyMetrics `json:"families"`
	// Misclassified are the devices on the wrong side of GateBand: farm below it, benign at
	// or above it.
	Misclassified []DeviceResult `json:"misclassified"`
	Results       []DeviceResult `json:"results"`
}

// FleetSummary is one fleet's devices and the clusters correlation found in it.
type FleetSummary struct {
	Name     string           `json:"name"`
	File     string           `json:"file"`
	Devices  int              `json:"devices"`
	Farm     int              `json:"farm"`
	Benign   int              `json:"benign"`
	Clusters []ClusterSummary `json:"clusters"`
	Notes    []string         `json:"notes,omitempty"`
}

// ClusterSummary is one cluster: its members and what links them.
type ClusterSummary struct {
	ID      string   `json:"id"`
	Members []string `json:"members"`
	Kinds   []string `json:"kinds"`
}

// Metrics counts a confusion matrix: a device at or above Band is flagged.
type Metrics struct {
	Band      string  `json:"band"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	TN        int     `json:"tn"`
	Precision float64 `json:"precision"` // TP/(TP+FP); 1 when nothing is flagged
	Recall    float64 `json:"recall"`    // TP/(TP+FN); 1 when there are no farm devices
	FPR       float64 `json:"fpr"`       // FP/(FP+TN); 0 when there are no benign devices
}

// FamilyMetrics measures, at GateBand, the devices that exercise one family, and how often
// the family scored on farm and benign devices.
type FamilyMetrics struct {
	Family  string `json:"family"`
	Devices int    `json:"devices"`
	Metrics
	// FarmScored and BenignScored count devices (of all) on which the family scored points.
	FarmScored   int `json:"farm_scored"`
	BenignScored int `json:"benign_scored"`
}

// DeviceResult is one device's label, score and breakdown.
type DeviceResult struct {
	Fleet    string       `json:"fleet"`
	ID       string       `json:"id"`
	Hostname string       `json:"hostname"`
	Label    string       `json:"label"`
	Case     string       `json:"case"`
	Group    string       `json:"group,omitempty"`
	Families []string     `json:"families"`
	Score    float64      `json:"score"`
	Band     string       `json:"band"`
	Wrong    bool         `json:"misclassified"`
	Typed    int          `json:"typed_findings"`
	Result   score.Result `json:"breakdown"`
}

// Run loads every fleet file in dir, derives each device's location findings and its fleet's
// clusters as the collector does, and scores every device under p at now. The suite's times
// are shifted so that each fleet's "observed" moment is now.
func Run(dir string, p *policy.Policy, now time.Time) (Report, error) {
	fleets, err := loadFleets(dir)
	if err != nil {
		return Report{}, err
	}
	r := Report{Scenarios: dir, PolicyVersion: p.Version(), Now: now.UTC()}
	for _, fl := range fleets {
		dv := derive(fl, p, now)
		fs := FleetSummary{Name: fl.Fleet, File: fl.path, Notes: dv.notes}
		for _, c := range dv.clusters {
			fs.Clusters = append(fs.Clusters, ClusterSummary{ID: c.ID, Members: c.Members, Kinds: c.Kinds})
		}
		findings := dv.findings
		for _, d := range fl.devices {
			res := score.Score(p, score.Device{ID: d.spec.ID, Group: d.spec.Group, Findings: findings[d.spec.ID]}, now)
			dr := DeviceResult{Fleet: fl.Fleet, ID: d.spec.ID, Hostname: d.spec.Hostname, Label: d.spec.Label, Case: d.spec.Case,
				Group: d.spec.Group, Families: d.spec.Families, Score: res.Score, Band: res.Band, Typed: len(d.typed), Result: res}
			dr.Wrong = (dr.Label == LabelFarm) != atLeast(dr.Band, GateBand)
			r.Results = append(r.Results, dr)
			fs.Devices++
			if dr.Label == LabelFarm {
				fs.Farm++
			} else {
				fs.Benign++
			}
		}
		r.Fleets = append(r.Fleets, fs)
	}
	r.tally()
	return r, nil
}

// derived is one fleet as the collector would hold it: every device's findings (the agent's,
// and the location and fleet findings derived here), the clusters and the members.
type derived struct {
	findings map[string][]store.Finding
	clusters []fleet.Cluster
	notes    []string
	members  []fleet.Member
	location map[string][]string // analysis notes by device
}

// derive runs the collector's location analysis and fleet correlation over one fleet file.
func derive(fl *fleetData, p *policy.Policy, now time.Time) derived {
	var out derived
	out.location = map[string][]string{}
	cfg := fleet.Config{Window: p.Fleet.Window, MinMembers: p.Fleet.MinMembers, CorporateEgress: p.CorporateEgress, IgnoreValues: p.Fleet.IgnoreValues}
	loc := p.Location()
	shift := now.Sub(fl.observed)
	days := shift.Round(24*time.Hour) / (24 * time.Hour)
	var members []fleet.Member
	findings := map[string][]store.Finding{}
	for _, d := range fl.devices {
		facts := proto.Clone(d.facts).(*pb.Facts)
		shiftActivity(facts.GetActivity(), int64(days)*86400)
		var agent []store.Finding
		for _, f := range d.findings {
			src := "agent"
			if d.typed[f] && (strings.HasPrefix(f.GetSignal(), "location.") || strings.HasPrefix(f.GetSignal(), "fleet.")) {
				src = "collector"
			}
			sf := toStore(d.spec.ID, f, src, d.created.Add(shift), fl.observed.Add(shift), shift)
			agent = append(agent, sf)
		}
		m := fleet.Member{DeviceID: d.spec.ID, Hostname: d.spec.Hostname, MACs: facts.GetHost().GetMacAddresses(), Facts: facts, LastSeen: fl.observed.Add(shift)}
		var latest egress
		for _, e := range d.egress {
			m.Egress = append(m.Egress, store.Egress{Address: e.addr.String(), FirstSeen: e.first.Add(shift), LastSeen: e.last.Add(shift), Seen: 1,
				Country: e.place.Country, ASN: e.place.ASN, ASOrg: e.place.ASOrg, Class: e.place.Class})
			if e.last.After(latest.last) {
				latest = e
			}
		}
		members = append(members, m)
		in := location.Input{Now: now, Facts: facts, AgentFindings: agent, Egress: latest.addr, Locate: locator(fl, d)}
		if ps := d.spec.Person; ps != nil {
			in.Person = &store.Person{EmployeeID: d.spec.ID, Country: ps.Country, TimeZone: ps.TimeZone, Languages: ps.Languages,
				NightShift: ps.NightShift, DeviceHostname: d.spec.Hostname}
		}
		lr := location.Analyze(in, loc)
		out.location[d.spec.ID] = lr.Notes
		for _, f := range lr.Findings {
			agent = append(agent, toStore(d.spec.ID, f, "collector", now, now, 0))
		}
		findings[d.spec.ID] = agent
	}
	clusters, notes := fleet.Correlate(members, cfg, now)
	out.clusters, out.notes, out.members = clusters, notes, members
	for id, fsf := range fleet.Findings(clusters) {
		for _, f := range fsf {
			findings[id] = append(findings[id], toStore(id, f, "collector", now, now, 0))
		}
	}
	out.findings = findings
	return out
}

func (r *Report) tally() {
	for _, d := range r.Results {
		r.Devices++
		if d.Label == LabelFarm {
			r.Farm++
		} else {
			r.Benign++
		}
		if d.Wrong {
			r.Misclassified = append(r.Misclassified, d)
		}
	}
	slices.SortStableFunc(r.Misclassified, func(a, b DeviceResult) int {
		return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(a.Score, b.Score))
	})
	for _, b := range Bands {
		r.Bands = append(r.Bands, confusion(b, r.Results))
	}
	for _, fam := range Families {
		fm := FamilyMetrics{Family: fam}
		var in []DeviceResult
		for _, d := range r.Results {
			if slices.Contains(d.Families, fam) {
				in = append(in, d)
			}
			for _, f := range d.Result.Families {
				if f.Name == fam && f.Points > 0 {
					if d.Label == LabelFarm {
						fm.FarmScored++
					} else {
						fm.BenignScored++
					}
				}
			}
		}
		fm.Devices = len(in)
		fm.Metrics = confusion(GateBand, in)
		r.Families = append(r.Families, fm)
	}
}

func confusion(band string, ds []DeviceResult) Metrics {
	m := Metrics{Band: band}
	for _, d := range ds {
		flagged := atLeast(d.Band, band)
		switch {
		case d.Label == LabelFarm && flagged:
			m.TP++
		case d.Label == LabelFarm:
			m.FN++
		case flagged:
			m.FP++
		default:
			m.TN++
		}
	}
	m.Precision, m.Recall = 1, 1
	if m.TP+m.FP > 0 {
		m.Precision = float64(m.TP) / float64(m.TP+m.FP)
	}
	if m.TP+m.FN > 0 {
		m.Recall = float64(m.TP) / float64(m.TP+m.FN)
	}
	if m.FP+m.TN > 0 {
		m.FPR = float64(m.FP) / float64(m.FP+m.TN)
	}
	return m
}

var bandRank = map[string]int{policy.BandLow: 0, policy.BandMedium: 1, policy.BandHigh: 2, policy.BandCritical: 3}

func atLeast(band, floor string) bool { return bandRank[band] >= bandRank[floor] }

// Band returns the metrics at a band.
func (r Report) Band(band string) Metrics {
	for _, m := range r.Bands {
		if m.Band == band {
			return m
		}
	}
	return Metrics{Band: band}
}

// Check returns the thresholds the report fails at GateBand: recall below minRecall, or
// false-positive rate above maxFPR.
func (r Report) Check(minRecall, maxFPR float64) []string {
	var out []string
	m := r.Band(GateBand)
	if m.Recall < minRecall {
		out = append(out, fmt.Sprintf("recall at %s is %.3f, below %.3f (%d farm device(s) below %s)", GateBand, m.Recall, minRecall, m.FN, GateBand))
	}
	if m.FPR > maxFPR {
		out = append(out, fmt.Sprintf("false-positive rate at %s is %.3f, above %.3f (%d benign device(s) at %s or above)", GateBand, m.FPR, maxFPR, m.FP, GateBand))
	}
	if md := r.Band("medium"); md.Recall < DefaultMinRecallMedium {
		out = append(out, fmt.Sprintf("recall at medium is %.3f, below %.3f (%d farm device(s) below medium)", md.Recall, DefaultMinRecallMedium, md.FN))
	}
	return out
}

// toStore converts a finding to the store's form. Recorded findings keep their age relative to
// the report they came in (at), shifted to the evaluation's clock.
func toStore(dev string, f *pb.Finding, source string, at, fallback time.Time, shift time.Duration) store.Finding {
	ts := func(t *timestamppb.Timestamp) time.Time {
		if t == nil {
			return fallback
		}
		return t.AsTime().Add(shift)
	}
	return store.Finding{DeviceID: dev, Key: f.GetKey(), Signal: f.GetSignal(), Severity: f.GetSeverity(), Confidence: f.GetConfidence(),
		Title: f.GetTitle(), Attack: f.GetAttack(), Detector: f.GetDetector(), Evidence: f.GetEvidence(),
		FirstSeen: ts(f.GetFirstSeen()), LastSeen: ts(f.GetLastSeen()), Source: source}
}

// shiftActivity moves the activity profile's days by secs (whole days).
func shiftActivity(a *pb.Activity, secs int64) {
	for _, d := range a.GetDays() {
		d.Day += secs
	}
}

// locator answers geolocation from the scenario: the device's egress places, then the
// fleet's places; other addresses are unknown.
func locator(fl *fleetData, d *device) location.Locator {
	return func(a netip.Addr) location.Place {
		a = a.Unmap()
		if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			return location.Place{Private: true}
		}
		for _, e := range d.egress {
			if e.addr == a {
				return location.Place{Country: e.place.Country, ASN: e.place.ASN, ASOrg: e.place.ASOrg, Class: e.place.Class}
			}
		}
		if p, ok := fl.Places[a.String()]; ok {
			return location.Place{Country: p.Country, ASN: p.ASN, ASOrg: p.ASOrg, Class: p.Class}
		}
		return location.Place{}
	}
}
