package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/farmwatch/farmwatch/server/location"
)

// Problem is one thing wrong with a policy file.
type Problem struct {
	Line   int    // 1-based; 0 when the problem is not at one place (a missing key)
	Path   string // e.g. signals.kvm.usb.weight
	Reason string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Reason)
	return b.String()
}

// Error lists every problem of a rejected policy file, in line order.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "policy: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "policy: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// decoder walks the YAML tree of one file, writing into a policy and collecting problems.
type decoder struct {
	p        *Policy
	problems []Problem
	lines    map[string]int // path of every value this file sets -> its line
}

func (d *decoder) fail(line int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: line, Path: path, Reason: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse reads data over base (nil: every section must be set, as in default.yaml).
func parse(data []byte, base *Policy) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &Error{[]Problem{{Reason: fmt.Sprintf("file is %d bytes, more than the %d allowed", len(data), MaxSize)}}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{[]Problem{{Line: 1, Reason: "policy is empty"}}}
		}
		return nil, &Error{[]Problem{syntaxProblem(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{[]Problem{{Line: extra.Line, Reason: "a policy is one YAML document; remove the second one"}}}
	} else if !errors.Is(err, io.EOF) {
		return nil, &Error{[]Problem{syntaxProblem(err)}}
	}

	var p *Policy
	if base != nil {
		p = base.clone(nil)
	} else {
		p = &Policy{Signals: map[string]Signal{}, location: location.DefaultConfig()}
	}
	d := &decoder{p: p, lines: map[string]int{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.fail(root.Line, "", "a policy is a mapping of sections (schema, signals, bands, ...)")
	} else {
		d.top(root)
		if _, ok := d.lines["schema"]; !ok {
			d.fail(1, "schema", "missing: start the file with `schema: %d`", Schema)
		}
	}
	d.validate(base == nil)
	if len(d.problems) > 0 {
		sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
		return nil, &Error{d.problems}
	}
	return p.clone(data), nil
}

func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "did not find expected") {
			// yaml.v3 reports these parser errors at the 0-based line of the collection
			// being parsed; count it from 1 like every other line here.
			n++
		}
		return Problem{Line: n, Reason: "YAML syntax: " + m[2]}
	}
	return Problem{Reason: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

type setter func(v *yaml.Node, path string)

// fields walks a mapping with a fixed set of keys.
func (d *decoder) fields(n *yaml.Node, path string, fs map[string]setter) {
	d.entries(n, path, func(key string, k, v *yaml.Node, p string) {
		set, ok := fs[key]
		if !ok {
			d.fail(k.Line, join(path, key), "unknown key%s", suggest(key, slices.Collect(maps.Keys(fs))))
			return
		}
		set(v, p)
	})
}

// entries walks a mapping of free keys; null counts as an empty mapping.
func (d *decoder) entries(n *yaml.Node, path string, each func(key string, k, v *yaml.Node, path string)) {
	if d.alias(n, path) || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a mapping (key: value lines), got %s", describe(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if d.alias(k, path) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, path, "a key must be a plain word, got %s", describe(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, p, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		if d.alias(v, p) {
			continue
		}
		each(k.Value, k, v, p)
	}
}

