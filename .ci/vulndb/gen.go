//go:build ignore

// Command gen builds an offline Go vulnerability database for govulncheck.
//
// vuln.go.dev cannot be reached from the build machines, but the Go module proxy serves the
// golang.org/x/vulndb module, whose data/osv directory holds every published report as an OSV
// entry (GO-YYYY-NNNN.json). This program downloads a pinned version of that module with
// `go mod download` (so the zip is checked against the checksum database), checks its h1: sum
// against the one pinned below, and writes the v1 database layout that `govulncheck -db
// file:///DIR` reads (https://go.dev/security/vuln/database#api):
//
//	DIR/index/db.json       {"modified": ...}
//	DIR/index/modules.json  [{"path": ..., "vulns": [{"id": ..., "modified": ...}]}]
//	DIR/index/vulns.json    [{"id": ..., "modified": ..., "aliases": [...]}]
//	DIR/ID/GO-YYYY-NNNN.json (the OSV entries, copied byte for byte)
//
// The entries in the repository carry a zero "modified" time (vuln.go.dev fills it in from git
// history, which a module zip does not have), so index/db.json's "modified" is the snapshot's
// commit time instead. The per-module "fixed" hint is left out of modules.json: it is optional,
// and without it govulncheck checks every entry of a module against its full OSV ranges.
//
// Usage: go run .ci/vulndb/gen.go -out .tools/vulndb
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Pinned snapshot of golang.org/x/vulndb (go.googlesource.com/vulndb commit 9de686e1fb00,
// 2026-08-13). To update: `go mod download -json golang.org/x/vulndb@master` outside the
// module, then copy its Version and Sum here.
const (
	vulndbModule  = "golang.org/x/vulndb"
	vulndbVersion = "v0.0.0-20260813214354-9de686e1fb00"
	vulndbSum     = "h1:rhahS0SijEJkwAg1oh9E+uTE0bjOipBJX4jw2ooU8tg="
)

type entry struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Module struct {
			Path      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	} `json:"affected"`
}

type dbMeta struct {
	Modified time.Time `json:"modified"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vulnMeta struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

func main() {
	out := flag.String("out", ".tools/vulndb", "directory to write the database to (replaced)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("vulndb: ")

	dir, commitTime := download()
	src := filepath.Join(dir, "data", "osv")
	files, err := filepath.Glob(filepath.Join(src, "GO-*.json"))
	if err != nil || len(files) == 0 {
		log.Fatalf("no OSV entries in %s (%v)", src, err)
	}

	tmp := *out + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		log.Fatal(err)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			log.Fatal(err)
		}
	}

	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		var e entry
		if err := json.Unmarshal(b, &e); err != nil {
			log.Fatalf("%s: %v", f, err)
		}
		if filepath.Base(f) != e.ID+".json" {
			log.Fatalf("%s: id is %q", f, e.ID)
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			p := a.Module.Path
			if a.Module.Ecosystem != "Go" || p == "" {
				log.Fatalf("%s: unexpected package %+v", f, a.Module)
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			m := modules[p]
			if m == nil {
				m = &moduleMeta{Path: p}
				modules[p] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified})
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		if err := os.WriteFile(filepath.Join(tmp, "ID", e.ID+".json"), b, 0o644); err != nil {
			log.Fatal(err)
		}
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		sort.Slice(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	sort.Slice(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })

	writeJSON(filepath.Join(tmp, "index", "db.json"), dbMeta{Modified: commitTime})
	writeJSON(filepath.Join(tmp, "index", "modules.json"), mods)
	writeJSON(filepath.Join(tmp, "index", "vulns.json"), vulns)
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("vulndb: %s@%s (%s): %d entries, %d modules -> %s\n",
		vulndbModule, vulndbVersion, commitTime.Format(time.DateOnly), len(vulns), len(mods), *out)
}

// download fetches the pinned module into the module cache and returns its directory and the
// commit time of the snapshot. It runs outside this module so go.mod is never consulted.
func download() (string, time.Time) {
	tmp, err := os.MkdirTemp("", "vulndb-download")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", vulndbModule+"@"+vulndbVersion)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GO111MODULE=on")
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	runErr := cmd.Run()
	var res struct {
		Version, Dir, Sum, Info, Error string
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		log.Fatalf("go mod download: %v %v: %s", runErr, err, stdout.String())
	}
	if res.Error != "" || runErr != nil {
		log.Fatalf("go mod download %s@%s: %v %s", vulndbModule, vulndbVersion, runErr, res.Error)
	}
	if res.Sum != vulndbSum {
		log.Fatalf("%s@%s: checksum %s, want %s", vulndbModule, vulndbVersion, res.Sum, vulndbSum)
	}
	var info struct{ Time time.Time }
	b, err := os.ReadFile(res.Info)
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil || info.Time.IsZero() {
		log.Fatalf("%s: no commit time (%v)", res.Info, err)
	}
	if !strings.HasSuffix(res.Dir, "@"+vulndbVersion) {
		log.Fatalf("unexpected module directory %s", res.Dir)
	}
	return res.Dir, info.Time.UTC()
}

func writeJSON(path string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
