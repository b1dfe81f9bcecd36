// Package policy is the scoring policy: the data file the security team reads and changes
// (weights per signal, severity and confidence handling, decay, band thresholds, sanctioned
// tools, corporate egress ranges, fleet and location thresholds). docs/scoring.md explains every
// knob; default.yaml is the built-in policy.
//
// A Policy is immutable once parsed: share it between goroutines and swap it whole when the
// file changes (see Watch). Parsing is strict: every problem of a file is reported with its
// line, and a file with any problem is rejected as a whole.
package policy

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/location"
)

//go:embed default.yaml
var defaultYAML []byte

// Schema is the policy file format version a file declares with `schema:`.
const Schema = 1

// MaxSize is the largest policy file accepted.
const MaxSize = 1 << 20

// Policy is one parsed, validated policy. Do not modify a Policy after Parse: it is shared.
type Policy struct {
	// Signals holds the weight and decay of every known signal (keys are KnownSignals).
	Signals map[string]Signal
	// Default scores findings whose signal the policy does not know; its Family is empty.
	Default Signal
	// Severity scales a finding's weight by the severity its detector gave it.
	Severity SeverityFactors
	// Confidence says how findings without a confidence, or with a low one, count.
	Confidence Confidence
	// Combine holds the combination rule's knobs (docs/scoring.md).
	Combine Combine
	Bands   Bands
	// Sanctioned tools: findings naming one score nothing and carry the sanction's reason.
	Sanctioned []Sanction
	// CorporateEgress are the company's own egress ranges.
	CorporateEgress []netip.Prefix
	Fleet           Fleet
	// Agent holds what the collector pushes to agents (the policy's `agent:` section).
	Agent Agent

	location location.Config
	source   []byte
	version  string
}

// Signal is how one signal scores.
type Signal struct {
	// Weight is the points of a high-severity finding at confidence 1 seen just now (0..100).
	Weight float64
	// HalfLife is how long after it was last seen a finding is worth half; 0 = no decay.
	HalfLife time.Duration
	// Family is the part of the signal's name before the dot (remote_tool, kvm, ...).
	Family string
}

// Agent is the part of the policy agents act on.
type Agent struct {
	// UninstallTokenSHA256 is the hex SHA-256 of the token `farmwatch-agent uninstall --token`
	// must present; "" lets anyone with administrator rights uninstall.
	UninstallTokenSHA256 string
	// SilentAfter is how long a device may go unheard (no report, no heartbeat) before it
	// gets an agent.silent finding; the finding goes when the device is heard again.
	SilentAfter time.Duration
}

// SeverityFactors multiply the weight by a finding's severity.
type SeverityFactors struct {
	Unspecified, Info, Low, Medium, High, Critical float64
}

// Factor returns the factor of a severity; unknown values count as unspecified.
func (s SeverityFactors) Factor(sev pb.Severity) float64 {
	switch sev {
	case pb.Severity_SEVERITY_INFO:
		return s.Info
	case pb.Severity_SEVERITY_LOW:
		return s.Low
	case pb.Severity_SEVERITY_MEDIUM:
		return s.Medium
	case pb.Severity_SEVERITY_HIGH:
		return s.High
	case pb.Severity_SEVERITY_CRITICAL:
		return s.Critical
	}
	return s.Unspecified
}

// SeverityName is the policy's (and the score breakdown's) name of a severity.
func SeverityName(sev pb.Severity) string {
	switch sev {
	case pb.Severity_SEVERITY_INFO:
		return "info"
	case pb.Severity_SEVERITY_LOW:
		return "low"
	case pb.Severity_SEVERITY_MEDIUM:
		return "medium"
	case pb.Severity_SEVERITY_HIGH:
		return "high"
	case pb.Severity_SEVERITY_CRITICAL:
		return "critical"
	}
	return "unspecified"
}

