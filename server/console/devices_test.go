package console

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/score"
	"github.com/farmwatch/farmwatch/server/store"
)

const (
	xss       = `<script>alert(1)</script>`
	xssAttr   = `"><img src=x onerror=alert(2)>`
	deviceID  = "3f2a9c0d4e5b6a7988776655443322ff"
	escXSS    = `&lt;script&gt;alert(1)&lt;/script&gt;`
	escXSSAtt = `&#34;&gt;&lt;img src=x onerror=alert(2)&gt;`
)

// enroll records a device as the enrollment service would.
func (h *harness) enroll(id, hostname, osName string, at time.Time) {
	h.t.Helper()
	err := h.store.Enroll(context.Background(), store.Enrollment{
		Device: store.Device{
			ID: id, Hostname: hostname, OS: osName, Platform: map[string]string{"linux": "debian", "windows": "Microsoft Windows 11 Pro", "darwin": "macOS"}[osName],
			OSVersion: "12", Arch: "amd64", EnrolledAt: at, LastAddress: "198.51.100.23:40112",
			SerialNumber: "SN-" + id[:6], MACAddresses: []string{"02:00:5e:10:00:01"},
		},
		Certificate: store.Certificate{
			Serial: serialOf(id), DeviceID: id, NotBefore: at, NotAfter: at.Add(7 * 24 * time.Hour), IssuedAt: at,
		},
	})
	if err != nil {
		h.t.Fatalf("enroll %s: %v", id, err)
	}
}

// serialOf makes a unique decimal certificate serial from a device id.
func serialOf(id string) string {
	n, _ := new(big.Int).SetString(id, 16)
	return n.String()
}

func (h *harness) ingest(id string, r *pb.Report, at time.Time) {
	h.t.Helper()
	body, err := proto.Marshal(r)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.IngestReport(context.Background(), store.Ingest{
		DeviceID: id, Report: r, Body: body, Received: at, Address: "203.0.113.50:51234",
	}); err != nil {
		h.t.Fatalf("ingest %s/%d: %v", id, r.GetSequence(), err)
	}
}

// hostileReport is a report whose every free-text field tries to inject markup.
func hostileReport(seq uint64, at time.Time) *pb.Report {
	return &pb.Report{
		Sequence:     seq,
		Created:      timestamppb.New(at),
		AgentVersion: "1.4.2",
		Facts: &pb.Facts{
			Host: &pb.HardwareIdentity{
				Hostname: xss, Os: "linux", Platform: "debian", OsVersion: "12.5", KernelVersion: "6.1.0-18-amd64",
				Arch: "amd64", HardwareUuid: "4c4c4544-0042-3510-8051-b7c04f4d3432", SerialNumber: xssAttr,
				MacAddresses: []string{"02:00:5e:10:00:01"}, MachineId: "d1a4b0c6e0f04b5aa0c0f1e2d3c4b5a6",
			},
			Time: &pb.TimeFacts{Zone: "America/Chicago", Abbreviation: "CDT", UtcOffsetSeconds: -5 * 3600, Dst: true,
				Locale: "en_US.UTF-8", Languages: []string{"en_US", "ru_RU"}},
			Interfaces: []*pb.NetworkInterface{
				{Name: "eth0", MacAddress: "02:00:5e:10:00:01", Addresses: []string{"192.168.1.23/24", "fe80::1/64"}, Flags: []string{"up", "broadcast"}},
			},
			Processes: []*pb.Process{
				{Pid: 4242, Ppid: 1, Name: "rustdesk", Executable: "/usr/bin/rustdesk", CommandLine: "/usr/bin/rustdesk --service " + xss,
					Username: "root", Started: timestamppb.New(at.Add(-time.Hour)),
					Sockets: []*pb.Socket{
						{Protocol: "tcp", LocalAddress: "192.168.1.23", LocalPort: 51515, RemoteAddress: "203.0.113.7", RemotePort: 21116, State: "ESTABLISHED"},
						{Protocol: "tcp6", LocalAddress: "::", LocalPort: 21118, State: "LISTEN"},
					}},
				{Pid: 1, Ppid: 0, Name: "systemd", Executable: "/usr/lib/systemd/systemd", Username: "root"},
			},
			ProcessCount: 212,
		},
		Findings: []*pb.Finding{
			{
				Signal: "remote_tool.running", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9,
				Title:    "RustDesk is running " + xss,
				Evidence: map[string]string{"process": "rustdesk", "command_line": xssAttr, "peer": "203.0.113.7:21116"},
				Attack:   "T1219", Detector: "remote_tool", Key: "rustdesk",
				FirstSeen: timestamppb.New(at.Add(-2 * time.Hour)), LastSeen: timestamppb.New(at),
			},
			{
				Signal: "location.tz_mismatch", Severity: pb.Severity_SEVERITY_CRITICAL, Confidence: 1.7, // out of range: clamped
				Title: "Clock zone does not match egress country", Attack: `javascript:alert(3)`, Detector: "location", Key: "tz",
			},
		},
	}
}

