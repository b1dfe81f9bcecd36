package location

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

var now = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC) // winter in the north: New York UTC-5

// places is a fake geolocation database over documentation-style ranges.
func places(a netip.Addr) Place {
	for p, pl := range map[string]Place{
		"175.45.176.0/22":  {Country: "KP", ASN: 131279, ASOrg: "Star JV"},
		"8.8.8.0/24":       {Country: "US", ASN: 15169, ASOrg: "Google LLC"},
		"73.0.0.0/8":       {Country: "US", ASN: 7922, ASOrg: "Comcast"},
		"36.110.0.0/16":    {Country: "CN", ASN: 4847, ASOrg: "China Telecom"},
		"142.214.202.0/24": {Country: "US", ASN: 9009, ASOrg: "M247", Class: "vpn", ClassNote: "M247 (VPN exits)"},
		"211.234.0.0/16":   {Country: "KR", ASN: 9644, ASOrg: "SK Telecom"},
	} {
		if netip.MustParsePrefix(p).Contains(a) {
			return pl
		}
	}
	if a.IsPrivate() || a.IsLoopback() {
		return Place{Private: true}
	}
	return Place{}
}

func facts(zone string) *pb.Facts {
	off, err := ZoneOffset(zone, now)
	if err != nil {
		panic(err)
	}
	return &pb.Facts{Time: &pb.TimeFacts{Zone: zone, UtcOffsetSeconds: off}}
}

func newYorker() *store.Person {
	return &store.Person{EmployeeID: "E1", Country: "US", TimeZone: "America/New_York", Languages: []string{"en"}}
}

func find(r Result, signal, key string) *pb.Finding {
	for _, f := range r.Findings {
		if f.GetSignal() == signal && f.GetKey() == key {
			return f
		}
	}
	return nil
}

func run(in Input, cfg Config) Result {
	if in.Now.IsZero() {
		in.Now = now
	}
	if in.Locate == nil && in.LocateDisabled == "" {
		in.Locate = places
	}
	return Analyze(in, cfg)
}

func TestHonestNewYorkerHasNoFindings(t *testing.T) {
	f := facts("America/New_York")
	f.InputSources = []*pb.InputSource{{Id: "us", Language: "en", Kind: "layout"}}
	r := run(Input{Facts: f, Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker()}, DefaultConfig())
	if len(r.Findings) != 0 {
		t.Fatalf("findings: %v", r.Findings)
	}
}

func TestZoneAgainstEgressAndDeclared(t *testing.T) {
	r := run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker()}, DefaultConfig())
	eg := find(r, "location.tz_mismatch", "egress")
	if eg == nil || eg.GetSeverity() != pb.Severity_SEVERITY_MEDIUM || eg.GetEvidence()["egress_country"] != "US" || eg.GetEvidence()["utc_offset"] != "UTC+09:00" {
		t.Fatalf("egress mismatch = %v", eg)
	}
	d := find(r, "location.tz_mismatch", "declared")
	if d == nil || d.GetSeverity() != pb.Severity_SEVERITY_HIGH || d.GetEvidence()["declared_zone"] != "America/New_York" || d.GetEvidence()["employee"] != "E1" {
		t.Fatalf("declared mismatch = %v", d)
	}
	// A Chicago zone fits the US egress but not the New York declaration.
	r = run(Input{Facts: facts("America/Chicago"), Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker()}, DefaultConfig())
	if find(r, "location.tz_mismatch", "egress") != nil || find(r, "location.tz_mismatch", "declared") == nil {
		t.Fatalf("chicago: %v", r.Findings)
	}
	// Without HR data only the egress is judged, and the notes say so.
	r = run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("73.1.2.3")}, DefaultConfig())
	if find(r, "location.tz_mismatch", "declared") != nil || !strings.Contains(strings.Join(r.Notes, "\n"), "no HR record") {
		t.Fatalf("no person: %v %v", r.Findings, r.Notes)
	}
}

