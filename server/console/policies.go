package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// policyHistory is how many policy versions the policy page lists.
const policyHistory = 50

type policyVersion struct {
	Version   string
	CreatedBy string
	Activated stamp
	Current   bool
}

type policyData struct {
	Available bool   // a controller is connected: the policy in force is known
	Version   string // in force
	Source    string
	CanEdit   bool
	Draft     string // the edit form's text
	Problems  []policy.Problem
	Saved     bool
	History   []policyVersion
}

// policyPage is GET /policy.
func (c *Console) policyPage(w http.ResponseWriter, r *http.Request, s store.Session) {
	d, ok := c.policyData(w, r, s)
	if !ok {
		return
	}
	d.Saved = r.URL.Query().Get("saved") == "1"
	c.show(w, r, s, "policy", "Scoring policy", "policy", d)
}

func (c *Console) policyData(w http.ResponseWriter, r *http.Request, s store.Session) (policyData, bool) {
	var d policyData
	if c.policy != nil {
		if p := c.policy.Policy(); p != nil {
			d.Available = true
			d.Version, d.Source = p.Version(), string(p.Source())
			d.CanEdit = atLeast(r, store.RoleAdmin)
			d.Draft = d.Source
		}
	}
	hist, err := c.store.Policies(r.Context(), policyHistory)
	if err != nil {
		c.log.Error("console policy history", "err", err, "user", s.Username)
		c.renderError(w, r, http.StatusInternalServerError, "Policy unavailable", "The policy history could not be loaded. Try again in a moment.", s)
		return d, false
	}
	for _, h := range hist {
		d.History = append(d.History, policyVersion{Version: h.Version, CreatedBy: h.CreatedBy, Activated: c.stamp(h.ActivatedAt), Current: h.Version == d.Version})
	}
	if !d.Available && len(hist) > 0 {
		// No controller: show the newest stored version, read-only.
		d.Version, d.Source = hist[0].Version, string(hist[0].Content)
	}
	return d, true
}

// policyEdit is POST /policy (admins). The text is parsed as a whole; any problem keeps the
// running policy and shows every problem with its line.
func (c *Console) policyEdit(w http.ResponseWriter, r *http.Request, s store.Session) {
	if c.policy == nil || c.policy.Policy() == nil {
		c.renderError(w, r, http.StatusNotFound, "Not available", "This console is not connected to a collector, so the policy cannot be changed here.", s)
		return
	}
	text := strings.ReplaceAll(r.PostForm.Get("policy"), "\r\n", "\n")
	d, ok := c.policyData(w, r, s)
	if !ok {
		return
	}
	d.Draft = text
	var p *policy.Policy
	var err error
	if len(text) > policy.MaxSize {
		d.Problems = []policy.Problem{{Reason: "the policy is larger than 1 MiB"}}
	} else if p, err = policy.Parse([]byte(text)); err != nil {
		var perr *policy.Error
		if errors.As(err, &perr) {
			d.Problems = perr.Problems
		} else {
			d.Problems = []policy.Problem{{Reason: err.Error()}}
		}
	}
	if d.Problems != nil {
		c.log.Info("console policy edit rejected", "user", s.Username, "problems", len(d.Problems))
		c.render(w, r, http.StatusUnprocessableEntity, "policy", page{Title: "Scoring policy", User: s.Username, CSRF: s.CSRFToken, Nav: "policy", Role: roleOf(r), Body: d})
		return
	}
	if err := c.policy.SetPolicy(r.Context(), p, "user:"+s.Username); err != nil {
		c.log.Error("console policy edit: apply", "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Policy not applied", "The policy is valid but could not be put in force; the running policy is unchanged. Try again in a moment.", s)
		return
	}
	c.log.Info("console policy applied", "user", s.Username, "version", p.Version())
	http.Redirect(w, r, "/policy?saved=1", http.StatusSeeOther)
}