func TestDeviceListShowsIngestedDeviceEscaped(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(deviceID, hostileReport(1, t0.Add(-3*time.Minute)), t0.Add(-3*time.Minute))

	r := h.get(c, "/devices")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /devices = %d", r.StatusCode)
	}
	for _, want := range []string{
		`<a href="/devices/` + deviceID + `">` + escXSS + `</a>`, // hostname from the report, escaped
		`<code title="` + deviceID + `">3f2a9c0d4e5b…</code>`,
		`debian 12.5`,
		`<td>1.4.2</td>`,
		`<time datetime="2026-05-04T09:57:00Z" title="2026-05-04 09:57:00 UTC">3 minutes ago</time>`,
		`<span class="count">2</span>`,
		`<code>203.0.113.50:51234</code>`,
		`1 device</p>`,
		`1–1 of 1`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("device list lacks %q", want)
		}
	}
	assertNoRawMarkup(t, r.Body)
}

func assertNoRawMarkup(t *testing.T, body string) {
	t.Helper()
	for _, raw := range []string{"<script", "<img", "onerror=alert(2)>", `href="javascript:`} {
		if strings.Contains(body, raw) {
			i := strings.Index(body, raw)
			t.Errorf("page contains raw %q: ...%s...", raw, body[max(0, i-80):min(len(body), i+80)])
		}
	}
}

func TestDeviceListEmptyState(t *testing.T) {
	h := newHarness(t, false)
	r := h.get(h.signedIn(), "/devices")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /devices = %d", r.StatusCode)
	}
	for _, want := range []string{
		"No devices have enrolled yet.",
		"Create an enroll secret with <code>farmwatch-server enroll-secret create</code> and enroll an agent.",
		"0 devices",
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("empty list lacks %q:\n%s", want, r.Body)
		}
	}
	if strings.Contains(r.Body, `<table class="grid devices">`) {
		t.Error("empty list renders a table")
	}
}

var rowPattern = regexp.MustCompile(`<a href="/devices/([0-9a-f]{32})">([^<]*)</a>`)

func rows(body string) []string {
	var out []string
	for _, m := range rowPattern.FindAllStringSubmatch(body, -1) {
		out = append(out, m[2])
	}
	return out
}

