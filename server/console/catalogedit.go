package console

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/server/store"
)

// CatalogController holds the signature catalog in force (the collector implements it).
type CatalogController interface {
	// CatalogDocument returns the catalog document in force and its version.
	CatalogDocument() (doc []byte, version string)
	// SetCatalog validates doc with catalog.Parse, records it in the history under actor, puts
	// it in force and pushes it to connected agents. On bad input it returns the validation
	// error unchanged and changes nothing.
	SetCatalog(ctx context.Context, doc []byte, actor string) error
	// CatalogHistory lists the catalog versions put in force, newest first.
	CatalogHistory(ctx context.Context, limit int) ([]store.CatalogRecord, error)
}

const (
	// catalogHistory is how many catalog versions the catalog page lists.
	catalogHistory = 50
	// maxCatalogBytes bounds a catalog put in force from the console.
	maxCatalogBytes = 8 << 20
	// maxCatalogFormBytes fits the largest catalog pasted into the form, percent-encoded.
	maxCatalogFormBytes = 3*maxCatalogBytes + maxFormBytes
)

type catalogVersion struct {
	Version, CreatedBy, Size string
	Activated                stamp
	Current                  bool
}

type catalogData struct {
	Error      bool // the catalog in force could not be read
	Version    string
	Tools      int
	Listeners  int
	Hardware   int
	Categories []kv

	Managed      bool // a controller is connected: history and, for admins, editing
	CanEdit      bool
	History      []catalogVersion
	HistoryError bool
	Draft        string // the pasted text, after a refused edit
	Problem      string // why the last edit was refused
	Saved        bool
}

// catalogPage is GET /catalog: the signature catalog in force and its history.
func (c *Console) catalogPage(w http.ResponseWriter, r *http.Request, s store.Session) {
	d := c.catalogData(r, s)
	d.Saved = d.Managed && r.URL.Query().Get("saved") == "1"
	c.show(w, r, s, "catalog", "Catalog", "catalog", d)
}

// catalogData describes the catalog in force. Failures to read it or its history are shown
// on the page (and logged): the rest of the page is still useful.
func (c *Console) catalogData(r *http.Request, s store.Session) catalogData {
	var d catalogData
	var cat *catalog.Catalog
	var err error
	if c.catalogs != nil {
		d.Managed = true
		d.CanEdit = atLeast(r, store.RoleAdmin)
		doc, _ := c.catalogs.CatalogDocument()
		cat, err = catalog.Parse(doc)
	} else {
		cat, err = c.catalog()
	}
	if err != nil {
		c.log.Error("console catalog", "err", err)
		d.Error = true
	} else {
		d.Version, d.Tools, d.Listeners = cat.Version, len(cat.RemoteTools), len(cat.OSRemoteListeners)
		hw := cat.Hardware
		d.Hardware = len(hw.USB) + len(hw.Displays) + len(hw.Inquiry) + len(hw.HIDDescriptors) + len(hw.Jigglers) + len(hw.GadgetVendors) + len(hw.FixedSerials)
		counts := map[string]int{}
		for _, t := range cat.RemoteTools {
			counts[t.Category]++
		}
		for k, n := range counts {
			d.Categories = append(d.Categories, kv{k, strconv.Itoa(n)})
		}
		slices.SortFunc(d.Categories, func(a, b kv) int { return cmp.Compare(a.Key, b.Key) })
	}
	if c.catalogs == nil {
		return d
	}
	hist, err := c.catalogs.CatalogHistory(r.Context(), catalogHistory)
	if err != nil {
		c.log.Error("console catalog history", "err", err, "user", s.Username)
		d.HistoryError = true
	}
	for _, h := range hist {
		d.History = append(d.History, catalogVersion{
			Version: h.Version, CreatedBy: h.CreatedBy, Size: byteSize(h.Size),
			Activated: c.stamp(cmp.Or(h.ActivatedAt, h.CreatedAt)), Current: h.Version == d.Version,
		})
	}
	return d
}

// catalogDocument is GET /catalog/document: the catalog in force as a JSON download, for
// editing offline and uploading again.
func (c *Console) catalogDocument(w http.ResponseWriter, r *http.Request, s store.Session) {
	var doc []byte
	version := "builtin"
	if c.catalogs != nil {
		doc, version = c.catalogs.CatalogDocument()
	} else {
		doc = catalog.DefaultDocument()
		if cat, err := catalog.Parse(doc); err == nil {
			version = cat.Version
		}
	}
	// The version is validated by catalog.Parse, but the file name must stay a plain token
	// whatever the controller returns.
	name := strings.Map(func(r rune) rune {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') || r == '.' || r == '-' || r == '+' {
			return r
		}
		return '_'
	}, version)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="catalog-`+name+`.json"`)
	http.ServeContent(w, r, "", c.now(), bytes.NewReader(doc))
}

// catalogEdit is POST /catalog (admins): a catalog pasted into the form or uploaded as a file.
// A document that does not validate leaves the running catalog alone and the page says why.
func (c *Console) catalogEdit(w http.ResponseWriter, r *http.Request, s store.Session) {
	if c.catalogs == nil {
		c.renderError(w, r, http.StatusNotFound, "Not available", "This console is not connected to a collector, so the catalog cannot be changed here.", s)
		return
	}
	text := r.PostForm.Get("catalog")
	doc, problem := []byte(text), ""
	file, fh, err := r.FormFile("file")
	switch {
	case err == nil:
		defer file.Close()
		if fh.Size > 0 {
			doc, err = io.ReadAll(io.LimitReader(file, maxCatalogBytes+1))
			if err != nil {
				c.log.Error("console catalog upload: read", "user", s.Username, "err", err)
				c.renderError(w, r, http.StatusBadRequest, "Bad request", "The uploaded file could not be read.", s)
				return
			}
		}
	case !errors.Is(err, http.ErrMissingFile) && !errors.Is(err, http.ErrNotMultipart):
		c.renderError(w, r, http.StatusBadRequest, "Bad request", "The uploaded file could not be read.", s)
		return
	}
	switch {
	case len(bytes.TrimSpace(doc)) == 0:
		problem = "Paste a catalog document or choose a file."
	case len(doc) > maxCatalogBytes:
		problem = fmt.Sprintf("The catalog is larger than %s.", byteSize(maxCatalogBytes))
	default:
		// Validate here too, so a refusal is certain to be about the document.
		if _, err := catalog.Parse(doc); err != nil {
			problem = err.Error()
		}
	}
	if problem == "" {
		err := c.catalogs.SetCatalog(r.Context(), doc, "user:"+s.Username)
		if err == nil {
			_, version := c.catalogs.CatalogDocument()
			c.log.Info("console catalog applied", "user", s.Username, "version", version, "bytes", len(doc))
			http.Redirect(w, r, "/catalog?saved=1", http.StatusSeeOther)
			return
		}
		c.log.Error("console catalog edit: apply", "user", s.Username, "err", err)
		c.renderError(w, r, http.StatusInternalServerError, "Catalog not applied",
			"The catalog is valid but could not be put in force; the running catalog is unchanged. The collector log has the reason.", s)
		return
	}
	c.log.Info("console catalog edit rejected", "user", s.Username, "problem", truncate(problem, 300))
	d := c.catalogData(r, s)
	d.Problem = problem
	if len(text) <= maxCatalogBytes {
		d.Draft = text
	}
	c.render(w, r, http.StatusUnprocessableEntity, "catalog", page{Title: "Catalog", User: s.Username, CSRF: s.CSRFToken, Nav: "catalog", Role: roleOf(r), Body: d})
}

// byteSize renders a size the way the page shows it.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