// alias reports (and refuses) YAML aliases: a policy is read by people, and aliases both hide
// values and let a small file expand without bound.
func (d *decoder) alias(n *yaml.Node, path string) bool {
	if n.Kind == yaml.AliasNode {
		d.fail(n.Line, path, "YAML aliases (*name) are not allowed in a policy; write the value out")
		return true
	}
	return false
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// number reads a finite number within [lo, hi] into dst.
func (d *decoder) number(dst *float64, lo, hi float64) setter {
	return func(v *yaml.Node, path string) {
		if v.Kind != yaml.ScalarNode || (v.ShortTag() != "!!int" && v.ShortTag() != "!!float") {
			d.fail(v.Line, path, "want a number, got %s", describe(v))
			return
		}
		var f float64
		if err := v.Decode(&f); err != nil {
			d.fail(v.Line, path, "want a number, got %s", describe(v))
			return
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(v.Line, path, "want a finite number, got %s", v.Value)
			return
		}
		if f < lo || f > hi {
			what := "out of range"
			if f < 0 {
				what = "negative"
			}
			d.fail(v.Line, path, "%s is %s: want a number from %s to %s", v.Value, what, fmtNum(lo), fmtNum(hi))
			return
		}
		*dst = f
		d.lines[path] = v.Line
	}
}

// integer reads an integer within [lo, hi] into dst.
func (d *decoder) integer(dst *int, lo, hi int) setter {
	return func(v *yaml.Node, path string) {
		var i int
		if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&i) != nil {
			d.fail(v.Line, path, "want a whole number, got %s", describe(v))
			return
		}
		if i < lo || i > hi {
			d.fail(v.Line, path, "%d must be between %d and %d", i, lo, hi)
			return
		}
		*dst = i
		d.lines[path] = v.Line
	}
}

// duration reads a duration (Go units, or d and w) of at least min into dst.
func (d *decoder) duration(dst *time.Duration, min time.Duration) setter {
	return func(v *yaml.Node, path string) {
		if v.Kind != yaml.ScalarNode || isNull(v) {
			d.fail(v.Line, path, "want a duration such as 36h, 14d or 2w, got %s", describe(v))
			return
		}
		t, err := parseDuration(v.Value)
		if err != nil {
			d.fail(v.Line, path, "%v", err)
			return
		}
		if t < min {
			d.fail(v.Line, path, "%s must be at least %s", v.Value, fmtDuration(min))
			return
		}
		*dst = t
		d.lines[path] = v.Line
	}
}

// text reads a string into dst.
func (d *decoder) text(dst *string) setter {
	return func(v *yaml.Node, path string) {
		if v.Kind != yaml.ScalarNode {
			d.fail(v.Line, path, "want text, got %s", describe(v))
			return
		}
		s := strings.TrimSpace(v.Value)
		if isNull(v) {
			s = ""
		}
		*dst = s
		d.lines[path] = v.Line
	}
}

// list reads a list of strings, each checked by check (which returns the normalised value or
// a reason), into dst.
func (d *decoder) list(dst *[]string, check func(string) (string, error)) setter {
	return func(v *yaml.Node, path string) {
		if isNull(v) {
			*dst = nil
			d.lines[path] = v.Line
			return
		}
		if v.Kind != yaml.SequenceNode {
			d.fail(v.Line, path, "want a list ([a, b] or - lines), got %s", describe(v))
			return
		}
		out := []string{}
		for i, e := range v.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if d.alias(e, p) {
				continue
			}
			if e.Kind != yaml.ScalarNode || isNull(e) {
				d.fail(e.Line, p, "want text, got %s", describe(e))
				continue
			}
			s, err := check(strings.TrimSpace(e.Value))
			if err != nil {
				d.fail(e.Line, p, "%v", err)
				continue
			}
			if slices.Contains(out, s) {
				d.fail(e.Line, p, "%q is listed twice", s)
				continue
			}
			out = append(out, s)
		}
		*dst = out
		d.lines[path] = v.Line
	}
}

