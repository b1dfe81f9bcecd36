package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/location"
)

func TestDefaultPolicyIsValidAndComplete(t *testing.T) {
	p := Default()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{12}$`).MatchString(p.Version()) {
		t.Errorf("version %q", p.Version())
	}
	if string(p.Source()) != string(defaultYAML) {
		t.Error("Source is not default.yaml")
	}
	for _, name := range KnownSignals {
		s, ok := p.Signals[name]
		if !ok || s.Weight <= 0 || s.HalfLife <= 0 {
			t.Errorf("%s: %+v present=%v; want a weight and a half-life", name, s, ok)
		}
		want, _, _ := strings.Cut(name, ".")
		if network := map[string]bool{"location.egress_country": true, "location.egress_network": true, "location.rtt": true}; network[name] {
			want = "network"
		}
		if s.Family != want {
			t.Errorf("%s: family %q, want %q", name, s.Family, want)
		}
	}
	if len(p.Signals) != len(KnownSignals) {
		t.Errorf("%d signals, %d known", len(p.Signals), len(KnownSignals))
	}
	if p.Bands != (Bands{25, 50, 75}) {
		t.Errorf("bands %+v", p.Bands)
	}
	if p.Fleet.Window != 14*24*time.Hour || p.Fleet.MinMembers != 2 {
		t.Errorf("fleet %+v", p.Fleet)
	}
	// The location section must repeat server/location's defaults, so that moving them into
	// the policy changed nothing.
	if got, want := p.Location(), location.DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("Location()\n got %+v\nwant %+v", got, want)
	}
	// Calibration guard: one family alone cannot reach high.
	if p.Combine.FamilyCap >= p.Bands.High {
		t.Errorf("family cap %v reaches band high %v", p.Combine.FamilyCap, p.Bands.High)
	}
}

func TestKnownSignalsHaveKnownFamilies(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range KnownSignals {
		if seen[s] {
			t.Errorf("%s listed twice", s)
		}
		seen[s] = true
		if !regexp.MustCompile(`^[a-z_]+\.[a-z_]+$`).MatchString(s) || !slices.Contains(KnownFamilies, familyOf(s)) {
			t.Errorf("%s: not family.name with a known family", s)
		}
	}
}

func TestParseOverlaysTheDefault(t *testing.T) {
	p, err := Parse([]byte(`schema: 1
signals:
  kvm.usb: {weight: 50}
  relay.dns: 0
bands: {critical: 80}
sanctioned:
  - tool: TeamViewer
    group: helpdesk
    signals: [remote_tool.*, relay.tls]
    reason: IT support (SEC-12)
corporate_egress: [203.0.113.0/24, 198.51.100.7, "2001:db8::/48"]
fleet: {ignore_values: ["AA:BB:CC:DD:EE:FF"]}
location:
  high_risk_countries: [kp, ir]
  max_clock_skew: 2m
  activity: {night_share: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if s := p.Signals["kvm.usb"]; s.Weight != 50 || s.HalfLife != d.Signals["kvm.usb"].HalfLife || s.Family != "kvm" {
		t.Errorf("kvm.usb %+v: want weight 50 and the default half-life", s)
	}
	if p.Signals["relay.dns"].Weight != 0 {
		t.Errorf("relay.dns: bare number should set the weight")
	}
	if p.Signals["kvm.display"] != d.Signals["kvm.display"] {
		t.Error("kvm.display changed though the file does not name it")
	}
	if p.Bands != (Bands{25, 50, 80}) {
		t.Errorf("bands %+v", p.Bands)
	}
	want := []Sanction{{Tool: "teamviewer", Group: "helpdesk", Signals: []string{"remote_tool.*", "relay.tls"}, Reason: "IT support (SEC-12)"}}
	if !reflect.DeepEqual(p.Sanctioned, want) {
		t.Errorf("sanctioned %+v", p.Sanctioned)
	}
	wantEgress := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8::/48")}
	if !reflect.DeepEqual(p.CorporateEgress, wantEgress) {
		t.Errorf("egress %v", p.CorporateEgress)
	}
	loc := p.Location()
	if !reflect.DeepEqual(loc.HighRiskCountries, []string{"KP", "IR"}) || loc.MaxClockSkew != 2*time.Minute ||
		loc.Activity.NightShare != 0.5 || loc.Activity.MinDays != 7 || !reflect.DeepEqual(loc.CorporateEgress, wantEgress) {
		t.Errorf("location %+v", loc)
	}
	if !p.IgnoredValue("aa:bb:cc:dd:ee:ff") {
		t.Error("ignore_values not lower-cased")
	}
	if pr, ok := p.CorporateAddress("198.51.100.7:443"); !ok || pr.Bits() != 32 {
		t.Errorf("CorporateAddress(198.51.100.7:443) = %v %v", pr, ok)
	}
	if _, ok := p.CorporateAddress("2001:db8:0:2::/64"); !ok {
		t.Error("a /64 inside a corporate /48 is corporate")
	}
	if _, ok := p.CorporateAddress("192.0.2.1"); ok {
		t.Error("192.0.2.1 is not corporate")
	}
	// Parsing does not touch the built-in policy.
	if Default().Signals["kvm.usb"].Weight != 55 || len(Default().Sanctioned) != 0 {
		t.Error("Parse modified the built-in policy")
	}
}

// TestParseRejectsWithLineAndReason pins the line and the reason of each kind of mistake.
func TestParseRejectsWithLineAndReason(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
		path       string
		reason     string // substring
	}{
		{"typo key", "schema: 1\nsignals:\n  kvm.usb:\n    wieght: 3\n", 4, "signals.kvm.usb.wieght", `unknown key (did you mean "weight"?)`},
		{"typo section", "schema: 1\nband:\n  medium: 20\n", 2, "band", `unknown key (did you mean "bands"?)`},
		{"unknown signal", "schema: 1\nsignals:\n  kvm.usb: 3\n  remote_tool.sesion: 3\n", 4, "signals.remote_tool.sesion", `unknown signal (did you mean "remote_tool.session"?)`},
		{"negative weight", "schema: 1\nsignals:\n  kvm.usb:\n    weight: -5\n", 4, "signals.kvm.usb.weight", "-5 is negative: want a number from 0 to 100"},
		{"NaN weight", "schema: 1\ndefault: {weight: .nan}\n", 2, "default.weight", "want a finite number"},
		{"text weight", "schema: 1\ndefault: {weight: heavy}\n", 2, "default.weight", `want a number, got "heavy"`},
		{"overlapping bands", "schema: 1\nbands:\n  medium: 40\n  high: 30\n", 4, "bands.high", "bands overlap: high (30) must be above medium (40)"},
		{"band over the next default", "schema: 1\nbands:\n  high: 80\n", 3, "bands.critical", "bands overlap: critical (75) must be above high (80)"},
		{"zero band", "schema: 1\nbands:\n  medium: 0\n", 3, "bands.medium", "must be above 0"},
		{"bad CIDR", "schema: 1\ncorporate_egress:\n  - 10.0.0.0/8\n  - 10.0.0.300/8\n", 4, "corporate_egress[1]", `"10.0.0.300/8" is not a CIDR range`},
		{"bad duration", "schema: 1\nsignals:\n  kvm.usb: {half_life: 3 days}\n", 3, "signals.kvm.usb.half_life", `"3 days" is not a duration`},
		{"negative duration", "schema: 1\ndefault: {half_life: -1h}\n", 2, "default.half_life", "negative"},
		{"unknown severity", "schema: 1\nseverity:\n  high: 1\n  severe: 2\n", 4, "severity.severe", "unknown key"},
		{"unknown family cap", "schema: 1\ncombine:\n  family_caps: {kvmm: 50}\n", 3, "combine.family_caps.kvmm", `unknown family (did you mean "kvm"?)`},
		{"sanction without reason", "schema: 1\nsanctioned:\n  - tool: anydesk\n", 3, "sanctioned[0]", "needs a reason"},
		{"sanction unknown signal", "schema: 1\nsanctioned:\n  - tool: anydesk\n    reason: x\n    signals: [remote_tool.sesion]\n", 5, "sanctioned[0].signals[0]", `unknown signal "remote_tool.sesion"`},
		{"sanction without tool", "schema: 1\nsanctioned:\n  - group: helpdesk\n    reason: x\n", 3, "sanctioned[0]", "names a tool or a signer"},
		{"bad country", "schema: 1\nlocation:\n  high_risk_countries: [KP, Korea]\n", 3, "location.high_risk_countries[1]", "not an ISO 3166-1"},
		{"hour out of range", "schema: 1\nlocation:\n  activity:\n    night_end: 24\n", 4, "location.activity.night_end", "between 0 and 23"},
		{"fleet of one", "schema: 1\nfleet: {min_members: 1}\n", 2, "fleet.min_members", "between 2 and"},
		{"duplicate key", "schema: 1\nsignals:\n  kvm.usb: 3\n  kvm.usb: 4\n", 4, "signals.kvm.usb", "duplicate key (first at line 3)"},
		{"alias", "schema: 1\ndefault: &d {weight: 3}\nsignals:\n  kvm.usb: *d\n", 4, "signals.kvm.usb", "aliases"},
		{"missing schema", "signals:\n  kvm.usb: 3\n", 1, "schema", "missing"},
		{"future schema", "schema: 2\n", 1, "schema", "reads policy schema 1, not 2"},
		{"unclosed brace", "schema: 1\nsignals:\n  kvm.usb: {weight: 3\n", 3, "", "YAML syntax: did not find expected ',' or '}'"},
		{"bad indent", "schema: 1\nbands:\n  medium: 20\n high: 30\n", 4, "", "YAML syntax: did not find expected key"},
		{"tab indent", "schema: 1\nsignals:\n\tkvm.usb: 3\n", 3, "", "YAML syntax"},
		{"not a mapping", "- a\n- b\n", 1, "", "a policy is a mapping"},
		{"empty", "", 1, "", "empty"},
		{"two documents", "schema: 1\n---\nschema: 1\n", 2, "", "one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			for _, pr := range pe.Problems {
				if pr.Line == tc.line && pr.Path == tc.path && strings.Contains(pr.Reason, tc.reason) {
					return
				}
			}
			t.Errorf("problems %q; want line %d, path %q, reason containing %q", pe.Problems, tc.line, tc.path, tc.reason)
		})
	}
}

