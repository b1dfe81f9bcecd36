package geoip

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// Classes of autonomous systems. ClassNone is only meaningful in a customer
// file: it removes an embedded entry.
const (
	ClassHosting = "hosting"
	ClassVPN     = "vpn"
	ClassMobile  = "mobile"
	ClassNone    = "none"
)

// ClassEntry is one entry of asn-classes.json.
type ClassEntry struct {
	ASN    uint32 `json:"asn"`
	Class  string `json:"class"`
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
}

// ClassFile is the format of asn-classes.json. A customer file may also be
// a bare JSON array of entries.
type ClassFile struct {
	Notes   []string     `json:"notes,omitempty"`
	Classes []ClassEntry `json:"classes"`
}

//go:embed asn-classes.json
var embeddedClasses []byte

// EmbeddedClasses returns the built-in ASN class entries, sorted by ASN.
func EmbeddedClasses() []ClassEntry {
	f, err := ParseClasses(embeddedClasses)
	if err != nil {
		panic("geoip: embedded asn-classes.json: " + err.Error())
	}
	sort.Slice(f.Classes, func(i, j int) bool { return f.Classes[i].ASN < f.Classes[j].ASN })
	return f.Classes
}

// ParseClasses parses and strictly validates asn-classes.json content:
// unknown fields, an unknown class, ASN 0, a duplicate ASN or an empty name
// are errors naming the entry index.
func ParseClasses(data []byte) (ClassFile, error) {
	var f ClassFile
	trim := bytes.TrimSpace(data)
	dec := json.NewDecoder(bytes.NewReader(trim))
	dec.DisallowUnknownFields()
	var err error
	if len(trim) > 0 && trim[0] == '[' {
		err = dec.Decode(&f.Classes)
	} else {
		err = dec.Decode(&f)
	}
	if err != nil {
		return ClassFile{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ClassFile{}, errors.New("invalid JSON: trailing data after the top-level value")
	}
	seen := make(map[uint32]int, len(f.Classes))
	for i, e := range f.Classes {
		switch {
		case e.ASN == 0:
			return ClassFile{}, fmt.Errorf("entry %d: asn is missing or 0", i)
		case e.Class != ClassHosting && e.Class != ClassVPN && e.Class != ClassMobile && e.Class != ClassNone:
			return ClassFile{}, fmt.Errorf("entry %d (asn %d): unknown class %q (want %s, %s, %s or %s)",
				i, e.ASN, e.Class, ClassHosting, ClassVPN, ClassMobile, ClassNone)
		case strings.TrimSpace(e.Name) == "" && e.Class != ClassNone:
			return ClassFile{}, fmt.Errorf("entry %d (asn %d): name is empty", i, e.ASN)
		}
		if j, dup := seen[e.ASN]; dup {
			return ClassFile{}, fmt.Errorf("entry %d: duplicate asn %d (also entry %d)", i, e.ASN, j)
		}
		seen[e.ASN] = i
	}
	return f, nil
}

// loadClasses merges the embedded classes with the customer file at path
// (skipped when path is "" or the file does not exist).
func loadClasses(path string) (map[uint32]ClassEntry, error) {
	m := make(map[uint32]ClassEntry)
	for _, e := range EmbeddedClasses() {
		m[e.ASN] = e
	}
	if path == "" {
		return m, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("geoip: asn class file %s: %w", path, err)
	}
	f, err := ParseClasses(b)
	if err != nil {
		return nil, fmt.Errorf("geoip: asn class file %s: %w", path, err)
	}
	for _, e := range f.Classes {
		if e.Class == ClassNone {
			delete(m, e.ASN)
			continue
		}
		m[e.ASN] = e
	}
	return m, nil
}