func (d *decoder) top(root *yaml.Node) {
	p := d.p
	var schema int
	d.fields(root, "", map[string]setter{
		"schema": func(v *yaml.Node, path string) {
			d.integer(&schema, 0, math.MaxInt32)(v, path)
			if _, ok := d.lines[path]; ok && schema != Schema {
				d.fail(v.Line, path, "this farmwatch reads policy schema %d, not %d", Schema, schema)
			}
		},
		"default": func(v *yaml.Node, path string) { d.signal(&p.Default, v, path) },
		"severity": func(v *yaml.Node, path string) {
			s := &p.Severity
			d.fields(v, path, map[string]setter{
				"unspecified": d.number(&s.Unspecified, 0, 4),
				"info":        d.number(&s.Info, 0, 4),
				"low":         d.number(&s.Low, 0, 4),
				"medium":      d.number(&s.Medium, 0, 4),
				"high":        d.number(&s.High, 0, 4),
				"critical":    d.number(&s.Critical, 0, 4),
			})
		},
		"confidence": func(v *yaml.Node, path string) {
			d.fields(v, path, map[string]setter{
				"missing": d.number(&p.Confidence.Missing, 0, 1),
				"min":     d.number(&p.Confidence.Min, 0, 1),
			})
		},
		"combine": func(v *yaml.Node, path string) {
			c := &p.Combine
			d.fields(v, path, map[string]setter{
				"rest_share":        d.number(&c.RestShare, 0, 1),
				"family_cap":        d.number(&c.FamilyCap, 1, 100),
				"conjunction_floor": d.number(&c.ConjunctionFloor, 0, 100),
				"conjunction_bonus": d.number(&c.ConjunctionBonus, 0, 100),
				"conjunction_cap":   d.number(&c.ConjunctionCap, 0, 100),
				"family_caps": func(v *yaml.Node, path string) {
					d.entries(v, path, func(fam string, k, v *yaml.Node, path string) {
						if fam != FamilyOther && !slices.Contains(KnownFamilies, fam) {
							d.fail(k.Line, path, "unknown family%s", suggest(fam, append(slices.Clone(KnownFamilies), FamilyOther)))
							return
						}
						var f float64
						d.number(&f, 1, 100)(v, path)
						if _, ok := d.lines[path]; ok {
							if c.FamilyCaps == nil {
								c.FamilyCaps = map[string]float64{}
							}
							c.FamilyCaps[fam] = f
						}
					})
				},
			})
		},
		"bands": func(v *yaml.Node, path string) {
			b := &p.Bands
			d.fields(v, path, map[string]setter{
				"medium":   d.number(&b.Medium, 0, 100),
				"high":     d.number(&b.High, 0, 100),
				"critical": d.number(&b.Critical, 0, 100),
			})
		},
		"signals": func(v *yaml.Node, path string) {
			d.entries(v, path, func(name string, k, v *yaml.Node, path string) {
				if !slices.Contains(KnownSignals, name) {
					d.fail(k.Line, path, "unknown signal%s (signals are listed in docs/signals.md)", suggest(name, KnownSignals))
					return
				}
				s := p.Signals[name]
				d.signal(&s, v, path)
				if s.Family == "" {
					s.Family = familyOf(name)
				}
				p.Signals[name] = s
			})
		},
		"sanctioned": func(v *yaml.Node, path string) {
			d.lines[path] = v.Line
			p.Sanctioned = nil
			if isNull(v) {
				return
			}
			if v.Kind != yaml.SequenceNode {
				d.fail(v.Line, path, "want a list of sanctions (- tool: ...), got %s", describe(v))
				return
			}
			for i, e := range v.Content {
				if s, ok := d.sanction(e, fmt.Sprintf("%s[%d]", path, i)); ok {
					p.Sanctioned = append(p.Sanctioned, s)
				}
			}
		},
		"corporate_egress": func(v *yaml.Node, path string) {
			var ranges []string
			d.list(&ranges, checkPrefix)(v, path)
			if _, ok := d.lines[path]; ok {
				p.CorporateEgress = nil
				for _, r := range ranges {
					pr, _ := parsePrefix(r)
					p.CorporateEgress = append(p.CorporateEgress, pr)
				}
			}
		},
		"fleet": func(v *yaml.Node, path string) {
			f := &p.Fleet
			d.fields(v, path, map[string]setter{
				"window":      d.duration(&f.Window, time.Minute),
				"min_members": d.integer(&f.MinMembers, 2, 1_000_000),
				"ignore_values": d.list(&f.IgnoreValues, func(s string) (string, error) {
					if s == "" {
						return "", errors.New("empty value")
					}
					return strings.ToLower(s), nil
				}),
			})
		},
		"location": func(v *yaml.Node, path string) { d.locationSection(v, path) },
		"agent": func(v *yaml.Node, path string) {
			d.fields(v, path, map[string]setter{
				"uninstall_token_sha256": func(v *yaml.Node, path string) {
					d.lines[path] = v.Line
					h := strings.ToLower(strings.TrimSpace(v.Value))
					if v.Kind != yaml.ScalarNode || (h != "" && !isHex64(h)) {
						d.fail(v.Line, path, "want the hex SHA-256 of the uninstall token (64 hex digits; `printf %%s TOKEN | sha256sum`), got %s", describe(v))
						return
					}
					p.Agent.UninstallTokenSHA256 = h
				},
				"silent_after": d.duration(&p.Agent.SilentAfter, time.Hour),
			})
		},
	})
}

