// Package location derives the collector's location and time signals for a device: its clock
// and zone against where it connects from and where its employee says they are, the languages
// it types in, the hours it is used, the countries its remote sessions come from, and whether
// the round trip the collector measures fits the declared home.
//
// Everything here is a pure function of its Input, so that the rules are tested with injected
// clocks, zones and places; server/collector gathers the input from the store and the
// geolocation database.
package location

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/platform/keyboard"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

// Detector names the collector as the source of these findings.
const Detector = "collector/location"

// Config holds the thresholds of the location signals. The policy (docs/scoring.md) overrides
// these defaults.
type Config struct {
	// HighRiskCountries raise egress and remote-peer findings to high (KP: critical).
	HighRiskCountries []string
	// WatchLanguages are input languages worth a medium finding even without HR data.
	WatchLanguages []string
	// MaxClockSkew is the largest clock error (collector minus agent) taken as ordinary.
	MaxClockSkew time.Duration
	// ZoneChurnChanges zone changes within ZoneChurnWindow make a zone-churn finding.
	ZoneChurnChanges int
	ZoneChurnWindow  time.Duration
	Activity         ActivityConfig
	// RTTMinSamples measurements are needed before the round trip is judged.
	RTTMinSamples int
	// RTTSlack is added to the slowest plausible round trip for the declared distance before a
	// connection is called too slow for it.
	RTTSlack time.Duration
	// Collector is where the collector stands; without it the round-trip bound is off.
	Collector *Coordinates
	// CorporateEgress are the company's own egress ranges (VPN concentrators, offices): an
	// address in them says nothing about where the laptop is.
	CorporateEgress []netip.Prefix
}

// Coordinates is a point on Earth in degrees.
type Coordinates struct{ Latitude, Longitude float64 }

// DefaultConfig returns the thresholds used when the policy sets none.
func DefaultConfig() Config {
	return Config{
		HighRiskCountries: []string{"KP", "CN", "RU"},
		WatchLanguages:    []string{"ko", "zh"},
		MaxClockSkew:      5 * time.Minute,
		ZoneChurnChanges:  3,
		ZoneChurnWindow:   14 * 24 * time.Hour,
		Activity:          DefaultActivityConfig(),
		RTTMinSamples:     3,
		RTTSlack:          40 * time.Millisecond,
	}
}

// Place is what geolocation says of an address.
type Place struct {
	Country   string
	ASN       uint32
	ASOrg     string
	Class     string // hosting, vpn, mobile or ""
	ClassNote string
	Private   bool
}

// Locator geolocates an address; nil when no database is loaded.
type Locator func(netip.Addr) Place

// Input is everything known of one device.
type Input struct {
	Now           time.Time
	Facts         *pb.Facts
	AgentFindings []store.Finding
	// Egress is the address the device connects from now (no port); invalid when unknown.
	Egress netip.Addr
	Person *store.Person // nil when the HR import has no row for the device
	RTT    store.RTT
	Locate Locator
	// LocateDisabled says why Locate is nil (shown in Notes).
	LocateDisabled string
}

// Result is the findings and what could not be judged, and why.
type Result struct {
	Findings []*pb.Finding
	Notes    []string
}

// Speed-of-light figures for the round-trip bound (../shared/research/hardware.md §3): light in
// fibre covers at most 100 km per millisecond of round trip; the slowest paths seen on the
// internet run at about 110,000 km/s after a fixed delay of about 55 ms.
const (
	kmPerRTTMs         = 100.0
	slowKmPerMs        = 110.0
	slowFixedDelayMs   = 55.0
	zoneCityToleranceK = 800.0 // a zone's principal city stands for the whole zone
	coordsToleranceKm  = 50.0
)

type analysis struct {
	in   Input
	cfg  Config
	res  Result
	off  int32 // device UTC offset
	zone string
	// egress
	egress      Place
	egressKnown bool // a public, non-corporate address with a country
	corporate   bool
}

