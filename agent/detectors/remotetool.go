package detectors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/catalog"
	"github.com/farmwatch/farmwatch/platform/codesign"
	"github.com/farmwatch/farmwatch/platform/service"
	"github.com/farmwatch/farmwatch/platform/software"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("remote_tool", true, newRemoteTool)
}

// Recent is how old a session log line may be and still count as a session now.
const sessionLogWindow = 15 * time.Minute

// remoteTool finds the catalog's remote-control tools: installed (packages, apps, services),
// running (process names and install paths), in a session now (session-only helpers, inbound
// or relayed connections owned by the tool, session log lines), armed for unattended access
// (configuration), and several vendors on one laptop.
type remoteTool struct {
	log *slog.Logger

	mu      sync.Mutex
	idxFor  *catalog.Catalog
	idxOS   string
	idx     *toolIndex
	sigs    map[sigKey]sigEntry // code signatures by executable, for the life of the file
	invAt   time.Time           // installed-software cache, live system only
	invRoot string
	inv     inventory
}

func newRemoteTool(log *slog.Logger) (detect.Detector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &remoteTool{log: log}, nil
}

type sigKey struct {
	path  string
	size  int64
	mtime int64
}

type sigEntry struct {
	sig codesign.Signature
	ok  bool
}

// signature reads (once per file version) who signed an executable.
func (d *remoteTool) signature(root, exe string) (codesign.Signature, bool) {
	exe = strings.TrimSuffix(exe, " (deleted)")
	if exe == "" {
		return codesign.Signature{}, false
	}
	path := exe
	if root != "" && root != "/" {
		path = filepath.Join(root, exe)
	}
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return codesign.Signature{}, false
	}
	k := sigKey{path, st.Size(), st.ModTime().UnixNano()}
	d.mu.Lock()
	e, hit := d.sigs[k]
	d.mu.Unlock()
	if hit {
		return e.sig, e.ok
	}
	sig, err := codesign.Read(path)
	e = sigEntry{sig, err == nil && (sig.Subject != "" || sig.TeamID != "" || sig.Identifier != "")}
	d.mu.Lock()
	if d.sigs == nil || len(d.sigs) > 4096 {
		d.sigs = map[sigKey]sigEntry{}
	}
	d.sigs[k] = e
	d.mu.Unlock()
	return e.sig, e.ok
}

// inventoryTTL bounds how often the package database and service definitions are re-read on a
// live system; they change on installs, not between two scans minutes apart.
const inventoryTTL = 10 * time.Minute

type inventory struct {
	packages []software.Package
	services []service.Service
	err      error
}

func (d *remoteTool) inventory(ctx context.Context, root string, now time.Time) inventory {
	d.mu.Lock()
	defer d.mu.Unlock()
	live := root == "" || root == "/"
	if live && d.invRoot == root && !d.invAt.IsZero() && now.Sub(d.invAt) < inventoryTTL {
		return d.inv
	}
	pk, perr := software.List(ctx, root)
	sv, serr := service.List(ctx, root)
	inv := inventory{packages: pk, services: sv}
	if perr != nil && !errors.Is(perr, software.ErrNotImplemented) {
		inv.err = fmt.Errorf("installed software: %w", perr)
	}
	if serr != nil && !errors.Is(serr, service.ErrNotImplemented) {
		inv.err = errors.Join(inv.err, fmt.Errorf("services: %w", serr))
	}
	d.inv, d.invAt, d.invRoot = inv, now, root
	return inv
}

