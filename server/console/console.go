// Package console is the collector's web console: server-rendered HTML pages for the security
// team (sign-in, the device list, one device with its findings and facts). Everything a device
// reported is untrusted and reaches the page only through html/template's contextual escaping.
// Pages need a session; every POST needs the session's CSRF token.
package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// Cookie names.
const (
	sessionCookie   = "fw_session"
	loginCSRFCookie = "fw_login_csrf"
	csrfField       = "csrf"
	maxFormBytes    = 16 << 10
	// maxPolicyFormBytes fits the largest policy file, percent-encoded.
	maxPolicyFormBytes = 3*policy.MaxSize + maxFormBytes
	defaultTTL         = 12 * time.Hour
	maxUsernameBytes   = 128
)

// contentSecurityPolicy allows only our own stylesheet: no scripts at all, no framing, forms
// post only to us.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure a Console.
type Options struct {
	Store  store.Store
	Logger *slog.Logger // nil discards
	// SecureCookies marks cookies Secure and sends HSTS; set it when the console is served over TLS.
	SecureCookies bool
	Now           func() time.Time // nil means time.Now
	SessionTTL    time.Duration    // default 12h
	// Agents reaches connected agents (the collector's push stream); nil hides "Scan now".
	Agents Agents
	// Policy is the scoring policy in force and the way to change it; nil shows only the
	// stored history and hides editing.
	Policy PolicyController
	// Catalog returns the signature catalog in force; nil means catalog.Default.
	Catalog func() (*catalog.Catalog, error)
	// Catalogs holds the catalog document in force, its history and the way to change it
	// (the collector implements it); nil shows Catalog read-only.
	Catalogs CatalogController
	// OIDC turns on single sign-on beside local accounts; nil means local accounts only.
	OIDC *OIDCConfig
}

// PolicyController holds the scoring policy in force (the collector implements it).
type PolicyController interface {
	// Policy returns the policy in force; nil when none is loaded yet.
	Policy() *policy.Policy
	// SetPolicy records p in the policy history, audits the change under actor and puts p in
	// force. The console calls it only with a policy that policy.Parse accepted.
	SetPolicy(ctx context.Context, p *policy.Policy, actor string) error
}

// Agents pushes messages to connected agents.
type Agents interface {
	// Push queues p for the device and reports whether it has an open push stream.
	Push(deviceID string, p *pb.Push) bool
}

// Console serves the web console. Create it with New.
type Console struct {
	store     store.Store
	agents    Agents
	policy    PolicyController
	catalog   func() (*catalog.Catalog, error)
	catalogs  CatalogController
	oidc      *oidcProvider // nil without single sign-on
	log       *slog.Logger
	secure    bool
	now       func() time.Time
	ttl       time.Duration
	limiter   *account.Limiter
	dummyHash string // verified against for unknown users, so timing does not tell who exists
	pages     *pages
	handler   http.Handler
}

