package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

const testPassword = "correct horse battery staple"

// as signs in a new user with role and returns the client.
func (h *harness) as(username, role string) *http.Client {
	h.t.Helper()
	hash, err := account.Hash(testPassword)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.store.CreateUser(context.Background(), store.User{Username: username, PasswordHash: hash, Role: role, CreatedAt: t0}); err != nil {
		h.t.Fatal(err)
	}
	c := h.client()
	if r := h.login(c, username, testPassword); r.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login %s = %d", username, r.StatusCode)
	}
	return c
}

// reconfigure serves a console built with opts (over the harness's store and clock).
func (h *harness) reconfigure(opts Options) {
	h.t.Helper()
	opts.Store, opts.Now = h.store, h.clock.Now
	c, err := New(opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.srv.Config.Handler = c.Handler()
}

func (h *harness) score(id string, value float64, band string) {
	h.t.Helper()
	if err := h.store.SetScore(context.Background(), id, store.Score{Value: value, Band: band, At: t0}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) auditLog() []store.AuditEntry {
	h.t.Helper()
	log, err := h.store.AuditLog(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return log
}

func TestOverviewPage(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	ids := []string{deviceID, fmt.Sprintf("%032x", 2), fmt.Sprintf("%032x", 3), fmt.Sprintf("%032x", 4)}
	h.enroll(ids[0], "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(ids[0], hostileReport(1, t0.Add(-2*time.Hour)), t0.Add(-2*time.Hour)) // hostname becomes xss
	h.enroll(ids[1], "b", "linux", t0)
	h.enroll(ids[2], "c", "windows", t0)
	h.enroll(ids[3], "d", "darwin", t0)
	h.score(ids[0], 95, "critical")
	h.score(ids[1], 71.5, "high")
	h.score(ids[2], 12, "low")
	if err := h.store.SetTriage(context.Background(), ids[1], store.Triage{State: store.TriageInvestigating, By: "analyst", At: t0}); err != nil {
		t.Fatal(err)
	}

	r := h.get(c, "/overview")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /overview = %d\n%s", r.StatusCode, r.Body)
	}
	for _, want := range []string{
		"4 active devices",
		`<a href="/clusters">0 clusters</a>`,
		`<a href="/devices?band=critical&amp;sort=score">1</a>`,
		`<a href="/devices?band=high&amp;sort=score">1</a>`,
		`<a href="/devices?band=low&amp;sort=score">1</a>`,
		`Not scored yet`,
		`<a href="/devices?triage=investigating&amp;sort=score">1</a>`,
		`<a href="/devices?triage=new&amp;sort=score">3</a>`,
		`<svg class="histogram"`,
		`<title>score 90–100: 1 device</title>`,
		`<title>score 70–79: 1 device</title>`,
		`<title>score 10–19: 1 device</title>`,
		`<a href="/devices/` + ids[0] + `">` + escXSS + `</a>`, // newest high, escaped
		`<a href="/devices?signal=remote_tool.running&amp;sort=score"><code>remote_tool.running</code></a>`,
		`aria-current="page">Overview</a>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// The histogram's tallest bar is the full chart height; empty bins have none.
	if !regexp.MustCompile(`<rect x="\d+" y="16" width="36" height="120" class="bin"/>`).MatchString(r.Body) {
		t.Error("no full-height bar in the histogram")
	}
	assertNoRawMarkup(t, r.Body)
	// Analysts see no admin links.
	if strings.Contains(r.Body, `href="/admin/`) {
		t.Error("analyst navigation links to admin pages")
	}
}

func TestDeviceListNewFilters(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	ctx := context.Background()
	for i, d := range []struct {
		host, band, triage, group string
		seen                      time.Duration
	}{
		{"crit", "critical", store.TriageConfirmedFarm, "contractors", time.Hour},
		{"high", "high", store.TriageInvestigating, "contractors", 3 * 24 * time.Hour},
		{"med", "medium", store.TriageNew, "staff", 10 * 24 * time.Hour},
		{"low", "low", store.TriageBenign, "staff", 40 * 24 * time.Hour},
	} {
		id := fmt.Sprintf("%032x", i+1)
		h.enroll(id, d.host, "linux", t0.Add(-d.seen))
		h.score(id, float64(90-20*i), d.band)
		if err := h.store.SetDeviceGroup(ctx, id, d.group); err != nil {
			t.Fatal(err)
		}
		if err := h.store.SetTriage(ctx, id, store.Triage{State: d.triage, Reason: "r", By: "analyst", At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	h.ingest(fmt.Sprintf("%032x", 2), &pb.Report{Sequence: 1, Findings: []*pb.Finding{{Signal: "kvm.usb", Title: "KVM", Severity: pb.Severity_SEVERITY_HIGH}}}, t0.Add(-3*24*time.Hour))

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"?band=high%2B&sort=score", []string{"crit", "high"}},
		{"?band=medium&sort=score", []string{"med"}},
		{"?triage=benign", []string{"low"}},
		{"?group=staff&sort=score", []string{"med", "low"}},
		{"?seen=24h", []string{"crit"}},
		{"?seen=7d&sort=score", []string{"crit", "high"}},
		{"?seen=30d&sort=score", []string{"crit", "high", "med"}},
		{"?signal=kvm.usb", []string{"high"}},
		{"?signal=kvm.*", []string{"high"}},
		{"?signal=relay.*", nil},
		{"?sort=score&order=asc", []string{"low", "med", "high", "crit"}},
	} {
		t.Run(tt.query, func(t *testing.T) {
			r := h.get(c, "/devices"+tt.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			if got := rows(r.Body); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("rows = %v, want %v", got, tt.want)
			}
		})
	}
	// Filters survive paging and sorting links.
	r := h.get(c, "/devices?band=high%2B&triage=investigating&group=contractors&seen=7d&signal=kvm.usb")
	if !strings.Contains(r.Body, `href="/devices?band=high%2B&amp;group=contractors&amp;seen=7d&amp;signal=kvm.usb&amp;sort=score&amp;triage=investigating"`) {
		t.Errorf("sort link drops the filters:\n%s", r.Body)
	}
	for _, tt := range []struct{ query, message string }{
		{"?band=extreme", "Unknown band filter."},
		{"?signal=" + url.QueryEscape(`<script>`), "The signal filter must be a signal"},
		{"?signal=kvm", "The signal filter must be a signal"},
		{"?group=" + url.QueryEscape(`a b`), "A group is up to 64"},
		{"?triage=closed", "Unknown triage state."},
		{"?seen=1y", "Unknown last-seen filter."},
	} {
		r := h.get(c, "/devices"+tt.query)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, tt.message) {
			t.Errorf("GET /devices%s = %d, want 400 with %q", tt.query, r.StatusCode, tt.message)
		}
		assertNoRawMarkup(t, r.Body)
	}
}

func TestTriageNotesAndAudit(t *testing.T) {
	h := newHarness(t, false)
	h.enroll(deviceID, "laptop-enrolled", "linux", t0.Add(-48*time.Hour))
	h.ingest(deviceID, hostileReport(1, t0.Add(-2*time.Hour)), t0.Add(-2*time.Hour))
	analyst := h.as("ana", store.RoleAnalyst)
	viewer := h.as("vic", store.RoleViewer)
	admin := h.as("root", store.RoleAdmin)
	path := "/devices/" + deviceID

	page := h.get(analyst, path)
	csrf := h.csrfToken(page.Body)
	if !strings.Contains(page.Body, `action="/devices/`+deviceID+`/triage"`) || !strings.Contains(page.Body, `action="/devices/`+deviceID+`/notes"`) {
		t.Fatal("analyst sees no triage or note form")
	}

	// Refused: reason missing for a verdict, unknown state, unknown assignee. Nothing changes.
	for _, tt := range []struct {
		form    url.Values
		message string
	}{
		{url.Values{"state": {"confirmed_farm"}}, "a reason is required to mark a device confirmed farm"},
		{url.Values{"state": {"benign"}, "reason": {"  "}}, "a reason is required to mark a device benign"},
		{url.Values{"state": {"closed"}}, "Choose a triage state"},
		{url.Values{"state": {"investigating"}, "assignee": {"nobody"}}, "No console user has that name"},
	} {
		tt.form.Set("csrf", csrf)
		r := h.post(analyst, path+"/triage", tt.form)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, tt.message) {
			t.Errorf("triage %v = %d, want 400 with %q", tt.form, r.StatusCode, tt.message)
		}
	}
	if d, _ := h.store.Device(context.Background(), deviceID); d.Triage.State != store.TriageNew {
		t.Fatalf("refused triage changed the state to %q", d.Triage.State)
	}

	// A viewer may not triage or write notes; without the CSRF token nobody may.
	vcsrf := h.csrfToken(h.get(viewer, path).Body)
	for _, tt := range []struct {
		name   string
		client *http.Client
		path   string
		form   url.Values
	}{
		{"viewer triage", viewer, path + "/triage", url.Values{"csrf": {vcsrf}, "state": {"benign"}, "reason": {"x"}}},
		{"viewer note", viewer, path + "/notes", url.Values{"csrf": {vcsrf}, "body": {"x"}}},
		{"no token", analyst, path + "/triage", url.Values{"state": {"benign"}, "reason": {"x"}}},
		{"wrong token", analyst, path + "/notes", url.Values{"csrf": {vcsrf}, "body": {"x"}}},
	} {
		if r := h.post(tt.client, tt.path, tt.form); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tt.name, r.StatusCode)
		}
	}

	reason := "Same gateway as 4 others " + xss
	r := h.post(analyst, path+"/triage", url.Values{"csrf": {csrf}, "state": {"confirmed_farm"}, "reason": {reason}, "assignee": {"root"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != path+"?saved=triage#triage" {
		t.Fatalf("triage = %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	h.clock.Advance(time.Minute)
	r = h.post(analyst, path+"/notes", url.Values{"csrf": {csrf}, "body": {"Called the manager.\n" + xssAttr}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("note = %d\n%s", r.StatusCode, r.Body)
	}
	if r := h.post(analyst, path+"/notes", url.Values{"csrf": {csrf}, "body": {" "}}); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "the note is empty") {
		t.Errorf("empty note = %d", r.StatusCode)
	}

	d, _ := h.store.Device(context.Background(), deviceID)
	if d.Triage.State != store.TriageConfirmedFarm || d.Triage.By != "ana" || d.Triage.Assignee != "root" || d.Triage.Reason != reason {
		t.Fatalf("stored triage = %+v", d.Triage)
	}
	log := h.auditLog()
	if log[0].Action != "device.note" || log[0].Target != deviceID || log[0].Actor != "ana" ||
		log[1].Action != "device.triage" || log[1].Target != deviceID || !strings.HasPrefix(log[1].Detail, "new → confirmed_farm; assignee root") {
		t.Fatalf("audit = %+v", log[:2])
	}

	// The viewer sees the verdict, read-only, escaped.
	vp := h.get(viewer, path+"?saved=triage")
	for _, want := range []string{
		`<span class="triage triage-farm">Confirmed farm</span>`,
		`set by ana`,
		`Same gateway as 4 others ` + escXSS,
		`Called the manager.` + "\n" + escXSSAtt,
		`Triage needs the analyst role.`,
		`Triage saved and recorded in the audit log.`,
		`<td>triage</td><td>Triage: new → confirmed_farm; assignee root; reason: Same gateway`, // timeline
		`<td>report</td><td>Report 1 received from 203.0.113.50:51234 with 2 findings</td>`,
	} {
		if !strings.Contains(vp.Body, want) {
			t.Errorf("viewer's device page lacks %q", want)
		}
	}
	if strings.Contains(vp.Body, `action="/devices/`+deviceID+`/triage"`) || strings.Contains(vp.Body, `action="/devices/`+deviceID+`/notes"`) {
		t.Error("viewer is shown the triage or note form")
	}
	assertNoRawMarkup(t, vp.Body)

	// The audit log page shows the change to admins, and only to admins.
	ap := h.get(admin, "/admin/audit")
	if ap.StatusCode != http.StatusOK || !strings.Contains(ap.Body, `<code>device.triage</code></td>
    <td><a href="/devices/`+deviceID+`"><code>`+deviceID+`</code></a></td>`) {
		t.Errorf("audit page lacks the triage entry:\n%s", ap.Body)
	}
	assertNoRawMarkup(t, ap.Body)
	for _, cl := range []*http.Client{viewer, analyst} {
		if r := h.get(cl, "/admin/audit"); r.StatusCode != http.StatusForbidden {
			t.Errorf("audit page for non-admin = %d, want 403", r.StatusCode)
		}
	}
}

func TestAdminPagesNeedAdmin(t *testing.T) {
	h := newHarness(t, false)
	viewer := h.as("vic", store.RoleViewer)
	analyst := h.as("ana", store.RoleAnalyst)
	admin := h.as("root", store.RoleAdmin)
	for _, p := range []string{"/admin/secrets", "/admin/users", "/admin/audit"} {
		for _, tt := range []struct {
			name   string
			client *http.Client
			want   int
		}{{"viewer", viewer, 403}, {"analyst", analyst, 403}, {"admin", admin, 200}} {
			if r := h.get(tt.client, p); r.StatusCode != tt.want {
				t.Errorf("%s GET %s = %d, want %d", tt.name, p, r.StatusCode, tt.want)
			}
		}
	}
	for _, p := range []string{"/overview", "/devices", "/clusters", "/policy", "/catalog"} {
		if r := h.get(viewer, p); r.StatusCode != http.StatusOK {
			t.Errorf("viewer GET %s = %d, want 200", p, r.StatusCode)
		}
	}
	vcsrf := h.csrfToken(h.get(viewer, "/overview").Body)
	acsrf := h.csrfToken(h.get(admin, "/overview").Body)
	for _, tt := range []struct {
		name   string
		client *http.Client
		path   string
		form   url.Values
		want   int
	}{
		{"viewer creates secret", viewer, "/admin/secrets", url.Values{"csrf": {vcsrf}}, 403},
		{"analyst adds user", analyst, "/admin/users", url.Values{"csrf": {h.csrfToken(h.get(analyst, "/overview").Body)}, "username": {"eve"}, "role": {"admin"}}, 403},
		{"viewer edits policy", viewer, "/policy", url.Values{"csrf": {vcsrf}, "policy": {"schema: 1\n"}}, 403},
		{"admin without token", admin, "/admin/secrets", url.Values{}, 403},
		{"admin with another's token", admin, "/admin/users", url.Values{"csrf": {vcsrf}, "username": {"eve"}, "role": {"admin"}}, 403},
		{"admin revokes unknown", admin, "/admin/secrets/es_0000/revoke", url.Values{"csrf": {acsrf}}, 404},
	} {
		if r := h.post(tt.client, tt.path, tt.form); r.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, r.StatusCode, tt.want)
		}
	}
	if secrets, _ := h.store.EnrollSecrets(context.Background()); len(secrets) != 0 {
		t.Errorf("refused requests created %d secrets", len(secrets))
	}
	if _, err := h.store.User(context.Background(), "eve"); !errors.Is(err, store.ErrNotFound) {
		t.Error("refused request created a user")
	}
	// Admins see the admin links.
	if r := h.get(admin, "/overview"); !strings.Contains(r.Body, `<a href="/admin/users">Users</a>`) {
		t.Error("admin navigation lacks Users")
	}
}

func TestEnrollSecretsCreateAndRevoke(t *testing.T) {
	h := newHarness(t, false)
	admin := h.as("root", store.RoleAdmin)
	csrf := h.csrfToken(h.get(admin, "/admin/secrets").Body)
	r := h.post(admin, "/admin/secrets", url.Values{"csrf": {csrf}, "name": {"mdm-2026"}, "group": {"contractors"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("create = %d\n%s", r.StatusCode, r.Body)
	}
	m := regexp.MustCompile(`<code class="secret">(fwe_[A-Za-z0-9_-]{43})</code>`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("secret value not shown:\n%s", r.Body)
	}
	// The collector must accept it: it looks secrets up by collector.HashSecret.
	e, err := h.store.EnrollSecretByHash(context.Background(), collector.HashSecret(m[1]))
	if err != nil || e.Name != "mdm-2026" || e.Group != "contractors" || e.CreatedBy != "root" || !e.Active() {
		t.Fatalf("stored secret = %+v, %v", e, err)
	}
	// Shown once: the list does not show it again.
	list := h.get(admin, "/admin/secrets")
	if strings.Contains(list.Body, m[1]) || !strings.Contains(list.Body, `<td>mdm-2026</td><td><code>`+e.ID+`</code></td><td>contractors</td><td class="num">0</td>`) {
		t.Errorf("secret list wrong:\n%s", list.Body)
	}
	for _, tt := range []struct{ name, group string }{{"<b>", ""}, {"ok", "a b"}} {
		if r := h.post(admin, "/admin/secrets", url.Values{"csrf": {csrf}, "name": {tt.name}, "group": {tt.group}}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("create %q/%q = %d, want 400", tt.name, tt.group, r.StatusCode)
		}
	}
	if r := h.post(admin, "/admin/secrets", url.Values{"csrf": {csrf}, "name": {"mdm-2026"}}); r.StatusCode != http.StatusConflict {
		t.Errorf("duplicate name = %d, want 409", r.StatusCode)
	}
	r = h.post(admin, "/admin/secrets/"+e.ID+"/revoke", url.Values{"csrf": {csrf}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/admin/secrets?done=revoked" {
		t.Fatalf("revoke = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if e, _ := h.store.EnrollSecretByHash(context.Background(), collector.HashSecret(m[1])); e.Active() {
		t.Error("secret still active after revoke")
	}
	log := h.auditLog()
	if log[0].Action != "enroll_secret.revoke" || log[0].Target != e.ID || log[1].Action != "enroll_secret.create" || log[1].Actor != "root" || log[1].Detail != "mdm-2026" {
		t.Errorf("audit = %+v", log[:2])
	}
}

func TestUsersAddAndSignIn(t *testing.T) {
	h := newHarness(t, false)
	admin := h.as("root", store.RoleAdmin)
	csrf := h.csrfToken(h.get(admin, "/admin/users").Body)
	r := h.post(admin, "/admin/users", url.Values{"csrf": {csrf}, "username": {"vera"}, "role": {"viewer"}})
	m := regexp.MustCompile(`<code class="secret">([A-Za-z0-9_-]{24})</code>`).FindStringSubmatch(r.Body)
	if r.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("add user = %d, password not shown:\n%s", r.StatusCode, r.Body)
	}
	if !strings.Contains(r.Body, `<td>vera</td><td>viewer</td>`) {
		t.Error("user list lacks the new user")
	}
	vera := h.client()
	if r := h.login(vera, "vera", m[1]); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("new user cannot sign in with the shown password: %d", r.StatusCode)
	}
	if r := h.get(vera, "/admin/users"); r.StatusCode != http.StatusForbidden {
		t.Errorf("new viewer GET /admin/users = %d", r.StatusCode)
	}
	for _, tt := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"username": {"vera"}, "role": {"admin"}}, http.StatusConflict},
		{url.Values{"username": {"<script>"}, "role": {"admin"}}, http.StatusBadRequest},
		{url.Values{"username": {"zed"}, "role": {"root"}}, http.StatusBadRequest},
	} {
		tt.form.Set("csrf", csrf)
		if r := h.post(admin, "/admin/users", tt.form); r.StatusCode != tt.want {
			t.Errorf("add %v = %d, want %d", tt.form, r.StatusCode, tt.want)
		} else {
			assertNoRawMarkup(t, r.Body)
		}
	}
	if log := h.auditLog(); log[1].Action != "user.add" || log[1].Target != "vera" || log[1].Detail != "viewer" {
		t.Errorf("audit = %+v", log[:2])
	}
	// The SQLite store can disable accounts: the page offers it, and a disabled account
	// cannot sign in.
	page := h.get(admin, "/admin/users")
	if !strings.Contains(page.Body, `action="/admin/users/vera/disable"`) || strings.Contains(page.Body, "cannot disable accounts") {
		t.Error("users page does not offer disabling")
	}
	if r := h.post(admin, "/admin/users/vera/disable", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("disable = %d, want 303", r.StatusCode)
	}
	if u, err := h.store.User(context.Background(), "vera"); err != nil || !u.Disabled {
		t.Errorf("vera after disable = %+v, %v", u, err)
	}
}

func TestAuditLogPages(t *testing.T) {
	h := newHarness(t, false)
	admin := h.as("root", store.RoleAdmin) // one console.login entry
	for i := range 249 {
		if err := h.store.Audit(context.Background(), store.AuditEntry{At: t0, Actor: "cli", Action: "test.entry", Target: fmt.Sprint(i), Detail: xss}); err != nil {
			t.Fatal(err)
		}
	}
	targets := regexp.MustCompile(`<td><code>([^<]*)</code></td><td class="prose">`)
	for _, tt := range []struct {
		page        string
		first, last string
		n           int
		next, prev  bool
	}{
		{"", "248", "149", 100, true, false},
		{"?page=2", "148", "49", 100, true, true},
		{"?page=3", "48", "root", 50, false, true},
	} {
		r := h.get(admin, "/admin/audit"+tt.page)
		got := targets.FindAllStringSubmatch(r.Body, -1)
		if r.StatusCode != 200 || len(got) != tt.n || got[0][1] != tt.first || got[len(got)-1][1] != tt.last {
			t.Errorf("page %q: %d, %d rows", tt.page, r.StatusCode, len(got))
			continue
		}
		if strings.Contains(r.Body, `rel="next"`) != tt.next || strings.Contains(r.Body, `rel="prev"`) != tt.prev {
			t.Errorf("page %q: pager links wrong", tt.page)
		}
		assertNoRawMarkup(t, r.Body)
	}
	if r := h.get(admin, "/admin/audit?page=0"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("page 0 = %d", r.StatusCode)
	}
}

// fakePolicy is a PolicyController that records what it was given.
type fakePolicy struct {
	mu     sync.Mutex
	p      *policy.Policy
	actors []string
}

func (f *fakePolicy) Policy() *policy.Policy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.p
}

func (f *fakePolicy) SetPolicy(_ context.Context, p *policy.Policy, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.p, f.actors = p, append(f.actors, actor)
	return nil
}

func TestPolicyPage(t *testing.T) {
	h := newHarness(t, false)
	ctl := &fakePolicy{p: policy.Default()}
	h.reconfigure(Options{Policy: ctl})
	if err := h.store.SavePolicy(context.Background(), store.PolicyRecord{Version: ctl.p.Version(), Content: ctl.p.Source(), CreatedAt: t0, CreatedBy: "serve", ActivatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	viewer := h.as("vic", store.RoleViewer)
	admin := h.as("root", store.RoleAdmin)

	vp := h.get(viewer, "/policy")
	if vp.StatusCode != 200 || !strings.Contains(vp.Body, `In force: <code>`+ctl.p.Version()+`</code>`) ||
		!strings.Contains(vp.Body, `<pre class="source">`) || strings.Contains(vp.Body, `action="/policy"`) {
		t.Errorf("viewer's policy page wrong:\n%s", vp.Body)
	}
	if !strings.Contains(vp.Body, `<td>serve</td><td><strong>in force</strong></td>`) {
		t.Error("history lacks the version in force")
	}
	ap := h.get(admin, "/policy")
	csrf := h.csrfToken(ap.Body)
	if !strings.Contains(ap.Body, `<textarea id="policy-text" name="policy"`) {
		t.Fatal("admin has no edit form")
	}

	bad := "schema: 1\nbands:\n  high: lots\n  critical: 5\n" + "# " + xss + "\n"
	r := h.post(admin, "/policy", url.Values{"csrf": {csrf}, "policy": {bad}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "<strong>line 3</strong>: <code>bands.high</code>") ||
		!strings.Contains(r.Body, "The running policy is unchanged.") || !strings.Contains(r.Body, escXSS) {
		t.Errorf("invalid policy = %d:\n%s", r.StatusCode, r.Body)
	}
	assertNoRawMarkup(t, r.Body)
	if len(ctl.actors) != 0 {
		t.Fatal("invalid policy applied")
	}

	good := "schema: 1\nbands:\n  high: 55\n"
	r = h.post(admin, "/policy", url.Values{"csrf": {csrf}, "policy": {good}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/policy?saved=1" {
		t.Fatalf("valid policy = %d\n%s", r.StatusCode, r.Body)
	}
	if len(ctl.actors) != 1 || ctl.actors[0] != "user:root" || ctl.Policy().Bands.High != 55 {
		t.Errorf("SetPolicy got actors %v, bands %+v", ctl.actors, ctl.Policy().Bands)
	}

	// Without a controller the page is read-only and POST is refused.
	h.reconfigure(Options{})
	if r := h.get(admin, "/policy"); !strings.Contains(r.Body, "not connected to a collector") || strings.Contains(r.Body, `action="/policy"`) {
		t.Error("policy page without controller offers editing")
	}
	if r := h.post(admin, "/policy", url.Values{"csrf": {csrf}, "policy": {good}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("POST /policy without controller = %d", r.StatusCode)
	}
}

func TestCatalogPage(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	def, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	r := h.get(c, "/catalog")
	if r.StatusCode != 200 || !strings.Contains(r.Body, `<dt>Version in force</dt><dd><code>`+def.Version+`</code></dd>`) ||
		!strings.Contains(r.Body, fmt.Sprintf(`<dt>Remote tools</dt><dd>%d</dd>`, len(def.RemoteTools))) {
		t.Errorf("catalog page wrong:\n%s", r.Body)
	}
	h.reconfigure(Options{Catalog: func() (*catalog.Catalog, error) {
		return &catalog.Catalog{Version: "2026.05.1" + xss, RemoteTools: []catalog.Tool{{ID: "a", Category: "rmm"}, {ID: "b", Category: "vnc"}}}, nil
	}})
	r = h.get(c, "/catalog")
	if !strings.Contains(r.Body, `<code>2026.05.1`+escXSS+`</code>`) || !strings.Contains(r.Body, `<dt>Remote tools</dt><dd>2</dd>`) {
		t.Errorf("catalog page ignores Options.Catalog:\n%s", r.Body)
	}
	assertNoRawMarkup(t, r.Body)
}

func TestClustersPage(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	a, b := fmt.Sprintf("%032x", 1), fmt.Sprintf("%032x", 2)
	h.enroll(a, "farm-a", "linux", t0)
	h.enroll(b, "farm-b"+xss, "linux", t0)
	err := h.store.ReplaceFleet(context.Background(), []store.Cluster{{
		ID: "c1", Members: []string{a, b}, Kinds: []string{"shared_gateway"}, First: t0.Add(-time.Hour), Last: t0, Updated: t0,
		Links: []store.ClusterLink{{Kind: "gateway_mac", Value: xssAttr, Devices: []string{a, b}, First: t0.Add(-time.Hour), Last: t0}},
	}}, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	r := h.get(c, "/clusters")
	for _, want := range []string{
		`1 cluster:`,
		`<a href="/devices/` + a + `">farm-a</a>`,
		`<a href="/devices/` + b + `">farm-b` + escXSS + `</a>`,
		`shares <code>shared_gateway</code>`,
		`<td><code>gateway_mac</code></td><td><code>` + escXSSAtt + `</code></td><td class="num">2</td>`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("clusters page lacks %q", want)
		}
	}
	assertNoRawMarkup(t, r.Body)
	if o := h.get(c, "/overview"); !strings.Contains(o.Body, `<a href="/clusters">1 cluster</a>`) {
		t.Error("overview does not count the cluster")
	}
}

func TestActivityHeatmapUsesLocalHours(t *testing.T) {
	day := time.Date(2026, 5, 3, 0, 0, 0, 0, time.UTC).Unix()
	hours := func(h int, active, sampled uint32) ([]uint32, []uint32) {
		a, s := make([]uint32, 24), make([]uint32, 24)
		a[h], s[h] = active, sampled
		return a, s
	}
	for _, tt := range []struct {
		name      string
		offset    int32
		zone      string
		utcHour   int
		wantDay   string
		wantHour  int
		wantLevel string
		wantZone  string
	}{
		{"UTC", 0, "", 14, "Sun 2026-05-03", 14, "4", "UTC"},
		{"Seoul: 15 UTC is midnight the next day", 9 * 3600, "Asia/Seoul", 15, "Mon 2026-05-04", 0, "4", "UTC+09:00 (Asia/Seoul)"},
		{"Chicago: 02 UTC is 21 the day before", -5 * 3600, "America/Chicago", 2, "Sat 2026-05-02", 21, "4", "UTC-05:00 (America/Chicago)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, s := hours(tt.utcHour, 60, 60)
			hm := activityHeatmap(&pb.Facts{
				Time:     &pb.TimeFacts{Zone: tt.zone, UtcOffsetSeconds: tt.offset},
				Activity: &pb.Activity{Known: true, Source: "logind", Days: []*pb.ActivityDay{{Day: day, ActiveMinutes: a, SampledMinutes: s}}},
			})
			if hm.Zone != tt.wantZone {
				t.Errorf("zone %q, want %q", hm.Zone, tt.wantZone)
			}
			found := false
			for _, row := range hm.Rows {
				for h, cell := range row.Cells {
					if cell.Level == tt.wantLevel {
						found = true
						if row.Day != tt.wantDay || h != tt.wantHour {
							t.Errorf("active cell at %s %02d, want %s %02d", row.Day, h, tt.wantDay, tt.wantHour)
						}
					}
				}
			}
			if !found {
				t.Error("no active cell")
			}
		})
	}
	a, s := hours(3, 10, 60)
	hm := activityHeatmap(&pb.Facts{Activity: &pb.Activity{Known: true, Days: []*pb.ActivityDay{{Day: day, ActiveMinutes: a, SampledMinutes: s}}}})
	if c := hm.Rows[0].Cells[3]; c.Level != "1" || c.Title != "Sun 2026-05-03 03:00: active 10 of 60 minutes sampled" {
		t.Errorf("partial hour = %+v", c)
	}
	if c := hm.Rows[0].Cells[4]; c.Level != "none" {
		t.Errorf("unsampled hour level %q", c.Level)
	}
	if hm := activityHeatmap(&pb.Facts{Activity: &pb.Activity{Known: false, Note: "no idle timer"}}); hm.Known || hm.Note != "no idle timer" {
		t.Errorf("unknown activity = %+v", hm)
	}
}
