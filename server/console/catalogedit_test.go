package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/server/store"
)

// fakeCatalogs is the collector's side of the catalog page: it validates with catalog.Parse
// and keeps the document in force and the history in memory.
type fakeCatalogs struct {
	mu      sync.Mutex
	doc     []byte
	version string
	history []store.CatalogRecord
	clock   *clock
	failSet error // SetCatalog fails with this after validating
	sets    int
}

func newFakeCatalogs(clk *clock) *fakeCatalogs {
	doc := catalog.DefaultDocument()
	cat, err := catalog.Parse(doc)
	if err != nil {
		panic(err)
	}
	return &fakeCatalogs{doc: doc, version: cat.Version, clock: clk}
}

func (f *fakeCatalogs) CatalogDocument() ([]byte, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doc, f.version
}

func (f *fakeCatalogs) SetCatalog(_ context.Context, doc []byte, actor string) error {
	cat, err := catalog.Parse(doc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failSet != nil {
		return f.failSet
	}
	f.sets++
	f.doc, f.version = doc, cat.Version
	f.history = append([]store.CatalogRecord{{Version: cat.Version, CreatedAt: f.clock.Now(), ActivatedAt: f.clock.Now(), CreatedBy: actor, Size: len(doc)}}, f.history...)
	return nil
}

func (f *fakeCatalogs) CatalogHistory(_ context.Context, limit int) ([]store.CatalogRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.history[:min(limit, len(f.history))], nil
}

// catalogVersion returns the built-in catalog document with another version.
func catalogWithVersion(t *testing.T, version string) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(catalog.DefaultDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	doc["version"], _ = json.Marshal(version)
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Parse(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// postFile posts a multipart form with a file part, as the upload form does.
func (h *harness) postFile(c *http.Client, path string, fields map[string]string, file []byte) response {
	h.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile("file", "catalog.json")
	if err != nil {
		h.t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, &body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return h.do(c, req)
}

func TestCatalogEditAndHistory(t *testing.T) {
	h := newHarness(t, false)
	cats := newFakeCatalogs(h.clock)
	h.reconfigure(Options{Catalogs: cats})
	admin := h.as("root", store.RoleAdmin)
	_, builtin := cats.CatalogDocument()

	page := h.get(admin, "/catalog")
	if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, `<code>`+builtin+`</code>`) ||
		!strings.Contains(page.Body, `action="/catalog" enctype="multipart/form-data"`) || !strings.Contains(page.Body, "the built-in catalog is in use") {
		t.Fatalf("admin catalog page:\n%s", page.Body)
	}
	csrf := h.csrfToken(page.Body)

	// Pasted: a valid catalog goes in force.
	r := h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {string(catalogWithVersion(t, "2026.06.1"))}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/catalog?saved=1" {
		t.Fatalf("paste valid = %d to %q:\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	page = h.get(admin, "/catalog?saved=1")
	if !strings.Contains(page.Body, "Catalog <code>2026.06.1</code> in force and pushed to connected agents.") {
		t.Errorf("no success notice:\n%s", page.Body)
	}
	if !strings.Contains(page.Body, `<td><code>2026.06.1</code></td>`) || !strings.Contains(page.Body, "<td>user:root</td>") ||
		!strings.Contains(page.Body, "<strong>in force</strong>") {
		t.Errorf("history lacks the new version:\n%s", page.Body)
	}

	// Uploaded as a file.
	r = h.postFile(admin, "/catalog", map[string]string{"csrf": csrf}, catalogWithVersion(t, "2026.06.2"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload valid = %d:\n%s", r.StatusCode, r.Body)
	}
	if _, v := cats.CatalogDocument(); v != "2026.06.2" {
		t.Errorf("version in force = %q after upload", v)
	}

	// Refused documents keep the running catalog and say why.
	for _, tt := range []struct {
		name string
		post func() response
		want string
	}{
		{"malformed JSON", func() response {
			return h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {`{"version": "x",`}})
		}, "catalog.json: "},
		{"invalid version", func() response {
			return h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {`{"version": "<bad>"}`}})
		}, "version: &#34;&lt;bad&gt;&#34; invalid"},
		{"unknown field in upload", func() response {
			return h.postFile(admin, "/catalog", map[string]string{"csrf": csrf}, []byte(`{"version": "2026.07.1", "extra": 1}`))
		}, "extra"},
		{"empty", func() response {
			return h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {"  "}})
		}, "Paste a catalog document or choose a file."},
	} {
		r := tt.post()
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "The catalog was not applied.") || !strings.Contains(r.Body, tt.want) {
			t.Errorf("%s = %d, want 422 with %q:\n%s", tt.name, r.StatusCode, tt.want, r.Body)
		}
		assertNoRawMarkup(t, r.Body)
	}
	if _, v := cats.CatalogDocument(); v != "2026.06.2" || cats.sets != 2 {
		t.Errorf("after refusals: version %q, %d sets; want 2026.06.2 and 2", v, cats.sets)
	}
	// A pasted draft is given back for fixing.
	r = h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {`{"version": "x",`}})
	if !strings.Contains(r.Body, `{&#34;version&#34;: &#34;x&#34;,</textarea>`) {
		t.Errorf("draft not kept:\n%s", r.Body)
	}

	// The collector failing to apply a valid catalog is an error page, not a success.
	cats.failSet = errors.New("disk full")
	r = h.post(admin, "/catalog", url.Values{"csrf": {csrf}, "catalog": {string(catalogWithVersion(t, "2026.06.3"))}})
	if r.StatusCode != http.StatusInternalServerError || !strings.Contains(r.Body, "running catalog is unchanged") || strings.Contains(r.Body, "disk full") {
		t.Errorf("apply failure = %d:\n%s", r.StatusCode, r.Body)
	}
	cats.failSet = nil

	// The document in force can be downloaded.
	dl := h.get(admin, "/catalog/document")
	if doc, _ := cats.CatalogDocument(); dl.StatusCode != http.StatusOK || dl.Body != string(doc) ||
		dl.Header.Get("Content-Disposition") != `attachment; filename="catalog-2026.06.2.json"` {
		t.Errorf("download = %d %q", dl.StatusCode, dl.Header.Get("Content-Disposition"))
	}
}