func TestDeviceListFiltersSortsAndPages(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	// 60 Linux laptops enrolled a minute apart (host-00 oldest), 3 Windows, 2 macOS.
	for i := range 60 {
		h.enroll(fmt.Sprintf("%032x", i+1), fmt.Sprintf("host-%02d", i), "linux", t0.Add(-time.Duration(60-i)*time.Minute))
	}
	for i := range 3 {
		h.enroll(fmt.Sprintf("%032x", 100+i), fmt.Sprintf("win-%d", i), "windows", t0.Add(-2*time.Hour))
	}
	for i := range 2 {
		h.enroll(fmt.Sprintf("%032x", 200+i), fmt.Sprintf("mac-%d", i), "darwin", t0.Add(-3*time.Hour))
	}

	r := h.get(c, "/devices")
	got := rows(r.Body)
	if len(got) != 50 || got[0] != "host-59" || got[49] != "host-10" {
		t.Fatalf("page 1 (last seen, newest first) = %d rows %v...", len(got), got[:min(3, len(got))])
	}
	for _, want := range []string{"65 devices</p>", "1–50 of 65", `<a href="/devices?order=desc&amp;page=2&amp;sort=last_seen" rel="next">Next →</a>`, `<span class="disabled">← Previous</span>`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	r = h.get(c, "/devices?order=desc&page=2&sort=last_seen")
	got = rows(r.Body)
	if len(got) != 15 || got[0] != "host-09" || got[14] != "mac-1" && got[14] != "mac-0" {
		t.Fatalf("page 2 = %v", got)
	}
	if !strings.Contains(r.Body, "51–65 of 65") || !strings.Contains(r.Body, `<a href="/devices?order=desc&amp;sort=last_seen" rel="prev">← Previous</a>`) {
		t.Errorf("page 2 pager wrong:\n%s", r.Body)
	}

	tests := []struct {
		query     string
		wantTotal string
		wantFirst []string
	}{
		{"?os=windows", "3 devices match the filter", []string{"win-2", "win-1", "win-0"}}, // equal last_seen: ties by id, in the sort's direction
		{"?os=darwin&sort=hostname", "2 devices match the filter", []string{"mac-0", "mac-1"}},
		{"?os=darwin&sort=hostname&order=desc", "2 devices match the filter", []string{"mac-1", "mac-0"}},
		{"?q=host-4", "10 devices match the filter", []string{"host-49", "host-48"}},
		{"?q=HOST-07", "1 device matches the filter", []string{"host-07"}},
		{"?q=%25", "0 devices match the filter", nil},                                                // LIKE wildcards are literal
		{"?q=" + "0000000000000000000000000000c9", "1 device matches the filter", []string{"mac-1"}}, // by id
		{"?sort=hostname", "65 devices", []string{"host-00", "host-01"}},
		{"?q=nothing-like-this", "0 devices match the filter", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := h.get(c, "/devices"+tt.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if !strings.Contains(r.Body, tt.wantTotal) {
				t.Errorf("lacks %q", tt.wantTotal)
			}
			got := rows(r.Body)
			if len(got) < len(tt.wantFirst) || strings.Join(got[:len(tt.wantFirst)], ",") != strings.Join(tt.wantFirst, ",") {
				t.Errorf("rows = %v, want to start with %v", got, tt.wantFirst)
			}
			if tt.wantFirst == nil && !strings.Contains(r.Body, "No devices match this filter.") {
				t.Errorf("no empty-filter message")
			}
		})
	}

	for _, tt := range []struct{ query, message string }{
		{"?os=plan9", "Unknown operating system filter."},
		{"?sort=serial_number", "Unknown sort order."},
		{"?order=sideways", "Unknown order: use asc or desc."},
		{"?page=0", "The page number must be a whole number from 1."},
		{"?page=abc", "The page number must be a whole number from 1."},
		{"?q=" + strings.Repeat("x", 201), "The search text is too long (at most 200 characters)."},
	} {
		r := h.get(c, "/devices"+tt.query)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, tt.message) {
			t.Errorf("GET /devices%s = %d, want 400 with %q", tt.query[:min(len(tt.query), 20)], r.StatusCode, tt.message)
		}
	}
}

