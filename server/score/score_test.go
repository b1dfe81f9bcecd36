package score

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

var now = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

const (
	info     = pb.Severity_SEVERITY_INFO
	low      = pb.Severity_SEVERITY_LOW
	medium   = pb.Severity_SEVERITY_MEDIUM
	high     = pb.Severity_SEVERITY_HIGH
	critical = pb.Severity_SEVERITY_CRITICAL
)

// f is a finding last seen age ago.
func f(signal, key string, sev pb.Severity, conf float64, age time.Duration, ev ...string) store.Finding {
	e := map[string]string{}
	for i := 0; i+1 < len(ev); i += 2 {
		e[ev[i]] = ev[i+1]
	}
	return store.Finding{Signal: signal, Key: key, Severity: sev, Confidence: conf, Title: signal + " " + key,
		Evidence: e, FirstSeen: now.Add(-age - time.Hour), LastSeen: now.Add(-age)}
}

func score(p *policy.Policy, group string, fs ...store.Finding) Result {
	return Score(p, Device{ID: "d1", Group: group, Findings: fs}, now)
}

func mustParse(t testing.TB, s string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNoFindingsScoresZero(t *testing.T) {
	r := score(policy.Default(), "")
	if r.Score != 0 || r.Band != "low" || r.PolicyVersion != policy.Default().Version() || len(r.Contributions) != 0 {
		t.Errorf("%+v", r)
	}
}

// TestWorkedExample is docs/scoring.md's example, number for number.
func TestWorkedExample(t *testing.T) {
	r := score(policy.Default(), "",
		f("remote_tool.session", "anydesk:trace", high, 0.9, 0, "tool", "anydesk"),
		f("remote_tool.running", "anydesk", medium, 0.95, 0, "tool", "anydesk"),
		f("kvm.usb", "1d6b:0104", high, 0.95, 3*24*time.Hour),
		f("location.activity_hours", "night", medium, 0.6, 0),
		f("fleet.shared_wifi", "bssid", medium, 0.8, 0),
	)
	var contrib []string
	for _, c := range r.Contributions {
		contrib = append(contrib, fmt.Sprintf("%s %v×%v×%v×%v=%v", c.Signal, c.Weight, c.SeverityFactor, c.Confidence, c.Decay, c.Points))
	}
	wantContrib := []string{
		"kvm.usb 55×1×0.95×0.933=48.75",
		"remote_tool.session 30×1×0.9×1=27",
		"fleet.shared_wifi 25×0.75×0.8×1=15",
		"remote_tool.running 20×0.75×0.95×1=14.25",
		"location.activity_hours 25×0.75×0.6×1=11.25",
	}
	if !reflect.DeepEqual(contrib, wantContrib) {
		t.Errorf("contributions\n got %q\nwant %q", contrib, wantContrib)
	}
	var fams []string
	for _, fm := range r.Families {
		fams = append(fams, fmt.Sprintf("%s=%v/%d", fm.Name, fm.Points, fm.Findings))
	}
	if want := []string{"kvm=48.8/1", "remote_tool=30.6/2", "fleet=15/1", "location=11.3/1"}; !reflect.DeepEqual(fams, want) {
		t.Errorf("families %q, want %q", fams, want)
	}
	if r.Base != 73.2 || r.Conjunction != 18 || r.Score != 91.2 || r.Band != "critical" || !reflect.DeepEqual(r.Present, []string{"fleet", "kvm", "location", "remote_tool"}) {
		t.Errorf("base %v conjunction %v score %v band %s present %v; want 73.2 18 91.2 critical, four families", r.Base, r.Conjunction, r.Score, r.Band, r.Present)
	}
}

func TestScoreIsMonotoneInConfidence(t *testing.T) {
	p := policy.Default()
	prev := -1.0
	for conf := 0.05; conf <= 1.0001; conf += 0.05 {
		r := score(p, "",
			f("kvm.usb", "a", high, conf, 0),
			f("remote_tool.session", "b", high, 0.9, 0),
			f("location.tz_mismatch", "egress", medium, 0.6, 0))
		if r.Score < prev {
			t.Fatalf("confidence %.2f scores %v, less than %v at lower confidence", conf, r.Score, prev)
		}
		prev = r.Score
	}
}

func TestConjunctionAcrossFamiliesBeatsTheSamePointsInOne(t *testing.T) {
	// Three findings worth the same points each (20 x high x 1): one per family, or all in one.
	p := mustParse(t, "schema: 1\nsignals: {remote_tool.running: 20, remote_tool.unattended: 20, remote_tool.installed: 20, kvm.hid_shape: 20, location.clock: 20}\n")
	spread := score(p, "",
		f("remote_tool.running", "x", high, 1, 0),
		f("kvm.hid_shape", "y", high, 1, 0),
		f("location.clock", "z", high, 1, 0))
	one := score(p, "",
		f("remote_tool.running", "x", high, 1, 0),
		f("remote_tool.unattended", "y", high, 1, 0),
		f("remote_tool.installed", "z", high, 1, 0))
	if spread.Score <= one.Score || spread.Conjunction == 0 || one.Conjunction != 0 {
		t.Errorf("three families %v (bonus %v) vs one family %v (bonus %v)", spread.Score, spread.Conjunction, one.Score, one.Conjunction)
	}
	if one.Score != 30 || spread.Score != 60.8 {
		t.Errorf("one family %v (want 20 + 0.25×40 = 30), three %v (want 100×(1−0.8³) + 2×6 = 60.8)", one.Score, spread.Score)
	}
}

func TestFarmPatternOutscoresRepetitionOfOneFamily(t *testing.T) {
	p := policy.Default()
	helpdesk := score(p, "",
		f("remote_tool.installed", "anydesk", low, 0.9, 0),
		f("remote_tool.running", "anydesk", medium, 0.95, 0),
		f("remote_tool.session", "anydesk:1", high, 0.9, 0),
		f("remote_tool.unattended", "anydesk", medium, 0.85, 0),
		f("remote_tool.multiple", "multiple", medium, 0.8, 0))
	farm := score(p, "",
		f("remote_tool.running", "anydesk", medium, 0.95, 0),
		f("kvm.hid_shape", "3-1", medium, 0.65, 0),
		f("location.activity_hours", "night", medium, 0.6, 0),
		f("fleet.shared_egress", "203.0.113.9", medium, 0.7, 0))
	if farm.Score <= helpdesk.Score {
		t.Errorf("remote_tool+kvm+location+fleet %v <= five remote_tool findings %v", farm.Score, helpdesk.Score)
	}
	if helpdesk.Band != "medium" || (farm.Band != "high" && farm.Band != "critical") {
		t.Errorf("bands: five remote_tool %s (%v), farm %s (%v)", helpdesk.Band, helpdesk.Score, farm.Band, farm.Score)
	}
}

// TestCalibration pins the default policy's intent: any one finding, however strong, stays
// below high, except a known KVM-over-IP identity on the USB bus (T1219.003: no issued laptop
// needs one); two strong findings in different families reach it.
func TestCalibration(t *testing.T) {
	p := policy.Default()
	for _, s := range policy.KnownSignals {
		r := score(p, "", f(s, "k", high, 1, 0))
		if s == "kvm.usb" {
			if r.Band != "high" {
				t.Errorf("a known KVM-over-IP identity alone: %v %s, want high", r.Score, r.Band)
			}
			continue
		}
		if r.Band == "high" || r.Band == "critical" {
			t.Errorf("one %s finding (high, confidence 1) scores %v: %s", s, r.Score, r.Band)
		}
	}
	if r := score(p, "", f("remote_tool.installed", "teamviewer", low, 0.9, 0)); r.Band != "low" {
		t.Errorf("an installed remote tool alone: %v %s, want low", r.Score, r.Band)
	}
	if r := score(p, "", f("remote_tool.session", "anydesk", high, 0.9, 0), f("kvm.usb", "pikvm", high, 0.95, 0)); r.Band != "high" {
		t.Errorf("remote session + KVM: %v %s, want high", r.Score, r.Band)
	}
}

func TestSanctionedToolScoresNothingForItsGroup(t *testing.T) {
	p := mustParse(t, `schema: 1
sanctioned:
  - tool: teamviewer
    group: helpdesk
    reason: IT supports staff with TeamViewer (SEC-42)
`)
	fs := []store.Finding{
		f("remote_tool.session", "teamviewer:desktop", high, 0.9, 0, "tool", "teamviewer"),
		f("kvm.usb", "pikvm", high, 0.95, 0),
	}
	r := score(p, "helpdesk", fs...)
	var tv *Contribution
	for i := range r.Contributions {
		if r.Contributions[i].Signal == "remote_tool.session" {
			tv = &r.Contributions[i]
		}
	}
	if tv == nil || tv.Points != 0 || !strings.Contains(tv.Allowlist, "IT supports staff with TeamViewer (SEC-42)") || !strings.Contains(tv.Allowlist, "tool teamviewer") {
		t.Fatalf("TeamViewer contribution %+v", tv)
	}
	if tv.Weight != 30 || tv.Confidence != 0.9 {
		t.Errorf("an allowlisted finding still shows what it would weigh: %+v", tv)
	}
	if want := math.Round(p.Signals["kvm.usb"].Weight*0.95*10) / 10; r.Score != want || r.Conjunction != 0 {
		t.Errorf("helpdesk device scores %v (bonus %v); want the KVM alone, %v", r.Score, r.Conjunction, want)
	}
	var rt Family
	for _, fm := range r.Families {
		if fm.Name == "remote_tool" {
			rt = fm
		}
	}
	if rt.Points != 0 || rt.Allowlisted != 1 || rt.Findings != 0 {
		t.Errorf("remote_tool family %+v", rt)
	}
	// The same findings on a device outside the group count in full.
	if other := score(p, "sales", fs...); other.Score <= r.Score || other.Contributions[1].Allowlist != "" {
		t.Errorf("sales device %v, helpdesk %v", other.Score, r.Score)
	}
}

func TestRemoteToolMultipleIgnoresSanctionedTools(t *testing.T) {
	p := mustParse(t, "schema: 1\nsanctioned: [{tool: teamviewer, reason: IT}]\n")
	two := f("remote_tool.multiple", "multiple", medium, 0.8, 0, "tools", "teamviewer, anydesk")
	three := f("remote_tool.multiple", "multiple", medium, 0.8, 0, "tools", "teamviewer, anydesk, rustdesk")
	if c := score(p, "", two).Contributions[0]; c.Points != 0 || c.Allowlist == "" {
		t.Errorf("teamviewer + anydesk with teamviewer sanctioned: %+v", c)
	}
	if c := score(p, "", three).Contributions[0]; c.Points == 0 {
		t.Errorf("two unsanctioned tools left: %+v", c)
	}
}

func TestFleetValuesOnCorporateEgressOrIgnoredScoreNothing(t *testing.T) {
	p := mustParse(t, "schema: 1\ncorporate_egress: [203.0.113.0/24]\nfleet: {ignore_values: ['aa:bb:cc:dd:ee:ff']}\n")
	for _, tc := range []struct {
		value, want string
	}{
		{"203.0.113.7", "corporate egress 203.0.113.0/24"},
		{"AA:BB:CC:DD:EE:FF", "shared on purpose: aa:bb:cc:dd:ee:ff"},
		{"198.51.100.1", ""},
		{"203.0.113.7, 198.51.100.1", ""},
	} {
		c := score(p, "", f("fleet.shared_egress", "c1", medium, 0.8, 0, "value", tc.value)).Contributions[0]
		if c.Allowlist != tc.want || (c.Points == 0) != (tc.want != "") {
			t.Errorf("value %q: allowlist %q points %v, want %q", tc.value, c.Allowlist, c.Points, tc.want)
		}
	}
}

func TestDecayHalvesAtTheHalfLife(t *testing.T) {
	p := policy.Default()
	hl := p.Signals["kvm.usb"].HalfLife
	for _, tc := range []struct {
		age   time.Duration
		decay float64
	}{{0, 1}, {hl, 0.5}, {2 * hl, 0.25}, {-time.Hour, 1}} {
		w := p.Signals["kvm.usb"].Weight
		c := score(p, "", f("kvm.usb", "k", high, 1, tc.age)).Contributions[0]
		if c.Decay != tc.decay || c.Points != w*tc.decay {
			t.Errorf("age %v: decay %v points %v, want %v and %v", tc.age, c.Decay, c.Points, tc.decay, w*tc.decay)
		}
	}
	// Half-life 0: no decay.
	p0 := mustParse(t, "schema: 1\nsignals: {kvm.usb: {half_life: 0}}\n")
	if c := score(p0, "", f("kvm.usb", "k", high, 1, 365*24*time.Hour)).Contributions[0]; c.Decay != 1 || c.AgeHours != 8760 {
		t.Errorf("no decay: %+v", c)
	}
}

func TestUnknownSignalUsesTheDefaultAndIsFlagged(t *testing.T) {
	p := policy.Default()
	r := score(p, "", f("kvm.thunderbolt", "x", high, 1, 0), f("printer.odd", "y", high, 1, 0))
	byName := map[string]Contribution{}
	for _, c := range r.Contributions {
		byName[c.Signal] = c
	}
	for name, family := range map[string]string{"kvm.thunderbolt": "kvm", "printer.odd": "other"} {
		c := byName[name]
		if !c.DefaultWeight || c.Weight != p.Default.Weight || c.Points != 10 || c.Family != family {
			t.Errorf("%s: %+v; want the default weight %v, flagged, family %s", name, c, p.Default.Weight, family)
		}
	}
	if c := score(p, "", f("kvm.usb", "k", high, 1, 0)).Contributions[0]; c.DefaultWeight {
		t.Error("known signal flagged as default")
	}
}

func TestConfidenceHandling(t *testing.T) {
	p := mustParse(t, "schema: 1\nconfidence: {missing: 0.4, min: 0.3}\nsignals: {kvm.usb: 45}\n")
	for _, tc := range []struct {
		conf, used, points float64
		note               bool
	}{{0, 0.4, 18, false}, {math.NaN(), 0.4, 18, false}, {1.7, 1, 45, false}, {0.2, 0.2, 0, true}, {0.5, 0.5, 22.5, false}} {
		c := score(p, "", f("kvm.usb", "k", high, tc.conf, 0)).Contributions[0]
		if c.Confidence != tc.used || c.Points != tc.points || (c.Note != "") != tc.note {
			t.Errorf("confidence %v: %+v", tc.conf, c)
		}
	}
}

func TestSeverityScalesPoints(t *testing.T) {
	p := policy.Default()
	var prev float64 = -1
	for _, sev := range []pb.Severity{info, low, medium, high, critical} {
		c := score(p, "", f("kvm.usb", "k", sev, 1, 0)).Contributions[0]
		if c.Points <= prev || c.Severity != policy.SeverityName(sev) {
			t.Errorf("%v: %+v", sev, c)
		}
		prev = c.Points
	}
}

func TestFamilyCapAndRestShare(t *testing.T) {
	p := policy.Default()
	var fs []store.Finding
	for i := range 6 {
		fs = append(fs, f("relay.tls", fmt.Sprint(i), high, 1, 0))
	}
	for range 3 { // 12 + 0.25*5*12 = 27; twelve of them pass the cap
		for i := range 6 {
			fs = append(fs, f("relay.tls", fmt.Sprint("x", len(fs), i), high, 1, 0))
		}
	}
	r := score(p, "", fs...)
	if r.Score != 45 || !r.Families[0].Capped || r.Families[0].Findings != 24 {
		t.Errorf("24 relays: %v %+v; want the family cap 45", r.Score, r.Families)
	}
	fs = fs[:0]
	for i := range 6 {
		fs = append(fs, f("kvm.usb", fmt.Sprint(i), high, 1, 0))
	}
	if r := score(p, "", fs...); r.Score != 60 || !r.Families[0].Capped {
		t.Errorf("six KVMs: %v %+v; want the default kvm cap 60", r.Score, r.Families)
	}
	p2 := mustParse(t, "schema: 1\ncombine: {family_caps: {kvm: 70}}\n")
	if r := score(p2, "", fs...); r.Score != 70 {
		t.Errorf("kvm cap 70: %v", r.Score)
	}
}

func TestScoreIsDeterministic(t *testing.T) {
	p := policy.Default()
	fs := benchFindings()
	want := score(p, "", fs...)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		if got := score(p, "", fs...); !reflect.DeepEqual(got, want) {
			t.Fatal("the order of findings changed the result")
		}
	}
	if want.Score < 0 || want.Score > 100 {
		t.Errorf("score %v", want.Score)
	}
}