// toolIndex is the catalog compiled for one OS.
type toolIndex struct {
	tools    []*catalog.Tool
	procs    map[string][]int // lowercase process name -> tools
	packages map[string][]int // lowercase package name / bundle id / flatpak id -> tools
	services map[string][]int // lowercase service / unit / launchd label -> tools
	paths    []pathRule
	session  [][]sessionRule
	config   [][]configRule
	relay    []map[uint32]bool // per tool: remote ports that only carry sessions
	listen   []map[uint32]bool // per tool: ports it listens on for sessions
	// prefixes are Windows uninstall DisplayName prefixes ("TeamViewer" matches "TeamViewer 15").
	prefixes []prefixRule
	// signers are code-signing subjects, organizations, Apple team ids and identifiers.
	signers map[string][]int
	// ports are the distinctive remote ports of curated tools (not 80/443/3478...), for
	// recognising renamed builds and forks by whom they talk to.
	ports map[uint32][]int
}

type prefixRule struct {
	prefix string
	tool   int
}

// commonPorts carry everything and say nothing about which tool is talking.
var commonPorts = map[uint32]bool{20: true, 21: true, 22: true, 25: true, 53: true, 80: true, 123: true, 443: true, 465: true,
	587: true, 853: true, 993: true, 1194: true, 3478: true, 3479: true, 5349: true, 8080: true, 8443: true, 19302: true}

type pathRule struct {
	re   *regexp.Regexp
	tool int
	glob string
}

type sessionRule struct {
	m  catalog.SessionMarker
	re *regexp.Regexp
}

type configRule struct {
	m  catalog.ConfigMarker
	re *regexp.Regexp
}

func (d *remoteTool) index(c *catalog.Catalog, goos string) *toolIndex {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idxFor == c && d.idxOS == goos {
		return d.idx
	}
	x := &toolIndex{procs: map[string][]int{}, packages: map[string][]int{}, services: map[string][]int{}, ports: map[uint32][]int{}, signers: map[string][]int{}}
	for i := range c.RemoteTools {
		t := &c.RemoteTools[i]
		x.tools = append(x.tools, t)
		// VPNs, meshes and tunnels are not remote control: the overlay detector reports them
		// as overlay.*, and they do not make "several remote-control tools".
		_, overlayKind := overlaySignal[t.ID]
		ind := osIndicators(t, goos)
		if overlayKind {
			ind = nil
		}
		add := func(m map[string][]int, keys []string, trim ...string) {
			for _, k := range keys {
				k = strings.ToLower(k)
				for _, s := range trim {
					k = strings.TrimSuffix(k, s)
				}
				if k != "" && !containsInt(m[k], i) {
					m[k] = append(m[k], i)
				}
			}
		}
		if ind != nil {
			add(x.procs, ind.Processes)
			add(x.packages, ind.Packages)
			add(x.signers, ind.Signers)
			add(x.signers, ind.BundleIDs)
			if goos == "windows" {
				for _, p := range ind.Packages {
					x.prefixes = append(x.prefixes, prefixRule{strings.ToLower(p), i})
				}
			}
			add(x.packages, ind.BundleIDs)
			add(x.services, ind.Services, ".service", ".plist")
			for _, g := range ind.Paths {
				if re, err := globRegexp(g, goos); err == nil {
					x.paths = append(x.paths, pathRule{re, i, g})
				}
			}
		}
		var sr []sessionRule
		for _, m := range t.Session {
			if !forOS(m.OS, goos) || overlayKind {
				continue
			}
			r := sessionRule{m: m}
			if m.Pattern != "" {
				r.re, _ = regexp.Compile(m.Pattern) // validated at load
			}
			sr = append(sr, r)
		}
		x.session = append(x.session, sr)
		var cr []configRule
		for _, m := range t.Unattended {
			if !forOS(m.OS, goos) || overlayKind {
				continue
			}
			if re, err := regexp.Compile(m.Pattern); err == nil {
				cr = append(cr, configRule{m, re})
			}
		}
		x.config = append(x.config, cr)
		relay, listen := map[uint32]bool{}, map[uint32]bool{}
		for _, p := range t.Network.Ports {
			for port := p.Port; port <= max(p.Port, p.To) && port-p.Port < 64; port++ {
				switch p.Role {
				case "relay":
					relay[port] = true
				case "listen":
					listen[port] = true
				}
				if !overlayKind && t.Deep && p.Protocol == "tcp" && (p.Role == "relay" || p.Role == "rendezvous") && !commonPorts[port] && !containsInt(x.ports[port], i) {
					x.ports[port] = append(x.ports[port], i)
				}
			}
		}
		x.relay, x.listen = append(x.relay, relay), append(x.listen, listen)
	}
	d.idxFor, d.idxOS, d.idx = c, goos, x
	return x
}

