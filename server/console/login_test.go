package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

const password = "correct horse battery staple"

func setCookie(t *testing.T, r response, name string) *http.Cookie {
	t.Helper()
	for _, line := range r.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestLoginSuccessStartsHardenedSession(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain HTTP", true: "secure cookies"}[secure], func(t *testing.T) {
			h := newHarness(t, secure)
			h.addUser("alice", password, false)
			c := h.client()
			form := h.get(c, "/login")
			loginCk := setCookie(t, form, loginCSRFCookie)
			if loginCk == nil || !loginCk.HttpOnly || loginCk.SameSite != http.SameSiteStrictMode || loginCk.Secure != secure {
				t.Fatalf("login CSRF cookie = %+v, want HttpOnly SameSite=Strict Secure=%v", loginCk, secure)
			}
			if got := h.csrfToken(form.Body); got != loginCk.Value {
				t.Fatalf("form token %q != cookie %q (double submit)", got, loginCk.Value)
			}
			if secure {
				// The jar will not send Secure cookies over plain HTTP; hand it over as a browser
				// on HTTPS would.
				u, _ := url.Parse(h.srv.URL)
				c.Jar.SetCookies(u, []*http.Cookie{{Name: loginCSRFCookie, Value: loginCk.Value}})
			}
			r := h.post(c, "/login", url.Values{"csrf": {loginCk.Value}, "username": {"alice"}, "password": {password}})
			if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/overview" {
				t.Fatalf("POST /login = %d Location %q, want 303 /overview\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
			}
			ck := setCookie(t, r, sessionCookie)
			if ck == nil {
				t.Fatal("no session cookie set")
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != secure {
				t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, Secure=%v", ck, secure)
			}
			if ck.MaxAge != int((12 * time.Hour).Seconds()) {
				t.Errorf("session cookie MaxAge = %d, want 43200", ck.MaxAge)
			}
			if len(ck.Value) != account.TokenLen {
				t.Errorf("session token %q is not a 43-character token", ck.Value)
			}
			// The store holds the hash of the cookie, never the cookie itself.
			s, err := h.store.Session(context.Background(), account.HashToken(ck.Value), t0)
			if err != nil {
				t.Fatalf("session for cookie hash: %v", err)
			}
			if s.Username != "alice" || !s.ExpiresAt.Equal(t0.Add(12*time.Hour)) || len(s.CSRFToken) != account.TokenLen {
				t.Errorf("stored session = %+v", s)
			}
			if _, err := h.store.Session(context.Background(), []byte(ck.Value), t0); err == nil {
				t.Error("session found by raw cookie value: the token is stored unhashed")
			}
			if lc := setCookie(t, r, loginCSRFCookie); lc == nil || lc.MaxAge >= 0 {
				t.Errorf("login CSRF cookie not cleared after login: %+v", lc)
			}
			log, err := h.store.AuditLog(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(log) != 1 || log[0].Action != "console.login" || log[0].Actor != "alice" || !log[0].At.Equal(t0) ||
				log[0].Detail != "ip=127.0.0.1" {
				t.Errorf("audit log = %+v, want one console.login by alice at %v from 127.0.0.1", log, t0)
			}
		})
	}
}

