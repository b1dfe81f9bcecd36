package console

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

// t0 is the harness's starting time; the console clock starts here and moves only when a test
// advances it.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects the console's log lines; handlers log from server goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a console over a real SQLite store, served by a real HTTP server.
type harness struct {
	t     testing.TB
	store *store.SQLite
	srv   *httptest.Server
	clock *clock
	logs  *logBuffer
}

func newHarness(t testing.TB, secure bool) *harness {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "farmwatch.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, store: st, clock: &clock{t: t0}, logs: &logBuffer{}}
	c, err := New(Options{
		Store:         st,
		Logger:        slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SecureCookies: secure,
		Now:           h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(c.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// client is a browser stand-in: a cookie jar, and redirects reported rather than followed so
// tests can assert them.
func (h *harness) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

func (h *harness) addUser(username, password string, disabled bool) {
	h.t.Helper()
	hash, err := account.Hash(password)
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.store.CreateUser(context.Background(), store.User{
		Username: username, PasswordHash: hash, Role: store.RoleAnalyst, CreatedAt: t0, Disabled: disabled,
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

type response struct {
	*http.Response
	Body string
}

func (h *harness) do(c *http.Client, req *http.Request) response {
	h.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{resp, string(b)}
}

func (h *harness) get(c *http.Client, path string) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(c, req)
}

func (h *harness) post(c *http.Client, path string, form url.Values) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.do(c, req)
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([A-Za-z0-9_-]{43})"`)

// csrfToken returns the CSRF token in a page's forms.
func (h *harness) csrfToken(body string) string {
	h.t.Helper()
	m := csrfPattern.FindStringSubmatch(body)
	if m == nil {
		h.t.Fatalf("no CSRF token in page:\n%s", body)
	}
	return m[1]
}

// login signs c in through the form and returns the POST's response.
func (h *harness) login(c *http.Client, username, password string) response {
	h.t.Helper()
	form := h.get(c, "/login")
	if form.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /login = %d", form.StatusCode)
	}
	return h.post(c, "/login", url.Values{"csrf": {h.csrfToken(form.Body)}, "username": {username}, "password": {password}})
}

// signedIn returns a client with a live session for a fresh user.
func (h *harness) signedIn() *http.Client {
	h.t.Helper()
	h.addUser("analyst", "correct horse battery staple", false)
	c := h.client()
	if r := h.login(c, "analyst", "correct horse battery staple"); r.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login = %d, want 303:\n%s", r.StatusCode, r.Body)
	}
	return c
}

func (h *harness) cookie(c *http.Client, name string) *http.Cookie {
	u, _ := url.Parse(h.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}
