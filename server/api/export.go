package api

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/farmwatch/farmwatch/server/store"
)

// exportPage is how many devices an export reads from the store at a time (a variable so
// tests can make paging show with a few devices).
var exportPage = 500

var csvHeader = []string{
	"id", "hostname", "os", "os_version", "group", "score", "band",
	"triage_state", "triage_reason", "triage_assignee", "findings", "last_seen", "last_address", "enrolled_at", "revoked",
}

// defuse keeps a spreadsheet from reading a cell as a formula (CSV injection): cells starting
// with = + - @ (or a tab or carriage return, which some spreadsheets skip) get a leading '.
func defuse(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// eachDevice pages through the devices matching f, oldest enrolment first: devices enrolled
// during the export land on later pages, so paging neither skips nor repeats a device because
// of them.
func (a *API) eachDevice(r *http.Request, f store.DeviceFilter, fn func(store.Device) error) error {
	f.Sort, f.Desc, f.Limit = "enrolled", false, exportPage
	for f.Offset = 0; ; f.Offset += exportPage {
		ds, _, err := a.store.Devices(r.Context(), f)
		if err != nil {
			return fmt.Errorf("devices from %d: %w", f.Offset, err)
		}
		for _, d := range ds {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(ds) < exportPage {
			return nil
		}
	}
}

// startExport checks the filters and audits the export (bulk reads of fleet data are worth a
// record). ok false means the request has been answered.
func (a *API) startExport(w http.ResponseWriter, r *http.Request, t store.APIToken, what string) (store.DeviceFilter, bool) {
	f, err := parseDeviceQuery(r.URL.Query(), false)
	if err != nil {
		writeParamError(w, err)
		return f, false
	}
	if err := a.audit(r.Context(), t, "api.export", what, r.URL.Query().Encode()); err != nil {
		a.internal(w, r, "export not audited", err)
		return f, false
	}
	return f, true
}

// countingWriter notes whether any of the response body has been written.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// fail ends an export that went wrong. Before any of the body went out it is an ordinary 500;
// after, the connection is cut so the client sees a truncated transfer, not a file that looks
// complete.
func (a *API) fail(w *countingWriter, r *http.Request, what string, err error) {
	if w.n == 0 {
		w.Header().Del("Content-Disposition")
		a.internal(w.ResponseWriter, r, "export "+what, err)
		return
	}
	a.log.Error("api export failed", "export", what, "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

func (a *API) exportDevices(w http.ResponseWriter, r *http.Request, t store.APIToken) {
	f, ok := a.startExport(w, r, t, "devices.csv")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="devices.csv"`)
	out := &countingWriter{ResponseWriter: w}
	cw := csv.NewWriter(out)
	err := cw.Write(csvHeader)
	if err == nil {
		err = a.eachDevice(r, f, func(d store.Device) error {
			row := []string{
				d.ID, d.Hostname, d.OS, d.OSVersion, d.Group, strconv.FormatFloat(d.Score, 'f', -1, 64), d.Band,
				d.Triage.State, d.Triage.Reason, d.Triage.Assignee, strconv.Itoa(d.FindingsCount),
				csvTime(d.LastSeen), d.LastAddress, csvTime(d.EnrolledAt), strconv.FormatBool(!d.RevokedAt.IsZero()),
			}
			for i := range row {
				row[i] = defuse(row[i])
			}
			return cw.Write(row)
		})
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err != nil {
		a.fail(out, r, "devices.csv", err)
	}
}

// findingLine is one line of findings.jsonl: a finding with its device's hostname.
type findingLine struct {
	Hostname string `json:"hostname"`
	findingJSON
}

func (a *API) exportFindings(w http.ResponseWriter, r *http.Request, t store.APIToken) {
	f, ok := a.startExport(w, r, t, "findings.jsonl")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="findings.jsonl"`)
	out := &countingWriter{ResponseWriter: w}
	enc := json.NewEncoder(out) // escapes < > & like json.Marshal; one object per line
	err := a.eachDevice(r, f, func(d store.Device) error {
		fs, err := a.store.Findings(r.Context(), d.ID)
		if err != nil {
			return fmt.Errorf("findings of %s: %w", d.ID, err)
		}
		for _, fj := range toFindings(fs) {
			if err := enc.Encode(findingLine{Hostname: d.Hostname, findingJSON: fj}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.fail(out, r, "findings.jsonl", err)
	}
}