func TestEgressCountryAndNetwork(t *testing.T) {
	r := run(Input{Facts: facts("Asia/Pyongyang"), Egress: netip.MustParseAddr("175.45.176.9")}, DefaultConfig())
	if f := find(r, "location.egress_country", "egress"); f == nil || f.GetSeverity() != pb.Severity_SEVERITY_CRITICAL {
		t.Fatalf("KP egress = %v", r.Findings)
	}
	if find(r, "location.tz_mismatch", "egress") != nil {
		t.Fatal("Pyongyang zone fits a KP egress")
	}
	r = run(Input{Facts: facts("America/New_York"), Egress: netip.MustParseAddr("36.110.1.1"), Person: newYorker()}, DefaultConfig())
	if f := find(r, "location.egress_country", "egress"); f == nil || f.GetSeverity() != pb.Severity_SEVERITY_HIGH || f.GetEvidence()["declared_country"] != "US" {
		t.Fatalf("CN egress = %v", r.Findings)
	}
	r = run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("211.234.1.1"), Person: newYorker()}, DefaultConfig())
	if f := find(r, "location.egress_country", "egress"); f == nil || f.GetSeverity() != pb.Severity_SEVERITY_MEDIUM {
		t.Fatalf("KR egress for a US employee = %v", r.Findings)
	}
	// A VPN exit: the network is the finding, its country is not trusted.
	r = run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("142.214.202.2"), Person: newYorker()}, DefaultConfig())
	if f := find(r, "location.egress_network", "class"); f == nil || f.GetSeverity() != pb.Severity_SEVERITY_MEDIUM || f.GetEvidence()["egress_class"] != "vpn" {
		t.Fatalf("vpn = %v", r.Findings)
	}
	if f := find(r, "location.tz_mismatch", "egress"); f == nil || f.GetSeverity() != pb.Severity_SEVERITY_LOW {
		t.Fatalf("tz vs VPN egress should be low: %v", f)
	}
	if find(r, "location.egress_country", "egress") != nil {
		t.Fatal("a VPN exit's country judged")
	}
	// Corporate egress says nothing; a loopback egress neither.
	cfg := DefaultConfig()
	cfg.CorporateEgress = []netip.Prefix{netip.MustParsePrefix("36.110.0.0/16")}
	r = run(Input{Facts: facts("America/New_York"), Egress: netip.MustParseAddr("36.110.1.1"), Person: newYorker()}, cfg)
	if len(r.Findings) != 0 {
		t.Fatalf("corporate egress: %v", r.Findings)
	}
	r = run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("127.0.0.1")}, DefaultConfig())
	if find(r, "location.tz_mismatch", "egress") != nil || !strings.Contains(strings.Join(r.Notes, "\n"), "private") {
		t.Fatalf("loopback: %v %v", r.Findings, r.Notes)
	}
}

func TestGeolocationDisabledIsSaid(t *testing.T) {
	r := run(Input{Facts: facts("Asia/Seoul"), Egress: netip.MustParseAddr("8.8.8.8"), LocateDisabled: "open var/geoip/country.mmdb: no such file"}, DefaultConfig())
	if len(r.Findings) != 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "geolocation disabled: open var/geoip/country.mmdb") {
		t.Fatalf("%v %v", r.Findings, r.Notes)
	}
}

func TestInputLanguage(t *testing.T) {
	f := facts("America/New_York")
	f.InputSources = []*pb.InputSource{
		{Id: "us", Language: "en-US", Kind: "layout"},
		{Id: "0412:{A028AE76-01B1-46C2-99C4-ACD9858AE02F}", Language: "ko-KR", Kind: "ime"},
		{Id: "de", Language: "de", Kind: "layout"},
	}
	r := run(Input{Facts: f, Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker()}, DefaultConfig())
	ko := find(r, "location.input_language", "lang:ko")
	if ko == nil || ko.GetSeverity() != pb.Severity_SEVERITY_MEDIUM || ko.GetConfidence() < 0.59 || ko.GetEvidence()["declared_languages"] != "en" {
		t.Fatalf("ko = %v", ko)
	}
	if de := find(r, "location.input_language", "lang:de"); de == nil || de.GetSeverity() != pb.Severity_SEVERITY_LOW {
		t.Fatalf("de = %v", de)
	}
	// A bilingual employee who declared Korean: nothing for ko.
	p := newYorker()
	p.Languages = []string{"en", "ko", "de"}
	r = run(Input{Facts: f, Egress: netip.MustParseAddr("73.1.2.3"), Person: p}, DefaultConfig())
	if len(r.Findings) != 0 {
		t.Fatalf("bilingual: %v", r.Findings)
	}
	// Without HR data only the watched languages count.
	r = run(Input{Facts: f, Egress: netip.MustParseAddr("73.1.2.3")}, DefaultConfig())
	if find(r, "location.input_language", "lang:ko") == nil || find(r, "location.input_language", "lang:de") != nil {
		t.Fatalf("no HR: %v", r.Findings)
	}
}