func osIndicators(t *catalog.Tool, goos string) *catalog.OSIndicators {
	switch goos {
	case "windows":
		return t.Windows
	case "darwin":
		return t.MacOS
	}
	return t.Linux
}

func forOS(list []string, goos string) bool {
	if len(list) == 0 {
		return true
	}
	for _, o := range list {
		if o == goos {
			return true
		}
	}
	return false
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// globRegexp compiles a catalog path glob: * within one element, ** across elements, ~ any
// home directory, %VAR% any Windows folder; case-insensitive on Windows and macOS.
func globRegexp(g, goos string) (*regexp.Regexp, error) {
	var b strings.Builder
	if goos != "linux" {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		c := g[i]
		switch {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString(`[^/\\]*`)
		case c == '?':
			b.WriteString(`[^/\\]`)
		case c == '~' && i == 0:
			b.WriteString(`(?:/home/[^/]+|/root|/Users/[^/]+|/var/root)`)
		case c == '%':
			j := strings.IndexByte(g[i+1:], '%')
			if j < 0 {
				b.WriteString("%")
				continue
			}
			b.WriteString(`[^\\/]+(?:[\\/][^\\/]+)*`)
			i += j + 1
		case c == '/' || c == '\\':
			b.WriteString(`[/\\]`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`(?:$|[/\\])`)
	return regexp.Compile(b.String())
}

// hit collects what identified one tool.
type hit struct {
	procs    []*pb.Process
	how      map[string]bool
	packages []string
	services []string
	paths    []string
}

func (d *remoteTool) Detect(ctx context.Context, env *detect.Env) ([]*pb.Finding, error) {
	if env.Catalog == nil {
		return nil, errors.New("no catalog")
	}
	goos := env.Facts.GetHost().GetOs()
	if goos == "" {
		goos = "linux" // captured trees are Linux trees
	}
	x := d.index(env.Catalog, goos)
	now := env.Now
	if now.IsZero() {
		now = time.Now()
	}

	running := map[int]*hit{}
	get := func(m map[int]*hit, i int) *hit {
		if m[i] == nil {
			m[i] = &hit{how: map[string]bool{}}
		}
		return m[i]
	}
	for _, p := range env.Facts.GetProcesses() {
		matched := map[int]string{}
		for _, n := range names(p) {
			for _, i := range x.procs[n] {
				matched[i] = "process name"
			}
		}
		if exe := p.GetExecutable(); exe != "" {
			for _, r := range x.paths {
				if _, ok := matched[r.tool]; !ok && r.re.MatchString(exe) {
					matched[r.tool] = "install path " + r.glob
				}
			}
		}
		if len(matched) == 0 && goos != "linux" {
			// Not known by name or path: a renamed build still carries its vendor's signature.
			if sig, ok := d.signature(env.Root, p.GetExecutable()); ok {
				for _, k := range []string{sig.Subject, sig.Organization, sig.TeamID, sig.Identifier} {
					for _, i := range x.signers[strings.ToLower(k)] {
						matched[i] = "code signer " + firstNonEmpty(sig.Subject, k) + " (read from the file, not verified)"
					}
				}
			}
		}
		if len(matched) == 0 {
			// Not known by name or path: a renamed build or a fork still talks to its tool's
			// rendezvous and relay ports.
			for _, s := range p.GetSockets() {
				if !isTCP(s) || s.GetState() != "ESTABLISHED" || isLoopback(s.GetRemoteAddress()) {
					continue
				}
				for _, i := range x.ports[s.GetRemotePort()] {
					matched[i] = fmt.Sprintf("connection to %s port %d (%s)", x.tools[i].Name, s.GetRemotePort(), hostPort(s.GetRemoteAddress(), s.GetRemotePort()))
				}
			}
		}
		for i, how := range matched {
			h := get(running, i)
			h.procs = append(h.procs, p)
			h.how[how] = true
		}
	}

	inv := d.inventory(ctx, env.Root, now)
	installed := matchInventory(x, inv)

	var out []*pb.Finding
	for i, h := range installed {
		out = append(out, installedFinding(x.tools[i], h))
	}
	for i, h := range running {
		out = append(out, runningFinding(x.tools[i], h, env.Facts))
	}
	for i := range x.tools {
		out = append(out, d.sessions(x, i, running[i], env, now)...)
		out = append(out, d.unattended(x, i, env.Root)...)
	}
	if f := multipleFinding(x, installed, running); f != nil {
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		return out[i].Key < out[j].Key
	})
	return out, inv.err
}

// matchInventory finds the tools among installed packages and services.
func matchInventory(x *toolIndex, inv inventory) map[int]*hit {
	installed := map[int]*hit{}
	get := func(m map[int]*hit, i int) *hit {
		if m[i] == nil {
			m[i] = &hit{how: map[string]bool{}}
		}
		return m[i]
	}
	for _, pk := range inv.packages {
		if pk.Source == "windows" {
			name := strings.ToLower(pk.Name)
			for _, r := range x.prefixes {
				if strings.HasPrefix(name, r.prefix) {
					h := get(installed, r.tool)
					h.packages = appendUnique(h.packages, "windows:"+pk.Name)
				}
			}
		}
		keys := []string{strings.ToLower(pk.Name), strings.ToLower(pk.ID)}
		for _, k := range keys {
			if k == "" {
				continue
			}
			for _, i := range x.packages[k] {
				h := get(installed, i)
				h.packages = appendUnique(h.packages, pk.Source+":"+firstNonEmpty(pk.ID, pk.Name))
			}
		}
		if pk.Path != "" {
			for _, r := range x.paths {
				if r.re.MatchString(pk.Path) {
					h := get(installed, r.tool)
					h.paths = appendUnique(h.paths, pk.Path)
				}
			}
		}
	}
	for _, s := range inv.services {
		state := "disabled"
		if s.Enabled {
			state = "enabled"
		}
		desc := s.Manager + ":" + s.Name + " (" + state + ")"
		n := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(s.Name), ".service"), ".plist")
		tools := map[int]bool{}
		for _, i := range x.services[n] {
			tools[i] = true
		}
		if s.Program != "" {
			for _, r := range x.paths {
				if r.re.MatchString(s.Program) {
					tools[r.tool] = true
				}
			}
		}
		for i := range tools {
			h := get(installed, i)
			h.services = appendUnique(h.services, desc)
		}
	}

	return installed
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func confidence(t *catalog.Tool, deep, shallow float64) float64 {
	if t.Deep {
		return deep
	}
	return shallow
}

func installedFinding(t *catalog.Tool, h *hit) *pb.Finding {
	ev := map[string]string{"tool": t.ID, "vendor": t.Vendor, "category": t.Category}
	var via []string
	if len(h.packages) > 0 {
		sort.Strings(h.packages)
		ev["packages"] = clipEvidence(strings.Join(h.packages, ", "))
		via = append(via, "package")
	}
	if len(h.services) > 0 {
		sort.Strings(h.services)
		ev["services"] = clipEvidence(strings.Join(h.services, ", "))
		via = append(via, "service")
	}
	if len(h.paths) > 0 {
		sort.Strings(h.paths)
		ev["paths"] = clipEvidence(strings.Join(h.paths, ", "))
		via = append(via, "install path")
	}
	ev["recognised_by"] = strings.Join(via, ", ")
	return &pb.Finding{
		Signal: "remote_tool.installed", Severity: pb.Severity_SEVERITY_LOW, Confidence: confidence(t, 0.9, 0.6),
		Title: t.Name + " is installed", Attack: t.Attack, Key: t.ID, Evidence: ev,
	}
}

func runningFinding(t *catalog.Tool, h *hit, facts *pb.Facts) *pb.Finding {
	sort.Slice(h.procs, func(i, j int) bool { return h.procs[i].GetPid() < h.procs[j].GetPid() })
	p := h.procs[0]
	var pids, procNames []string
	for _, q := range h.procs {
		pids = append(pids, strconv.Itoa(int(q.GetPid())))
		procNames = appendUnique(procNames, q.GetName())
	}
	var how []string
	for k := range h.how {
		how = append(how, k)
	}
	sort.Strings(how)
	ev := map[string]string{
		"tool": t.ID, "vendor": t.Vendor, "category": t.Category,
		"process": strings.Join(procNames, ", "), "pids": clipEvidence(strings.Join(pids, ", ")),
		"executable": clipEvidence(p.GetExecutable()), "command_line": clipEvidence(p.GetCommandLine()),
		"user": p.GetUsername(), "recognised_by": strings.Join(how, ", "),
	}
	if parent := findProcess(facts, p.GetPpid()); parent != nil {
		ev["parent"] = parent.GetName() + " (" + strconv.Itoa(int(parent.GetPid())) + ")"
	}
	conf := confidence(t, 0.95, 0.7)
	if len(how) == 1 && strings.HasPrefix(how[0], "connection to ") {
		conf = 0.6 // only whom it talks to says so
	}
	return &pb.Finding{
		Signal: "remote_tool.running", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: conf,
		Title: t.Name + " is running", Attack: t.Attack, Key: t.ID, Evidence: ev,
	}
}

func findProcess(f *pb.Facts, pid int32) *pb.Process {
	if pid <= 0 {
		return nil
	}
	for _, p := range f.GetProcesses() {
		if p.GetPid() == pid {
			return p
		}
	}
	return nil
}

// sessions applies a tool's session markers.
func (d *remoteTool) sessions(x *toolIndex, i int, run *hit, env *detect.Env, now time.Time) []*pb.Finding {
	t := x.tools[i]
	var out []*pb.Finding
	session := func(key, title string, ev map[string]string) {
		ev["tool"], ev["vendor"] = t.ID, t.Vendor
		out = append(out, &pb.Finding{
			Signal: "remote_tool.session", Severity: pb.Severity_SEVERITY_HIGH, Confidence: confidence(t, 0.9, 0.7),
			Title: title, Attack: t.Attack, Key: t.ID + ":" + key, Evidence: ev,
		})
	}
	var procs []*pb.Process
	if run != nil {
		procs = run.procs
	}
	for _, r := range x.session[i] {
		switch r.m.Kind {
		case "process":
			want := strings.TrimSuffix(strings.ToLower(r.m.Process), ".exe")
			for _, p := range env.Facts.GetProcesses() {
				if !hasName(p, want) || (r.m.Args != "" && !strings.Contains(p.GetCommandLine(), r.m.Args)) {
					continue
				}
				session("process:"+strconv.Itoa(int(p.GetPid())), fmt.Sprintf("%s session: %s is running", t.Name, p.GetName()), map[string]string{
					"marker": "session-only process", "process": p.GetName(), "pid": strconv.Itoa(int(p.GetPid())),
					"command_line": clipEvidence(p.GetCommandLine()), "recognised_by": "process " + r.m.Process + " " + r.m.Args,
				})
			}
		case "inbound":
			listening := map[uint32]bool{}
			for port := range x.listen[i] {
				listening[port] = true
			}
			for _, p := range procs {
				for _, s := range p.GetSockets() {
					if isListen(s) {
						listening[s.GetLocalPort()] = true
					}
				}
			}
			for _, p := range procs {
				for _, s := range p.GetSockets() {
					if !isEstablished(s) || !listening[s.GetLocalPort()] {
						continue
					}
					peer := hostPort(s.GetRemoteAddress(), s.GetRemotePort())
					session("inbound:"+peer, fmt.Sprintf("%s session from %s", t.Name, plainAddr(s.GetRemoteAddress())), map[string]string{
						"marker": "inbound connection", "process": p.GetName(), "pid": strconv.Itoa(int(p.GetPid())),
						"local": hostPort(s.GetLocalAddress(), s.GetLocalPort()), "peer": peer, "peer_address": plainAddr(s.GetRemoteAddress()),
						"recognised_by": "established connection to the tool's listening port",
					})
				}
			}
		case "relay":
			for _, p := range procs {
				for _, s := range p.GetSockets() {
					if (s.GetState() != "ESTABLISHED" && isTCP(s)) || !x.relay[i][s.GetRemotePort()] {
						continue
					}
					peer := hostPort(s.GetRemoteAddress(), s.GetRemotePort())
					session("relay:"+peer, fmt.Sprintf("%s session through relay %s", t.Name, peer), map[string]string{
						"marker": "relayed connection", "process": p.GetName(), "pid": strconv.Itoa(int(p.GetPid())),
						"relay": peer, "recognised_by": "connection to the tool's relay port " + strconv.Itoa(int(s.GetRemotePort())),
					})
				}
			}
		case "log":
			for _, path := range expandPath(env.Root, r.m.Path) {
				line, at, ok := recentLine(path, r.re, now)
				if !ok {
					continue
				}
				shown := displayPath(env.Root, path)
				session("log:"+shown, fmt.Sprintf("%s session in its log (%s)", t.Name, filepath.Base(path)), map[string]string{
					"marker": "session log line", "file": shown, "line": clipEvidence(line), "modified": at.UTC().Format(time.RFC3339),
					"recognised_by": "log " + r.m.Path,
				})
			}
		}
	}
	return out
}

// hasName says whether p goes by name (lowercase, without ".exe"), with or without ".exe".
func hasName(p *pb.Process, name string) bool {
	for _, n := range names(p) {
		if strings.TrimSuffix(n, ".exe") == name {
			return true
		}
	}
	return false
}

// unattended applies a tool's configuration markers. Only the setting's name is reported,
// never its value (it may be a password hash).
func (d *remoteTool) unattended(x *toolIndex, i int, root string) []*pb.Finding {
	t := x.tools[i]
	var out []*pb.Finding
	for _, r := range x.config[i] {
		for _, path := range expandPath(root, r.m.Path) {
			line, ok := matchingLine(path, r.re)
			if !ok {
				continue
			}
			setting := line
			if k, _, found := strings.Cut(line, "="); found {
				setting = strings.TrimSpace(k)
			}
			path := displayPath(root, path)
			out = append(out, &pb.Finding{
				Signal: "remote_tool.unattended", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: confidence(t, 0.85, 0.6),
				Title: fmt.Sprintf("%s is set up for unattended access", t.Name), Attack: t.Attack, Key: t.ID + ":" + path,
				Evidence: map[string]string{
					"tool": t.ID, "vendor": t.Vendor, "file": path, "setting": clipEvidence(setting), "meaning": r.m.Note,
					"recognised_by": "configuration " + r.m.Path,
				},
			})
		}
	}
	return out
}

func multipleFinding(x *toolIndex, installed, running map[int]*hit) *pb.Finding {
	vendors := map[string][]string{}
	for _, m := range []map[int]*hit{installed, running} {
		for i := range m {
			t := x.tools[i]
			if t.Category == "os_builtin" {
				continue
			}
			v := strings.ToLower(firstNonEmpty(t.Vendor, t.ID))
			vendors[v] = appendUnique(vendors[v], t.ID)
		}
	}
	if len(vendors) < 2 {
		return nil
	}
	var tools []string
	for _, ids := range vendors {
		tools = append(tools, ids...)
	}
	sort.Strings(tools)
	return &pb.Finding{
		Signal: "remote_tool.multiple", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.8,
		Title: fmt.Sprintf("%d remote-control tools from different vendors on one laptop", len(vendors)), Attack: "T1219",
		Key: "multiple", Evidence: map[string]string{"tools": strings.Join(tools, ", "), "vendors": strconv.Itoa(len(vendors))},
	}
}

// displayPath is a path as it is on the scanned system: without the captured tree's root.
func displayPath(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return "/" + filepath.ToSlash(rel)
}

// expandPath turns a catalog path glob into the matching files under root: ~ becomes every
// home directory.
func expandPath(root, pattern string) []string {
	if root == "" {
		root = "/"
	}
	var globs []string
	if rest, ok := strings.CutPrefix(pattern, "~/"); ok {
		for _, h := range []string{"home/*", "root", "Users/*", "var/root"} {
			globs = append(globs, filepath.Join(root, h, rest))
		}
	} else if strings.HasPrefix(pattern, "/") {
		globs = append(globs, filepath.Join(root, pattern))
	} else if runtime.GOOS == "windows" && root == "/" {
		globs = windowsGlobs(pattern)
	} else {
		return nil // a Windows path, and this is not a live Windows system
	}
	var out []string
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		if len(m) > 64 {
			m = m[:64]
		}
		out = append(out, m...)
	}
	return out
}