func TestParseListsEveryProblemInLineOrder(t *testing.T) {
	_, err := Parse([]byte(`schema: 1
signals:
  kvm.usbb: 3
  kvm.usb: {weight: -1}
bands: {medium: 60}
corporate_egress: [10.0.0.300/8]
fleet: {windw: 3d}
`))
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	var lines []int
	for _, p := range pe.Problems {
		lines = append(lines, p.Line)
	}
	if !reflect.DeepEqual(lines, []int{3, 4, 5, 6, 7}) {
		t.Errorf("lines %v; problems:\n%v", lines, err)
	}
	msg := err.Error()
	for _, want := range []string{"policy: 5 problems:", `line 3: signals.kvm.usbb: unknown signal (did you mean "kvm.usb"?)`, "line 7: fleet.windw: unknown key"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text lacks %q:\n%s", want, msg)
		}
	}
}

func TestVersionFollowsTheSource(t *testing.T) {
	a, err := Parse([]byte("schema: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse([]byte("schema: 1\n# a comment\n"))
	if a.Version() == b.Version() || a.Version() == Default().Version() {
		t.Errorf("versions %s %s %s", a.Version(), b.Version(), Default().Version())
	}
	// sha256("schema: 1\n"), first 12 hex digits.
	if a.Version() != "sha256:"+sha12("schema: 1\n") {
		t.Errorf("version %q", a.Version())
	}
}

func sha12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

func TestSanctionCovers(t *testing.T) {
	tv := Sanction{Tool: "teamviewer", Group: "helpdesk", Signals: []string{"remote_tool.*"}, Reason: "r"}
	signer := Sanction{Signer: "TeamViewer Germany GmbH", Reason: "r"}
	for _, tc := range []struct {
		name   string
		s      Sanction
		signal string
		ev     map[string]string
		group  string
		want   bool
	}{
		{"tool and group", tv, "remote_tool.session", map[string]string{"tool": "teamviewer"}, "helpdesk", true},
		{"tool any case", tv, "remote_tool.running", map[string]string{"tool": "TeamViewer"}, "HelpDesk", true},
		{"other group", tv, "remote_tool.session", map[string]string{"tool": "teamviewer"}, "sales", false},
		{"other tool", tv, "remote_tool.session", map[string]string{"tool": "anydesk"}, "helpdesk", false},
		{"other family", tv, "relay.tls", map[string]string{"tool": "teamviewer"}, "helpdesk", false},
		{"signer evidence", signer, "remote_tool.running", map[string]string{"signer": "teamviewer germany gmbh"}, "", true},
		{"signer in recognised_by", signer, "remote_tool.running", map[string]string{"recognised_by": "code signer TeamViewer Germany GmbH (read from the file, not verified)"}, "x", true},
		{"signer absent", signer, "remote_tool.running", map[string]string{"tool": "teamviewer"}, "", false},
	} {
		if got := tc.s.Covers(tc.signal, tc.ev, tc.group); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "14d": 14 * 24 * time.Hour, "1.5d": 36 * time.Hour, "2w": 14 * 24 * time.Hour} {
		if got, err := parseDuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "3 days", "-2d", "1y", "NaNd", "1e400d"} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("%q accepted as %v", in, got)
		}
	}
}