// Analyze derives the device's location findings.
func Analyze(in Input, cfg Config) Result {
	a := &analysis{in: in, cfg: cfg}
	t := in.Facts.GetTime()
	a.off, a.zone = t.GetUtcOffsetSeconds(), t.GetZone()
	a.locateEgress()
	if t == nil {
		a.note("the device has sent no time facts yet")
	} else {
		a.tzMismatch()
		a.clock()
		a.activity()
	}
	a.egressCountry()
	a.inputLanguage()
	a.remotePeers()
	a.rtt()
	sort.Slice(a.res.Findings, func(i, j int) bool { return a.res.Findings[i].GetKey() < a.res.Findings[j].GetKey() })
	return a.res
}

func (a *analysis) note(format string, args ...any) {
	a.res.Notes = append(a.res.Notes, fmt.Sprintf(format, args...))
}

func (a *analysis) add(signal, key string, sev pb.Severity, conf float64, title string, ev map[string]string) {
	if p := a.in.Person; p != nil {
		ev["employee"] = p.EmployeeID
	}
	a.res.Findings = append(a.res.Findings, &pb.Finding{
		Signal: signal, Key: key, Severity: sev, Confidence: conf, Title: title, Evidence: ev, Detector: Detector, Attack: "T1219",
	})
}

func (a *analysis) highRisk(country string) bool {
	return slices.Contains(a.cfg.HighRiskCountries, country)
}

func (a *analysis) locateEgress() {
	if !a.in.Egress.IsValid() {
		a.note("egress address unknown")
		return
	}
	for _, p := range a.cfg.CorporateEgress {
		if p.Contains(a.in.Egress) {
			a.corporate = true
			a.note("egress %s is a corporate range; it says nothing of the laptop's place", a.in.Egress)
			return
		}
	}
	if a.in.Locate == nil {
		a.note("geolocation disabled: %s", a.in.LocateDisabled)
		return
	}
	a.egress = a.in.Locate(a.in.Egress)
	switch {
	case a.egress.Private:
		a.note("egress %s is a private address: the collector sits on the laptop's network", a.in.Egress)
	case a.egress.Country == "":
		a.note("egress %s: country unknown to the geolocation database", a.in.Egress)
	default:
		a.egressKnown = true
	}
}

// anonymous says whether the egress network hides the laptop's place (VPN, hosting).
func (a *analysis) anonymous() bool { return a.egress.Class == "vpn" || a.egress.Class == "hosting" }

// declared returns the employee's declared country and its UTC offsets now.
func (a *analysis) declared() (country string, offs []int32, zone string) {
	p := a.in.Person
	if p == nil {
		return "", nil, ""
	}
	country = p.Country
	if p.TimeZone != "" {
		if o, err := ZoneOffset(p.TimeZone, a.in.Now); err == nil {
			offs, zone = []int32{o}, p.TimeZone
		}
		if z, ok := ZoneInfo(p.TimeZone); ok && country == "" {
			country = z.Country
		}
	}
	if offs == nil && country != "" {
		offs = CountryOffsets(country, a.in.Now)
	}
	return country, offs, zone
}

func (a *analysis) tzMismatch() {
	base := func() map[string]string {
		return map[string]string{"zone": a.zone, "utc_offset": FormatOffset(a.off)}
	}
	if a.egressKnown {
		offs := CountryOffsets(a.egress.Country, a.in.Now)
		if len(offs) > 0 && !slices.Contains(offs, a.off) {
			ev := base()
			ev["egress_ip"], ev["egress_country"], ev["country_offsets"] = a.in.Egress.String(), a.egress.Country, formatOffsets(offs)
			sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.6
			if a.anonymous() {
				sev, conf = pb.Severity_SEVERITY_LOW, 0.3
				ev["egress_class"] = a.egress.Class
			}
			a.add("location.tz_mismatch", "egress", sev, conf,
				fmt.Sprintf("Clock set to %s but connecting from %s (%s)", FormatOffset(a.off), CountryName(a.egress.Country), a.egress.Country), ev)
		}
	}
	country, offs, zone := a.declared()
	if a.in.Person == nil {
		a.note("no HR record for this device: declared-location checks off")
	} else if len(offs) > 0 && !slices.Contains(offs, a.off) {
		ev := base()
		ev["declared_country"], ev["declared_zone"], ev["declared_offsets"] = country, zone, formatOffsets(offs)
		a.add("location.tz_mismatch", "declared", pb.Severity_SEVERITY_HIGH, 0.7,
			fmt.Sprintf("Clock set to %s but the employee is declared in %s", FormatOffset(a.off), firstNonEmpty(zone, CountryName(country))), ev)
	}
}