// Confidence is how a finding's confidence enters its points.
type Confidence struct {
	// Missing stands in for a confidence of 0 (not set), NaN or out of range.
	Missing float64
	// Min: findings below it are shown but score nothing. 0 = all count.
	Min float64
}

// Combine holds the knobs of the combination rule.
type Combine struct {
	// RestShare is the share of each finding but the strongest that counts in its family.
	RestShare float64
	// FamilyCap caps a family's points; FamilyCaps overrides it per family.
	FamilyCap  float64
	FamilyCaps map[string]float64
	// ConjunctionFloor is the family points at which a family counts as present.
	ConjunctionFloor float64
	// ConjunctionBonus is added per present family beyond the first, up to ConjunctionCap.
	ConjunctionBonus float64
	ConjunctionCap   float64
}

// Bands are the scores at which a device enters medium, high and critical; below Medium it
// is low. 0 < Medium < High < Critical <= 100.
type Bands struct{ Medium, High, Critical float64 }

// Band names.
const (
	BandLow      = "low"
	BandMedium   = "medium"
	BandHigh     = "high"
	BandCritical = "critical"
)

// Band returns the band of a score.
func (b Bands) Band(score float64) string {
	switch {
	case score >= b.Critical:
		return BandCritical
	case score >= b.High:
		return BandHigh
	case score >= b.Medium:
		return BandMedium
	}
	return BandLow
}

// Sanction allowlists a tool the company uses on purpose.
type Sanction struct {
	// Tool is a catalog tool id, compared with a finding's evidence "tool" (any case).
	Tool string
	// Signer is a code-signing subject, organization or Apple team id, compared with the
	// evidence "signer" or "publisher", or found as "code signer <Signer>" in "recognised_by".
	Signer string
	// Group limits the sanction to devices of one group; empty = every device.
	Group string
	// Signals limits it to these signals ("remote_tool.session") or families
	// ("remote_tool.*"); empty = every signal.
	Signals []string
	// Reason is shown on every finding the sanction quiets, and is required.
	Reason string
}

// Fleet holds the fleet correlation thresholds.
type Fleet struct {
	// Window is how long devices may be apart in time and still share a value.
	Window time.Duration
	// MinMembers is the fewest devices that make a cluster.
	MinMembers int
	// IgnoreValues are values shared on purpose (office BSSIDs, gateway MACs), lower case.
	IgnoreValues []string
}

// Default returns the built-in policy (default.yaml).
func Default() *Policy { return builtin().clone(defaultYAML) }

var builtin = sync.OnceValue(func() *Policy {
	p, err := parse(defaultYAML, nil)
	if err != nil {
		panic("policy: built-in default.yaml is invalid: " + err.Error())
	}
	return p
})

// DefaultSource returns the text of the built-in policy.
func DefaultSource() []byte { return slices.Clone(defaultYAML) }

// Parse reads a policy file. The file states what differs from the built-in policy: each value
// it sets replaces the built-in one. Every problem is reported, as an *Error.
func Parse(data []byte) (*Policy, error) { return parse(data, builtin()) }

// Version identifies the policy by its source: "sha256:" and the first 12 hex digits.
func (p *Policy) Version() string { return p.version }

// Source returns the bytes the policy was parsed from.
func (p *Policy) Source() []byte { return slices.Clone(p.source) }

// Location returns the thresholds of the location signals, with the corporate egress ranges.
func (p *Policy) Location() location.Config {
	c := p.location
	c.HighRiskCountries = slices.Clone(c.HighRiskCountries)
	c.WatchLanguages = slices.Clone(c.WatchLanguages)
	c.CorporateEgress = slices.Clone(p.CorporateEgress)
	return c
}

// Lookup returns how a signal scores. For signals the policy does not know it returns the
// Default, with the family taken from the name when that family is known, else "other", and
// known false.
func (p *Policy) Lookup(signal string) (s Signal, known bool) {
	if s, ok := p.Signals[signal]; ok {
		return s, true
	}
	s = p.Default
	s.Family = FamilyOther
	if f := familyOf(signal); slices.Contains(KnownFamilies, f) {
		s.Family = f
	}
	return s, false
}

