package builder

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/catalog"
)

// record is the part of a LOLRMM rmm_tools.json object the builder reads.
type record struct {
	Name     string `json:"Name"`
	Category string `json:"Category"`
	Details  struct {
		PEMetadata        json.RawMessage `json:"PEMetadata"` // one object or a list of them
		InstallationPaths []string        `json:"InstallationPaths"`
	} `json:"Details"`
	Artifacts struct {
		EventLog []struct {
			ServiceName string `json:"ServiceName"`
		} `json:"EventLog"`
		Network []struct {
			Domains []string `json:"Domains"`
			Ports   []any    `json:"Ports"` // numbers, numeric strings or "a-b" ranges
		} `json:"Network"`
		Other []struct {
			Type  string `json:"Type"`
			Value string `json:"Value"`
		} `json:"Other"`
	} `json:"Artifacts"`
	CodeSigning *signing `json:"CodeSigning"`
	References  []string `json:"References"`
}

type signing struct {
	Name         string   `json:"name"` // rmm_certificates.json only
	SignerNames  []string `json:"signer_names"`
	Certificates []struct {
		SignerName string `json:"signer_name"`
	} `json:"certificates"`
}

type peMetadata struct {
	Filename         string `json:"Filename"`
	OriginalFileName string `json:"OriginalFileName"`
}

// categoryMap maps LOLRMM categories to ours. LOLRMM's "RAT" (remote access tool, not
// trojan) mixes VNC, RDP clients, SSH clients, file sync and tunnels, so it maps to "other"
// unless the name says more (ratKeywords); curated overrides set the rest.
var categoryMap = map[string]string{"RMM": "rmm", "RAT": "other"}

// ratKeywords refine "RAT" by a word in the tool's name, first match wins.
var ratKeywords = []struct{ word, category string }{
	{"vnc", "vnc"}, {"tunnel", "tunnel"}, {"rdp", "remote_desktop"}, {"remote desktop", "remote_desktop"},
}

// platformSigners sign the operating system itself; they say nothing about which tool a
// binary belongs to, so LOLRMM-derived signer lists drop them.
var platformSigners = []string{"Microsoft Corporation", "Microsoft Windows", "Microsoft Windows Component Publisher"}

// sharedDomains host many unrelated projects; as a tool's domain they would flag every
// developer machine, so LOLRMM-derived lists drop them.
var sharedDomains = []string{"github.com", "api.github.com", "raw.githubusercontent.com", "objects.githubusercontent.com"}

// domainSentinels are LOLRMM placeholders meaning "the customer's own server".
var domainSentinels = regexp.MustCompile(`^(user_managed|<.*>)$`)

// maxPortRange drops LOLRMM port ranges too wide to identify anything ("1000-65535").
const maxPortRange = 1024

// Stats count what normalisation dropped or reshaped, for docs/catalog.md.
type Stats struct {
	Records             int      // LOLRMM records read
	DuplicateRecords    int      // records folded into an entry of the same id
	SentinelDomains     int      // user_managed and <placeholder> values dropped
	SharedDomains       int      // sharedDomains values dropped
	Addresses           int      // raw IP values moved to network.addresses
	DomainPatterns      int      // wildcard or regex values turned into patterns
	MalformedDomains    []string // values that are no host name after normalisation
	BareNamesToProcess  int      // InstallationPaths that were just an .exe name
	DroppedPaths        int      // InstallationPaths with no recognisable OS (bare non-.exe names)
	DroppedPEValues     int      // PEMetadata names that are not .exe (dll, msi, ELF names)
	DroppedPorts        int      // port values that were not numbers or too wide a range
	DroppedSigners      int      // platform signers dropped
	UnmatchedCertGroups []string
}