// egressCountry compares the egress with the declared country and the high-risk list, and
// flags VPN and hosting networks.
func (a *analysis) egressCountry() {
	if !a.egressKnown {
		return
	}
	ev := map[string]string{"egress_ip": a.in.Egress.String(), "egress_country": a.egress.Country, "asn": strconv.FormatUint(uint64(a.egress.ASN), 10), "as_org": a.egress.ASOrg}
	if a.anonymous() {
		ev["egress_class"], ev["class_note"] = a.egress.Class, a.egress.ClassNote
		sev, conf := pb.Severity_SEVERITY_LOW, 0.4
		if a.egress.Class == "vpn" {
			sev, conf = pb.Severity_SEVERITY_MEDIUM, 0.6
		}
		a.add("location.egress_network", "class", sev, conf,
			fmt.Sprintf("Connects through a %s network: AS%d %s", a.egress.Class, a.egress.ASN, a.egress.ASOrg), ev)
		return
	}
	declared, _, _ := a.declared()
	switch {
	case a.egress.Country == "KP":
		a.add("location.egress_country", "egress", pb.Severity_SEVERITY_CRITICAL, 0.95, "Connects from North Korea", ev)
	case a.highRisk(a.egress.Country):
		// Country geolocation of a network that is not a VPN or hosting exit is right for the
		// great majority of addresses: the laptop is there.
		ev["declared_country"] = declared
		a.add("location.egress_country", "egress", pb.Severity_SEVERITY_HIGH, 0.85,
			fmt.Sprintf("Connects from %s (%s)", CountryName(a.egress.Country), a.egress.Country), ev)
	case declared != "" && declared != a.egress.Country:
		ev["declared_country"] = declared
		a.add("location.egress_country", "egress", pb.Severity_SEVERITY_MEDIUM, 0.6,
			fmt.Sprintf("Connects from %s; the employee is declared in %s", CountryName(a.egress.Country), CountryName(declared)), ev)
	}
}

func baseLanguage(tag string) string {
	b, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	return strings.ToLower(b)
}

func (a *analysis) expectedLanguage(l string) (expected, known bool) {
	if p := a.in.Person; p != nil && len(p.Languages) > 0 {
		if l == "en" {
			return true, true
		}
		for _, x := range p.Languages {
			if baseLanguage(x) == l {
				return true, true
			}
		}
		return false, true
	}
	return !slices.Contains(a.cfg.WatchLanguages, l), false
}

func (a *analysis) inputLanguage() {
	type group struct {
		ids, kinds []string
	}
	byLang := map[string]*group{}
	for _, s := range a.in.Facts.GetInputSources() {
		l := baseLanguage(s.GetLanguage())
		if l == "" {
			continue
		}
		g := byLang[l]
		if g == nil {
			g = &group{}
			byLang[l] = g
		}
		if !slices.Contains(g.ids, s.GetId()) && len(g.ids) < 8 {
			g.ids = append(g.ids, s.GetId())
		}
		if !slices.Contains(g.kinds, s.GetKind()) {
			g.kinds = append(g.kinds, s.GetKind())
		}
	}
	langs := make([]string, 0, len(byLang))
	for l := range byLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		expected, hr := a.expectedLanguage(l)
		if expected {
			continue
		}
		g := byLang[l]
		ev := map[string]string{"language": l, "sources": strings.Join(g.ids, ", "), "kinds": strings.Join(g.kinds, ",")}
		if hr {
			ev["declared_languages"] = strings.Join(a.in.Person.Languages, ",")
		}
		sev, conf := pb.Severity_SEVERITY_LOW, 0.4
		if slices.Contains(a.cfg.WatchLanguages, l) {
			sev, conf = pb.Severity_SEVERITY_MEDIUM, 0.5
		}
		if slices.Contains(g.kinds, "ime") {
			conf += 0.1 // an input method is set up on purpose; a stray layout often is not
		}
		a.add("location.input_language", "lang:"+l, sev, conf, fmt.Sprintf("Input in %s configured (%s)", l, strings.Join(g.kinds, ", ")), ev)
	}
}