func TestDevicePage(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(deviceID, hostileReport(1, t0.Add(-2*time.Hour)), t0.Add(-2*time.Hour))
	// Reports 2 and 3 never arrive; 4 does.
	h.ingest(deviceID, hostileReport(4, t0.Add(-10*time.Minute)), t0.Add(-10*time.Minute))

	r := h.get(c, "/devices/"+deviceID)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET device = %d\n%s", r.StatusCode, r.Body)
	}
	for _, want := range []string{
		`<title>` + escXSS + ` · Farmwatch</title>`,
		`<h1>` + escXSS + `</h1>`,
		`<dt>Device id</dt><dd><code>` + deviceID + `</code></dd>`,
		`<dt>Kernel</dt><dd></dd>`, // the enrollment did not say; facts below do
		`<dt>Reports</dt><dd>2 stored, highest sequence 4</dd>`,
		// Findings, most severe first, with fixed badge classes.
		`<span class="badge sev-critical">Critical</span>`,
		`<span class="badge sev-high">High</span>`,
		`<h3>RustDesk is running ` + escXSS + `</h3>`,
		`confidence 90%`,
		`confidence 100%`,
		`ATT&amp;CK <a href="https://attack.mitre.org/techniques/T1219/" rel="noopener noreferrer">T1219</a>`,
		`ATT&amp;CK <code>javascript:alert(3)</code>`,
		`<tr><th scope="row">command_line</th><td><code>` + escXSSAtt + `</code></td></tr>`,
		`<tr><th scope="row">peer</th><td><code>203.0.113.7:21116</code></td></tr>`,
		`first seen <time datetime="2026-05-04T08:00:00Z" title="2026-05-04 08:00:00 UTC">2 hours ago</time>`,
		// Gaps.
		`2 reports missing below sequence 4`,
		`<tr><td class="num">2</td><td class="num">3</td><td class="num">2</td></tr>`,
		// Facts.
		`received 2026-05-04 09:50:00 UTC (10 minutes ago)`,
		`<dt>Kernel</dt><dd>6.1.0-18-amd64</dd>`,
		`<dt>Serial number</dt><dd>` + escXSSAtt + `</dd>`,
		`<dt>Time zone</dt><dd>America/Chicago</dd>`,
		`<dt>UTC offset</dt><dd>UTC-05:00 (daylight saving)</dd>`,
		`<dt>Languages</dt><dd>en_US, ru_RU</dd>`,
		`<td>eth0</td><td><code>02:00:5e:10:00:01</code></td><td><code class="line">192.168.1.23/24</code><code class="line">fe80::1/64</code></td><td class="muted">up broadcast</td>`,
		`<summary>Processes: 2 listed of 212 seen</summary>`,
		`<td class="cmd"><code>/usr/bin/rustdesk --service ` + escXSS + `</code></td>`,
		`<code class="line">tcp 192.168.1.23:51515 → 203.0.113.7:21116 ESTABLISHED</code><code class="line">tcp6 [::]:21118 LISTEN</code>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	// Processes are ordered by pid.
	if i, j := strings.Index(r.Body, `title="/usr/lib/systemd/systemd"`), strings.Index(r.Body, `title="/usr/bin/rustdesk`); i < 0 || j < 0 || i > j {
		t.Errorf("processes not in pid order (systemd at %d, rustdesk at %d)", i, j)
	}
	if strings.Index(r.Body, "sev-critical") > strings.Index(r.Body, "sev-high") {
		t.Error("critical finding not listed before high")
	}
	assertNoRawMarkup(t, r.Body)
}

func TestDevicePageWithoutReports(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "fresh-laptop", "darwin", t0.Add(-time.Minute))
	r := h.get(c, "/devices/"+deviceID)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	for _, want := range []string{"<h1>fresh-laptop</h1>", "No current findings.", "No report has arrived from this device yet.", "No gaps: every report up to sequence 0 arrived."} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestDevicePageBadAndUnknownIDs(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "laptop", "linux", t0)
	tests := []struct {
		id     string
		status int
		text   string
	}{
		{"0123456789abcdef0123456789abcdef", http.StatusNotFound, "No device with id 0123456789abcdef0123456789abcdef has enrolled with this collector."},
		{strings.ToUpper(deviceID), http.StatusBadRequest, "A device id is 32 lowercase hexadecimal characters."},
		{deviceID[:31], http.StatusBadRequest, "A device id is 32 lowercase hexadecimal characters."},
		{deviceID + "0", http.StatusBadRequest, "A device id is 32 lowercase hexadecimal characters."},
		{"%3Cscript%3Ealert(1)%3C%2Fscript%3E", http.StatusBadRequest, "A device id is 32 lowercase hexadecimal characters."},
		{"'%20OR%201=1--", http.StatusBadRequest, "A device id is 32 lowercase hexadecimal characters."},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			r := h.get(c, "/devices/"+tt.id)
			if r.StatusCode != tt.status || !strings.Contains(r.Body, tt.text) {
				t.Errorf("status %d, want %d with %q\n%s", r.StatusCode, tt.status, tt.text, r.Body)
			}
			assertNoRawMarkup(t, r.Body)
		})
	}
}

