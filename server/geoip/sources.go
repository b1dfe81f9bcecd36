package geoip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// SourcesFile is written by the data builder next to the databases.
const SourcesFile = "SOURCES.json"

// SourcesManifest is the content of SOURCES.json.
type SourcesManifest struct {
	GeneratedBy string            `json:"generated_by"`
	Packages    []SourcesPackage  `json:"packages"`
	Files       map[string]string `json:"files,omitempty"` // file name → sha256 (hex)
}

// SourcesPackage is one pinned npm package the data was built from.
type SourcesPackage struct {
	Kind        string `json:"kind"` // "country" or "asn"
	File        string `json:"file"` // output file built from it
	Package     string `json:"package"`
	Version     string `json:"version"`
	Integrity   string `json:"integrity"`
	Tarball     string `json:"tarball"`
	License     string `json:"license"`
	Attribution string `json:"attribution"`
}

// licenceFor finds licence and attribution text for a database: from the
// builder's SOURCES.json in dir, else from the well-known MaxMind terms when
// the file is a GeoLite2/GeoIP2 database.
func licenceFor(dir, kind, dbType string) (license, attribution string) {
	if b, err := os.ReadFile(filepath.Join(dir, SourcesFile)); err == nil {
		var m SourcesManifest
		if json.Unmarshal(b, &m) == nil {
			for _, p := range m.Packages {
				if p.Kind == kind {
					return p.License, p.Attribution
				}
			}
		}
	}
	switch {
	case strings.HasPrefix(dbType, "GeoLite2"):
		return "MaxMind GeoLite2 End User License Agreement",
			"This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com."
	case strings.HasPrefix(dbType, "GeoIP2"):
		return "MaxMind commercial licence (customer-supplied file)", ""
	}
	return "", ""
}
