package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
	"github.com/farmwatch/farmwatch/server/store"
)

const (
	pageSize       = 50
	maxSearchBytes = 200
	maxPage        = 100000
	// maxProcessRows bounds the page size for a device that reported an absurd process list.
	maxProcessRows = 5000
)

// deviceIDPattern is the form of a device id (EnrollResponse.device_id).
var deviceIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// attackIDPattern is a MITRE ATT&CK technique or sub-technique id; only these become links.
var attackIDPattern = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)

// OS filter choices: the GOOS values agents report.
var osChoices = []osChoice{{"", "All systems"}, {"linux", "Linux"}, {"windows", "Windows"}, {"darwin", "macOS"}}

type osChoice struct{ Value, Label string }

// Sort choices with their natural direction.
var sortChoices = []sortChoice{
	{"last_seen", "Last seen", true},
	{"hostname", "Hostname", false},
	{"score", "Score", true},
	{"findings", "Findings", true},
	{"enrolled", "Enrolled", true},
}

type sortChoice struct {
	Value, Label string
	DescDefault  bool
}

// stamp is a time as the page shows it: relative text, absolute UTC in a tooltip, machine form.
type stamp struct{ Rel, Abs, ISO string }

func (c *Console) stamp(t time.Time) stamp {
	return stamp{Rel: relTime(t, c.now()), Abs: absTime(t), ISO: isoTime(t)}
}

type deviceRow struct {
	ID, ShortID   string
	Hostname      string
	OS            string
	Platform      string
	OSVersion     string
	AgentVersion  string
	LastSeen      stamp
	FindingsCount int
	LastAddress   string
	Revoked       bool
	Score         string
	Band          string
	Triage        string
	Group         string
}

// listQuery is the device list's query string, validated.
type listQuery struct {
	Q, OS, Sort, Order string
	Band               string // a band, or a band and "+" for that band and above
	Signal             string // family.name or family.*
	Group              string
	Triage             string
	Seen               string // a key of seenWindows
	Page               int
}

// Band filter choices: one band, or a band and everything above it.
var bandChoices = []osChoice{
	{"", "Any band"}, {"critical", "Critical"}, {"high+", "High and above"}, {"high", "High"},
	{"medium+", "Medium and above"}, {"medium", "Medium"}, {"low", "Low"},
}

// Triage filter choices, in the order an investigation moves.
var triageChoices = []osChoice{
	{store.TriageNew, "New"}, {store.TriageInvestigating, "Investigating"},
	{store.TriageConfirmedFarm, "Confirmed farm"}, {store.TriageBenign, "Benign"},
}

type seenWindow struct {
	Value, Label string
	Window       time.Duration
}

// seenWindows are the "last seen" filter choices.
var seenWindows = []seenWindow{
	{"24h", "Seen in 24 hours", 24 * time.Hour},
	{"7d", "Seen in 7 days", 7 * 24 * time.Hour},
	{"30d", "Seen in 30 days", 30 * 24 * time.Hour},
}

