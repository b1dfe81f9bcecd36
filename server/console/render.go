package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates under templates/, each rendered inside layout.html.
var pageNames = []string{"login", "error", "overview", "devices", "device", "clusters", "policy", "catalog", "secrets", "users", "audit", "ssodone"}

type pages struct{ byName map[string]*template.Template }

// page is what every template gets: the layout's fields and the page's own data in Body.
type page struct {
	Title string
	User  string // signed-in user; empty on the sign-in and signed-out pages
	CSRF  string // the token for forms on this page
	Nav   string // which header link is current
	Role  string // the signed-in user's role; drives which links and forms are shown
	// Refresh, when set, is a same-origin path the page moves on to by itself (no scripts).
	Refresh string
	Body    any
}

// CanTriage says whether the user may triage devices and write notes (analyst or admin).
func (p page) CanTriage() bool { return roleRank(p.Role) >= roleRank(store.RoleAnalyst) }

// IsAdmin says whether the user may manage users, secrets and policy.
func (p page) IsAdmin() bool { return p.Role == store.RoleAdmin }

// show renders a signed-in page with status 200.
func (c *Console) show(w http.ResponseWriter, r *http.Request, s store.Session, name, title, nav string, body any) {
	c.render(w, r, http.StatusOK, name, page{Title: title, User: s.Username, CSRF: s.CSRFToken, Nav: nav, Role: roleOf(r), Body: body})
}

func parsePages() (*pages, error) {
	p := &pages{byName: make(map[string]*template.Template)}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// render executes a page into a buffer first, so a template error becomes a clean 500 rather
// than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := c.pages.byName[name]
	if !ok {
		c.log.Error("console render: no such template", "template", name, "path", r.URL.Path)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console render", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "Internal error: the page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorData struct {
	Status  int
	Heading string
	Message string
}

// renderError shows a message to the user. Internal details never go here: log them.
func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, heading, message string, s store.Session) {
	c.render(w, r, status, "error", page{
		Title: heading, User: s.Username, CSRF: s.CSRFToken, Role: roleOf(r),
		Body: errorData{Status: status, Heading: heading, Message: message},
	})
}

func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
}

var templateFuncs = template.FuncMap{
	"severityLabel": severityLabel,
	"severityClass": severityClass,
	"bandClass":     bandClass,
	"percent":       percent,
	"abstime":       absTime,
	"isotime":       isoTime,
	"triageLabel":   triageLabel,
	"triageClass":   triageClass,
}

// triageLabel names a triage state in words; unknown states show as they are (escaped).
func triageLabel(state string) string {
	for _, c := range triageChoices {
		if c.Value == state {
			return c.Label
		}
	}
	return state
}

// triageClass maps a triage state to a fixed class suffix.
func triageClass(state string) string {
	switch state {
	case store.TriageNew, store.TriageInvestigating, store.TriageBenign:
		return state
	case store.TriageConfirmedFarm:
		return "farm"
	}
	return "unknown"
}

// severityLabel and severityClass map the enum to fixed words: the class attribute never
// carries device text.
func severityLabel(s pb.Severity) string {
	switch s {
	case pb.Severity_SEVERITY_CRITICAL:
		return "Critical"
	case pb.Severity_SEVERITY_HIGH:
		return "High"
	case pb.Severity_SEVERITY_MEDIUM:
		return "Medium"
	case pb.Severity_SEVERITY_LOW:
		return "Low"
	case pb.Severity_SEVERITY_INFO:
		return "Info"
	default:
		return "Unknown"
	}
}

func severityClass(s pb.Severity) string {
	return "sev-" + strings.ToLower(severityLabel(s))
}

// bandClass maps a score band to a fixed class (bands are computed by the collector, but the
// class attribute still only ever carries one of these words).
func bandClass(b string) string {
	switch b {
	case "critical":
		return "sev-critical"
	case "high":
		return "sev-high"
	case "medium":
		return "sev-medium"
	case "low":
		return "sev-low"
	}
	return "sev-unknown"
}

// percent renders a 0..1 confidence; out-of-range values (agents are untrusted) are clamped.
func percent(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", math.Max(0, math.Min(1, f))*100)
}

func absTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// relTime says how long ago t was, as of now.
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		n := int(d / time.Minute)
		s = fmt.Sprintf("%d minute%s", n, plural(n))
	case d < 48*time.Hour:
		n := int(d / time.Hour)
		s = fmt.Sprintf("%d hour%s", n, plural(n))
	default:
		n := int(d / (24 * time.Hour))
		s = fmt.Sprintf("%d day%s", n, plural(n))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// formatScore renders a score as the lists show it: whole points.
func formatScore(f float64) string { return fmt.Sprintf("%.0f", f) }
