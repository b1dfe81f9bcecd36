package collector_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/console"
	"github.com/farmwatch/farmwatch/server/store"
)

// The whole path in a real browser: a real agent scans this machine and reports over mutual
// TLS; the collector stores and scores it; an analyst signs in to the real console in Debian's
// Chromium, sees the device, opens its score breakdown, triages it and finds the change in the
// audit log.
func TestBrowserSeesARealAgentsDevice(t *testing.T) {
	const bin = "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must install chromium: %v", err)
		}
		t.Skip("no /usr/bin/chromium")
	}
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	a := enrollAgent(t, c, c.secret("default"))
	ctx := ctxT(t)
	if err := a.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	c.col.Settled()
	d, err := c.st.Device(ctx, a.rec.DeviceID)
	if err != nil || d.Band == "" {
		t.Fatalf("device not scored: %+v %v", d, err)
	}
	hash, _ := account.Hash("correct horse battery staple")
	if err := c.st.CreateUser(ctx, store.User{Username: "ana", PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	con, err := console.New(console.Options{Store: c.st, Logger: slog.New(slog.DiscardHandler), Agents: c.col, Policy: c.col})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con.Handler())
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 90*time.Second)
	defer cancel()

	id := a.rec.DeviceID
	var listText, breakdown, auditText string
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery staple"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
		chromedp.Navigate(srv.URL+"/devices"),
		chromedp.WaitVisible(`//h1[text()="Devices"]`),
	); err != nil {
		t.Fatal(err)
	}
	listText, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`table.devices`)))
	if err != nil || !strings.Contains(listText, d.Hostname) {
		t.Fatalf("device list lacks %q: %v\n%s", d.Hostname, err, listText)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(`//a[contains(@href, "/devices/`+id+`")]`),
		chromedp.WaitVisible(`//h2[text()="Score"]`),
		chromedp.Click(`//details[contains(@class, "breakdown")]/summary`),
	); err != nil {
		t.Fatal(err)
	}
	breakdown, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`details.breakdown`)))
	if err != nil || !strings.Contains(strings.ToLower(breakdown), "weight") || !strings.Contains(breakdown, "Breakdown:") {
		t.Fatalf("breakdown not shown: %v\n%s", err, breakdown)
	}
	if err := chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#triage-state`), store.TriageInvestigating),
		chromedp.SendKeys(chromedp.CSS(`#triage-reason`), "checking the remote tools on this laptop"),
		chromedp.Click(`//button[text()="Save triage"]`),
		chromedp.WaitVisible(`//p[contains(text(), "Triage saved")]`),
		chromedp.Navigate(srv.URL+"/admin/audit"),
		chromedp.WaitVisible(`//h1[text()="Audit log"]`),
	); err != nil {
		t.Fatal(err)
	}
	auditText, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`table.audit`)))
	if err != nil || !strings.Contains(auditText, "device.triage") || !strings.Contains(auditText, id) {
		t.Fatalf("audit log lacks the triage: %v\n%s", err, auditText)
	}
	if d, _ := c.st.Device(ctx, id); d.Triage.State != store.TriageInvestigating || d.Triage.By != "ana" {
		t.Fatalf("triage not stored: %+v", d.Triage)
	}
}
