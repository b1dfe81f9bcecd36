package console

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

const (
	maxReasonChars = 1000
	maxNoteChars   = 4000
	// auditScan is how many of the newest audit entries the device timeline searches for the
	// device's triage changes, notes and scan requests: the audit log has no index by target.
	auditScan = 2000
	// timelineReports and maxTimeline bound the device timeline.
	timelineReports = 50
	maxTimeline     = 150
	// maxHeatDays is the most days the activity heatmap shows (agents send at most 35).
	maxHeatDays = 35
)

// savedNotices are the only texts a saved change can show; the query parameter selects one.
var savedNotices = map[string]string{
	"triage": "Triage saved and recorded in the audit log.",
	"note":   "Note added.",
}

// deviceForms carries what the user typed into the device page's forms back to the page when
// it was refused, with the reason.
type deviceForms struct {
	Triage      store.Triage
	TriageError string
	Note        string
	NoteError   string
}

type noteView struct {
	Author string
	At     stamp
	Body   string
}

type timelineEntry struct {
	at    time.Time
	At    stamp
	Kind  string // fixed word: report, finding, triage, note, scan, audit
	Text  string
	Actor string
}

type heatCell struct {
	Level string // fixed: none, 0..4
	Title string
}

type heatRow struct {
	Day   string
	Cells []heatCell
}

type heatmap struct {
	Known  bool
	Note   string
	Source string
	Zone   string // the offset the hours are shown in
	Hours  []int
	Rows   []heatRow
}

// triageData is the device page's triage panel.
type triageData struct {
	Current store.Triage
	At      stamp
	Form    store.Triage
	Error   string
	States  []osChoice
}

// deviceExtras loads the triage, notes, timeline and activity parts of the device page.
func (c *Console) deviceExtras(ctx context.Context, d *deviceData, findings []store.Finding, facts *pb.Facts, forms deviceForms) error {
	dev := d.Device
	d.Triage = triageData{Current: dev.Triage, At: c.stamp(dev.Triage.At), Form: dev.Triage, States: triageChoices}
	if forms.TriageError != "" {
		d.Triage.Form, d.Triage.Error = forms.Triage, forms.TriageError
	}
	if d.Triage.Form.State == "" {
		d.Triage.Form.State = store.TriageNew
	}
	d.NoteBody, d.NoteError = forms.Note, forms.NoteError

	notes, err := c.store.Notes(ctx, dev.ID)
	if err != nil {
		return fmt.Errorf("load notes: %w", err)
	}
	for _, n := range notes {
		d.Notes = append(d.Notes, noteView{Author: n.Author, At: c.stamp(n.At), Body: n.Body})
	}
	reports, err := c.store.Reports(ctx, dev.ID, timelineReports)
	if err != nil {
		return fmt.Errorf("load reports: %w", err)
	}
	audit, err := c.store.AuditLog(ctx, auditScan)
	if err != nil {
		return fmt.Errorf("load audit log: %w", err)
	}
	d.Timeline = c.timeline(dev.ID, reports, findings, audit)
	if facts != nil {
		d.Activity = activityHeatmap(facts)
	}
	return nil
}

// timeline merges what happened to a device, newest first.
func (c *Console) timeline(id string, reports []store.ReportSummary, findings []store.Finding, audit []store.AuditEntry) []timelineEntry {
	var out []timelineEntry
	add := func(at time.Time, kind, text, actor string) {
		out = append(out, timelineEntry{at: at, At: c.stamp(at), Kind: kind, Text: text, Actor: actor})
	}
	for _, r := range reports {
		add(r.Received, "report", fmt.Sprintf("Report %d received from %s with %d finding%s", r.Sequence, r.Address, r.Findings, plural(r.Findings)), "")
	}
	for _, f := range findings {
		add(f.FirstSeen, "finding", "First seen: "+f.Signal+" · "+f.Title, "")
	}
	for _, a := range audit {
		if a.Target != id {
			continue
		}
		switch a.Action {
		case "device.triage":
			add(a.At, "triage", "Triage: "+a.Detail, a.Actor)
		case "device.note":
			add(a.At, "note", "Note added", a.Actor)
		case "device.scan_now":
			add(a.At, "scan", "Scan requested ("+a.Detail+")", a.Actor)
		default:
			add(a.At, "audit", a.Action+" "+a.Detail, a.Actor)
		}
	}
	slices.SortStableFunc(out, func(a, b timelineEntry) int { return b.at.Compare(a.at) })
	return out[:min(len(out), maxTimeline)]
}

