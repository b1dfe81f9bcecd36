// Package catalog holds Farmwatch's signatures as data: JSON documents embedded in both
// binaries, validated when loaded, versioned so the collector can push newer ones to agents.
package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
)

//go:embed data/*.json
var embedded embed.FS

// Catalog is the loaded signature set.
type Catalog struct {
	Version           string     `json:"version"`
	OSRemoteListeners []Listener `json:"os_remote_listeners"`
}

// Listener is an OS remote-access service recognised by the port it listens on.
type Listener struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Ports     []uint32 `json:"ports"`
	Processes []string `json:"processes"`
	Attack    string   `json:"attack"`
	Sources   []string `json:"sources"`
}

var (
	idRE      = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)
	attackRE  = regexp.MustCompile(`^T[0-9]{4}(\.[0-9]{3})?$`)
	versionRE = regexp.MustCompile(`^[0-9A-Za-z.+-]{1,64}$`)
)

// DefaultDocument is the catalog document built into this binary.
func DefaultDocument() []byte {
	b, err := embedded.ReadFile("data/os_remote.json")
	if err != nil {
		panic("catalog: embedded document missing: " + err.Error())
	}
	return b
}

// Default returns the catalog built into this binary.
func Default() (*Catalog, error) {
	return Parse(DefaultDocument())
}

// Parse decodes and validates a catalog document; unknown fields are errors so that a typo in
// a signature is caught, not ignored.
func Parse(b []byte) (*Catalog, error) {
	if len(b) > 16<<20 {
		return nil, fmt.Errorf("catalog of %d bytes exceeds 16 MiB", len(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if !versionRE.MatchString(c.Version) {
		return nil, fmt.Errorf("catalog: version %q invalid", c.Version)
	}
	seen := map[string]bool{}
	for i, l := range c.OSRemoteListeners {
		switch {
		case !idRE.MatchString(l.ID):
			return nil, fmt.Errorf("catalog: os_remote_listeners[%d]: id %q invalid", i, l.ID)
		case seen[l.ID]:
			return nil, fmt.Errorf("catalog: os_remote_listeners[%d]: duplicate id %q", i, l.ID)
		case l.Name == "":
			return nil, fmt.Errorf("catalog: %s: name missing", l.ID)
		case len(l.Ports) == 0:
			return nil, fmt.Errorf("catalog: %s: no ports", l.ID)
		case l.Attack != "" && !attackRE.MatchString(l.Attack):
			return nil, fmt.Errorf("catalog: %s: ATT&CK id %q invalid", l.ID, l.Attack)
		}
		for _, p := range l.Ports {
			if p == 0 || p > 65535 {
				return nil, fmt.Errorf("catalog: %s: port %d out of range", l.ID, p)
			}
		}
		seen[l.ID] = true
	}
	return &c, nil
}