func (a *analysis) activity() {
	act := a.in.Facts.GetActivity()
	if act == nil {
		a.note("no activity samples")
		return
	}
	if !act.GetKnown() {
		a.note("activity sampling failing now: %s", act.GetNote())
		if len(act.GetDays()) == 0 {
			return
		}
	}
	r := AnalyzeActivity(act, a.off, a.cfg.Activity)
	if !r.Enough {
		a.note("activity hours: %s", r.Reason)
		return
	}
	if !r.Anomalous {
		return
	}
	ev := map[string]string{
		"days": strconv.Itoa(r.Days), "active_minutes": strconv.Itoa(r.ActiveMinutes),
		"night_share": strconv.FormatFloat(r.NightShare, 'f', 2, 64), "utc_offset": FormatOffset(a.off),
		"fits_offset": FormatOffset(r.BestOffsetSeconds), "fits_share": strconv.FormatFloat(r.BestOffsetShare, 'f', 2, 64),
		"fits_offsets": FormatOffset(r.OffsetRangeSeconds[0]) + "…" + FormatOffset(r.OffsetRangeSeconds[1]),
		"local_hours":  histogram(r.LocalHistogram), "reason": r.Reason,
	}
	sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.6
	if r.NightShare >= 0.6 {
		sev, conf = pb.Severity_SEVERITY_HIGH, 0.7
	}
	if p := a.in.Person; p != nil && p.NightShift {
		sev, conf = pb.Severity_SEVERITY_INFO, 0.2
		ev["declared_night_shift"] = "true"
	}
	ev["own_day_share"] = strconv.FormatFloat(r.OwnDayShare, 'f', 2, 64)
	title := fmt.Sprintf("Used at night in its own zone (%.0f%% of activity); fits a working day at %s", 100*r.NightShare, FormatOffset(r.BestOffsetSeconds))
	if r.Elsewhere && r.NightShare < activityDefaults(a.cfg.Activity).NightShare {
		title = fmt.Sprintf("Used on another zone's working day: fits %s, only %.0f%% in its own zone's working day", FormatOffset(r.BestOffsetSeconds), 100*r.OwnDayShare)
	}
	a.add("location.activity_hours", "night", sev, conf, title, ev)
}

// histogram renders 24 hourly averages as minutes, "h:m" pairs for hours with activity.
func histogram(h [24]float64) string {
	var b strings.Builder
	for i, v := range h {
		if v < 0.5 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%02d:%.0f", i, v)
	}
	return b.String()
}

func (a *analysis) clock() {
	t := a.in.Facts.GetTime()
	if t.GetClockMeasured() {
		skew := time.Duration(t.GetClockSkewMillis()) * time.Millisecond
		if skew < 0 {
			skew = -skew
		}
		if a.cfg.MaxClockSkew > 0 && skew > a.cfg.MaxClockSkew {
			a.add("location.clock", "skew", pb.Severity_SEVERITY_LOW, 0.5,
				fmt.Sprintf("Clock off by %s against the collector", skew.Round(time.Second)),
				map[string]string{"skew_millis": strconv.FormatInt(t.GetClockSkewMillis(), 10), "round_trip_millis": strconv.FormatUint(uint64(t.GetRoundTripMillis()), 10)})
		}
	}
	var recent []*pb.ZoneChange
	for _, c := range t.GetZoneChanges() {
		if a.in.Now.Sub(c.GetAt().AsTime()) <= a.cfg.ZoneChurnWindow {
			recent = append(recent, c)
		}
	}
	if a.cfg.ZoneChurnChanges > 0 && len(recent) >= a.cfg.ZoneChurnChanges {
		var steps []string
		for _, c := range recent {
			steps = append(steps, fmt.Sprintf("%s %s→%s", c.GetAt().AsTime().UTC().Format("2006-01-02T15:04Z"), zoneLabel(c.GetFromZone(), c.GetFromOffsetSeconds()), zoneLabel(c.GetToZone(), c.GetToOffsetSeconds())))
		}
		a.add("location.clock", "zone_churn", pb.Severity_SEVERITY_MEDIUM, 0.5,
			fmt.Sprintf("Time zone changed %d times in %s", len(recent), days(a.cfg.ZoneChurnWindow)),
			map[string]string{"changes": strconv.Itoa(len(recent)), "history": strings.Join(steps, "; ")})
	}
}

