package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/server/store"
)

// Limits of query parameters and request fields, in bytes.
const (
	maxParamBytes    = 256
	maxReasonBytes   = 1000
	maxAssigneeBytes = 128
	maxNoteBytes     = 8 << 10
	defaultLimit     = 50
	maxLimit         = 1000
	maxOffset        = 1_000_000_000
)

var (
	bands = []string{"low", "medium", "high", "critical"}
	// sorts maps the API's sort names to the store's, with each one's default direction:
	// newest, most and highest first; names A to Z.
	sorts = map[string]struct {
		store string
		desc  bool
	}{
		"last_seen": {"last_seen", true},
		"hostname":  {"hostname", false},
		"findings":  {"findings", true},
		"enrolled":  {"enrolled", true},
		"score":     {"score", true},
	}
)

// parseDeviceQuery reads the device filters of a listing or export; paged adds sort, order,
// limit and offset. Unknown and repeated parameters are rejected before it runs (checkParams).
func parseDeviceQuery(q url.Values, paged bool) (store.DeviceFilter, error) {
	f := store.DeviceFilter{Sort: "last_seen", Desc: true, Limit: defaultLimit}
	for k, vs := range q {
		if len(vs) != 1 {
			return f, &paramError{k, "given more than once"}
		}
		if len(vs[0]) > maxParamBytes {
			return f, &paramError{k, fmt.Sprintf("longer than %d bytes", maxParamBytes)}
		}
		if !utf8.ValidString(vs[0]) {
			return f, &paramError{k, "not valid UTF-8"}
		}
	}
	f.Search = q.Get("q")
	f.OS = q.Get("os")
	f.Group = q.Get("group")
	var err error
	if f.Band, err = oneOf(q, "band", bands); err != nil {
		return f, err
	}
	if f.MinBand, err = oneOf(q, "min_band", bands); err != nil {
		return f, err
	}
	if f.Triage, err = oneOf(q, "triage", []string{store.TriageNew, store.TriageInvestigating, store.TriageConfirmedFarm, store.TriageBenign}); err != nil {
		return f, err
	}
	if s := q.Get("signal"); s != "" {
		if !validSignal(s) {
			return f, &paramError{"signal", "want a signal name such as kvm.usb, or a family such as kvm.*"}
		}
		f.Signal = s
	}
	if s := q.Get("seen_since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return f, &paramError{"seen_since", "want an RFC 3339 time such as 2026-11-22T10:00:00Z"}
		}
		f.SeenSince = t.UTC()
	}
	if !paged {
		return f, nil
	}
	if s := q.Get("sort"); s != "" {
		so, ok := sorts[s]
		if !ok {
			return f, &paramError{"sort", "want last_seen, hostname, findings, enrolled or score"}
		}
		f.Sort, f.Desc = so.store, so.desc
	}
	switch q.Get("order") {
	case "":
	case "asc":
		f.Desc = false
	case "desc":
		f.Desc = true
	default:
		return f, &paramError{"order", "want asc or desc"}
	}
	if f.Limit, err = intParam(q, "limit", defaultLimit, 1, maxLimit); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(q, "offset", 0, 0, maxOffset); err != nil {
		return f, err
	}
	return f, nil
}

func oneOf(q url.Values, name string, allowed []string) (string, error) {
	v := q.Get(name)
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", &paramError{name, "want one of " + strings.Join(allowed, ", ")}
}

// intParam reads a decimal integer in [lo, hi], def when absent.
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || s[0] == '+' {
		return 0, &paramError{name, fmt.Sprintf("want an integer from %d to %d", lo, hi)}
	}
	return n, nil
}

// validSignal accepts signal names (lower-case words joined by dots) and families ("kvm.*").
func validSignal(s string) bool {
	s, _ = strings.CutSuffix(s, ".*")
	if s == "" {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				return false
			}
		}
	}
	return true
}

// validID says whether s is a device id: 32 lower-case hex digits.
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