var (
	// signalFilterPattern is a signal name (family.name) or a whole family (family.*).
	signalFilterPattern = regexp.MustCompile(`^[a-z0-9_]{1,40}\.([a-z0-9_.]{1,80}|\*)$`)
	// groupPattern is a device group as enroll secrets and the CLI accept it.
	groupPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// filtered says whether any filter (not sort or page) is set.
func (q listQuery) filtered() bool {
	return q.Q != "" || q.OS != "" || q.Band != "" || q.Signal != "" || q.Group != "" || q.Triage != "" || q.Seen != ""
}

// link returns the list URL for this query with sort, order and page replaced, as a relative
// URL that url.Values has encoded.
func (q listQuery) link(sort, order string, pg int) string {
	v := url.Values{}
	for _, p := range [][2]string{{"q", q.Q}, {"os", q.OS}, {"band", q.Band}, {"signal", q.Signal}, {"group", q.Group},
		{"triage", q.Triage}, {"seen", q.Seen}, {"sort", sort}, {"order", order}} {
		if p[1] != "" {
			v.Set(p[0], p[1])
		}
	}
	if pg > 1 {
		v.Set("page", strconv.Itoa(pg))
	}
	if len(v) == 0 {
		return "/devices"
	}
	return "/devices?" + v.Encode()
}

// filter is the store filter for this query at time now.
func (q listQuery) filter(now time.Time) store.DeviceFilter {
	f := store.DeviceFilter{
		Search: q.Q, OS: q.OS, Signal: q.Signal, Group: q.Group, Triage: q.Triage,
		Sort: q.Sort, Desc: q.Order == "desc", Limit: pageSize, Offset: (q.Page - 1) * pageSize,
	}
	if b, ok := strings.CutSuffix(q.Band, "+"); ok {
		f.MinBand = b
	} else {
		f.Band = q.Band
	}
	for _, sw := range seenWindows {
		if sw.Value == q.Seen {
			f.SeenSince = now.Add(-sw.Window)
		}
	}
	return f
}

type sortLink struct {
	Label   string
	URL     string
	Current bool
	Desc    bool
}

type deviceListData struct {
	Query         listQuery
	OSChoices     []osChoice
	BandChoices   []osChoice
	TriageChoices []osChoice
	SeenChoices   []osChoice
	Signals       []string // suggestions for the signal field
	Sorts         []sortLink
	Devices       []deviceRow
	Total         int
	From, To      int
	PrevURL       string
	NextURL       string
	Filtered      bool
}

func isChoice(cs []osChoice, v string) bool {
	return v == "" || slices.ContainsFunc(cs, func(c osChoice) bool { return c.Value == v })
}

// parseListQuery validates the list's query parameters. problem, when not empty, says what
// is wrong in words fit to show.
func parseListQuery(v url.Values) (q listQuery, problem string) {
	q = listQuery{
		Q:      strings.TrimSpace(v.Get("q")),
		OS:     v.Get("os"),
		Band:   v.Get("band"),
		Signal: strings.TrimSpace(v.Get("signal")),
		Group:  strings.TrimSpace(v.Get("group")),
		Triage: v.Get("triage"),
		Seen:   v.Get("seen"),
		Sort:   v.Get("sort"),
		Order:  v.Get("order"),
		Page:   1,
	}
	if len(q.Q) > maxSearchBytes {
		return q, fmt.Sprintf("The search text is too long (at most %d characters).", maxSearchBytes)
	}
	if !slices.ContainsFunc(osChoices, func(c osChoice) bool { return c.Value == q.OS }) {
		return q, "Unknown operating system filter. Choose Linux, Windows or macOS."
	}
	if !isChoice(bandChoices, q.Band) {
		return q, "Unknown band filter. Choose low, medium, high or critical, or a band and above."
	}
	if q.Signal != "" && !signalFilterPattern.MatchString(q.Signal) {
		return q, "The signal filter must be a signal such as kvm.usb, or a whole family such as kvm.*"
	}
	if q.Group != "" && !groupPattern.MatchString(q.Group) {
		return q, "A group is up to 64 letters, digits, '.', '_' or '-'."
	}
	if !isChoice(triageChoices, q.Triage) {
		return q, "Unknown triage state. Choose new, investigating, confirmed_farm or benign."
	}
	if q.Seen != "" && !slices.ContainsFunc(seenWindows, func(w seenWindow) bool { return w.Value == q.Seen }) {
		return q, "Unknown last-seen filter. Choose 24h, 7d or 30d."
	}
	if q.Sort == "" {
		q.Sort = "last_seen"
	}
	i := slices.IndexFunc(sortChoices, func(c sortChoice) bool { return c.Value == q.Sort })
	if i < 0 {
		return q, "Unknown sort order. Sort by last seen, hostname, score, findings or enrolled."
	}
	switch q.Order {
	case "":
		q.Order = "asc"
		if sortChoices[i].DescDefault {
			q.Order = "desc"
		}
	case "asc", "desc":
	default:
		return q, "Unknown order: use asc or desc."
	}
	if p := v.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxPage {
			return q, "The page number must be a whole number from 1."
		}
		q.Page = n
	}
	return q, ""
}

