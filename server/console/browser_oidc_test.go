package console

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/farmwatch/farmwatch/server/store"
)

// TestBrowserSSOSignIn signs in through the test provider in headless Chromium. It pins what
// a plain HTTP client cannot: the session cookie is SameSite=Strict and the provider's
// redirect back is cross-site, so the console must land the user by a same-site navigation.
func TestBrowserSSOSignIn(t *testing.T) {
	bin := chromium(t)
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	clk := &clock{t: time.Now()}
	p := newTestIdP(t, clk)
	p.consent = true
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	defer srv.Close()
	// The console is reached as localhost and the provider as 127.0.0.1: different sites.
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c, err := New(Options{Store: st, Now: clk.Now, OIDC: &OIDCConfig{
		Issuer: p.srv.URL, ClientID: testClientID, ClientSecret: "s3cret", RedirectURL: base + oidcCallbackPath,
		RoleMap: map[string]string{"fw-analysts": store.RoleAnalyst}, HTTPClient: p.srv.Client(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = c.Handler()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true), // the provider's test certificate
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 20*time.Second)
	defer cancel()

	for i, step := range []chromedp.Action[struct{}]{
		chromedp.Navigate(base + "/login"),
		chromedp.Click(`//a[text()="Sign in with SSO"]`),
		chromedp.Click(`#consent`), // at the provider: the navigation back is cross-site
		chromedp.WaitVisible(`//h1[text()="Overview"]`),
	} {
		if err := chromedp.Do(bctx, step); err != nil {
			t.Fatalf("SSO step %d: %v", i, err)
		}
	}
	if user := run(t, bctx, chromedp.Text(chromedp.CSS(`.account .user`))); user != "sso:alice@example.com" {
		t.Errorf("signed in as %q", user)
	}
	if role := run(t, bctx, chromedp.Text(chromedp.CSS(`.account .role`))); !strings.EqualFold(role, store.RoleAnalyst) {
		t.Errorf("role = %q", role)
	}
}
