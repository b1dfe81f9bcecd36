package console

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

// Messages shown on the sign-in page. One message for every kind of bad credentials, so the
// page does not tell which usernames exist or which accounts are disabled.
const (
	msgBadCredentials = "Incorrect username or password."
	msgFormExpired    = "The sign-in form expired. Please try again."
	msgUnavailable    = "Sign-in is unavailable right now. Try again in a moment."
)

type loginData struct {
	Username string
	Error    string
	SSO      bool // offer "Sign in with SSO"
}

// loginForm shows the sign-in form, or sends a signed-in user to the device list.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil && len(ck.Value) == account.TokenLen {
		if _, err := c.store.Session(r.Context(), account.HashToken(ck.Value), c.now()); err == nil {
			http.Redirect(w, r, landingPage, http.StatusSeeOther)
			return
		}
	}
	c.renderLogin(w, r, http.StatusOK, loginData{})
}

// renderLogin renders the form with a login CSRF token: the one in the request's cookie when it
// is well formed, else a new one (double-submit: the form field must equal the cookie).
func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.SSO = c.oidc != nil
	c.renderLoginToken(w, r, status, d, false)
}

func (c *Console) renderLoginToken(w http.ResponseWriter, r *http.Request, status int, d loginData, fresh bool) {
	token := ""
	if ck, err := r.Cookie(loginCSRFCookie); err == nil && len(ck.Value) == account.TokenLen && !fresh {
		token = ck.Value
	} else {
		var err error
		if token, err = account.NewToken(); err != nil {
			c.log.Error("console login form: new CSRF token", "err", err)
			c.renderError(w, r, http.StatusInternalServerError, "Console unavailable", msgUnavailable, store.Session{})
			return
		}
		http.SetCookie(w, c.cookie(loginCSRFCookie, token, 0))
	}
	d.SSO = c.oidc != nil
	c.render(w, r, status, "login", page{Title: "Sign in", CSRF: token, Body: d})
}

// login checks credentials and starts a session.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The sign-in form could not be read.", store.Session{})
		return
	}
	ip := clientIP(r)
	username := r.PostForm.Get("username")
	logName := username[:min(len(username), maxUsernameBytes)]
	password := r.PostForm.Get("password")
	form := loginData{Username: username}
	if len(form.Username) > maxUsernameBytes {
		form.Username = ""
	}

	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || !tokensEqual(r.PostForm.Get(csrfField), ck.Value) {
		c.log.Warn("console login rejected", "reason", "login CSRF token mismatch", "ip", ip)
		form.Error = msgFormExpired
		// Start over with a fresh token: the old one may be what went wrong.
		c.renderLoginToken(w, r, http.StatusForbidden, form, true)
		return
	}

	if ok, retry := c.limiter.Allow(ip, username); !ok {
		minutes := int(math.Ceil(retry.Minutes()))
		c.log.Warn("console login rejected", "reason", "rate limited", "username", logName, "ip", ip, "retry_after", retry.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
		form.Error = fmt.Sprintf("Too many failed sign-in attempts. Try again in %d minute%s.", minutes, plural(minutes))
		c.renderLogin(w, r, http.StatusTooManyRequests, form)
		return
	}

	user, reason, err := c.checkCredentials(r, username, password)
	if err != nil {
		c.log.Error("console login failed", "reason", reason, "username", logName, "ip", ip, "err", err)
		form.Error = msgUnavailable
		c.renderLogin(w, r, http.StatusInternalServerError, form)
		return
	}
	if reason != "" {
		c.limiter.Failure(ip, username)
		c.log.Warn("console login failed", "reason", reason, "username", logName, "ip", ip)
		form.Error = msgBadCredentials
		c.renderLogin(w, r, http.StatusUnauthorized, form)
		return
	}
	c.limiter.Success(ip, username)

	if err := c.startSession(w, r, user.Username, ""); err != nil {
		c.log.Error("console login: start session", "username", user.Username, "ip", ip, "err", err)
		form.Error = msgUnavailable
		c.renderLogin(w, r, http.StatusInternalServerError, form)
		return
	}
	c.log.Info("console login", "username", user.Username, "ip", ip)
	http.SetCookie(w, c.cookie(loginCSRFCookie, "", -1))
	http.Redirect(w, r, landingPage, http.StatusSeeOther)
}

// checkCredentials returns the user when username and password are right; otherwise a reason
// for the log (never shown to the client). err is set only when the check itself failed.
// Every path that reaches the store derives one argon2id key, so response time does not tell
// unknown users from wrong passwords.
func (c *Console) checkCredentials(r *http.Request, username, password string) (store.User, string, error) {
	if username == "" || len(username) > maxUsernameBytes || len(password) > account.MaxPasswordBytes {
		_, _ = account.Verify(c.dummyHash, password[:min(len(password), account.MaxPasswordBytes)])
		return store.User{}, "username or password empty or too long", nil
	}
	if isSSOUser(username) {
		// Single sign-on accounts have no password anyone knows; say so in the log only.
		_, _ = account.Verify(c.dummyHash, password)
		return store.User{}, "password sign-in to an SSO account", nil
	}
	user, err := c.store.User(r.Context(), username)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = account.Verify(c.dummyHash, password)
		return store.User{}, "unknown user", nil
	}
	if err != nil {
		return store.User{}, "store error", fmt.Errorf("look up user: %w", err)
	}
	ok, err := account.Verify(user.PasswordHash, password)
	if err != nil {
		// A broken stored hash locks the account out; say so in the log for the admin.
		return store.User{}, fmt.Sprintf("stored password hash unusable: %v", err), nil
	}
	if !ok {
		return store.User{}, "wrong password", nil
	}
	if user.Disabled {
		return store.User{}, "account disabled", nil
	}
	return user, "", nil
}

// startSession creates a session for username, audits the login and sets the session cookie.
// via names how the user proved who they are when it was not a password ("oidc").
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, username, via string) error {
	token, err := account.NewToken()
	if err != nil {
		return err
	}
	csrf, err := account.NewToken()
	if err != nil {
		return err
	}
	now := c.now()
	s := store.Session{
		IDHash:    account.HashToken(token),
		Username:  username,
		CSRFToken: csrf,
		CreatedAt: now,
		ExpiresAt: now.Add(c.ttl),
	}
	if err := c.store.CreateSession(r.Context(), s); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	// A login that cannot be audited does not happen.
	detail := "ip=" + clientIP(r)
	if via != "" {
		detail += " via=" + via
	}
	if err := c.audit(r.Context(), username, "console.login", username, detail); err != nil {
		if derr := c.store.DeleteSession(r.Context(), s.IDHash); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete unaudited session: %w", derr))
		}
		return err
	}
	http.SetCookie(w, c.cookie(sessionCookie, token, c.ttl))
	return nil
}

// logout ends the session (the CSRF token was checked by auth).
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s store.Session) {
	if err := c.store.DeleteSession(r.Context(), s.IDHash); err != nil {
		c.log.Error("console logout: delete session", "username", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Sign-out failed",
			"The console could not end your session. Try again in a moment.", s)
		return
	}
	if err := c.audit(r.Context(), s.Username, "console.logout", s.Username, "ip="+clientIP(r)); err != nil {
		c.log.Error("console logout", "username", s.Username, "err", err)
	}
	c.log.Info("console logout", "username", s.Username, "ip", clientIP(r))
	http.SetCookie(w, c.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
