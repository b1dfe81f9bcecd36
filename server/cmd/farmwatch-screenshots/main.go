// Command farmwatch-screenshots renders the console's main pages to JPEG files (docs/screenshots,
// `make screenshots`): a collector store seeded with the labelled scenario suite, the real
// console, and Debian's Chromium driven through the DevTools protocol. It needs /usr/bin/chromium.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/collector"
	"github.com/farmwatch/farmwatch/server/console"
	"github.com/farmwatch/farmwatch/server/eval"
	"github.com/farmwatch/farmwatch/server/pki"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

func main() {
	out := flag.String("out", "docs/screenshots", "directory for the screenshots")
	scenarios := flag.String("scenarios", "server/eval/testdata/scenarios", "scenario suite to seed the store with")
	browser := flag.String("chromium", "/usr/bin/chromium", "Chromium binary")
	asPNG := flag.Bool("png", false, "write lossless PNG instead of JPEG (larger files)")
	flag.Parse()
	if err := run(*out, *scenarios, *browser, *asPNG); err != nil {
		fmt.Fprintln(os.Stderr, "farmwatch-screenshots:", err)
		os.Exit(1)
	}
}

func run(out, scenarios, browser string, asPNG bool) error {
	if _, err := exec.LookPath(browser); err != nil {
		return fmt.Errorf("%s not found (apt-get install chromium): %w", browser, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "farmwatch-shots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := store.OpenSQLite(ctx, filepath.Join(tmp, "farmwatch.db"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	if _, err := eval.Seed(ctx, st, scenarios, policy.Default(), now); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	const password = "screenshots only, never deployed"
	hash, err := account.Hash(password)
	if err != nil {
		return err
	}
	if err := st.CreateUser(ctx, store.User{Username: "analyst", PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: now}); err != nil {
		return err
	}
	ca, _, err := pki.LoadOrCreate(tmp, now)
	if err != nil {
		return err
	}
	col, err := collector.New(collector.Options{Store: st, CA: ca, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if err := col.SetPolicy(ctx, policy.Default(), "screenshots"); err != nil {
		return err
	}
	con, err := console.New(console.Options{Store: st, Logger: slog.New(slog.DiscardHandler), Policy: col})
	if err != nil {
		return err
	}
	srv := httptest.NewServer(con.Handler())
	defer srv.Close()

	// A farm laptop with a remote session, a cluster and location findings.
	farm := eval.SeedID("fabrikam-contractors", "ctr-farm-01")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(tmp, "chromium")))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "analyst"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
	); err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	pages := []struct{ file, path string }{
		{"overview.jpg", "/overview"},
		{"devices.jpg", "/devices?sort=score&order=desc"},
		{"device.jpg", "/devices/" + farm},
		{"clusters.jpg", "/clusters"},
		{"policy.jpg", "/policy"},
		{"audit.jpg", "/admin/audit"},
	}
	for _, p := range pages {
		if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+p.path), chromedp.WaitReady(chromedp.CSS(`main`))); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		quality, file := 80, p.file
		if asPNG {
			quality, file = 100, strings.TrimSuffix(p.file, ".jpg")+".png" // quality 100 is PNG
		}
		img, err := chromedp.Run(bctx, chromedp.FullScreenshot(quality))
		if err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
		if len(img) == 0 {
			return errors.New(p.path + ": empty screenshot")
		}
		if err := os.WriteFile(filepath.Join(out, file), img, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s  %s (%d bytes)\n", filepath.Join(out, file), p.path, len(img))
	}
	return nil
}
