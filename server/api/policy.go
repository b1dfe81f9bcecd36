package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// policyTypes are the media types a policy PUT may declare.
var policyTypes = map[string]bool{"application/yaml": true, "application/x-yaml": true, "text/yaml": true, "text/plain": true}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	p := a.policy.Policy()
	if p == nil {
		writeError(w, http.StatusServiceUnavailable, "no policy in force yet")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Version string `json:"version"`
		Source  string `json:"source"`
	}{p.Version(), string(p.Source())})
}

// putPolicy validates a policy file and puts it in force. A file with any problem changes
// nothing and is answered with every problem and its line.
func (a *API) putPolicy(w http.ResponseWriter, r *http.Request, t store.APIToken) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || !policyTypes[mt] {
		writeError(w, http.StatusUnsupportedMediaType, "request body must be the policy file as application/yaml or text/plain")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("policy is larger than %d bytes", maxBody))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	p, err := policy.Parse(body)
	if err != nil {
		out := errorBody{Error: err.Error(), Problems: []problemJSON{}}
		var pe *policy.Error
		if errors.As(err, &pe) {
			out.Error = fmt.Sprintf("policy rejected: %d problem(s)", len(pe.Problems))
			for _, pr := range pe.Problems {
				out.Problems = append(out.Problems, problemJSON{Line: pr.Line, Path: pr.Path, Reason: pr.Reason})
			}
		}
		a.log.Info("api policy rejected", "by", actor(t), "err", err)
		writeJSON(w, http.StatusUnprocessableEntity, out)
		return
	}
	previous := ""
	if old := a.policy.Policy(); old != nil {
		previous = old.Version()
	}
	if err := a.policy.SetPolicy(r.Context(), p, actor(t)); err != nil {
		a.internal(w, r, "set policy", err)
		return
	}
	if err := a.audit(r.Context(), t, "api.policy.put", p.Version(), "previous "+previous); err != nil {
		a.internal(w, r, "policy "+p.Version()+" set but not audited", err)
		return
	}
	a.log.Info("api policy put", "version", p.Version(), "previous", previous, "by", actor(t))
	writeJSON(w, http.StatusOK, struct {
		Version  string `json:"version"`
		Previous string `json:"previous"`
		Changed  bool   `json:"changed"`
	}{p.Version(), previous, p.Version() != previous})
}

func (a *API) policyHistory(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	limit, err := intParam(r.URL.Query(), "limit", 50, 1, 1000)
	if err != nil {
		writeParamError(w, err)
		return
	}
	ps, err := a.store.Policies(r.Context(), limit)
	if err != nil {
		a.internal(w, r, "policy history", err)
		return
	}
	out := make([]policyRecordJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyRecordJSON{Version: p.Version, CreatedAt: p.CreatedAt.UTC(), CreatedBy: p.CreatedBy, ActivatedAt: p.ActivatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, struct {
		Policies []policyRecordJSON `json:"policies"`
	}{out})
}

func (a *API) auditLog(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	limit, err := intParam(r.URL.Query(), "limit", 100, 1, 10000)
	if err != nil {
		writeParamError(w, err)
		return
	}
	es, err := a.store.AuditLog(r.Context(), limit)
	if err != nil {
		a.internal(w, r, "audit log", err)
		return
	}
	out := make([]auditJSON, 0, len(es))
	for _, e := range es {
		out = append(out, auditJSON{At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []auditJSON `json:"entries"`
	}{out})
}

func (a *API) listClusters(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	cs, err := a.store.Clusters(r.Context())
	if err != nil {
		a.internal(w, r, "clusters", err)
		return
	}
	out := make([]clusterJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, toCluster(c))
	}
	writeJSON(w, http.StatusOK, struct {
		Clusters []clusterJSON `json:"clusters"`
	}{out})
}