func TestRemotePeers(t *testing.T) {
	f := facts("America/New_York")
	f.RdpClients = []*pb.RdpClient{{Session: "3", ClientAddress: "211.234.5.6", KeyboardLayout: "00000412", OffsetKnown: true, ClientUtcOffsetSeconds: 9 * 3600, TimeZone: "Korea Standard Time", Source: "wts"}}
	agent := []store.Finding{
		{Signal: "remote_tool.session", Title: "AnyDesk session", Evidence: map[string]string{"peer_address": "36.110.9.9"}},
		{Signal: "os_remote.session", Title: "VNC session", Evidence: map[string]string{"peer_address": "73.5.5.5"}},
		{Signal: "remote_tool.running", Evidence: map[string]string{"peer_address": "175.45.176.1"}}, // not a session
	}
	r := run(Input{Facts: f, AgentFindings: agent, Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker()}, DefaultConfig())
	cn := find(r, "location.remote_peer", "peer:36.110.9.9")
	if cn == nil || cn.GetSeverity() != pb.Severity_SEVERITY_HIGH || cn.GetEvidence()["peer_country"] != "CN" {
		t.Fatalf("CN peer = %v", r.Findings)
	}
	if find(r, "location.remote_peer", "peer:73.5.5.5") != nil || find(r, "location.remote_peer", "peer:175.45.176.1") != nil {
		t.Fatalf("unexpected peers: %v", r.Findings)
	}
	rdp := find(r, "location.remote_peer", "rdp:3")
	if rdp == nil || rdp.GetEvidence()["keyboard_language"] != "ko" || rdp.GetEvidence()["client_country"] != "KR" || !strings.Contains(rdp.GetEvidence()["why"], "UTC+09:00") {
		t.Fatalf("rdp = %v", rdp)
	}
}

func TestClockSkewAndZoneChurn(t *testing.T) {
	f := facts("America/New_York")
	f.Time.ClockMeasured, f.Time.ClockSkewMillis = true, -10*60*1000
	for i, z := range []string{"Asia/Seoul", "America/New_York", "Asia/Seoul", "America/New_York"} {
		off, _ := ZoneOffset(z, now)
		f.Time.ZoneChanges = append(f.Time.ZoneChanges, &pb.ZoneChange{At: timestamppb.New(now.Add(-time.Duration(16-4*i) * 24 * time.Hour)), ToZone: z, ToOffsetSeconds: off})
	}
	r := run(Input{Facts: f}, DefaultConfig())
	if s := find(r, "location.clock", "skew"); s == nil || s.GetEvidence()["skew_millis"] != "-600000" {
		t.Fatalf("skew = %v", r.Findings)
	}
	// Changes at -16, -12, -8, -4 days: three inside 14 days.
	if c := find(r, "location.clock", "zone_churn"); c == nil || c.GetEvidence()["changes"] != "3" {
		t.Fatalf("churn = %v", r.Findings)
	}
	f.Time.ClockSkewMillis = 2000
	f.Time.ZoneChanges = f.Time.ZoneChanges[:2]
	if r := run(Input{Facts: f}, DefaultConfig()); len(r.Findings) != 0 {
		t.Fatalf("ordinary clock: %v", r.Findings)
	}
}

func TestRoundTripBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Collector = &Coordinates{39.04, -77.49} // Ashburn, Virginia
	p := newYorker()
	p.HasCoordinates, p.Latitude, p.Longitude = true, 40.71, -74.01 // ~330 km away
	in := func(rtt time.Duration, samples int) Input {
		return Input{Facts: facts("America/New_York"), Egress: netip.MustParseAddr("73.1.2.3"), Person: p, RTT: store.RTT{Min: rtt, Samples: samples}}
	}
	if r := run(in(600*time.Microsecond, 5), cfg); find(r, "location.rtt", "too_near") == nil {
		t.Fatalf("0.6 ms from 330 km: %v", r.Findings)
	}
	if r := run(in(9*time.Millisecond, 5), cfg); len(r.Findings) != 0 {
		t.Fatalf("9 ms from 330 km: %v", r.Findings)
	}
	r := run(in(240*time.Millisecond, 5), cfg)
	far := find(r, "location.rtt", "too_far")
	if far == nil || far.GetEvidence()["min_rtt_ms"] != "240.0" {
		t.Fatalf("240 ms from 330 km: %v", r.Findings)
	}
	if r := run(in(240*time.Millisecond, 2), cfg); len(r.Findings) != 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "2 of 3") {
		t.Fatalf("too few samples: %v %v", r.Findings, r.Notes)
	}
	// With only a declared zone, its principal city stands in, with a wide tolerance.
	p.HasCoordinates = false
	if r := run(in(1*time.Millisecond, 5), cfg); find(r, "location.rtt", "too_near") != nil {
		t.Fatalf("zone city tolerance: %v", r.Findings)
	}
	p.TimeZone, p.Country = "America/Los_Angeles", "US" // ~3,600 km: 9 ms is impossible
	if r := run(in(9*time.Millisecond, 5), cfg); find(r, "location.rtt", "too_near") == nil {
		t.Fatalf("9 ms from Los Angeles: %v", r.Findings)
	}
	// Corporate VPN path: slowness says nothing.
	cfg.CorporateEgress = []netip.Prefix{netip.MustParsePrefix("73.0.0.0/8")}
	p.TimeZone = "America/New_York"
	if r := run(in(240*time.Millisecond, 5), cfg); find(r, "location.rtt", "too_far") != nil {
		t.Fatalf("corporate path: %v", r.Findings)
	}
}