// New builds a console over opts.Store. It parses the embedded templates and computes one
// password hash (tens of milliseconds).
func New(opts Options) (*Console, error) {
	if opts.Store == nil {
		return nil, errors.New("console: no store")
	}
	c := &Console{
		store:    opts.Store,
		agents:   opts.Agents,
		policy:   opts.Policy,
		catalog:  opts.Catalog,
		catalogs: opts.Catalogs,
		log:      opts.Logger,
		secure:   opts.SecureCookies,
		now:      opts.Now,
		ttl:      opts.SessionTTL,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ttl <= 0 {
		c.ttl = defaultTTL
	}
	if c.catalog == nil {
		c.catalog = catalog.Default
	}
	if opts.OIDC != nil {
		var err error
		if c.oidc, err = newOIDCProvider(*opts.OIDC, c.now); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
	}
	c.limiter = account.NewLimiter(account.LimiterConfig{Now: c.now})
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	// The dummy password is random so no one can sign in as a nonexistent user by guessing it.
	dummy, err := account.NewToken()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if c.dummyHash, err = account.Hash(dummy); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	c.handler = c.securityHeaders(c.routes())
	return c, nil
}

// Handler returns the console's HTTP handler, to be mounted at the root of a server.
func (c *Console) Handler() http.Handler { return c.handler }

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok")
	})
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /login", c.loginForm)
	mux.HandleFunc("POST /login", c.login)
	if c.oidc != nil {
		mux.HandleFunc("GET "+oidcCookiePath, c.oidcStart)
		mux.HandleFunc("GET "+oidcCallbackPath, c.oidcCallback)
	}
	mux.Handle("POST /logout", c.auth(c.logout))
	mux.Handle("GET /{$}", c.auth(func(w http.ResponseWriter, r *http.Request, _ store.Session) {
		http.Redirect(w, r, landingPage, http.StatusSeeOther)
	}))
	mux.Handle("GET /overview", c.auth(c.overview))
	mux.Handle("GET /devices", c.auth(c.deviceList))
	mux.Handle("GET /devices/{id}", c.auth(c.devicePage))
	mux.Handle("POST /devices/{id}/scan", c.auth(c.scanNow))
	mux.Handle("POST /devices/{id}/triage", c.authRole(store.RoleAnalyst, c.setTriage))
	mux.Handle("POST /devices/{id}/notes", c.authRole(store.RoleAnalyst, c.addNote))
	mux.Handle("GET /clusters", c.auth(c.clusterList))
	mux.Handle("GET /policy", c.auth(c.policyPage))
	mux.Handle("POST /policy", c.guard(maxPolicyFormBytes, store.RoleAdmin, c.policyEdit))
	mux.Handle("GET /catalog", c.auth(c.catalogPage))
	mux.Handle("GET /catalog/document", c.auth(c.catalogDocument))
	mux.Handle("POST /catalog", c.guard(maxCatalogFormBytes, store.RoleAdmin, c.catalogEdit))
	mux.Handle("GET /admin/secrets", c.authRole(store.RoleAdmin, c.secretList))
	mux.Handle("POST /admin/secrets", c.authRole(store.RoleAdmin, c.secretCreate))
	mux.Handle("POST /admin/secrets/{id}/revoke", c.authRole(store.RoleAdmin, c.secretRevoke))
	mux.Handle("GET /admin/users", c.authRole(store.RoleAdmin, c.userList))
	mux.Handle("POST /admin/users", c.authRole(store.RoleAdmin, c.userCreate))
	mux.Handle("POST /admin/users/{name}/disable", c.authRole(store.RoleAdmin, c.userDisable))
	mux.Handle("GET /admin/audit", c.authRole(store.RoleAdmin, c.auditPage))
	// Everything else is a 404, but only for signed-in users: strangers learn nothing of the URL space.
	mux.Handle("/", c.auth(func(w http.ResponseWriter, r *http.Request, s store.Session) {
		c.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.", s)
	}))
	return mux
}

// securityHeaders sets the headers every response carries.
func (c *Console) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if c.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		// Pages show fleet data and carry CSRF tokens: never cache them. The stylesheet may be
		// cached but must be revalidated, as its URL does not change between releases.
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type authedFunc func(w http.ResponseWriter, r *http.Request, s store.Session)

// landingPage is where a signed-in user starts.
const landingPage = "/overview"

// roleKey carries the signed-in user's role in the request context, for handlers and for the
// layout's role-aware navigation.
type roleKey struct{}

// roleOf is the signed-in user's role, or "" outside auth.
func roleOf(r *http.Request) string {
	role, _ := r.Context().Value(roleKey{}).(string)
	return role
}

// roleRank orders roles by privilege; unknown roles rank below viewer and may do nothing.
func roleRank(role string) int {
	switch role {
	case store.RoleViewer:
		return 1
	case store.RoleAnalyst:
		return 2
	case store.RoleAdmin:
		return 3
	}
	return 0
}

// atLeast says whether the request's user holds role or a more privileged one.
func atLeast(r *http.Request, role string) bool { return roleRank(roleOf(r)) >= roleRank(role) }

// authRole is auth for actions that need at least role. The role is checked on the server for
// every request: hiding a form is only a courtesy.
func (c *Console) authRole(role string, h authedFunc) http.Handler {
	return c.guard(maxFormBytes, role, h)
}