// signalSuggestions are offered in the signal filter: every family, then every known signal.
var signalSuggestions = func() []string {
	var out []string
	for _, f := range policy.KnownFamilies {
		out = append(out, f+".*")
	}
	return append(out, policy.KnownSignals...)
}()

// deviceList is GET /devices. It costs two indexed queries (a count and one page), whatever
// the fleet's size.
func (c *Console) deviceList(w http.ResponseWriter, r *http.Request, s store.Session) {
	q, problem := parseListQuery(r.URL.Query())
	if problem != "" {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", problem, s)
		return
	}
	devices, total, err := c.store.Devices(r.Context(), q.filter(c.now()))
	if err != nil {
		c.log.Error("console device list", "err", err, "user", s.Username)
		c.renderError(w, r, http.StatusInternalServerError, "Devices unavailable",
			"The device list could not be loaded. Try again in a moment.", s)
		return
	}
	d := deviceListData{Query: q, OSChoices: osChoices, BandChoices: bandChoices, TriageChoices: triageChoices,
		Signals: signalSuggestions, Total: total, Filtered: q.filtered()}
	for _, sw := range seenWindows {
		d.SeenChoices = append(d.SeenChoices, osChoice{sw.Value, sw.Label})
	}
	for _, sc := range sortChoices {
		l := sortLink{Label: sc.Label, Current: sc.Value == q.Sort}
		order := ""
		if l.Current {
			l.Desc = q.Order == "desc"
			order = "desc"
			if l.Desc {
				order = "asc"
			}
		}
		l.URL = q.link(sc.Value, order, 1)
		d.Sorts = append(d.Sorts, l)
	}
	for _, dev := range devices {
		d.Devices = append(d.Devices, deviceRow{
			Score:         formatScore(dev.Score),
			Band:          dev.Band,
			ID:            dev.ID,
			ShortID:       dev.ID[:min(len(dev.ID), 12)],
			Hostname:      dev.Hostname,
			OS:            dev.OS,
			Platform:      dev.Platform,
			OSVersion:     dev.OSVersion,
			AgentVersion:  dev.AgentVersion,
			LastSeen:      c.stamp(dev.LastSeen),
			FindingsCount: dev.FindingsCount,
			LastAddress:   dev.LastAddress,
			Revoked:       !dev.RevokedAt.IsZero(),
			Triage:        dev.Triage.State,
			Group:         dev.Group,
		})
	}
	offset := (q.Page - 1) * pageSize
	if len(devices) > 0 {
		d.From, d.To = offset+1, offset+len(devices)
	}
	if q.Page > 1 {
		d.PrevURL = q.link(q.Sort, q.Order, min(q.Page-1, max(1, (total+pageSize-1)/pageSize)))
	}
	if offset+len(devices) < total && len(devices) > 0 {
		d.NextURL = q.link(q.Sort, q.Order, q.Page+1)
	}
	c.show(w, r, s, "devices", "Devices", "devices", d)
}

type kv struct{ Key, Value string }

type findingView struct {
	Severity   pb.Severity
	Signal     string
	Title      string
	Confidence float64
	Attack     string
	AttackURL  string
	Detector   string
	Evidence   []kv
	FirstSeen  stamp
	LastSeen   stamp
}

type processView struct {
	PID, PPID   int32
	Name        string
	Executable  string
	CommandLine string
	Username    string
	Started     string
	Sockets     []string
}

type interfaceView struct {
	Name      string
	MAC       string
	Addresses []string
	Flags     string
}

type gapView struct{ From, To, Count uint64 }

