package console

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

// chromium finds Debian's Chromium; .ci/run installs it, so in CI this test always runs.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("FARMWATCH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI must install Debian's chromium for the browser tests")
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// TestBrowserSignInAndReviewDevice drives the real console in headless Chromium: sign in
// through the form, find the device in the list, open its page, and check that hostile device
// data is shown as text and never executed; then triage the device, find the change in the
// audit log, and check that a form posted from another origin without the CSRF token is refused.
func TestBrowserSignInAndReviewDevice(t *testing.T) {
	bin := chromium(t)
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hash, _ := account.Hash("correct horse battery staple")
	if err := st.CreateUser(ctx, store.User{Username: "ana", PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	now := time.Now()
	if err := st.Enroll(ctx, store.Enrollment{
		Device:      store.Device{ID: id, Hostname: "farm-01", OS: "linux", EnrolledAt: now},
		Certificate: store.Certificate{Serial: "77", DeviceID: id, NotBefore: now, NotAfter: now.Add(time.Hour), IssuedAt: now},
	}); err != nil {
		t.Fatal(err)
	}
	evil := `<img src=x onerror="document.title='pwned'">`
	rep := &pb.Report{Sequence: 1, Created: timestamppb.Now(),
		Facts:    &pb.Facts{Host: &pb.HardwareIdentity{Hostname: "farm-01" + evil}},
		Findings: []*pb.Finding{{Signal: "os_remote.enabled", Severity: pb.Severity_SEVERITY_MEDIUM, Title: "VNC server " + evil, Attack: "T1021.005", Evidence: map[string]string{"process": evil}}},
	}
	body, _ := proto.Marshal(rep)
	if _, err := st.IngestReport(ctx, store.Ingest{DeviceID: id, Report: rep, Body: body, Received: now, Address: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	for i, step := range []chromedp.Action[struct{}]{
		chromedp.Navigate(srv.URL + "/devices"), // not signed in: sent to the login form
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery staple"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//h1[text()="Overview"]`), // the landing page
		chromedp.Navigate(srv.URL + "/devices"),
		chromedp.WaitVisible(`//h1[text()="Devices"]`),
	} {
		if err := chromedp.Do(bctx, step); err != nil {
			t.Fatalf("sign-in step %d: %v", i, err)
		}
	}
	listText := run(t, bctx, chromedp.Text(chromedp.CSS(`body`)))
	if err := chromedp.Do(bctx,
		chromedp.Click(`//a[contains(@href, "/devices/`+id+`")]`),
		chromedp.WaitVisible(`//h1[contains(text(), "farm-01")]`),
	); err != nil {
		t.Fatal(err)
	}
	heading := run(t, bctx, chromedp.Text(chromedp.CSS(`h1`)))
	pageText := run(t, bctx, chromedp.Text(chromedp.CSS(`body`)))
	title := run(t, bctx, chromedp.Title())
	if !strings.Contains(listText, "farm-01") {
		t.Errorf("device list does not show the device:\n%s", listText)
	}
	if !strings.Contains(heading, "farm-01"+evil) {
		t.Errorf("device heading %q: hostile hostname not shown as text", heading)
	}
	if !strings.Contains(pageText, "VNC server "+evil) || !strings.Contains(pageText, "os_remote.enabled") {
		t.Errorf("device page does not show the finding as text:\n%s", pageText)
	}
	if title == "pwned" || !strings.HasSuffix(title, "· Farmwatch") { // the payload would set the title to exactly "pwned"
		t.Fatalf("device data executed in the console (title %q)", title)
	}

	// Triage the device through the form, then find the change in the audit log.
	if err := chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#triage-state`), store.TriageConfirmedFarm),
		chromedp.SendKeys(chromedp.CSS(`#triage-reason`), "shares a gateway with farm-02 "+evil),
		chromedp.Click(`//button[text()="Save triage"]`),
		chromedp.WaitVisible(`//p[contains(text(), "Triage saved")]`),
	); err != nil {
		t.Fatal(err)
	}
	if d, err := st.Device(ctx, id); err != nil || d.Triage.State != store.TriageConfirmedFarm || d.Triage.By != "ana" {
		t.Fatalf("triage not stored: %+v %v", d.Triage, err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/admin/audit"),
		chromedp.WaitVisible(`//h1[text()="Audit log"]`),
	); err != nil {
		t.Fatal(err)
	}
	auditText := run(t, bctx, chromedp.Text(chromedp.CSS(`table.audit`)))
	if !strings.Contains(auditText, "device.triage") || !strings.Contains(auditText, id) || !strings.Contains(auditText, "new → confirmed_farm") {
		t.Errorf("audit log page lacks the triage:\n%s", auditText)
	}

	// Another origin's page posts a triage form at the console without the token: the signed-in
	// browser sends its cookie along (same site), and the console refuses.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>win a prize</title><form method="post" action="%s/devices/%s/triage">
<input name="state" value="benign"><input name="reason" value="nothing to see"></form>
<script>document.forms[0].submit()</script>`, srv.URL, id)
	}))
	defer attacker.Close()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(attacker.URL),
		chromedp.WaitVisible(`//h1[text()="Request refused"]`),
	); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.Device(ctx, id); d.Triage.State != store.TriageConfirmedFarm {
		t.Fatalf("cross-site POST changed the triage to %q", d.Triage.State)
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