func readLOLRMM(fsys fs.FS, st *Stats) ([]*catalog.Tool, error) {
	var recs []record
	if err := readJSON(fsys, "lolrmm/rmm_tools.json", &recs); err != nil {
		return nil, err
	}
	st.Records = len(recs)
	var certs []signing
	if err := readJSON(fsys, "lolrmm/rmm_certificates.json", &certs); err != nil {
		return nil, err
	}
	domains, err := readDomainsCSV(fsys, "lolrmm/rmm_domains.csv")
	if err != nil {
		return nil, err
	}
	tools := make([]*catalog.Tool, 0, len(recs))
	for i := range recs {
		t, err := normalise(&recs[i], domains[recs[i].Name], st)
		if err != nil {
			return nil, fmt.Errorf("lolrmm/rmm_tools.json: [%d] %q: %w", i, recs[i].Name, err)
		}
		tools = append(tools, t)
	}
	// Certificate groups attach by id; failing that, to the single tool whose id extends
	// theirs ("Quest KACE" → quest_kace_agent_formerly_dell_kace); overrides may claim the
	// rest through their "lolrmm" names (see attachCerts in merge.go).
	for i := range certs {
		id := ToolID(certs[i].Name)
		var hit []*catalog.Tool
		for _, t := range tools {
			if t.ID == id {
				hit = append(hit[:0], t)
				break
			}
			if strings.HasPrefix(t.ID, id+"_") {
				hit = append(hit, t)
			}
		}
		if len(hit) == 1 {
			addSigners(hit[0], &certs[i], st)
			continue
		}
		st.UnmatchedCertGroups = append(st.UnmatchedCertGroups, certs[i].Name)
	}
	return tools, nil
}

// readCertGroups returns the certificate groups by LOLRMM name, for overrides that claim one.
func readCertGroups(fsys fs.FS) (map[string]*signing, error) {
	var certs []signing
	if err := readJSON(fsys, "lolrmm/rmm_certificates.json", &certs); err != nil {
		return nil, err
	}
	m := map[string]*signing{}
	for i := range certs {
		m[certs[i].Name] = &certs[i]
	}
	return m, nil
}