type deviceList struct {
	Devices []deviceJSON `json:"devices"`
	Total   int          `json:"total"`
	Limit   int          `json:"limit"`
	Offset  int          `json:"offset"`
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	f, err := parseDeviceQuery(r.URL.Query(), true)
	if err != nil {
		writeParamError(w, err)
		return
	}
	ds, total, err := a.store.Devices(r.Context(), f)
	if err != nil {
		a.internal(w, r, "list devices", err)
		return
	}
	out := deviceList{Devices: make([]deviceJSON, 0, len(ds)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, d := range ds {
		out.Devices = append(out.Devices, toDevice(d))
	}
	writeJSON(w, http.StatusOK, out)
}

// device loads the device named by the path; when it cannot, it answers the request itself.
func (a *API) device(w http.ResponseWriter, r *http.Request) (store.Device, bool) {
	id := r.PathValue("id")
	if !validID(id) {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: "device id: want 32 lower-case hex digits", Param: "id"})
		return store.Device{}, false
	}
	d, err := a.store.Device(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no device "+id)
		return d, false
	}
	if err != nil {
		a.internal(w, r, "load device", err)
		return d, false
	}
	return d, true
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	d, ok := a.device(w, r)
	if !ok {
		return
	}
	fs, err := a.store.Findings(r.Context(), d.ID)
	if err != nil {
		a.internal(w, r, "load findings", err)
		return
	}
	ns, err := a.store.Notes(r.Context(), d.ID)
	if err != nil {
		a.internal(w, r, "load notes", err)
		return
	}
	writeJSON(w, http.StatusOK, toDetail(d, fs, ns))
}

func (a *API) deviceFindings(w http.ResponseWriter, r *http.Request, _ store.APIToken) {
	d, ok := a.device(w, r)
	if !ok {
		return
	}
	fs, err := a.store.Findings(r.Context(), d.ID)
	if err != nil {
		a.internal(w, r, "load findings", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Findings []findingJSON `json:"findings"`
	}{toFindings(fs)})
}

type triageRequest struct {
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Assignee string `json:"assignee"`
}

// check says what is wrong with a triage request, "" when nothing.
func (t triageRequest) check() string {
	switch {
	case !store.ValidTriage(t.State):
		return "state: want new, investigating, confirmed_farm or benign"
	case len(t.Reason) > maxReasonBytes:
		return fmt.Sprintf("reason: longer than %d bytes", maxReasonBytes)
	case len(t.Assignee) > maxAssigneeBytes:
		return fmt.Sprintf("assignee: longer than %d bytes", maxAssigneeBytes)
	case strings.TrimSpace(t.Reason) == "" && (t.State == store.TriageConfirmedFarm || t.State == store.TriageBenign):
		return "reason: required when the state is " + t.State
	}
	return ""
}

func (a *API) setTriage(w http.ResponseWriter, r *http.Request, t store.APIToken) {
	d, ok := a.device(w, r)
	if !ok {
		return
	}
	var req triageRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if msg := req.check(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	tr := store.Triage{State: req.State, Reason: req.Reason, Assignee: req.Assignee, By: actor(t), At: a.now().UTC()}
	if err := a.store.SetTriage(r.Context(), d.ID, tr); err != nil {
		a.internal(w, r, "set triage", err)
		return
	}
	if err := a.audit(r.Context(), t, "api.device.triage", d.ID, fmt.Sprintf("state=%s assignee=%q reason=%q (was %s)", tr.State, tr.Assignee, tr.Reason, d.Triage.State)); err != nil {
		a.internal(w, r, "triage of "+d.ID+" made but not audited", err)
		return
	}
	a.log.Info("api triage", "device", d.ID, "state", tr.State, "by", tr.By)
	d, err := a.store.Device(r.Context(), d.ID)
	if err != nil {
		a.internal(w, r, "reload device", err)
		return
	}
	writeJSON(w, http.StatusOK, toDevice(d))
}

type noteRequest struct {
	Body string `json:"body"`
}

func (a *API) addNote(w http.ResponseWriter, r *http.Request, t store.APIToken) {
	d, ok := a.device(w, r)
	if !ok {
		return
	}
	var req noteRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case strings.TrimSpace(req.Body) == "":
		writeError(w, http.StatusBadRequest, "body: required")
		return
	case len(req.Body) > maxNoteBytes:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body: longer than %d bytes", maxNoteBytes))
		return
	}
	n, err := a.store.AddNote(r.Context(), store.Note{DeviceID: d.ID, At: a.now().UTC(), Author: actor(t), Body: req.Body})
	if err != nil {
		a.internal(w, r, "add note", err)
		return
	}
	if err := a.audit(r.Context(), t, "api.device.note", d.ID, fmt.Sprintf("note %d, %d bytes", n.ID, len(n.Body))); err != nil {
		a.internal(w, r, "note on "+d.ID+" made but not audited", err)
		return
	}
	a.log.Info("api note", "device", d.ID, "note", n.ID, "by", n.Author)
	writeJSON(w, http.StatusCreated, toNote(n))
}