// FamilyCap returns the cap of a family's points.
func (p *Policy) FamilyCap(family string) float64 {
	if c, ok := p.Combine.FamilyCaps[family]; ok {
		return c
	}
	return p.Combine.FamilyCap
}

// Covers says whether the sanction quiets a finding of signal with evidence ev on a device of
// group.
func (s *Sanction) Covers(signal string, ev map[string]string, group string) bool {
	if s.Group != "" && !strings.EqualFold(s.Group, group) {
		return false
	}
	if len(s.Signals) > 0 && !slices.ContainsFunc(s.Signals, func(pat string) bool {
		if fam, ok := strings.CutSuffix(pat, ".*"); ok {
			return familyOf(signal) == fam
		}
		return pat == signal
	}) {
		return false
	}
	if s.Tool != "" && strings.EqualFold(ev["tool"], s.Tool) {
		return true
	}
	if s.Signer != "" {
		if strings.EqualFold(ev["signer"], s.Signer) || strings.EqualFold(ev["publisher"], s.Signer) {
			return true
		}
		if strings.Contains(strings.ToLower(ev["recognised_by"]), "code signer "+strings.ToLower(s.Signer)) {
			return true
		}
	}
	return false
}

// Sanctioning returns the first sanction that quiets the finding, if any.
func (p *Policy) Sanctioning(signal string, ev map[string]string, group string) (*Sanction, bool) {
	for i := range p.Sanctioned {
		if p.Sanctioned[i].Covers(signal, ev, group) {
			return &p.Sanctioned[i], true
		}
	}
	return nil, false
}

// CorporateAddress returns the corporate egress range holding addr (an address, address:port
// or range), if any.
func (p *Policy) CorporateAddress(addr string) (netip.Prefix, bool) {
	if len(p.CorporateEgress) == 0 || addr == "" {
		return netip.Prefix{}, false
	}
	// An address, an address:port, or a range (the fleet links IPv6 by /64).
	bits := -1
	a, err := netip.ParseAddr(addr)
	if err != nil {
		if ap, err2 := netip.ParseAddrPort(addr); err2 == nil {
			a = ap.Addr()
		} else if pr, err3 := netip.ParsePrefix(addr); err3 == nil {
			a, bits = pr.Addr(), pr.Bits()
		} else {
			return netip.Prefix{}, false
		}
	}
	a = a.Unmap()
	for _, pr := range p.CorporateEgress {
		if pr.Contains(a) && (bits < 0 || bits >= pr.Bits()) {
			return pr, true
		}
	}
	return netip.Prefix{}, false
}

// IgnoredValue says whether a fleet value (BSSID, gateway MAC, ...) is shared on purpose.
func (p *Policy) IgnoredValue(v string) bool {
	return v != "" && slices.Contains(p.Fleet.IgnoreValues, strings.ToLower(v))
}

// clone returns a deep copy carrying source and its version.
func (p *Policy) clone(source []byte) *Policy {
	c := *p
	c.Signals = maps.Clone(p.Signals)
	c.Combine.FamilyCaps = maps.Clone(p.Combine.FamilyCaps)
	c.Sanctioned = slices.Clone(p.Sanctioned)
	for i := range c.Sanctioned {
		c.Sanctioned[i].Signals = slices.Clone(c.Sanctioned[i].Signals)
	}
	c.CorporateEgress = slices.Clone(p.CorporateEgress)
	c.Fleet.IgnoreValues = slices.Clone(p.Fleet.IgnoreValues)
	c.location = p.Location()
	c.location.CorporateEgress = nil
	c.source = slices.Clone(source)
	sum := sha256.Sum256(source)
	c.version = "sha256:" + hex.EncodeToString(sum[:])[:12]
	return &c
}
