// Package builder turns the vendored LOLRMM snapshot and Farmwatch's curated overrides into
// the catalog document (catalog/data/catalog.json) and its description (docs/catalog.md).
// It is a pure function of its inputs: the same files give byte-identical outputs.
package builder

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/farmwatch/farmwatch/catalog"
)

// Output is what one build produces.
type Output struct {
	Catalog []byte // catalog/data/catalog.json
	Docs    []byte // docs/catalog.md
	Stats   Stats
}

// ListenersFile is the override file holding the OS remote-access listeners.
const ListenersFile = "os_remote_listeners.json"

// Build reads lolrmm/ and overrides/ from fsys (the catalog directory) and returns the
// generated files.
func Build(fsys fs.FS) (*Output, error) {
	var st Stats
	lol, err := readLOLRMM(fsys, &st)
	if err != nil {
		return nil, err
	}
	certs, err := readCertGroups(fsys)
	if err != nil {
		return nil, err
	}
	listeners, overrides, err := readOverrides(fsys)
	if err != nil {
		return nil, err
	}
	tools, err := merge(lol, overrides, certs, &st)
	if err != nil {
		return nil, err
	}
	hw, err := readHardware(fsys)
	if err != nil {
		return nil, err
	}
	slices.Sort(st.MalformedDomains)
	st.MalformedDomains = slices.Compact(st.MalformedDomains)
	c := &catalog.Catalog{OSRemoteListeners: listeners, RemoteTools: tools, Hardware: *hw}
	content, err := json.Marshal(struct {
		L []catalog.Listener `json:"os_remote_listeners"`
		T []catalog.Tool     `json:"remote_tools"`
		H catalog.Hardware   `json:"hardware"`
	}{c.OSRemoteListeners, c.RemoteTools, c.Hardware})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(content)
	c.Version = "1." + hex.EncodeToString(sum[:])[:12]

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	// What we write must be what agents accept.
	if _, err := catalog.ParseFile("catalog/data/catalog.json", buf.Bytes()); err != nil {
		return nil, err
	}
	docs, err := renderDocs(c, &st)
	if err != nil {
		return nil, err
	}
	return &Output{Catalog: buf.Bytes(), Docs: docs, Stats: st}, nil
}

// override is one curated tool and the file it came from.
type override struct {
	file string
	at   string // "overrides/x.json" or "overrides/x.json: [2]"
	tool catalog.Tool
}

func readOverrides(fsys fs.FS) ([]catalog.Listener, []override, error) {
	names, err := fs.Glob(fsys, "overrides/*.json")
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(names)
	var listeners []catalog.Listener
	var out []override
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, err
		}
		if path.Base(name) == ListenersFile {
			if err := catalog.DecodeStrict(b, &listeners); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			// Validate through the catalog so errors read like the agent's.
			probe := catalog.Catalog{Version: "0", OSRemoteListeners: listeners}
			if err := probe.Validate(); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		var list []catalog.Tool
		if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
			err = catalog.DecodeStrict(b, &list)
		} else {
			list = make([]catalog.Tool, 1)
			err = catalog.DecodeStrict(b, &list[0])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		for i, t := range list {
			at := name
			if b := bytes.TrimSpace(b); b[0] == '[' {
				at = fmt.Sprintf("%s: [%d]", name, i)
			}
			if t.Origin != "" {
				return nil, nil, fmt.Errorf("%s (%s): origin: set by the builder, leave it out", at, t.ID)
			}
			t.Origin = "farmwatch"
			if err := t.Validate(); err != nil {
				return nil, nil, fmt.Errorf("%s (%s): %w", at, t.ID, err)
			}
			out = append(out, override{file: name, at: at, tool: t})
		}
	}
	if listeners == nil {
		return nil, nil, fmt.Errorf("overrides/%s: missing", ListenersFile)
	}
	return listeners, out, nil
}