// activityHeatmap lays the agent's per-UTC-hour activity out by the device's local day and
// hour, using the UTC offset the device reported (UTC when it reported none). A whole-hour
// offset maps hours exactly; other offsets put each UTC hour in the local hour it starts in.
func activityHeatmap(f *pb.Facts) *heatmap {
	a := f.GetActivity()
	if a == nil {
		return nil
	}
	h := &heatmap{Known: a.GetKnown(), Note: a.GetNote(), Source: a.GetSource(), Zone: "UTC"}
	if !h.Known {
		return h
	}
	off := int64(f.GetTime().GetUtcOffsetSeconds())
	if off != 0 || f.GetTime().GetZone() != "" {
		h.Zone = formatOffset(int32(off))
		if z := f.GetTime().GetZone(); z != "" {
			h.Zone += " (" + z + ")"
		}
	}
	type minutes struct{ active, sampled uint32 }
	days := map[int64]*[24]minutes{}
	for _, day := range a.GetDays() {
		act, smp := day.GetActiveMinutes(), day.GetSampledMinutes()
		for hr := range min(24, len(smp)) {
			t := day.GetDay() + int64(hr)*3600 + off
			ld := floorDiv(t, 86400)
			lh := (t - ld*86400) / 3600
			if days[ld] == nil {
				days[ld] = new([24]minutes)
			}
			m := &days[ld][lh]
			m.sampled += smp[hr]
			if hr < len(act) {
				m.active += min(act[hr], smp[hr])
			}
		}
	}
	keys := make([]int64, 0, len(days))
	for k := range days {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b int64) int { return cmp.Compare(b, a) })
	keys = keys[:min(len(keys), maxHeatDays)]
	for i := range 24 {
		h.Hours = append(h.Hours, i)
	}
	for _, k := range keys {
		date := time.Unix(k*86400, 0).UTC().Format("Mon 2006-01-02")
		row := heatRow{Day: date}
		for hr, m := range days[k] {
			cell := heatCell{Level: "none", Title: fmt.Sprintf("%s %02d:00: not sampled", date, hr)}
			if m.sampled > 0 {
				cell.Level = fmt.Sprint(min(4, (4*m.active+m.sampled-1)/m.sampled))
				cell.Title = fmt.Sprintf("%s %02d:00: active %d of %d minutes sampled", date, hr, m.active, m.sampled)
			}
			row.Cells = append(row.Cells, cell)
		}
		h.Rows = append(h.Rows, row)
	}
	return h
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// setTriage is POST /devices/{id}/triage (analyst or admin; the route checks the role).
func (c *Console) setTriage(w http.ResponseWriter, r *http.Request, s store.Session) {
	id := r.PathValue("id")
	dev, ok := c.deviceForPost(w, r, s, id)
	if !ok {
		return
	}
	ctx := r.Context()
	t := store.Triage{
		State:    r.PostForm.Get("state"),
		Reason:   strings.TrimSpace(r.PostForm.Get("reason")),
		Assignee: strings.TrimSpace(r.PostForm.Get("assignee")),
		By:       s.Username,
		At:       c.now(),
	}
	problem := ""
	switch {
	case !store.ValidTriage(t.State):
		problem = "Choose a triage state: new, investigating, confirmed farm or benign."
		t.State = dev.Triage.State
	case (t.State == store.TriageConfirmedFarm || t.State == store.TriageBenign) && t.Reason == "":
		problem = "Say why: a reason is required to mark a device " + strings.ToLower(triageLabel(t.State)) + "."
	case utf8.RuneCountInString(t.Reason) > maxReasonChars:
		problem = fmt.Sprintf("The reason is too long (at most %d characters).", maxReasonChars)
	case len(t.Assignee) > maxUsernameBytes:
		problem = "No console user has that name."
	case t.Assignee != "":
		if _, err := c.store.User(ctx, t.Assignee); errors.Is(err, store.ErrNotFound) {
			problem = "No console user has that name: assign the device to a console user, or to no one."
		} else if err != nil {
			c.log.Error("console triage: look up assignee", "err", err)
			c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The triage could not be saved. Try again in a moment.", s)
			return
		}
	}
	if problem != "" {
		c.renderDevice(w, r, s, http.StatusBadRequest, deviceForms{Triage: t, TriageError: problem})
		return
	}
	if err := c.store.SetTriage(ctx, id, t); err != nil {
		c.log.Error("console triage", "device", id, "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The triage could not be saved. Try again in a moment.", s)
		return
	}
	detail := fmt.Sprintf("%s → %s", dev.Triage.State, t.State)
	if t.Assignee != "" {
		detail += "; assignee " + t.Assignee
	}
	if t.Reason != "" {
		detail += "; reason: " + t.Reason
	}
	if err := c.audit(ctx, s.Username, "device.triage", id, detail); err != nil {
		c.log.Error("console triage saved but not audited", "device", id, "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Audit failed",
			"The triage was saved but could not be recorded in the audit log. Tell an administrator.", s)
		return
	}
	c.log.Info("device triaged", "device", id, "user", s.Username, "state", t.State)
	http.Redirect(w, r, "/devices/"+id+"?saved=triage#triage", http.StatusSeeOther)
}