// windowsGlobs expands the environment folders catalog paths use: machine-wide ones from the
// environment, per-user ones to every profile (the agent runs as SYSTEM, not as the user).
func windowsGlobs(pattern string) []string {
	sys := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	drive := sys("SystemDrive", "C:")
	r := strings.NewReplacer(
		"%programdata%", sys("ProgramData", drive+`\ProgramData`),
		"%programfiles%", sys("ProgramFiles", drive+`\Program Files`),
		"%programfiles(x86)%", sys("ProgramFiles(x86)", drive+`\Program Files (x86)`),
		"%systemroot%", sys("SystemRoot", drive+`\Windows`),
		"%windir%", sys("SystemRoot", drive+`\Windows`),
		"%appdata%", drive+`\Users\*\AppData\Roaming`,
		"%localappdata%", drive+`\Users\*\AppData\Local`,
		"%userprofile%", drive+`\Users\*`,
	)
	// Environment names are case-insensitive: fold only the %...% parts.
	folded := regexp.MustCompile(`%[^%]+%`).ReplaceAllStringFunc(pattern, strings.ToLower)
	expanded := r.Replace(folded)
	if strings.Contains(expanded, "%") {
		return nil // an unknown variable
	}
	return []string{expanded}
}

const maxConfigBytes = 1 << 20

func matchingLine(path string, re *regexp.Regexp) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxConfigBytes))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		if re.MatchString(sc.Text()) {
			return sc.Text(), true
		}
	}
	return "", false
}

// recentLine finds the last line matching re in the tail of a log file modified within the
// session window.
func recentLine(path string, re *regexp.Regexp, now time.Time) (string, time.Time, bool) {
	if re == nil {
		return "", time.Time{}, false
	}
	f, err := os.Open(path)
	if err != nil {
		return "", time.Time{}, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || now.Sub(st.ModTime()) > sessionLogWindow {
		return "", time.Time{}, false
	}
	const tail = 64 << 10
	if st.Size() > tail {
		if _, err := f.Seek(st.Size()-tail, io.SeekStart); err != nil {
			return "", time.Time{}, false
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, tail))
	if err != nil {
		return "", time.Time{}, false
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for j := len(lines) - 1; j >= 0; j-- {
		if re.MatchString(lines[j]) {
			return lines[j], st.ModTime(), true
		}
	}
	return "", time.Time{}, false
}