func zoneLabel(zone string, off int32) string {
	if zone == "" {
		return FormatOffset(off)
	}
	return zone + " (" + FormatOffset(off) + ")"
}

func days(d time.Duration) string { return strconv.Itoa(int(d.Hours()/24)) + " days" }

// expectedCountries are where a remote peer may sit without remark: the declared country, or
// without HR data the countries of the device's own zone and of a consumer egress.
func (a *analysis) expectedCountries() []string {
	if c, _, _ := a.declared(); c != "" {
		return []string{c}
	}
	var out []string
	if z, ok := ZoneInfo(a.zone); ok {
		out = append(out, z.Country)
	}
	if a.egressKnown && !a.anonymous() && !slices.Contains(out, a.egress.Country) {
		out = append(out, a.egress.Country)
	}
	return out
}

func (a *analysis) remotePeers() {
	expect := a.expectedCountries()
	seen := map[netip.Addr]bool{}
	for _, f := range a.in.AgentFindings {
		if !strings.HasSuffix(f.Signal, ".session") && !strings.HasPrefix(f.Signal, "relay.") {
			continue
		}
		ip, err := netip.ParseAddr(f.Evidence["peer_address"])
		if err != nil || seen[ip] {
			continue
		}
		seen[ip] = true
		if a.in.Locate == nil {
			continue
		}
		pl := a.in.Locate(ip.Unmap())
		if pl.Private || pl.Country == "" || slices.Contains(expect, pl.Country) {
			continue
		}
		sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.6
		if a.highRisk(pl.Country) {
			sev, conf = pb.Severity_SEVERITY_HIGH, 0.8
		}
		if pl.Class == "hosting" || pl.Class == "vpn" {
			conf -= 0.2 // a relay or VPN exit, not the operator's desk
		}
		a.add("location.remote_peer", "peer:"+ip.String(), sev, conf,
			fmt.Sprintf("Remote session from %s (%s)", CountryName(pl.Country), pl.Country), map[string]string{
				"peer_address": ip.String(), "peer_country": pl.Country, "asn": strconv.FormatUint(uint64(pl.ASN), 10), "as_org": pl.ASOrg,
				"peer_class": pl.Class, "session_signal": f.Signal, "session_title": f.Title, "expected_countries": strings.Join(expect, ","),
			})
	}
	for _, c := range a.in.Facts.GetRdpClients() {
		a.rdpClient(c, expect)
	}
}