// merge folds LOLRMM records with the same id together, applies the overrides and returns
// every entry, normalised and sorted by id.
func merge(lol []*catalog.Tool, overrides []override, certs map[string]*signing, st *Stats) ([]catalog.Tool, error) {
	byID := map[string]*catalog.Tool{}
	var ids []string
	byName := map[string]string{} // LOLRMM name → id
	for _, t := range lol {
		byName[t.Name] = t.ID
		if prev, ok := byID[t.ID]; ok {
			unionInto(prev, t)
			st.DuplicateRecords++
			continue
		}
		byID[t.ID] = t
		ids = append(ids, t.ID)
	}
	claimed := map[string]string{} // LOLRMM id → override file
	result := map[string]*catalog.Tool{}
	for _, ov := range overrides {
		o := ov.tool
		if _, dup := result[o.ID]; dup {
			return nil, fmt.Errorf("%s (%s): id: another override has the same id", ov.at, o.ID)
		}
		// The LOLRMM entries this override covers: its own id and every name it lists.
		want := []string{o.ID}
		var extraSigners []*signing
		for _, n := range o.LOLRMM {
			if id, ok := byName[n]; ok {
				want = append(want, id)
			} else if c, ok := certs[n]; ok {
				extraSigners = append(extraSigners, c)
				st.UnmatchedCertGroups = slices.DeleteFunc(st.UnmatchedCertGroups, func(g string) bool { return g == n })
			} else {
				return nil, fmt.Errorf("%s (%s): lolrmm: %q is neither a LOLRMM tool nor a certificate group", ov.at, o.ID, n)
			}
		}
		var base *catalog.Tool
		for _, id := range want {
			t, ok := byID[id]
			if !ok {
				continue
			}
			if by, taken := claimed[id]; taken {
				if by == ov.at {
					continue
				}
				return nil, fmt.Errorf("%s (%s): lolrmm: %q already merged by %s", ov.at, o.ID, id, by)
			}
			claimed[id] = ov.at
			if base == nil {
				c := *t
				base = &c
			} else {
				unionInto(base, t)
			}
		}
		for _, c := range extraSigners {
			if base == nil {
				base = &catalog.Tool{Windows: &catalog.OSIndicators{}}
			}
			addSigners(base, c, st)
		}
		result[o.ID] = apply(base, &o)
	}
	for _, id := range ids {
		if _, ok := claimed[id]; !ok {
			result[id] = byID[id]
		}
	}
	out := make([]catalog.Tool, 0, len(result))
	for _, t := range result {
		finish(t)
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b catalog.Tool) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// unionInto adds src's facts to dst (two LOLRMM records of one product).
func unionInto(dst, src *catalog.Tool) {
	if dst.Category == "other" {
		dst.Category = src.Category
	}
	dst.LOLRMM = append(dst.LOLRMM, src.LOLRMM...)
	dst.Sources = append(dst.Sources, src.Sources...)
	for _, p := range [][2]*catalog.OSIndicators{{dst.Windows, src.Windows}, {dst.MacOS, src.MacOS}, {dst.Linux, src.Linux}} {
		d, s := p[0], p[1]
		if s == nil || d == nil {
			continue
		}
		d.Processes = append(d.Processes, s.Processes...)
		d.Paths = append(d.Paths, s.Paths...)
		d.Services = append(d.Services, s.Services...)
		d.BundleIDs = append(d.BundleIDs, s.BundleIDs...)
		d.Packages = append(d.Packages, s.Packages...)
		d.Signers = append(d.Signers, s.Signers...)
		d.Interfaces = append(d.Interfaces, s.Interfaces...)
	}
	n, s := &dst.Network, &src.Network
	n.Domains = append(n.Domains, s.Domains...)
	n.DomainSuffixes = append(n.DomainSuffixes, s.DomainSuffixes...)
	n.DomainPatterns = append(n.DomainPatterns, s.DomainPatterns...)
	n.Addresses = append(n.Addresses, s.Addresses...)
	n.Ports = append(n.Ports, s.Ports...)
}

// apply lays an override over its LOLRMM base (nil when there is none). Scalars the
// override sets win; a list the override has (even an empty one, []) replaces the base's,
// a list it leaves out is inherited; sources and lolrmm names are unions.
func apply(base, o *catalog.Tool) *catalog.Tool {
	if base == nil {
		t := *o
		t.Origin = "farmwatch"
		return &t
	}
	t := *base
	t.Origin = "lolrmm+farmwatch"
	t.ID = o.ID
	t.Deep = o.Deep
	for _, s := range []struct {
		dst *string
		src string
	}{
		{&t.Name, o.Name}, {&t.Vendor, o.Vendor}, {&t.Category, o.Category}, {&t.Attack, o.Attack},
	} {
		if s.src != "" {
			*s.dst = s.src
		}
	}
	t.Windows = applyOS(base.Windows, o.Windows)
	t.MacOS = applyOS(base.MacOS, o.MacOS)
	t.Linux = applyOS(base.Linux, o.Linux)
	n, on := &t.Network, &o.Network
	replace(&n.Domains, on.Domains)
	replace(&n.DomainSuffixes, on.DomainSuffixes)
	replace(&n.DomainPatterns, on.DomainPatterns)
	replace(&n.Addresses, on.Addresses)
	replace(&n.Ports, on.Ports)
	replace(&t.Session, o.Session)
	replace(&t.Unattended, o.Unattended)
	replace(&t.Notes, o.Notes)
	t.Sources = append(slices.Clone(o.Sources), base.Sources...)
	t.LOLRMM = append(slices.Clone(base.LOLRMM), o.LOLRMM...)
	return &t
}

func applyOS(base, o *catalog.OSIndicators) *catalog.OSIndicators {
	if o == nil {
		return base
	}
	if base == nil {
		c := *o
		return &c
	}
	r := *base
	replace(&r.Processes, o.Processes)
	replace(&r.Paths, o.Paths)
	replace(&r.Services, o.Services)
	replace(&r.BundleIDs, o.BundleIDs)
	replace(&r.Packages, o.Packages)
	replace(&r.Signers, o.Signers)
	replace(&r.Interfaces, o.Interfaces)
	return &r
}

func replace[T any](dst *[]T, src []T) {
	if src != nil {
		*dst = slices.Clone(src)
	}
}

// finish sorts and de-duplicates every list, drops empty OS blocks and exact domains that a
// suffix of the same name already covers.
func finish(t *catalog.Tool) {
	for _, p := range []**catalog.OSIndicators{&t.Windows, &t.MacOS, &t.Linux} {
		o := *p
		if o == nil {
			continue
		}
		for _, l := range []*[]string{&o.Processes, &o.Paths, &o.Services, &o.BundleIDs, &o.Packages, &o.Signers, &o.Interfaces} {
			*l = foldSorted(*l)
		}
		if len(o.Processes)+len(o.Paths)+len(o.Services)+len(o.BundleIDs)+len(o.Packages)+len(o.Signers)+len(o.Interfaces) == 0 {
			*p = nil
		}
	}
	n := &t.Network
	n.DomainSuffixes = exactSorted(n.DomainSuffixes)
	n.Domains = slices.DeleteFunc(exactSorted(n.Domains), func(d string) bool {
		_, found := slices.BinarySearch(n.DomainSuffixes, d)
		return found
	})
	n.DomainPatterns = exactSorted(n.DomainPatterns)
	n.Addresses = exactSorted(n.Addresses)
	slices.SortFunc(n.Ports, func(a, b catalog.Port) int {
		if c := int(a.Port) - int(b.Port); c != 0 {
			return c
		}
		if c := int(a.To) - int(b.To); c != 0 {
			return c
		}
		if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		return strings.Compare(a.Role, b.Role)
	})
	n.Ports = slices.Compact(n.Ports)
	t.Sources = exactSorted(t.Sources)
	t.LOLRMM = exactSorted(t.LOLRMM)
	t.Session = nilIfEmpty(t.Session)
	t.Unattended = nilIfEmpty(t.Unattended)
	t.Notes = nilIfEmpty(t.Notes)
	if len(n.Ports) == 0 {
		n.Ports = nil
	}
}

// foldSorted sorts case-insensitively and drops case-insensitive duplicates, keeping the
// byte-wise first spelling (capitals before lower case: "AnyDesk.exe" over "anydesk.exe").
func foldSorted(l []string) []string {
	slices.SortFunc(l, func(a, b string) int {
		if c := strings.Compare(strings.ToLower(a), strings.ToLower(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	l = slices.CompactFunc(l, strings.EqualFold)
	return nilIfEmpty(l)
}

func exactSorted(l []string) []string {
	slices.Sort(l)
	return nilIfEmpty(slices.Compact(l))
}

func nilIfEmpty[T any](l []T) []T {
	if len(l) == 0 {
		return nil
	}
	return l
}
