package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Changes lists, in words, what differs between two policies: the detail of the audit entry a
// policy change writes ("signals.kvm.usb.weight 45 -> 50", "sanctioned + teamviewer ...").
func Changes(old, new *Policy) []string {
	var out []string
	add := func(path string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("%s %v -> %v", path, a, b))
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range []map[string]Signal{old.Signals, new.Signals} {
			for k := range m {
				if !seen[k] {
					seen[k] = true
					if !yield(k) {
						return
					}
				}
			}
		}
	})
	for _, n := range names {
		a, b := old.Signals[n], new.Signals[n]
		add("signals."+n+".weight", a.Weight, b.Weight)
		add("signals."+n+".half_life", fmtDuration(a.HalfLife), fmtDuration(b.HalfLife))
	}
	add("default.weight", old.Default.Weight, new.Default.Weight)
	add("default.half_life", fmtDuration(old.Default.HalfLife), fmtDuration(new.Default.HalfLife))
	add("severity", old.Severity, new.Severity)
	add("confidence", old.Confidence, new.Confidence)
	add("combine", old.Combine, new.Combine)
	add("bands", old.Bands, new.Bands)
	for _, s := range old.Sanctioned {
		if !slices.ContainsFunc(new.Sanctioned, s.equal) {
			out = append(out, "sanctioned - "+s.String())
		}
	}
	for _, s := range new.Sanctioned {
		if !slices.ContainsFunc(old.Sanctioned, s.equal) {
			out = append(out, "sanctioned + "+s.String())
		}
	}
	add("corporate_egress", old.CorporateEgress, new.CorporateEgress)
	add("fleet", old.Fleet, new.Fleet)
	add("location", old.Location(), new.Location())
	return out
}

func (s Sanction) equal(o Sanction) bool { return reflect.DeepEqual(s, o) }

// String describes a sanction in one line.
func (s Sanction) String() string {
	var parts []string
	if s.Tool != "" {
		parts = append(parts, "tool "+s.Tool)
	}
	if s.Signer != "" {
		parts = append(parts, "signer "+s.Signer)
	}
	if s.Group != "" {
		parts = append(parts, "group "+s.Group)
	}
	if len(s.Signals) > 0 {
		parts = append(parts, "signals "+strings.Join(s.Signals, ","))
	}
	return strings.Join(parts, ", ") + ": " + s.Reason
}