// addNote is POST /devices/{id}/notes (analyst or admin).
func (c *Console) addNote(w http.ResponseWriter, r *http.Request, s store.Session) {
	id := r.PathValue("id")
	if _, ok := c.deviceForPost(w, r, s, id); !ok {
		return
	}
	body := strings.TrimSpace(r.PostForm.Get("body"))
	problem := ""
	switch {
	case body == "":
		problem = "Write something: the note is empty."
	case !utf8.ValidString(body):
		problem = "The note is not valid text."
	case utf8.RuneCountInString(body) > maxNoteChars:
		problem = fmt.Sprintf("The note is too long (at most %d characters).", maxNoteChars)
	}
	if problem != "" {
		c.renderDevice(w, r, s, http.StatusBadRequest, deviceForms{Note: body, NoteError: problem})
		return
	}
	ctx := r.Context()
	n, err := c.store.AddNote(ctx, store.Note{DeviceID: id, At: c.now(), Author: s.Username, Body: body})
	if err != nil {
		c.log.Error("console add note", "device", id, "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Store unavailable", "The note could not be saved. Try again in a moment.", s)
		return
	}
	if err := c.audit(ctx, s.Username, "device.note", id, fmt.Sprintf("note %d, %d characters", n.ID, utf8.RuneCountInString(body))); err != nil {
		c.log.Error("console note saved but not audited", "device", id, "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Audit failed",
			"The note was saved but could not be recorded in the audit log. Tell an administrator.", s)
		return
	}
	http.Redirect(w, r, "/devices/"+id+"?saved=note#notes", http.StatusSeeOther)
}

// deviceForPost loads the device a form posts to, answering the request itself when it
// cannot.
func (c *Console) deviceForPost(w http.ResponseWriter, r *http.Request, s store.Session, id string) (store.Device, bool) {
	if !deviceIDPattern.MatchString(id) {
		c.renderError(w, r, http.StatusBadRequest, "Bad device id", "A device id is 32 lowercase hexadecimal characters.", s)
		return store.Device{}, false
	}
	dev, err := c.store.Device(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		c.renderError(w, r, http.StatusNotFound, "Device not found", "No device with id "+id+" has enrolled with this collector.", s)
		return dev, false
	}
	if err != nil {
		c.log.Error("console device form: load device", "device", id, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Device unavailable", "This device could not be loaded. Try again in a moment.", s)
		return dev, false
	}
	return dev, true
}