func readJSON(fsys fs.FS, name string, v any) error {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func readDomainsCSV(fsys fs.FS, name string) (map[string][]string, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 2
	head, err := r.Read()
	if err != nil || head[0] != "URI" || head[1] != "RMM_Tool" {
		return nil, fmt.Errorf("%s: header %v is not URI,RMM_Tool (%v)", name, head, err)
	}
	m := map[string][]string{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m[row[1]] = append(m[row[1]], row[0])
	}
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// ToolID derives an entry id from a LOLRMM name: lower case, runs of other characters
// become "_", at most 64 characters.
func ToolID(name string) string {
	id := strings.Trim(nonID.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if len(id) > 64 {
		id = strings.TrimRight(id[:64], "_")
	}
	return id
}

func normalise(r *record, csvDomains []string, st *Stats) (*catalog.Tool, error) {
	t := &catalog.Tool{
		ID:       ToolID(r.Name),
		Name:     strings.TrimSpace(r.Name),
		Category: categoryMap[r.Category],
		Attack:   "T1219",
		Origin:   "lolrmm",
		LOLRMM:   []string{r.Name},
		Windows:  &catalog.OSIndicators{},
		MacOS:    &catalog.OSIndicators{},
		Linux:    &catalog.OSIndicators{},
	}
	if t.Category == "" {
		return nil, fmt.Errorf("category %q has no mapping", r.Category)
	}
	if r.Category == "RAT" {
		lower := strings.ToLower(r.Name)
		for _, k := range ratKeywords {
			if strings.Contains(lower, k.word) {
				t.Category = k.category
				break
			}
		}
	}
	for _, ref := range r.References {
		if ref = strings.TrimSpace(ref); ref != "" {
			t.Sources = append(t.Sources, ref)
		}
	}

	pes, err := peList(r.Details.PEMetadata)
	if err != nil {
		return nil, fmt.Errorf("PEMetadata: %w", err)
	}
	for _, pe := range pes {
		for _, v := range []string{pe.Filename, pe.OriginalFileName} {
			v = strings.TrimSpace(v)
			switch {
			case v == "":
			case isExeName(v):
				t.Windows.Processes = append(t.Windows.Processes, v)
			default:
				st.DroppedPEValues++
			}
		}
	}
	for _, p := range r.Details.InstallationPaths {
		addPath(t, p, st)
	}
	for _, ev := range r.Artifacts.EventLog {
		if s := strings.TrimSpace(ev.ServiceName); s != "" && !strings.ContainsAny(s, "*?") {
			t.Windows.Services = append(t.Windows.Services, s)
		}
	}
	for _, o := range r.Artifacts.Other {
		v := strings.TrimSpace(o.Value)
		if v == "" || strings.ContainsAny(v, "*?") {
			continue
		}
		switch o.Type {
		case "ServiceName", "Service Name", "Windows Service Name", "Service":
			t.Windows.Services = append(t.Windows.Services, v)
		case "Linux systemd service":
			t.Linux.Services = append(t.Linux.Services, v)
		case "macOS LaunchDaemon label", "macOS Daemon":
			t.MacOS.Services = append(t.MacOS.Services, v)
		}
	}
	if r.CodeSigning != nil {
		addSigners(t, r.CodeSigning, st)
	}
	for _, d := range csvDomains {
		addDomain(&t.Network, d, st)
	}
	for _, n := range r.Artifacts.Network {
		for _, d := range n.Domains {
			addDomain(&t.Network, d, st)
		}
		for _, p := range n.Ports {
			if port, ok := lolrmmPort(p); ok {
				t.Network.Ports = append(t.Network.Ports, port)
			} else {
				st.DroppedPorts++
			}
		}
	}
	return t, nil
}

func peList(raw json.RawMessage) ([]peMetadata, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] == '[':
		var l []peMetadata
		err := json.Unmarshal(raw, &l)
		return l, err
	default:
		var one peMetadata
		err := json.Unmarshal(raw, &one)
		return []peMetadata{one}, err
	}
}

func isExeName(v string) bool {
	return strings.HasSuffix(strings.ToLower(v), ".exe") && !strings.ContainsAny(v, `/\*?`)
}

var winDrive = regexp.MustCompile(`^[A-Za-z]:`)

// addPath files one LOLRMM InstallationPaths value under the OS its shape suggests:
// C:\, %VAR% or any backslash → windows; /Applications, /Library, /System, /Users,
// ~/Library → macos; other / or ~/ → linux. Bare names: "x.exe" is a Windows process,
// "x*.exe" becomes the Windows path glob **\x*.exe, "x.app" the macOS glob **/x.app;
// other bare names (no extension, .msi, typos) are dropped.
func addPath(t *catalog.Tool, p string, st *Stats) {
	p = strings.TrimSpace(p)
	for strings.Contains(p, `\\`) {
		p = strings.ReplaceAll(p, `\\`, `\`)
	}
	p = strings.TrimRight(p, `\/`)
	switch {
	case p == "":
	case winDrive.MatchString(p) || strings.HasPrefix(p, "%") || strings.Contains(p, `\`):
		if strings.HasPrefix(p, `*\`) {
			p = `**\` + p[2:]
		}
		t.Windows.Paths = append(t.Windows.Paths, p)
	case hasAnyPrefix(p, "/Applications", "/Library", "/System", "/Users", "~/Library"):
		t.MacOS.Paths = append(t.MacOS.Paths, p)
	case strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~/"):
		t.Linux.Paths = append(t.Linux.Paths, p)
	case isExeName(p):
		t.Windows.Processes = append(t.Windows.Processes, p)
		st.BareNamesToProcess++
	case strings.HasSuffix(strings.ToLower(p), ".exe"):
		t.Windows.Paths = append(t.Windows.Paths, `**\`+p)
	case strings.HasSuffix(p, ".app") && !strings.Contains(p, "/"):
		t.MacOS.Paths = append(t.MacOS.Paths, "**/"+p)
	default:
		st.DroppedPaths++
	}
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func addSigners(t *catalog.Tool, s *signing, st *Stats) {
	names := slices.Clone(s.SignerNames)
	for _, c := range s.Certificates {
		names = append(names, c.SignerName)
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
		case slices.Contains(platformSigners, n):
			st.DroppedSigners++
		default:
			t.Windows.Signers = append(t.Windows.Signers, n)
		}
	}
}

var regexChars = regexp.MustCompile(`[\[\]{}()+?|^$\\]`)

// addDomain splits one LOLRMM domain value: placeholders are dropped, ":port" suffixes
// stripped, IPs go to addresses, "*.x.com" becomes the suffix x.com, other "*" globs and
// regular expressions become anchored patterns (a glob "*" matches within one label).
func addDomain(n *catalog.Network, v string, st *Stats) {
	v = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	if v == "" {
		return
	}
	if domainSentinels.MatchString(v) {
		st.SentinelDomains++
		return
	}
	if slices.Contains(sharedDomains, v) {
		st.SharedDomains++
		return
	}
	if i := strings.LastIndexByte(v, ':'); i > 0 && !strings.Contains(v[:i], ":") {
		if _, err := strconv.Atoi(v[i+1:]); err == nil {
			v = v[:i]
		}
	}
	if _, err := netip.ParseAddr(v); err == nil {
		n.Addresses = append(n.Addresses, v)
		st.Addresses++
		return
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		n.Addresses = append(n.Addresses, v)
		st.Addresses++
		return
	}
	switch {
	case strings.HasPrefix(v, "*.") && !strings.ContainsAny(v[2:], "*") && !regexChars.MatchString(v):
		if !catalog.IsHostName(v[2:]) {
			st.MalformedDomains = append(st.MalformedDomains, v)
			return
		}
		n.DomainSuffixes = append(n.DomainSuffixes, v[2:])
	case strings.Contains(v, "*") && !regexChars.MatchString(v):
		n.DomainPatterns = append(n.DomainPatterns, globPattern(v))
		st.DomainPatterns++
	case regexChars.MatchString(v):
		n.DomainPatterns = append(n.DomainPatterns, "^"+escapeDots(strings.TrimSuffix(strings.TrimPrefix(v, "^"), "$"))+"$")
		st.DomainPatterns++
	case !catalog.IsHostName(v):
		st.MalformedDomains = append(st.MalformedDomains, v)
	default:
		n.Domains = append(n.Domains, v)
	}
}

// globPattern turns a host glob into an anchored regexp; "*" matches within one label.
func globPattern(g string) string {
	parts := strings.Split(g, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return "^" + strings.Join(parts, "[a-z0-9_-]*") + "$"
}

// escapeDots escapes "." outside character classes in a hand-written host regexp, where
// LOLRMM means a literal dot.
func escapeDots(re string) string {
	var b strings.Builder
	class := false
	for i := 0; i < len(re); i++ {
		c := re[i]
		switch {
		case c == '\\' && i+1 < len(re):
			b.WriteByte(c)
			i++
			b.WriteByte(re[i])
			continue
		case c == '[':
			class = true
		case c == ']':
			class = false
		case c == '.' && !class:
			b.WriteString(`\.`)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// lolrmmPort reads one LOLRMM port value. LOLRMM gives neither protocol nor role: ports are
// remote ports the tool connects to, recorded as tcp "rendezvous".
func lolrmmPort(v any) (catalog.Port, bool) {
	p := catalog.Port{Protocol: "tcp", Role: "rendezvous"}
	switch x := v.(type) {
	case float64:
		if x != float64(uint32(x)) {
			return p, false
		}
		p.Port = uint32(x)
	case string:
		lo, hi, isRange := strings.Cut(strings.TrimSpace(x), "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		if err != nil {
			return p, false
		}
		p.Port = uint32(a)
		if isRange {
			b, err := strconv.ParseUint(hi, 10, 32)
			if err != nil || b-a > maxPortRange {
				return p, false
			}
			p.To = uint32(b)
		}
	default:
		return p, false
	}
	return p, p.Port >= 1 && p.Port <= 65535 && (p.To == 0 || p.To >= p.Port && p.To <= 65535)
}
