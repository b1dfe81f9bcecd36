// Package api is the collector's REST API under /api/v1/: devices with their scores, findings,
// triage and notes, fleet clusters, the scoring policy, the audit log, and bulk exports, for
// SIEMs, ticketing and scripts. Clients authenticate with bearer tokens (store.APIToken) whose
// role decides what they may do: viewers read, analysts also triage and write notes, admins also
// change the policy and read the audit log. docs/openapi.yaml describes every endpoint.
//
// Everything a device reported is hostile: responses are JSON (which escapes < > &), CSV cells
// are defused against formula injection, and every response forbids sniffing, framing and
// caching.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
	"github.com/farmwatch/farmwatch/server/store"
)

// Prefix is the path the API is served under; mount Handler at it.
const Prefix = "/api/v1/"

// maxBody bounds every request body, JSON or policy YAML.
const maxBody = 64 << 10

// maxTokenBytes bounds the Authorization header's token before it is hashed and looked up.
const maxTokenBytes = 256

// contentSecurityPolicy: responses are data, never documents to render.
const contentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// PolicyController holds the scoring policy in force; *collector.Collector is one.
type PolicyController interface {
	Policy() *policy.Policy
	// SetPolicy puts a validated policy in force, recording actor as who changed it.
	SetPolicy(ctx context.Context, p *policy.Policy, actor string) error
}

// Options configure an API.
type Options struct {
	Store  store.Store
	Policy PolicyController
	Logger *slog.Logger     // nil discards
	Now    func() time.Time // nil means time.Now
}

// API serves the REST API. Create it with New.
type API struct {
	store   store.Store
	policy  PolicyController
	log     *slog.Logger
	now     func() time.Time
	mux     *http.ServeMux
	routes  []route
	handler http.Handler
}

// route is one endpoint: what it answers, who may call it and which query parameters it takes.
type route struct {
	method  string
	path    string // under Prefix, in ServeMux (and OpenAPI) syntax, e.g. devices/{id}
	role    string // least role allowed
	params  []string
	handler authedFunc
}

type authedFunc func(w http.ResponseWriter, r *http.Request, t store.APIToken)

// New builds the API over o.Store and o.Policy. It does no I/O.
func New(o Options) (*API, error) {
	if o.Store == nil {
		return nil, errors.New("api: no store")
	}
	if o.Policy == nil {
		return nil, errors.New("api: no policy controller")
	}
	a := &API{store: o.Store, policy: o.Policy, log: o.Logger, now: o.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.routes = a.table()
	a.mux = http.NewServeMux()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+Prefix+rt.path, a.auth(rt))
	}
	// Anything else: 401 for strangers, then 405 or 404, so the URL space is not probed anonymously.
	a.mux.Handle(Prefix, a.auth(route{role: store.RoleViewer, handler: a.unrouted}))
	a.handler = securityHeaders(a.mux)
	return a, nil
}

// Handler returns the API's handler; it serves paths under Prefix and is mounted there.
func (a *API) Handler() http.Handler { return a.handler }

func (a *API) table() []route {
	filters := []string{"q", "os", "band", "min_band", "signal", "group", "triage", "seen_since"}
	return []route{
		{"GET", "devices", store.RoleViewer, append(slices.Clone(filters), "sort", "order", "limit", "offset"), a.listDevices},
		{"GET", "devices/{id}", store.RoleViewer, nil, a.getDevice},
		{"GET", "devices/{id}/findings", store.RoleViewer, nil, a.deviceFindings},
		{"POST", "devices/{id}/triage", store.RoleAnalyst, nil, a.setTriage},
		{"POST", "devices/{id}/notes", store.RoleAnalyst, nil, a.addNote},
		{"GET", "clusters", store.RoleViewer, nil, a.listClusters},
		{"GET", "policy", store.RoleViewer, nil, a.getPolicy},
		{"PUT", "policy", store.RoleAdmin, nil, a.putPolicy},
		{"GET", "policy/history", store.RoleViewer, []string{"limit"}, a.policyHistory},
		{"GET", "audit", store.RoleAdmin, []string{"limit"}, a.auditLog},
		{"GET", "export/devices.csv", store.RoleViewer, filters, a.exportDevices},
		{"GET", "export/findings.jsonl", store.RoleViewer, filters, a.exportFindings},
	}
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

var roleRank = map[string]int{store.RoleViewer: 1, store.RoleAnalyst: 2, store.RoleAdmin: 3}

// auth runs the route's handler for a live token of a sufficient role, with only the route's
// query parameters, each at most once.
func (a *API) auth(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t, ok := a.token(w, r)
		if !ok {
			return
		}
		if roleRank[t.Role] < roleRank[rt.role] {
			a.log.Warn("api request refused", "reason", "role", "token", t.Name, "role", t.Role, "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, fmt.Sprintf("this needs the %s role; the token has %s", rt.role, t.Role))
			return
		}
		if rt.path != "" { // the catch-all takes any parameters: it answers 404 or 405 anyway
			if err := checkParams(r.URL.Query(), rt.params); err != nil {
				writeParamError(w, err)
				return
			}
		}
		rt.handler(w, r, t)
	})
}