type deviceData struct {
	Device       store.Device
	EnrolledAt   stamp
	LastSeen     stamp
	RevokedAt    stamp
	Revoked      bool
	Findings     []findingView
	HasFacts     bool
	FactsAt      stamp
	Host         []kv
	Time         []kv
	Interfaces   []interfaceView
	Processes    []processView
	ProcessCount int // as the agent counted them
	Truncated    int // processes not rendered
	Gaps         []gapView
	Inputs       []kv // keyboard layouts and input methods
	USB          []usbView
	Displays     []displayView
	LAN          []kv
	Neighbours   int
	Score        *score.Result
	ScoreAt      stamp
	Egress       []egressView
	RTT          string
	Person       *store.Person
	CanScan      bool   // the console can push and the user may ask for a scan
	ScanNotice   string // outcome of a scan request, chosen from scanNotices
	SavedNotice  string // chosen from savedNotices
	Triage       triageData
	Notes        []noteView
	NoteBody     string
	NoteError    string
	Timeline     []timelineEntry
	Activity     *heatmap

	Missing uint64
}

// devicePage is GET /devices/{id}.
func (c *Console) devicePage(w http.ResponseWriter, r *http.Request, s store.Session) {
	c.renderDevice(w, r, s, http.StatusOK, deviceForms{})
}

// renderDevice shows the device page of the request's {id}, with forms as the user left them
// when a POST was refused.
func (c *Console) renderDevice(w http.ResponseWriter, r *http.Request, s store.Session, status int, forms deviceForms) {
	id := r.PathValue("id")
	if !deviceIDPattern.MatchString(id) {
		c.renderError(w, r, http.StatusBadRequest, "Bad device id",
			"A device id is 32 lowercase hexadecimal characters.", s)
		return
	}
	ctx := r.Context()
	dev, err := c.store.Device(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, "Device not found",
			"No device with id "+id+" has enrolled with this collector.", s)
		return
	}
	fail := func(what string, err error) {
		c.log.Error("console device page: "+what, "device", id, "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Device unavailable",
			"This device could not be loaded. Try again in a moment.", s)
	}
	if err != nil {
		fail("load device", err)
		return
	}
	findings, err := c.store.Findings(ctx, id)
	if err != nil {
		fail("load findings", err)
		return
	}
	facts, factsAt, err := c.store.Facts(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		fail("load facts", err)
		return
	}
	gaps, err := c.store.SequenceGaps(ctx, id)
	if err != nil {
		fail("load sequence gaps", err)
		return
	}

	d := deviceData{
		CanScan:     c.agents != nil && dev.RevokedAt.IsZero() && atLeast(r, store.RoleAnalyst),
		ScanNotice:  scanNotices[r.URL.Query().Get("scan")],
		SavedNotice: savedNotices[r.URL.Query().Get("saved")],
		Device:      dev,
		EnrolledAt:  c.stamp(dev.EnrolledAt),
		LastSeen:    c.stamp(dev.LastSeen),
		RevokedAt:   c.stamp(dev.RevokedAt),
		Revoked:     !dev.RevokedAt.IsZero(),
	}
	for _, g := range gaps {
		n := g.To - g.From + 1
		d.Gaps = append(d.Gaps, gapView{From: g.From, To: g.To, Count: n})
		d.Missing += n
	}
	for _, f := range findings {
		d.Findings = append(d.Findings, c.findingView(f))
	}
	if len(dev.Breakdown) > 0 {
		var r score.Result
		if err := json.Unmarshal(dev.Breakdown, &r); err == nil {
			d.Score, d.ScoreAt = &r, c.stamp(dev.ScoredAt)
		} else {
			c.log.Warn("score breakdown unreadable", "device", id, "err", err)
		}
	}
	if err := c.locationView(ctx, &d); err != nil {
		c.log.Error("device location", "device", id, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The device's location data could not be read; try again.", s)
		return
	}
	if facts != nil {
		c.addFacts(&d, facts, factsAt)
	}
	if err := c.deviceExtras(ctx, &d, findings, facts, forms); err != nil {
		fail("load history", err)
		return
	}
	title := dev.Hostname
	if title == "" {
		title = dev.ID
	}
	c.render(w, r, status, "device", page{Title: title, User: s.Username, CSRF: s.CSRFToken, Nav: "devices", Role: roleOf(r), Body: d})
}

