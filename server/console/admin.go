package console

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/server/account"
	"github.com/farmwatch/farmwatch/server/store"
)

const (
	auditPageSize = 100
	// maxAuditPage follows from the store's AuditLog limit (10,000 entries).
	maxAuditPage = 100
)

var (
	// secretRefPattern is an enroll secret id or name as the CLI makes them.
	secretRefPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	// usernamePattern is the CLI's rule for usernames.
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)
)

// userDisabler is implemented by stores that can disable accounts. store.Store has no such
// method yet; the users page offers "Disable" only when the store has one.
type userDisabler interface {
	SetUserDisabled(ctx context.Context, username string, disabled bool) error
}

// adminNotices are the only texts an admin action's redirect can show.
var adminNotices = map[string]string{
	"revoked":  "Enroll secret revoked. Devices it enrolled keep working.",
	"disabled": "Account disabled. Its sessions end with their next request.",
}

type secretView struct {
	ID, Name, Group, CreatedBy string
	Created, LastUsed, Revoked stamp
	Active                     bool
	Uses                       int
}

type secretsData struct {
	Secrets []secretView
	Notice  string
	// New is the value of a secret just created: shown once, on this response only.
	New, NewName, Error string
	Name, Group         string // the create form as typed, after an error
}

// secretList is GET /admin/secrets.
func (c *Console) secretList(w http.ResponseWriter, r *http.Request, s store.Session) {
	c.renderSecrets(w, r, s, http.StatusOK, secretsData{Notice: adminNotices[r.URL.Query().Get("done")]})
}