func (a *analysis) rdpClient(c *pb.RdpClient, expect []string) {
	ev := map[string]string{"session": c.GetSession(), "user": c.GetUser(), "client_name": c.GetClientName(), "client_address": c.GetClientAddress(), "source": c.GetSource()}
	var why []string
	sev, conf := pb.Severity_SEVERITY_MEDIUM, 0.5
	if ip, err := netip.ParseAddr(c.GetClientAddress()); err == nil && a.in.Locate != nil {
		if pl := a.in.Locate(ip.Unmap()); !pl.Private && pl.Country != "" {
			ev["client_country"] = pl.Country
			if !slices.Contains(expect, pl.Country) {
				why = append(why, "client in "+pl.Country)
				if a.highRisk(pl.Country) {
					sev, conf = pb.Severity_SEVERITY_HIGH, 0.8
				}
			}
		}
	}
	if kl := c.GetKeyboardLayout(); kl != "" {
		ev["keyboard_layout"] = kl
		if l := baseLanguage(keyboard.KLIDLanguage(kl)); l != "" {
			ev["keyboard_language"] = l
			if ok, _ := a.expectedLanguage(l); !ok {
				why = append(why, "client keyboard "+l)
			}
		}
	}
	if c.GetOffsetKnown() {
		ev["client_utc_offset"] = FormatOffset(c.GetClientUtcOffsetSeconds())
		ev["time_zone"] = c.GetTimeZone()
		if c.GetClientUtcOffsetSeconds() != a.off {
			why = append(why, "client clock at "+FormatOffset(c.GetClientUtcOffsetSeconds()))
		}
	}
	if len(why) == 0 {
		return
	}
	ev["why"] = strings.Join(why, "; ")
	key := "rdp:" + c.GetSession()
	if c.GetSession() == "" {
		key = "rdp:" + c.GetClientAddress()
	}
	a.add("location.remote_peer", key, sev, conf, "RDP client from elsewhere: "+strings.Join(why, ", "), ev)
}

// rtt checks the smallest round trip the collector measured against the declared home.
func (a *analysis) rtt() {
	r := a.in.RTT
	if a.cfg.Collector == nil {
		a.note("collector location not configured: round-trip bound off")
		return
	}
	if r.Samples < a.cfg.RTTMinSamples {
		a.note("round trip: %d of %d measurements", r.Samples, a.cfg.RTTMinSamples)
		return
	}
	p := a.in.Person
	if p == nil {
		return
	}
	var home Coordinates
	tolerance, basis := coordsToleranceKm, "declared coordinates"
	switch z, ok := ZoneInfo(p.TimeZone); {
	case p.HasCoordinates:
		home = Coordinates{p.Latitude, p.Longitude}
	case ok:
		home, tolerance, basis = Coordinates{z.Latitude, z.Longitude}, zoneCityToleranceK, "principal city of "+p.TimeZone
	default:
		a.note("round trip: the HR record has neither coordinates nor a time zone")
		return
	}
	d := DistanceKm(a.cfg.Collector.Latitude, a.cfg.Collector.Longitude, home.Latitude, home.Longitude)
	ms := float64(r.Min.Microseconds()) / 1000
	ev := map[string]string{
		"min_rtt_ms": strconv.FormatFloat(ms, 'f', 1, 64), "samples": strconv.Itoa(r.Samples), "declared_distance_km": strconv.FormatFloat(d, 'f', 0, 64),
		"basis": basis, "max_distance_km": strconv.FormatFloat(ms*kmPerRTTMs, 'f', 0, 64),
	}
	if d > ms*kmPerRTTMs+tolerance {
		a.add("location.rtt", "too_near", pb.Severity_SEVERITY_HIGH, 0.8,
			fmt.Sprintf("Round trip of %.1f ms puts the laptop within %.0f km of the collector; its declared home is %.0f km away", ms, ms*kmPerRTTMs, d), ev)
		return
	}
	if a.corporate {
		return // the path runs through the company's VPN; its length says nothing
	}
	slowest := slowFixedDelayMs + 2*math.Max(0, d-tolerance)/slowKmPerMs + float64(a.cfg.RTTSlack.Microseconds())/1000
	if ms > slowest {
		ev["slowest_plausible_ms"] = strconv.FormatFloat(slowest, 'f', 1, 64)
		ev["implied_distance_km"] = strconv.FormatFloat(math.Max(0, ms-slowFixedDelayMs)*slowKmPerMs/2, 'f', 0, 64)
		a.add("location.rtt", "too_far", pb.Severity_SEVERITY_MEDIUM, 0.5,
			fmt.Sprintf("Round trip of %.1f ms is slower than any plausible path from the declared home %.0f km away (%.0f ms)", ms, d, slowest), ev)
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