// token finds the request's bearer token; when there is none it answers 401 itself.
func (a *API) token(w http.ResponseWriter, r *http.Request) (store.APIToken, bool) {
	refuse := func(msg string) (store.APIToken, bool) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="farmwatch"`)
		writeError(w, http.StatusUnauthorized, msg)
		return store.APIToken{}, false
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return refuse("missing bearer token")
	}
	scheme, value, _ := strings.Cut(h, " ")
	value = strings.TrimSpace(value)
	if !strings.EqualFold(scheme, "Bearer") || value == "" || len(value) > maxTokenBytes {
		return refuse("malformed Authorization header: want Bearer <token>")
	}
	t, err := a.store.APITokenByHash(r.Context(), HashToken(value), a.now())
	switch {
	case err == nil:
		return t, true
	case errors.Is(err, store.ErrNotFound):
		a.log.Warn("api request refused", "reason", "unknown or revoked token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		return refuse("unknown or revoked token")
	default:
		a.log.Error("api token lookup failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "could not check the token; try again")
		return store.APIToken{}, false
	}
}

// unrouted answers requests no route matched: 405 when the path exists under another method.
func (a *API) unrouted(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := a.mux.Handler(probe); pattern != "" && pattern != Prefix {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		if slices.Contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
		return
	}
	writeError(w, http.StatusNotFound, "no such endpoint")
}

// errorBody is every error response.
type errorBody struct {
	Error    string        `json:"error"`
	Param    string        `json:"param,omitempty"`
	Problems []problemJSON `json:"problems,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// paramError is a bad query parameter.
type paramError struct{ Param, Reason string }

func (e *paramError) Error() string { return "query parameter " + e.Param + ": " + e.Reason }

func writeParamError(w http.ResponseWriter, err error) {
	var pe *paramError
	if errors.As(err, &pe) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: pe.Error(), Param: pe.Param})
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// checkParams rejects parameters the endpoint does not take (a typo would otherwise silently
// widen a filter) and repeated ones.
func checkParams(q url.Values, allowed []string) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			return &paramError{Param: k, Reason: "unknown parameter"}
		}
		if len(q[k]) > 1 {
			return &paramError{Param: k, Reason: "given more than once"}
		}
	}
	return nil
}

// writeJSON answers with v as JSON. encoding/json escapes < > & so hostile strings stay inert
// even if a client renders the body as HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// internal logs err and answers 500 without details.
func (a *API) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.Error("api "+what, "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// decodeJSON reads a JSON object of at most maxBody bytes into dst, rejecting unknown fields
// and trailing data. On failure it answers the request itself and returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "request body must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", maxBody))
		return false
	}
	writeError(w, http.StatusBadRequest, "bad JSON body: "+strings.TrimPrefix(err.Error(), "json: "))
	return false
}

// actor is how the audit log names a token.
func actor(t store.APIToken) string { return "token:" + t.Name }

// audit records a write. A write that cannot be audited is reported as failed to the client,
// and the log says it happened.
func (a *API) audit(ctx context.Context, t store.APIToken, action, target, detail string) error {
	if len(detail) > 4000 {
		detail = detail[:4000] + "…"
	}
	err := a.store.Audit(ctx, store.AuditEntry{At: a.now(), Actor: actor(t), Action: action, Target: target, Detail: detail})
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}