func (c *Console) renderSecrets(w http.ResponseWriter, r *http.Request, s store.Session, status int, d secretsData) {
	secrets, err := c.store.EnrollSecrets(r.Context())
	if err != nil {
		c.log.Error("console enroll secrets", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The enroll secrets could not be loaded. Try again in a moment.", s)
		return
	}
	for _, e := range secrets {
		d.Secrets = append(d.Secrets, secretView{ID: e.ID, Name: e.Name, Group: e.Group, CreatedBy: e.CreatedBy,
			Created: c.stamp(e.CreatedAt), LastUsed: c.stamp(e.LastUsed), Revoked: c.stamp(e.RevokedAt), Active: e.Active(), Uses: e.Uses})
	}
	c.render(w, r, status, "secrets", page{Title: "Enroll secrets", User: s.Username, CSRF: s.CSRFToken, Nav: "secrets", Role: roleOf(r), Body: d})
}

// newSecret makes an enroll secret's id and value as the CLI does: the collector finds a
// secret by the SHA-256 of its value (collector.HashSecret).
func newSecret() (id, value string, hash []byte, err error) {
	raw := make([]byte, 8+32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", nil, err
	}
	id = "es_" + hex.EncodeToString(raw[:8])
	value = "fwe_" + base64.RawURLEncoding.EncodeToString(raw[8:])
	sum := sha256.Sum256([]byte(value))
	return id, value, sum[:], nil
}

// secretCreate is POST /admin/secrets. The page it answers with is the only place the value
// is ever shown; the store keeps its hash.
func (c *Console) secretCreate(w http.ResponseWriter, r *http.Request, s store.Session) {
	d := secretsData{Name: strings.TrimSpace(r.PostForm.Get("name")), Group: strings.TrimSpace(r.PostForm.Get("group"))}
	switch {
	case d.Name != "" && !secretRefPattern.MatchString(d.Name):
		d.Error = "A name is up to 64 letters, digits, '.', '_' or '-'."
	case d.Group != "" && !groupPattern.MatchString(d.Group):
		d.Error = "A group is up to 64 letters, digits, '.', '_' or '-'."
	}
	if d.Error != "" {
		c.renderSecrets(w, r, s, http.StatusBadRequest, d)
		return
	}
	id, value, hash, err := newSecret()
	if err != nil {
		c.log.Error("console create enroll secret: random", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Secret not created", "The enroll secret could not be created. Try again in a moment.", s)
		return
	}
	name := cmp.Or(d.Name, id)
	ctx := r.Context()
	err = c.store.CreateEnrollSecret(ctx, store.EnrollSecret{ID: id, Name: name, Hash: hash, CreatedAt: c.now(), CreatedBy: s.Username, Group: d.Group})
	if errors.Is(err, store.ErrExists) {
		d.Error = "An enroll secret with that name exists already."
		c.renderSecrets(w, r, s, http.StatusConflict, d)
		return
	}
	if err != nil {
		c.log.Error("console create enroll secret", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Secret not created", "The enroll secret could not be created. Try again in a moment.", s)
		return
	}
	if err := c.audit(ctx, s.Username, "enroll_secret.create", id, name); err != nil {
		// Without an audit entry the secret must not be usable: revoke it at once.
		if _, rerr := c.store.RevokeEnrollSecret(ctx, id, c.now()); rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke unaudited secret: %w", rerr))
		}
		c.log.Error("console create enroll secret: audit", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Secret not created", "The enroll secret could not be recorded in the audit log, so it was revoked. Try again in a moment.", s)
		return
	}
	c.log.Info("enroll secret created", "id", id, "user", s.Username)
	c.renderSecrets(w, r, s, http.StatusOK, secretsData{New: value, NewName: name})
}

// secretRevoke is POST /admin/secrets/{id}/revoke.
func (c *Console) secretRevoke(w http.ResponseWriter, r *http.Request, s store.Session) {
	id := r.PathValue("id")
	if !secretRefPattern.MatchString(id) {
		c.renderError(w, r, http.StatusBadRequest, "Bad secret id", "An enroll secret id is up to 64 letters, digits, '.', '_' or '-'.", s)
		return
	}
	ctx := r.Context()
	e, err := c.store.RevokeEnrollSecret(ctx, id, c.now())
	if errors.Is(err, store.ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, "Secret not found", "There is no enroll secret with that id.", s)
		return
	}
	if err != nil {
		c.log.Error("console revoke enroll secret", "id", id, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Secret not revoked", "The enroll secret could not be revoked. Try again in a moment.", s)
		return
	}
	if err := c.audit(ctx, s.Username, "enroll_secret.revoke", e.ID, e.Name); err != nil {
		c.log.Error("console revoke enroll secret: audit", "id", id, "err", err)
	}
	http.Redirect(w, r, "/admin/secrets?done=revoked", http.StatusSeeOther)
}

type userView struct {
	Username, Role string
	Created        stamp
	Disabled, Self bool
	SSO            bool // signs in through the identity provider only
}

type usersData struct {
	Users      []userView
	Roles      []string
	CanDisable bool
	Notice     string
	// NewUser and Password are the account just created and its generated password, shown
	// once on this response only.
	NewUser, Password string
	Error             string
	Username, Role    string // the form as typed, after an error
}

// userList is GET /admin/users.
func (c *Console) userList(w http.ResponseWriter, r *http.Request, s store.Session) {
	c.renderUsers(w, r, s, http.StatusOK, usersData{Notice: adminNotices[r.URL.Query().Get("done")]})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, s store.Session, status int, d usersData) {
	users, err := c.store.Users(r.Context())
	if err != nil {
		c.log.Error("console users", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The users could not be loaded. Try again in a moment.", s)
		return
	}
	_, d.CanDisable = c.store.(userDisabler)
	d.Roles = []string{store.RoleViewer, store.RoleAnalyst, store.RoleAdmin}
	if d.Role == "" {
		d.Role = store.RoleViewer
	}
	for _, u := range users {
		d.Users = append(d.Users, userView{Username: u.Username, Role: u.Role, Created: c.stamp(u.CreatedAt), Disabled: u.Disabled, Self: u.Username == s.Username, SSO: isSSOUser(u.Username)})
	}
	c.render(w, r, status, "users", page{Title: "Users", User: s.Username, CSRF: s.CSRFToken, Nav: "users", Role: roleOf(r), Body: d})
}

// userCreate is POST /admin/users: a new account with a generated password, shown once.
func (c *Console) userCreate(w http.ResponseWriter, r *http.Request, s store.Session) {
	d := usersData{Username: strings.TrimSpace(r.PostForm.Get("username")), Role: r.PostForm.Get("role")}
	switch {
	case !usernamePattern.MatchString(d.Username):
		d.Error = "A username is 1 to 64 letters, digits, '.', '_', '-' or '@'."
	case !store.ValidRole(d.Role):
		d.Error = "Choose a role: viewer, analyst or admin."
	}
	if d.Error != "" {
		c.renderUsers(w, r, s, http.StatusBadRequest, d)
		return
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		c.log.Error("console add user: random", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "User not added", "The account could not be created. Try again in a moment.", s)
		return
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := account.Hash(password)
	if err != nil {
		c.log.Error("console add user: hash", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "User not added", "The account could not be created. Try again in a moment.", s)
		return
	}
	ctx := r.Context()
	err = c.store.CreateUser(ctx, store.User{Username: d.Username, PasswordHash: hash, Role: d.Role, CreatedAt: c.now()})
	if errors.Is(err, store.ErrExists) {
		d.Error = "A user with that name exists already."
		c.renderUsers(w, r, s, http.StatusConflict, d)
		return
	}
	if err != nil {
		c.log.Error("console add user", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "User not added", "The account could not be created. Try again in a moment.", s)
		return
	}
	if err := c.audit(ctx, s.Username, "user.add", d.Username, d.Role); err != nil {
		c.log.Error("console add user: audit", "user", d.Username, "err", err)
	}
	c.log.Info("console user added", "user", d.Username, "role", d.Role, "by", s.Username)
	c.renderUsers(w, r, s, http.StatusOK, usersData{NewUser: d.Username, Password: password})
}

// userDisable is POST /admin/users/{name}/disable, when the store can disable accounts.
func (c *Console) userDisable(w http.ResponseWriter, r *http.Request, s store.Session) {
	dis, ok := c.store.(userDisabler)
	if !ok {
		c.renderError(w, r, http.StatusNotImplemented, "Not available", "This collector's store cannot disable accounts.", s)
		return
	}
	name := r.PathValue("name")
	if !usernamePattern.MatchString(name) && !(isSSOUser(name) && ssoNamePattern.MatchString(name[len(ssoPrefix):])) {
		c.renderError(w, r, http.StatusBadRequest, "Bad username", "A username is 1 to 64 letters, digits, '.', '_', '-' or '@'.", s)
		return
	}
	if name == s.Username {
		c.renderError(w, r, http.StatusBadRequest, "Not allowed", "You cannot disable your own account.", s)
		return
	}
	ctx := r.Context()
	if err := dis.SetUserDisabled(ctx, name, true); errors.Is(err, store.ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, "User not found", "There is no user with that name.", s)
		return
	} else if err != nil {
		c.log.Error("console disable user", "user", name, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "User not disabled", "The account could not be disabled. Try again in a moment.", s)
		return
	}
	if err := c.audit(ctx, s.Username, "user.disable", name, ""); err != nil {
		c.log.Error("console disable user: audit", "user", name, "err", err)
	}
	http.Redirect(w, r, "/admin/users?done=disabled", http.StatusSeeOther)
}

type auditView struct {
	At                            stamp
	Actor, Action, Target, Detail string
	DeviceLink                    bool
}

type auditData struct {
	Entries          []auditView
	Page             int
	PrevURL, NextURL string
	From, To         int
}

// auditPage is GET /admin/audit: the audit log, newest first, a page at a time.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, s store.Session) {
	pg := 1
	if p := r.URL.Query().Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxAuditPage {
			c.renderError(w, r, http.StatusBadRequest, "Bad request", fmt.Sprintf("The page number must be a whole number from 1 to %d.", maxAuditPage), s)
			return
		}
		pg = n
	}
	// The store pages by limit only: read through this page and one entry more.
	entries, err := c.store.AuditLog(r.Context(), min(pg*auditPageSize+1, maxAuditPage*auditPageSize))
	if err != nil {
		c.log.Error("console audit log", "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The audit log could not be loaded. Try again in a moment.", s)
		return
	}
	d := auditData{Page: pg}
	start := (pg - 1) * auditPageSize
	if start < len(entries) {
		for _, a := range entries[start:min(len(entries), start+auditPageSize)] {
			d.Entries = append(d.Entries, auditView{At: c.stamp(a.At), Actor: a.Actor, Action: a.Action, Target: a.Target, Detail: a.Detail,
				DeviceLink: strings.HasPrefix(a.Action, "device.") && deviceIDPattern.MatchString(a.Target)})
		}
		d.From, d.To = start+1, start+len(d.Entries)
	}
	if pg > 1 {
		d.PrevURL = "/admin/audit"
		if pg > 2 {
			d.PrevURL += "?page=" + strconv.Itoa(pg-1)
		}
	}
	if len(entries) > pg*auditPageSize && pg < maxAuditPage {
		d.NextURL = "/admin/audit?page=" + strconv.Itoa(pg+1)
	}
	c.show(w, r, s, "audit", "Audit log", "audit", d)
}