// signal reads one signal's settings: a mapping {weight, half_life}, or a bare weight.
func (d *decoder) signal(s *Signal, v *yaml.Node, path string) {
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		d.number(&s.Weight, 0, 100)(v, path+".weight")
		return
	}
	d.fields(v, path, map[string]setter{
		"weight":    d.number(&s.Weight, 0, 100),
		"half_life": d.duration(&s.HalfLife, 0),
		"family": func(v *yaml.Node, path string) {
			d.lines[path] = v.Line
			if v.Kind != yaml.ScalarNode || !validFamily(v.Value) {
				d.fail(v.Line, path, "want a family name of 1 to 32 lowercase letters and underscores, got %s", describe(v))
				return
			}
			s.Family = v.Value
		},
	})
}

// validFamily accepts the names a policy may group signals under.
func validFamily(f string) bool {
	if f == "" || len(f) > 32 {
		return false
	}
	for _, r := range f {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

func (d *decoder) sanction(n *yaml.Node, path string) (Sanction, bool) {
	var s Sanction
	before := len(d.problems)
	if d.alias(n, path) {
		return s, false
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, path, "want a sanction (tool, signer, group, signals, reason), got %s", describe(n))
		return s, false
	}
	d.fields(n, path, map[string]setter{
		"tool":   d.text(&s.Tool),
		"signer": d.text(&s.Signer),
		"group":  d.text(&s.Group),
		"reason": d.text(&s.Reason),
		"signals": d.list(&s.Signals, func(name string) (string, error) {
			if fam, ok := strings.CutSuffix(name, ".*"); ok {
				if !slices.Contains(KnownFamilies, fam) {
					return "", fmt.Errorf("unknown family %q%s", fam, suggest(fam, KnownFamilies))
				}
				return name, nil
			}
			if !slices.Contains(KnownSignals, name) {
				return "", fmt.Errorf("unknown signal %q%s", name, suggest(name, KnownSignals))
			}
			return name, nil
		}),
	})
	s.Tool = strings.ToLower(s.Tool)
	if s.Tool == "" && s.Signer == "" {
		d.fail(n.Line, path, "a sanction names a tool or a signer")
	}
	if s.Reason == "" {
		d.fail(n.Line, path, "a sanction needs a reason: it is shown on every finding it quiets")
	}
	return s, len(d.problems) == before
}

func (d *decoder) locationSection(v *yaml.Node, path string) {
	c := &d.p.location
	country := func(s string) (string, error) {
		u := strings.ToUpper(s)
		if len(u) != 2 || u[0] < 'A' || u[0] > 'Z' || u[1] < 'A' || u[1] > 'Z' {
			return "", fmt.Errorf("%q is not an ISO 3166-1 alpha-2 country code", s)
		}
		return u, nil
	}
	language := func(s string) (string, error) {
		l := strings.ToLower(s)
		if len(l) < 2 || len(l) > 3 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz") != "" {
			return "", fmt.Errorf("%q is not a language code (ISO 639, e.g. ko)", s)
		}
		return l, nil
	}
	d.fields(v, path, map[string]setter{
		"high_risk_countries": d.list(&c.HighRiskCountries, country),
		"watch_languages":     d.list(&c.WatchLanguages, language),
		"max_clock_skew":      d.duration(&c.MaxClockSkew, time.Second),
		"zone_churn_changes":  d.integer(&c.ZoneChurnChanges, 1, 1000),
		"zone_churn_window":   d.duration(&c.ZoneChurnWindow, time.Hour),
		"rtt_min_samples":     d.integer(&c.RTTMinSamples, 1, 1_000_000),
		"rtt_slack":           d.duration(&c.RTTSlack, 0),
		"activity": func(v *yaml.Node, path string) {
			a := &c.Activity
			d.fields(v, path, map[string]setter{
				"min_days":           d.integer(&a.MinDays, 1, 366),
				"night_start":        d.integer(&a.NightStart, 0, 23),
				"night_end":          d.integer(&a.NightEnd, 0, 23),
				"min_active_minutes": d.integer(&a.MinActiveMinutes, 1, 1_000_000),
				"night_share":        d.number(&a.NightShare, 0.01, 1),
				"elsewhere_hours":    d.integer(&a.ElsewhereHours, 1, 12),
				"elsewhere_share":    d.number(&a.ElsewhereShare, 0.01, 1),
			})
		},
	})
}