func (c *Console) findingView(f store.Finding) findingView {
	v := findingView{
		Severity:   f.Severity,
		Signal:     f.Signal,
		Title:      f.Title,
		Confidence: f.Confidence,
		Attack:     f.Attack,
		Detector:   f.Detector,
		FirstSeen:  c.stamp(f.FirstSeen),
		LastSeen:   c.stamp(f.LastSeen),
	}
	if attackIDPattern.MatchString(f.Attack) {
		v.AttackURL = "https://attack.mitre.org/techniques/" + strings.ReplaceAll(f.Attack, ".", "/") + "/"
	}
	for k, val := range f.Evidence {
		v.Evidence = append(v.Evidence, kv{k, val})
	}
	slices.SortFunc(v.Evidence, func(a, b kv) int { return cmp.Compare(a.Key, b.Key) })
	return v
}

func (c *Console) addFacts(d *deviceData, f *pb.Facts, at time.Time) {
	d.HasFacts = true
	d.FactsAt = c.stamp(at)
	if h := f.GetHost(); h != nil {
		d.Host = nonEmpty([]kv{
			{"Hostname", h.GetHostname()},
			{"OS", h.GetOs()},
			{"Platform", h.GetPlatform()},
			{"OS version", h.GetOsVersion()},
			{"Kernel", h.GetKernelVersion()},
			{"Architecture", h.GetArch()},
			{"Hardware UUID", h.GetHardwareUuid()},
			{"Serial number", h.GetSerialNumber()},
			{"Machine id", h.GetMachineId()},
			{"MAC addresses", strings.Join(h.GetMacAddresses(), ", ")},
		})
	}
	if t := f.GetTime(); t != nil {
		offset := ""
		if t.GetZone() != "" || t.GetAbbreviation() != "" || t.GetUtcOffsetSeconds() != 0 {
			offset = formatOffset(t.GetUtcOffsetSeconds())
			if t.GetDst() {
				offset += " (daylight saving)"
			}
		}
		d.Time = nonEmpty([]kv{
			{"Time zone", t.GetZone()},
			{"Abbreviation", t.GetAbbreviation()},
			{"UTC offset", offset},
			{"Locale", t.GetLocale()},
			{"Languages", strings.Join(t.GetLanguages(), ", ")},
		})
	}
	if t := f.GetTime(); t != nil {
		if t.GetWindowsZone() != "" {
			d.Time = append(d.Time, kv{"Windows zone", t.GetWindowsZone()})
		}
		if t.GetClockMeasured() {
			d.Time = append(d.Time, kv{"Clock vs collector", fmt.Sprintf("%+.1f s (round trip %d ms)", float64(t.GetClockSkewMillis())/1000, t.GetRoundTripMillis())})
		}
	}
	for _, in := range f.GetInputSources() {
		d.Inputs = append(d.Inputs, kv{in.GetId(), strings.TrimSpace(in.GetLanguage() + " " + in.GetKind() + " · " + in.GetSource())})
	}
	for _, u := range f.GetUsbDevices() {
		var funcs []string
		for _, i := range u.GetInterfaces() {
			switch {
			case i.GetHidKeyboard():
				funcs = append(funcs, "keyboard")
			case i.GetHidAbsolutePointer():
				funcs = append(funcs, fmt.Sprintf("absolute pointer (0..%d)", i.GetHidAbsoluteMax()))
			case i.GetHidRelativePointer():
				funcs = append(funcs, "mouse")
			case i.GetClass() == 8:
				funcs = append(funcs, "mass storage")
			case i.GetClass() == 1:
				funcs = append(funcs, "audio")
			case i.GetClass() == 9:
				funcs = append(funcs, "hub")
			}
		}
		d.USB = append(d.USB, usbView{
			ID: fmt.Sprintf("%04x:%04x", u.GetVendorId(), u.GetProductId()), Manufacturer: u.GetManufacturer(), Product: u.GetProduct(),
			Serial: u.GetSerial(), Functions: strings.Join(funcs, ", "), Flags: strings.Join(u.GetFlags(), ", "),
		})
	}
	for _, disp := range f.GetDisplays() {
		d.Displays = append(d.Displays, displayView{
			Connector: disp.GetConnector(), Status: disp.GetStatus(),
			Model: strings.TrimSpace(fmt.Sprintf("%s %04x", disp.GetManufacturer(), disp.GetProductCode())),
			Name:  disp.GetName(), Serial: disp.GetSerialString(), Mode: disp.GetPreferredMode(), Flags: strings.Join(disp.GetFlags(), ", "),
		})
	}
	if l := f.GetLan(); l != nil {
		for _, g := range l.GetGateways() {
			d.LAN = append(d.LAN, kv{"Gateway " + g.GetIp(), g.GetMac() + " on " + g.GetInterface()})
		}
		d.Neighbours = len(l.GetNeighbours())
		for _, w := range l.GetWifi() {
			v := w.GetNote()
			if w.GetKnown() && w.GetBssid() != "" {
				v = fmt.Sprintf("%q, BSSID %s", w.GetSsid(), w.GetBssid())
			}
			d.LAN = append(d.LAN, kv{"Wi-Fi " + w.GetInterface(), v})
		}
	}
	for _, iface := range f.GetInterfaces() {
		d.Interfaces = append(d.Interfaces, interfaceView{
			Name:      iface.GetName(),
			MAC:       iface.GetMacAddress(),
			Addresses: iface.GetAddresses(),
			Flags:     strings.Join(iface.GetFlags(), " "),
		})
	}
	procs := f.GetProcesses()
	d.ProcessCount = max(int(f.GetProcessCount()), len(procs))
	if len(procs) > maxProcessRows {
		d.Truncated = len(procs) - maxProcessRows
	}
	for _, p := range procs {
		pv := processView{
			PID:         p.GetPid(),
			PPID:        p.GetPpid(),
			Name:        p.GetName(),
			Executable:  p.GetExecutable(),
			CommandLine: p.GetCommandLine(),
			Username:    p.GetUsername(),
		}
		if p.GetStarted() != nil {
			pv.Started = absTime(p.GetStarted().AsTime())
		}
		for _, s := range p.GetSockets() {
			pv.Sockets = append(pv.Sockets, formatSocket(s))
		}
		d.Processes = append(d.Processes, pv)
	}
	slices.SortStableFunc(d.Processes, func(a, b processView) int { return cmp.Compare(a.PID, b.PID) })
	d.Processes = d.Processes[:min(len(d.Processes), maxProcessRows)]
}

