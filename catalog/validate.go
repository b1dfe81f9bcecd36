package catalog

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Origins a tool entry can have.
var Origins = []string{"lolrmm", "farmwatch", "lolrmm+farmwatch"}

// PortRoles are the values Port.Role can take.
var PortRoles = []string{"relay", "rendezvous", "listen", "local", "direct"}

// SessionKinds are the values SessionMarker.Kind can take.
var SessionKinds = []string{"process", "inbound", "relay", "log"}

// OSNames are the values SessionMarker.OS and ConfigMarker.OS can take (GOOS spelling).
var OSNames = []string{"linux", "windows", "darwin"}

var (
	toolIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
	// hostRE accepts DNS names as seen in the wild (underscores included), lower case.
	hostRE = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$`)
)

// IsHostName reports whether s is acceptable as network.domains or network.domain_suffixes
// value: a lower-case DNS name (underscores allowed, as seen in the wild).
func IsHostName(s string) bool { return hostRE.MatchString(s) }

// Validate checks one tool entry. Errors name the field (network.ports[2].protocol) but not
// the entry; callers prefix that.
func (t *Tool) Validate() error {
	switch {
	case !toolIDRE.MatchString(t.ID):
		return fmt.Errorf("id: %q is not lowercase [a-z0-9_], 1-64 characters", t.ID)
	case strings.TrimSpace(t.Name) == "":
		return fmt.Errorf("name: missing")
	case !slices.Contains(Categories, t.Category):
		return fmt.Errorf("category: %q is not one of %s", t.Category, strings.Join(Categories, ", "))
	case !attackRE.MatchString(t.Attack):
		return fmt.Errorf("attack: %q is not an ATT&CK technique id (T1219, T1219.002)", t.Attack)
	case !slices.Contains(Origins, t.Origin):
		return fmt.Errorf("origin: %q is not one of %s", t.Origin, strings.Join(Origins, ", "))
	case t.Deep && len(t.Sources) == 0:
		return fmt.Errorf("sources: a deep entry must name its sources")
	}
	for _, o := range []struct {
		name string
		ind  *OSIndicators
	}{{"windows", t.Windows}, {"macos", t.MacOS}, {"linux", t.Linux}} {
		if o.ind == nil {
			continue
		}
		if err := o.ind.validate(); err != nil {
			return fmt.Errorf("%s.%w", o.name, err)
		}
	}
	if err := t.Network.validate(); err != nil {
		return fmt.Errorf("network.%w", err)
	}
	for i := range t.Session {
		if err := t.Session[i].validate(t); err != nil {
			return fmt.Errorf("session[%d]: %w", i, err)
		}
	}
	for i := range t.Unattended {
		if err := t.Unattended[i].validate(); err != nil {
			return fmt.Errorf("unattended[%d]: %w", i, err)
		}
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"sources", t.Sources}, {"notes", t.Notes}, {"lolrmm", t.LOLRMM}} {
		if err := nonEmpty(l.name, l.list); err != nil {
			return err
		}
	}
	return nil
}

func (o *OSIndicators) validate() error {
	for _, l := range []struct {
		name string
		list []string
	}{
		{"processes", o.Processes}, {"paths", o.Paths}, {"services", o.Services},
		{"bundle_ids", o.BundleIDs}, {"packages", o.Packages}, {"signers", o.Signers},
		{"interfaces", o.Interfaces},
	} {
		if err := nonEmpty(l.name, l.list); err != nil {
			return err
		}
	}
	for i, p := range o.Processes {
		if strings.ContainsAny(p, `/\*?`) {
			return fmt.Errorf("processes[%d]: %q is not a base name (no separators or wildcards)", i, p)
		}
	}
	return nil
}

func (n *Network) validate() error {
	for i, d := range n.Domains {
		if !hostRE.MatchString(d) {
			return fmt.Errorf("domains[%d]: %q is not a lowercase host name", i, d)
		}
	}
	for i, d := range n.DomainSuffixes {
		if !hostRE.MatchString(d) {
			return fmt.Errorf("domain_suffixes[%d]: %q is not a lowercase host name (no leading dot or *)", i, d)
		}
	}
	for i, p := range n.DomainPatterns {
		if p == "" {
			return fmt.Errorf("domain_patterns[%d]: empty", i)
		}
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("domain_patterns[%d]: %w", i, err)
		}
	}
	for i, a := range n.Addresses {
		if _, err := netip.ParseAddr(a); err == nil {
			continue
		}
		if _, err := netip.ParsePrefix(a); err != nil {
			return fmt.Errorf("addresses[%d]: %q is neither an IP address nor a CIDR prefix", i, a)
		}
	}
	for i, p := range n.Ports {
		if err := p.validate(); err != nil {
			return fmt.Errorf("ports[%d].%w", i, err)
		}
	}
	return nil
}

func (p *Port) validate() error {
	switch {
	case p.Protocol != "tcp" && p.Protocol != "udp":
		return fmt.Errorf("protocol: %q is neither tcp nor udp", p.Protocol)
	case p.Port == 0 || p.Port > 65535:
		return fmt.Errorf("port: %d out of range 1..65535", p.Port)
	case p.To != 0 && (p.To < p.Port || p.To > 65535):
		return fmt.Errorf("to: %d must be between port %d and 65535", p.To, p.Port)
	case !slices.Contains(PortRoles, p.Role):
		return fmt.Errorf("role: %q is not one of %s", p.Role, strings.Join(PortRoles, ", "))
	}
	return nil
}

func (m *SessionMarker) validate(t *Tool) error {
	if err := validOS(m.OS); err != nil {
		return err
	}
	unused := func(fields ...string) error {
		vals := map[string]string{"process": m.Process, "args": m.Args, "path": m.Path, "pattern": m.Pattern}
		for _, f := range fields {
			if vals[f] != "" {
				return fmt.Errorf("%s: not used by kind %q", f, m.Kind)
			}
		}
		return nil
	}
	switch m.Kind {
	case "process":
		if strings.TrimSpace(m.Process) == "" {
			return fmt.Errorf("process: required by kind \"process\"")
		}
		if strings.ContainsAny(m.Process, `/\*?`) {
			return fmt.Errorf("process: %q is not a base name", m.Process)
		}
		return unused("path", "pattern")
	case "log":
		if strings.TrimSpace(m.Path) == "" {
			return fmt.Errorf("path: required by kind \"log\"")
		}
		if m.Pattern == "" {
			return fmt.Errorf("pattern: required by kind \"log\"")
		}
		if _, err := regexp.Compile(m.Pattern); err != nil {
			return fmt.Errorf("pattern: %w", err)
		}
		return unused("process", "args")
	case "relay":
		if !slices.ContainsFunc(t.Network.Ports, func(p Port) bool { return p.Role == "relay" }) {
			return fmt.Errorf("kind: \"relay\" needs a network.ports entry with role relay")
		}
		return unused("process", "args", "path", "pattern")
	case "inbound":
		return unused("process", "args", "path", "pattern")
	default:
		return fmt.Errorf("kind: %q is not one of %s", m.Kind, strings.Join(SessionKinds, ", "))
	}
}

func (m *ConfigMarker) validate() error {
	if err := validOS(m.OS); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(m.Path) == "":
		return fmt.Errorf("path: missing")
	case m.Pattern == "":
		return fmt.Errorf("pattern: missing")
	case strings.TrimSpace(m.Note) == "":
		return fmt.Errorf("note: missing (say what the setting means)")
	}
	if _, err := regexp.Compile(m.Pattern); err != nil {
		return fmt.Errorf("pattern: %w", err)
	}
	return nil
}

func validOS(list []string) error {
	for i, o := range list {
		if !slices.Contains(OSNames, o) {
			return fmt.Errorf("os[%d]: %q is not one of %s", i, o, strings.Join(OSNames, ", "))
		}
	}
	return nil
}

// nonEmpty refuses empty or blank strings in a list.
func nonEmpty(field string, list []string) error {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%s[%d]: empty string", field, i)
		}
	}
	return nil
}