func TestStoreFailureShowsNoInternals(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.store.Close()
	r := h.get(c, "/devices")
	if r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", r.StatusCode)
	}
	if !strings.Contains(r.Body, "The console could not check your session. Try again in a moment.") {
		t.Errorf("page lacks the user message:\n%s", r.Body)
	}
	if strings.Contains(r.Body, "sql") || strings.Contains(r.Body, "closed") {
		t.Errorf("page leaks the internal error:\n%s", r.Body)
	}
	if !strings.Contains(h.logs.String(), "sql: database is closed") {
		t.Errorf("log lacks the internal error:\n%s", h.logs.String())
	}
}

// The Location panel: where the device connects from, the measured round trip, the HR row,
// and what the analysis could not judge; device-controlled text escaped.
func TestDevicePageLocation(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(deviceID, hostileReport(1, t0.Add(-2*time.Hour)), t0.Add(-2*time.Hour))
	ctx := context.Background()
	if _, err := h.store.RecordEgress(ctx, deviceID, store.Egress{Address: "175.45.176.9", LastSeen: t0.Add(-time.Hour), Country: "KP", ASN: 131279, ASOrg: `Star <b>JV</b>`}); err != nil {
		t.Fatal(err)
	}
	for _, ms := range []int{80, 41, 95} {
		h.store.RecordRTT(ctx, deviceID, time.Duration(ms)*time.Millisecond, "175.45.176.9", t0.Add(-time.Hour), 7*24*time.Hour)
	}
	d, _ := h.store.Device(ctx, deviceID)
	if err := h.store.ReplacePeople(ctx, []store.Person{{EmployeeID: "E7", Name: "Pat", Country: "US", TimeZone: "America/Chicago", DeviceHostname: d.Hostname, Languages: []string{"en"}}}, t0); err != nil {
		t.Fatal(err)
	}
	if err := h.store.ReplaceCollectorFindings(ctx, deviceID, nil, []string{`geolocation disabled: <script>x</script>`}, t0); err != nil {
		t.Fatal(err)
	}
	r := h.get(c, "/devices/"+deviceID)
	for _, want := range []string{
		`<h2>Location</h2>`,
		`E7 · Pat · US America/Chicago · languages en`,
		`41.0 ms (smallest of 3 measurements since`,
		`<td><code>175.45.176.9</code></td><td>KP</td><td>AS131279 Star &lt;b&gt;JV&lt;/b&gt;</td>`,
		`<li>geolocation disabled: &lt;script&gt;x&lt;/script&gt;</li>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	assertNoRawMarkup(t, r.Body)
}

// The score and its breakdown, as the collector stored them, on the list and the device page.
func TestDeviceScoreAndBreakdown(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	h.enroll(deviceID, "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(deviceID, hostileReport(1, t0.Add(-2*time.Hour)), t0.Add(-2*time.Hour))
	ctx := context.Background()
	fs, _ := h.store.Findings(ctx, deviceID)
	r := score.Score(policy.Default(), score.Device{ID: deviceID, Findings: fs}, t0)
	b, _ := json.Marshal(r)
	if err := h.store.SetScore(ctx, deviceID, store.Score{Value: r.Score, Band: r.Band, Breakdown: b, PolicyVersion: r.PolicyVersion, At: t0}); err != nil {
		t.Fatal(err)
	}
	page := h.get(c, "/devices/"+deviceID)
	for _, want := range []string{
		`<h2>Score</h2>`,
		fmt.Sprintf(`<span class="badge sev-%s">%.1f · %s</span>`, r.Band, r.Score, r.Band),
		`policy <code>` + r.PolicyVersion + `</code>`,
		`<td><code>` + r.Contributions[0].Signal + `</code></td>`,
	} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("device page lacks %q", want)
		}
	}
	assertNoRawMarkup(t, page.Body)
	list := h.get(c, "/devices?sort=score")
	if !strings.Contains(list.Body, fmt.Sprintf(`<span class="badge sev-%s">%.0f %s</span>`, r.Band, r.Score, r.Band)) {
		t.Errorf("device list lacks the score badge:\n%s", list.Body)
	}
}