// auth runs h only for requests with a live session, and, for anything but GET and HEAD, with
// the session's CSRF token in the form. Without a session a GET is sent to the sign-in page;
// other methods get 401.
func (c *Console) auth(h authedFunc) http.Handler { return c.guard(maxFormBytes, "", h) }

// guard is auth with a form size limit and, unless role is empty, a least role. The user's
// role is read on every request, so a changed role or a disabled account takes effect at once.
func (c *Console) guard(limit int64, role string, h authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(w, r)
		if !ok {
			return
		}
		u, err := c.store.User(r.Context(), s.Username)
		if err != nil {
			c.log.Error("console user lookup failed", "user", s.Username, "err", err, "path", r.URL.Path)
			c.renderError(w, r, http.StatusInternalServerError, "Console unavailable",
				"The console could not check your account. Try again in a moment.", store.Session{})
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), roleKey{}, u.Role))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := parseForm(r, limit); err != nil {
				if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
					c.renderError(w, r, http.StatusRequestEntityTooLarge, "Too large", "The form is larger than this page accepts.", s)
					return
				}
				c.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.", s)
				return
			}
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
			if !tokensEqual(r.PostForm.Get(csrfField), s.CSRFToken) {
				c.log.Warn("console request rejected: CSRF token mismatch",
					"user", s.Username, "method", r.Method, "path", r.URL.Path, "ip", clientIP(r))
				c.renderError(w, r, http.StatusForbidden, "Request refused",
					"This form has expired or did not come from this console. Go back, reload the page and try again.", s)
				return
			}
		}
		if role != "" && !atLeast(r, role) {
			c.log.Warn("console request refused: role", "user", s.Username, "role", roleOf(r), "need", role, "method", r.Method, "path", r.URL.Path)
			c.renderError(w, r, http.StatusForbidden, "Not allowed", "This needs the "+role+" role or higher.", s)
			return
		}
		h(w, r, s)
	})
}

// parseForm reads a POST's form. Only the pages that accept large forms (file uploads) take
// multipart bodies, and those are kept in memory: limit already bounds them.
func parseForm(r *http.Request, limit int64) error {
	if limit > maxFormBytes {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
			return r.ParseMultipartForm(limit)
		}
	}
	return r.ParseForm()
}

// session finds the request's live session. When there is none it answers the request itself
// and returns false.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	var s store.Session
	token := ""
	if ck, err := r.Cookie(sessionCookie); err == nil && len(ck.Value) == account.TokenLen {
		token = ck.Value
	}
	if token != "" {
		var err error
		s, err = c.store.Session(r.Context(), account.HashToken(token), c.now())
		switch {
		case err == nil:
			return s, true
		case errors.Is(err, store.ErrNotFound):
			// Expired, signed out or never existed: fall through to the sign-in page.
		default:
			c.log.Error("console session lookup failed", "err", err, "path", r.URL.Path)
			c.renderError(w, r, http.StatusInternalServerError, "Console unavailable",
				"The console could not check your session. Try again in a moment.", store.Session{})
			return s, false
		}
	}
	if _, err := r.Cookie(sessionCookie); err == nil {
		http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	} else {
		c.renderError(w, r, http.StatusUnauthorized, "Signed out",
			"Your session has ended. Sign in again to continue.", store.Session{})
	}
	return s, false
}

// cookie makes one of our cookies; maxAge < 0 deletes it.
func (c *Console) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   c.secure,
		SameSite: http.SameSiteStrictMode,
	}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
		ck.Expires = time.Unix(1, 0)
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
		ck.Expires = c.now().Add(maxAge)
	}
	return ck
}

func tokensEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// clientIP is the address the request came from. Headers such as X-Forwarded-For are ignored:
// they are the client's to forge, and the console is not meant to sit behind a proxy.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit records an action in the store's audit log.
func (c *Console) audit(ctx context.Context, actor, action, target, detail string) error {
	err := c.store.Audit(ctx, store.AuditEntry{At: c.now(), Actor: actor, Action: action, Target: target, Detail: detail})
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}