func TestLoginSignedInUserSeesNameAndDevices(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	r := h.get(c, "/")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/overview" {
		t.Fatalf("GET / = %d %q, want 303 /overview", r.StatusCode, r.Header.Get("Location"))
	}
	r = h.get(c, "/devices")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET /devices = %d", r.StatusCode)
	}
	if !strings.Contains(r.Body, `<span class="user" title="Signed in as analyst">analyst</span>`) {
		t.Errorf("header does not show the signed-in user:\n%s", r.Body)
	}
	// A signed-in user visiting /login goes straight to the overview.
	if r := h.get(c, "/login"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/overview" {
		t.Errorf("GET /login when signed in = %d %q, want 303 /overview", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t, false)
	h.addUser("alice", password, false)
	h.addUser("mallory", password, true)
	tests := []struct {
		name, username, password, reason string
	}{
		{"unknown user", "bob", password, `reason="unknown user"`},
		{"wrong password", "alice", "not the password!", `reason="wrong password"`},
		{"case of username matters", "ALICE", password, `reason="unknown user"`},
		{"disabled account with right password", "mallory", password, `reason="account disabled"`},
		{"empty username", "", password, `reason="username or password empty or too long"`},
		{"username too long", strings.Repeat("a", 129), password, `reason="username or password empty or too long"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.client()
			r := h.login(c, tt.username, tt.password)
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", r.StatusCode)
			}
			if !strings.Contains(r.Body, `<p class="alert" role="alert">Incorrect username or password.</p>`) {
				t.Errorf("page lacks the generic error message:\n%s", r.Body)
			}
			if ck := setCookie(t, r, sessionCookie); ck != nil {
				t.Errorf("failed login set a session cookie %+v", ck)
			}
			if !strings.Contains(h.logs.String(), tt.reason) {
				t.Errorf("log lacks %s:\n%s", tt.reason, h.logs.String())
			}
		})
	}
	if strings.Contains(h.logs.String(), password) || strings.Contains(h.logs.String(), "not the password!") {
		t.Errorf("a password reached the log:\n%s", h.logs.String())
	}
	if log, _ := h.store.AuditLog(context.Background(), 10); len(log) != 0 {
		t.Errorf("failed logins audited as %+v", log)
	}
}

func TestLoginRejectsMissingOrForgedCSRF(t *testing.T) {
	h := newHarness(t, false)
	h.addUser("alice", password, false)
	tests := []struct {
		name  string
		setup func(c *http.Client) string // returns the csrf form value
	}{
		{"no cookie, no field", func(*http.Client) string { return "" }},
		{"field without cookie", func(*http.Client) string {
			tok, _ := account.NewToken()
			return tok
		}},
		{"cookie without field", func(c *http.Client) string {
			h.get(c, "/login")
			return ""
		}},
		{"field differs from cookie", func(c *http.Client) string {
			h.get(c, "/login")
			tok, _ := account.NewToken()
			return tok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.client()
			tok := tt.setup(c)
			r := h.post(c, "/login", url.Values{"csrf": {tok}, "username": {"alice"}, "password": {password}})
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("status = %d, want 403", r.StatusCode)
			}
			if setCookie(t, r, sessionCookie) != nil {
				t.Fatal("session cookie set despite CSRF failure")
			}
			if !strings.Contains(r.Body, "The sign-in form expired. Please try again.") {
				t.Errorf("page lacks the explanation:\n%s", r.Body)
			}
			// The page offers a fresh form that works.
			fresh := setCookie(t, r, loginCSRFCookie)
			if fresh == nil || fresh.Value != h.csrfToken(r.Body) {
				t.Fatalf("403 page does not carry a fresh double-submit token")
			}
			r = h.post(c, "/login", url.Values{"csrf": {fresh.Value}, "username": {"alice"}, "password": {password}})
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("retry with the fresh form = %d, want 303", r.StatusCode)
			}
		})
	}
}

func TestLoginRateLimitLocksAfterTenFailures(t *testing.T) {
	h := newHarness(t, false)
	h.addUser("alice", password, false)
	c := h.client()
	for i := range 10 {
		if r := h.login(c, "alice", "wrong password "+string(rune('a'+i))); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.StatusCode)
		}
		h.clock.Advance(time.Minute)
	}
	// Locked now, even with the right password, and from another client (same address).
	r := h.login(h.client(), "alice", password)
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("11th attempt = %d, want 429", r.StatusCode)
	}
	if !strings.Contains(r.Body, "Too many failed sign-in attempts. Try again in 5 minutes.") {
		t.Errorf("429 page lacks the wait time:\n%s", r.Body)
	}
	// The first failure was at t0; it is now t0+10m: 5 minutes of the window remain.
	if got := r.Header.Get("Retry-After"); got != "300" {
		t.Errorf("Retry-After = %q, want 300", got)
	}
	if setCookie(t, r, sessionCookie) != nil {
		t.Fatal("locked login set a session cookie")
	}
	if !strings.Contains(h.logs.String(), `reason="rate limited" username=alice ip=127.0.0.1`) {
		t.Errorf("log lacks the rate limit:\n%s", h.logs.String())
	}
	h.clock.Advance(5 * time.Minute)
	if r := h.login(h.client(), "alice", password); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login after the window = %d, want 303\n%s", r.StatusCode, r.Body)
	}
}

func TestLogoutRequiresCSRFToken(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	sessionToken := h.cookie(c, sessionCookie).Value
	page := h.get(c, "/devices")
	token := h.csrfToken(page.Body)
	forged, _ := account.NewToken()

	for _, tt := range []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{}},
		{"empty token", url.Values{"csrf": {""}}},
		{"wrong token", url.Values{"csrf": {forged}}},
		{"token with a character changed", url.Values{"csrf": {token[:42] + string(token[42]^1)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(c, "/logout", tt.form)
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("POST /logout = %d, want 403", r.StatusCode)
			}
			if !strings.Contains(r.Body, "This form has expired or did not come from this console.") {
				t.Errorf("403 page lacks the explanation:\n%s", r.Body)
			}
			if _, err := h.store.Session(context.Background(), account.HashToken(sessionToken), t0); err != nil {
				t.Fatalf("session gone after a refused logout: %v", err)
			}
		})
	}

	r := h.post(c, "/logout", url.Values{"csrf": {token}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("POST /logout with token = %d %q, want 303 /login", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := setCookie(t, r, sessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", ck)
	}
	if _, err := h.store.Session(context.Background(), account.HashToken(sessionToken), t0); err != store.ErrNotFound {
		t.Fatalf("session after logout: %v, want ErrNotFound", err)
	}
	log, _ := h.store.AuditLog(context.Background(), 10)
	actions := []string{}
	for _, a := range log {
		actions = append(actions, a.Action+":"+a.Actor)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "console.logout:analyst") || !strings.Contains(got, "console.login:analyst") {
		t.Errorf("audit log = %s, want console.login and console.logout by analyst", got)
	}
	// The old cookie value no longer opens anything.
	replay := h.client()
	u, _ := url.Parse(h.srv.URL)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sessionToken}})
	if r := h.get(replay, "/devices"); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("replayed cookie after logout: GET /devices = %d %q, want 303 /login", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestSessionExpires(t *testing.T) {
	h := newHarness(t, false)
	c := h.signedIn()
	token := h.csrfToken(h.get(c, "/devices").Body)
	h.clock.Advance(12*time.Hour - time.Second)
	if r := h.get(c, "/devices"); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /devices one second before expiry = %d, want 200", r.StatusCode)
	}
	h.clock.Advance(time.Second)
	r := h.get(c, "/devices")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("GET /devices at expiry = %d %q, want 303 /login", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := setCookie(t, r, sessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("expired session cookie not cleared: %+v", ck)
	}
	// The cookie jar dropped it; a browser that kept it gets 401 on POST.
	c2 := h.signedIn2(t)
	h.clock.Advance(13 * time.Hour)
	if r := h.post(c2, "/logout", url.Values{"csrf": {token}}); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /logout with expired session = %d, want 401", r.StatusCode)
	}
}

// signedIn2 signs in a second user (signedIn has made "analyst" already).
func (h *harness) signedIn2(t *testing.T) *http.Client {
	h.addUser("second", password, false)
	c := h.client()
	if r := h.login(c, "second", password); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login second = %d", r.StatusCode)
	}
	return c
}

func TestPagesRequireSession(t *testing.T) {
	h := newHarness(t, false)
	c := h.client()
	tests := []struct {
		method, path string
		status       int
		location     string
	}{
		{"GET", "/", http.StatusSeeOther, "/login"},
		{"GET", "/devices", http.StatusSeeOther, "/login"},
		{"GET", "/devices/0123456789abcdef0123456789abcdef", http.StatusSeeOther, "/login"},
		{"GET", "/no/such/page", http.StatusSeeOther, "/login"},
		{"POST", "/logout", http.StatusUnauthorized, ""},
		{"POST", "/devices", http.StatusUnauthorized, ""},
		{"GET", "/login", http.StatusOK, ""},
		{"GET", "/healthz", http.StatusOK, ""},
		{"GET", "/static/console.css", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var r response
			if tt.method == "GET" {
				r = h.get(c, tt.path)
			} else {
				r = h.post(c, tt.path, url.Values{})
			}
			if r.StatusCode != tt.status || r.Header.Get("Location") != tt.location {
				t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, r.StatusCode, r.Header.Get("Location"), tt.status, tt.location)
			}
		})
	}
	// Garbage session cookies are treated as no session.
	u, _ := url.Parse(h.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: strings.Repeat("A", 43)}})
	if r := h.get(c, "/devices"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /devices with a made-up cookie = %d, want 303", r.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	h := newHarness(t, false)
	r := h.get(h.client(), "/healthz")
	if r.StatusCode != http.StatusOK || r.Body != "ok" {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", r.StatusCode, r.Body)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	for _, secure := range []bool{false, true} {
		h := newHarness(t, secure)
		signed := h.signedIn()
		anon := h.client()
		tests := []struct {
			path   string
			client *http.Client
			status int
			cache  string
		}{
			{"/healthz", anon, 200, "no-store"},
			{"/login", anon, 200, "no-store"},
			{"/devices", anon, 303, "no-store"},
			{"/devices", signed, 200, "no-store"},
			{"/devices/0123456789abcdef0123456789abcdef", signed, 404, "no-store"},
			{"/devices/NOT-AN-ID", signed, 400, "no-store"},
			{"/no/such/page", signed, 404, "no-store"},
			{"/static/console.css", anon, 200, "no-cache"},
			{"/static/", anon, 404, "no-cache"},
		}
		for _, tt := range tests {
			r := h.get(tt.client, tt.path)
			if r.StatusCode != tt.status {
				t.Errorf("secure=%v GET %s = %d, want %d", secure, tt.path, r.StatusCode, tt.status)
			}
			want := map[string]string{
				"Content-Security-Policy":   "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"X-Content-Type-Options":    "nosniff",
				"Referrer-Policy":           "no-referrer",
				"X-Frame-Options":           "DENY",
				"Cache-Control":             tt.cache,
				"Strict-Transport-Security": map[bool]string{false: "", true: "max-age=31536000"}[secure],
			}
			for k, v := range want {
				if got := r.Header.Get(k); got != v {
					t.Errorf("secure=%v GET %s: %s = %q, want %q", secure, tt.path, k, got, v)
				}
			}
		}
		css := h.get(anon, "/static/console.css")
		if ct := css.Header.Get("Content-Type"); ct != "text/css; charset=utf-8" || !strings.Contains(css.Body, ".sev-critical") {
			t.Errorf("console.css served as %q with body of %d bytes", ct, len(css.Body))
		}
		page := h.get(signed, "/devices")
		if ct := page.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("page Content-Type = %q", ct)
		}
		// The CSP forbids inline script and style: the pages must not need them.
		for _, bad := range []string{"<script", "style=", "<style", "onclick", "javascript:"} {
			if strings.Contains(page.Body, bad) || strings.Contains(h.get(anon, "/login").Body, bad) {
				t.Errorf("page contains %q, which the CSP blocks", bad)
			}
		}
	}
}