func nonEmpty(in []kv) []kv {
	return slices.DeleteFunc(in, func(e kv) bool { return e.Value == "" })
}

func formatOffset(sec int32) string {
	sign := "+"
	if sec < 0 {
		sign = "-"
		sec = -sec
	}
	return fmt.Sprintf("UTC%s%02d:%02d", sign, sec/3600, sec%3600/60)
}

// formatSocket renders a socket on one line: "tcp 10.0.0.5:51515 → 203.0.113.7:443 ESTABLISHED".
func formatSocket(s *pb.Socket) string {
	var b strings.Builder
	b.WriteString(s.GetProtocol())
	b.WriteString(" ")
	b.WriteString(net.JoinHostPort(s.GetLocalAddress(), strconv.FormatUint(uint64(s.GetLocalPort()), 10)))
	if s.GetRemoteAddress() != "" || s.GetRemotePort() != 0 {
		b.WriteString(" → ")
		b.WriteString(net.JoinHostPort(s.GetRemoteAddress(), strconv.FormatUint(uint64(s.GetRemotePort()), 10)))
	}
	if s.GetState() != "" {
		b.WriteString(" ")
		b.WriteString(s.GetState())
	}
	return b.String()
}

// scanNotices are the only texts a scan request can show; the query parameter selects one and
// is never echoed.
var scanNotices = map[string]string{
	"sent":   "Scan requested. The agent scans now; its report appears here within a minute.",
	"queued": "Scan requested. The agent picks the request up with its next heartbeat (every minute by default) and scans then; a request waits up to an hour.",
}