// A Seoul day worker driving a New York laptop: the finding says the activity fits UTC+9; an
// employee HR declares a night-shift worker gets info, not a finding to act on.
func TestActivityHoursFinding(t *testing.T) {
	ny, seoul := mustZone(t, "America/New_York"), mustZone(t, "Asia/Seoul")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	w := simWorker{
		start: start, days: 14,
		awake: func(time.Time) bool { return true },
		busy: func(t time.Time) bool {
			return weekday(t, seoul) && between(t, seoul, 9, 18) && !between(t, seoul, 12, 13)
		},
	}
	f := facts("America/New_York")
	f.Time.UtcOffsetSeconds = localOffset(ny, start)
	f.Activity = w.run(t)
	r := run(Input{Now: start.Add(14 * 24 * time.Hour), Facts: f, Person: newYorker()}, DefaultConfig())
	a := find(r, "location.activity_hours", "night")
	if a == nil || a.GetSeverity() != pb.Severity_SEVERITY_MEDIUM || a.GetEvidence()["fits_offset"] != "UTC+09:00" || a.GetEvidence()["days"] != "14" {
		t.Fatalf("activity finding = %v (notes %v)", a, r.Notes)
	}
	p := newYorker()
	p.NightShift = true
	r = run(Input{Now: start.Add(14 * 24 * time.Hour), Facts: f, Person: p}, DefaultConfig())
	if a := find(r, "location.activity_hours", "night"); a == nil || a.GetSeverity() != pb.Severity_SEVERITY_INFO || a.GetEvidence()["declared_night_shift"] != "true" {
		t.Fatalf("night shift = %v", a)
	}
	// Sampling failing now: the days already gathered still count, and the notes say so.
	f.Activity.Known, f.Activity.Note = false, "X connection refused"
	r = run(Input{Now: start.Add(14 * 24 * time.Hour), Facts: f, Person: newYorker()}, DefaultConfig())
	if find(r, "location.activity_hours", "night") == nil || !strings.Contains(strings.Join(r.Notes, "\n"), "X connection refused") {
		t.Fatalf("failing sampler: %v %v", r.Findings, r.Notes)
	}
}

// BenchmarkAnalyze is one device's whole location analysis: egress, HR declaration, 35 days of
// activity, input sources, remote sessions and an RDP client, with the fake locator (the real
// database lookup is measured in server/geoip).
func BenchmarkAnalyze(b *testing.B) {
	f := facts("America/New_York")
	f.InputSources = []*pb.InputSource{{Id: "us", Language: "en-US", Kind: "layout"}, {Id: "kr(kr104)", Language: "ko-KR", Kind: "layout"}, {Id: "hangul", Language: "ko-KR", Kind: "ime"}}
	f.RdpClients = []*pb.RdpClient{{Session: "3", ClientAddress: "211.234.5.6", KeyboardLayout: "00000412"}}
	f.Activity = &pb.Activity{Known: true}
	for d := range 35 {
		day := &pb.ActivityDay{Day: now.Add(-time.Duration(35-d) * 24 * time.Hour).Truncate(24 * time.Hour).Unix(), ActiveMinutes: make([]uint32, 24), SampledMinutes: make([]uint32, 24)}
		for h := range 24 {
			day.SampledMinutes[h] = 60
			if h < 8 {
				day.ActiveMinutes[h] = 50
			}
		}
		f.Activity.Days = append(f.Activity.Days, day)
	}
	agent := []store.Finding{{Signal: "remote_tool.session", Evidence: map[string]string{"peer_address": "36.110.9.9"}}}
	cfg := DefaultConfig()
	cfg.Collector = &Coordinates{39.04, -77.49}
	in := Input{Now: now, Facts: f, AgentFindings: agent, Egress: netip.MustParseAddr("73.1.2.3"), Person: newYorker(), Locate: places,
		RTT: store.RTT{Min: 9 * time.Millisecond, Samples: 5}}
	b.ReportAllocs()
	for b.Loop() {
		if r := Analyze(in, cfg); len(r.Findings) == 0 {
			b.Fatal("no findings")
		}
	}
}