// validate checks what no single value shows: the order of the bands, and (for the built-in
// policy, complete) that every section is set.
func (d *decoder) validate(complete bool) {
	p := d.p
	b := p.Bands
	at := func(paths ...string) int {
		for _, path := range paths {
			if l, ok := d.lines[path]; ok {
				return l
			}
		}
		return 0
	}
	if b.Medium <= 0 {
		d.fail(at("bands.medium", "bands"), "bands.medium", "must be above 0 (below it is low)")
	}
	if b.High <= b.Medium {
		d.fail(at("bands.high", "bands.medium"), "bands.high", "bands overlap: high (%s) must be above medium (%s)", fmtNum(b.High), fmtNum(b.Medium))
	}
	if b.Critical <= b.High {
		d.fail(at("bands.critical", "bands.high"), "bands.critical", "bands overlap: critical (%s) must be above high (%s)", fmtNum(b.Critical), fmtNum(b.High))
	}
	if !complete {
		return
	}
	for _, name := range KnownSignals {
		if _, ok := d.lines["signals."+name+".weight"]; !ok {
			d.fail(0, "signals."+name, "the built-in policy must weigh every known signal")
		}
	}
	for _, path := range []string{"default.weight", "severity.unspecified", "severity.info", "severity.low", "severity.medium", "severity.high", "severity.critical", "confidence.missing", "combine.rest_share", "combine.family_cap", "fleet.window", "fleet.min_members"} {
		if _, ok := d.lines[path]; !ok {
			d.fail(0, path, "the built-in policy must set it")
		}
	}
}

// parseDuration reads Go durations ("36h", "90m", "1h30m"), days ("14d", "1.5d"), weeks
// ("2w") and "0".
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration: write e.g. 36h, 90m, 14d or 2w", s)
	if s == "0" {
		return 0, nil
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		f, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 100*365 {
			return 0, bad
		}
		return time.Duration(f * float64(unit)), nil
	}
	t, err := time.ParseDuration(s)
	if err != nil {
		return 0, bad
	}
	if t < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return t, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pr, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if pr.Addr().Is4In6() {
		pr = netip.PrefixFrom(pr.Addr().Unmap(), pr.Bits()-96)
	}
	return pr.Masked(), nil
}

func checkPrefix(s string) (string, error) {
	pr, err := parsePrefix(s)
	if err != nil || !pr.IsValid() {
		return "", fmt.Errorf("%q is not a CIDR range (e.g. 203.0.113.0/24) or address", s)
	}
	return pr.String(), nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func fmtDuration(t time.Duration) string {
	if t >= 24*time.Hour && t%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	}
	return t.String()
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within two edits.
func suggest(got string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if dist := editDistance(got, c); dist < bestD || (dist == bestD && c < best) {
			best, bestD = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}