func TestCatalogEditRefusedWithoutRightsOrToken(t *testing.T) {
	h := newHarness(t, false)
	cats := newFakeCatalogs(h.clock)
	h.reconfigure(Options{Catalogs: cats})
	admin := h.as("root", store.RoleAdmin)
	analyst := h.as("ana", store.RoleAnalyst)
	doc := string(catalogWithVersion(t, "2026.06.1"))

	page := h.get(analyst, "/catalog")
	if page.StatusCode != http.StatusOK || strings.Contains(page.Body, `action="/catalog"`) || !strings.Contains(page.Body, "<h2>History</h2>") {
		t.Errorf("analyst sees the edit form or no history:\n%s", page.Body)
	}
	if r := h.post(analyst, "/catalog", url.Values{"csrf": {h.csrfToken(page.Body)}, "catalog": {doc}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("analyst POST = %d, want 403", r.StatusCode)
	}
	if r := h.post(admin, "/catalog", url.Values{"catalog": {doc}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF = %d, want 403", r.StatusCode)
	}
	if r := h.postFile(admin, "/catalog", map[string]string{"csrf": "wrong"}, []byte(doc)); r.StatusCode != http.StatusForbidden {
		t.Errorf("upload with a wrong CSRF token = %d, want 403", r.StatusCode)
	}
	csrf := h.csrfToken(h.get(admin, "/catalog").Body)
	big := bytes.Repeat([]byte(" "), maxCatalogFormBytes)
	if r := h.postFile(admin, "/catalog", map[string]string{"csrf": csrf}, big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload = %d, want 413", r.StatusCode)
	}
	over := append([]byte(doc), bytes.Repeat([]byte(" "), maxCatalogBytes)...)
	if r := h.postFile(admin, "/catalog", map[string]string{"csrf": csrf}, over); r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "larger than 8.0 MiB") {
		t.Errorf("catalog over 8 MiB = %d", r.StatusCode)
	}
	if _, v := cats.CatalogDocument(); cats.sets != 0 || v == "2026.06.1" {
		t.Errorf("refused posts changed the catalog: %d sets, version %s", cats.sets, v)
	}

	// Without a controller the page is read-only and POST says why.
	h.reconfigure(Options{})
	page = h.get(admin, "/catalog")
	if strings.Contains(page.Body, `action="/catalog"`) || !strings.Contains(page.Body, "View only") {
		t.Errorf("page without controller:\n%s", page.Body)
	}
	if r := h.post(admin, "/catalog", url.Values{"csrf": {h.csrfToken(page.Body)}, "catalog": {doc}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("POST without controller = %d, want 404", r.StatusCode)
	}
}