// scanNow asks an agent for an immediate scan: at once over its push stream, else with its next
// heartbeat. Analysts and admins only.
func (c *Console) scanNow(w http.ResponseWriter, r *http.Request, s store.Session) {
	id := r.PathValue("id")
	if !deviceIDPattern.MatchString(id) {
		c.renderError(w, r, http.StatusBadRequest, "Bad device id", "A device id is 32 lowercase hexadecimal characters.", s)
		return
	}
	ctx := r.Context()
	if !atLeast(r, store.RoleAnalyst) {
		c.renderError(w, r, http.StatusForbidden, "Not allowed", "Asking an agent for a scan needs the analyst or admin role.", s)
		return
	}
	if c.agents == nil {
		c.renderError(w, r, http.StatusNotFound, "Not available", "This console is not connected to a collector.", s)
		return
	}
	if _, err := c.store.Device(ctx, id); errors.Is(err, store.ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, "Device not found", "No device with id "+id+" has enrolled with this collector.", s)
		return
	} else if err != nil {
		c.log.Error("console scan request: load device", "device", id, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Device unavailable", "This device could not be loaded. Try again in a moment.", s)
		return
	}
	outcome := "queued"
	if c.agents.Push(id, &pb.Push{Id: "scan-" + strconv.FormatInt(c.now().UnixNano(), 36),
		Kind: &pb.Push_ScanNow{ScanNow: &pb.ScanNow{Reason: "requested in the console", RequestedBy: s.Username}}}) {
		outcome = "sent"
	}
	if err := c.audit(ctx, s.Username, "device.scan_now", id, outcome); err != nil {
		c.log.Error("console scan request: audit", "err", err)
	}
	http.Redirect(w, r, "/devices/"+id+"?scan="+outcome, http.StatusSeeOther)
}

type usbView struct{ ID, Manufacturer, Product, Serial, Functions, Flags string }

type displayView struct{ Connector, Status, Model, Name, Serial, Mode, Flags string }

type egressView struct {
	Address, Country, Network, Class string
	FirstSeen, LastSeen              stamp
	Seen                             int
}

// locationView fills what the collector itself knows of where the device is: the addresses
// it connected from, the round trip it measured, the HR declaration, and the analysis notes.
func (c *Console) locationView(ctx context.Context, d *deviceData) error {
	es, err := c.store.Egresses(ctx, d.Device.ID)
	if err != nil {
		return err
	}
	for i, e := range es {
		if i == 20 {
			break
		}
		v := egressView{Address: e.Address, Country: e.Country, Class: e.Class, FirstSeen: c.stamp(e.FirstSeen), LastSeen: c.stamp(e.LastSeen), Seen: e.Seen}
		if e.ASN != 0 {
			v.Network = fmt.Sprintf("AS%d %s", e.ASN, e.ASOrg)
		}
		d.Egress = append(d.Egress, v)
	}
	rtt, err := c.store.RTT(ctx, d.Device.ID)
	if err != nil {
		return err
	}
	if rtt.Samples > 0 {
		d.RTT = fmt.Sprintf("%.1f ms (smallest of %d measurements since %s)", float64(rtt.Min.Microseconds())/1000, rtt.Samples, rtt.WindowStart.UTC().Format(time.DateOnly))
	}
	p, err := c.store.PersonForDevice(ctx, d.Device)
	switch {
	case err == nil:
		d.Person = &p
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	return nil
}