// benchFindings is a busy device: 40 findings over every family.
func benchFindings() []store.Finding {
	var fs []store.Finding
	sevs := []pb.Severity{low, medium, high}
	for i := range 40 {
		s := policy.KnownSignals[i%len(policy.KnownSignals)]
		fs = append(fs, f(s, fmt.Sprint(i), sevs[i%3], 0.5+float64(i%5)/10, time.Duration(i)*time.Hour, "tool", "anydesk"))
	}
	return fs
}

func BenchmarkScore40Findings(b *testing.B) {
	p := mustParse(b, "schema: 1\nsanctioned: [{tool: teamviewer, group: helpdesk, reason: IT}]\n")
	d := Device{ID: "d1", Group: "sales", Findings: benchFindings()}
	b.ReportAllocs()
	for b.Loop() {
		Score(p, d, now)
	}
}

// xrdp reached from one client: os_remote.session and remote_tool.session report the same
// session, which counts once.
func TestOneSessionCountsOnce(t *testing.T) {
	p := policy.Default()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	both := Device{ID: "d", Findings: []store.Finding{
		{Signal: "os_remote.session", Key: "rdp", Title: "RDP session", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9, LastSeen: now, Evidence: map[string]string{"peer_address": "203.0.113.9"}},
		{Signal: "remote_tool.session", Key: "xrdp", Title: "xrdp session", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9, LastSeen: now, Evidence: map[string]string{"peer_address": "203.0.113.9"}},
	}}
	one := Device{ID: "d", Findings: both.Findings[1:]}
	rb, ro := Score(p, both, now), Score(p, one, now)
	if rb.Score != ro.Score {
		t.Fatalf("one session scored %.1f seen twice, %.1f seen once", rb.Score, ro.Score)
	}
	var noted bool
	for _, c := range rb.Contributions {
		noted = noted || strings.Contains(c.Note, "same session")
	}
	if !noted {
		t.Fatalf("no note on the duplicate: %+v", rb.Contributions)
	}
	// Two sessions from two peers both count.
	two := Device{ID: "d", Findings: append([]store.Finding{}, both.Findings...)}
	two.Findings[0].Evidence = map[string]string{"peer_address": "198.51.100.4"}
	if r := Score(p, two, now); r.Score <= ro.Score {
		t.Fatalf("two sessions %.1f not above one %.1f", r.Score, ro.Score)
	}
}