func TestChangesSaysWhatChanged(t *testing.T) {
	p, err := Parse([]byte("schema: 1\nsignals: {kvm.usb: 50}\nsanctioned: [{tool: anydesk, reason: lab}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := Changes(Default(), p)
	want := []string{"signals.kvm.usb.weight 55 -> 50", "sanctioned + tool anydesk: lab"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changes = %q, want %q", got, want)
	}
	if c := Changes(p, p); len(c) != 0 {
		t.Errorf("no change: %q", c)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(defaultYAML)
	f.Add([]byte("schema: 1\nsignals: {kvm.usb: 3}\nbands: {medium: 10, high: 20, critical: 30}\n"))
	f.Add([]byte("schema: 1\nsanctioned: [{tool: x, reason: y, signals: [kvm.*]}]\ncorporate_egress: [::1]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
			return
		}
		if !(0 < p.Bands.Medium && p.Bands.Medium < p.Bands.High && p.Bands.High < p.Bands.Critical && p.Bands.Critical <= 100) {
			t.Fatalf("accepted bands %+v", p.Bands)
		}
		for name, s := range p.Signals {
			if !slices.Contains(KnownSignals, name) || s.Weight < 0 || math.IsNaN(s.Weight) || s.HalfLife < 0 {
				t.Fatalf("accepted signal %s %+v", name, s)
			}
		}
		q, err := Parse(p.Source())
		if err != nil || q.Version() != p.Version() {
			t.Fatalf("re-parse: %v, %s != %s", err, q.Version(), p.Version())
		}
	})
}

// A signal can be grouped under another family; bad family names are refused with their line.
func TestSignalFamilyOverride(t *testing.T) {
	p, err := Parse([]byte("schema: 1\nsignals:\n  location.clock: {weight: 12, family: network}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Signals["location.clock"]; s.Family != "network" || s.Weight != 12 {
		t.Fatalf("location.clock = %+v", s)
	}
	if s := Default().Signals["location.egress_country"]; s.Family != "network" {
		t.Fatalf("default egress_country family = %q", s.Family)
	}
	if s := Default().Signals["location.tz_mismatch"]; s.Family != "location" {
		t.Fatalf("default tz_mismatch family = %q", s.Family)
	}
	_, err = Parse([]byte("schema: 1\nsignals:\n  location.clock:\n    family: Net-Work\n"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Problems[0].Line != 4 || !strings.Contains(pe.Problems[0].Reason, "family name") {
		t.Fatalf("bad family: %v", err)
	}
}

func TestAgentSection(t *testing.T) {
	h := strings.Repeat("ab", 32)
	p, err := Parse([]byte("schema: 1\nagent:\n  uninstall_token_sha256: " + strings.ToUpper(h) + "\n"))
	if err != nil || p.Agent.UninstallTokenSHA256 != h {
		t.Fatalf("agent section: %+v %v", p.Agent, err)
	}
	_, err = Parse([]byte("schema: 1\nagent:\n  uninstall_token_sha256: secret\n"))
	var pe *Error
	if !errors.As(err, &pe) || pe.Problems[0].Line != 3 || !strings.Contains(pe.Problems[0].Reason, "SHA-256") {
		t.Fatalf("bad hash: %v", err)
	}
	if _, err := Parse([]byte("schema: 1\nagent:\n  uninstall_token: x\n")); err == nil {
		t.Fatal("unknown agent key accepted")
	}
}
