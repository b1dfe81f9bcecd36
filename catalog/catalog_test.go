package catalog

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestDefaultCatalogLoads(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var vnc *Listener
	for i := range c.OSRemoteListeners {
		if c.OSRemoteListeners[i].ID == "vnc" {
			vnc = &c.OSRemoteListeners[i]
		}
	}
	if vnc == nil || vnc.Ports[0] != 5900 || vnc.Attack != "T1021.005" {
		t.Fatalf("vnc listener: %+v", vnc)
	}
	if !strings.HasPrefix(c.Version, "1.") || len(c.Version) != 14 {
		t.Errorf("version %q is not 1.<12 hex>", c.Version)
	}
}

// deepIDs are the tools the catalog must know from primary sources.
var deepIDs = []string{
	"anydesk", "rustdesk", "teamviewer", "chrome_remote_desktop", "splashtop", "screenconnect",
	"parsec", "zoho_assist", "logmein", "gotoassist", "jump_desktop", "nomachine", "realvnc",
	"tightvnc", "ultravnc", "tigervnc", "x11vnc", "quick_assist", "ammyy_admin", "supremo",
	"dwservice", "meshcentral", "atera", "hoptodesk", "getscreen", "remotepc", "beyondtrust",
	"remote_utilities", "xrdp", "gnome_remote_desktop", "krfb", "vino", "apple_screen_sharing",
	"windows_rdp", "tailscale", "zerotier", "ngrok", "cloudflared", "netbird", "astrill",
}

func TestDefaultCatalogCoversTheTools(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(c.RemoteTools); n < 300 {
		t.Errorf("%d tools, want at least 300 (every LOLRMM record)", n)
	}
	deep := 0
	for _, tool := range c.RemoteTools {
		if tool.Deep {
			deep++
		}
	}
	if deep < 30 {
		t.Errorf("%d deep tools, want at least 30", deep)
	}
	if !slices.IsSortedFunc(c.RemoteTools, func(a, b Tool) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("remote_tools not sorted by id")
	}
	for _, id := range deepIDs {
		tool := c.Tool(id)
		if tool == nil {
			t.Errorf("%s: missing", id)
			continue
		}
		if !tool.Deep || len(tool.Sources) == 0 {
			t.Errorf("%s: deep=%v with %d sources, want a deep entry with sources", id, tool.Deep, len(tool.Sources))
		}
	}
}

func TestDefaultCatalogFacts(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) *Tool {
		t.Helper()
		tool := c.Tool(id)
		if tool == nil {
			t.Fatalf("%s missing", id)
		}
		return tool
	}
	hasPort := func(tool *Tool, proto string, port uint32, role string) bool {
		return slices.ContainsFunc(tool.Network.Ports, func(p Port) bool {
			return p.Protocol == proto && p.Port <= port && port <= max(p.Port, p.To) && (role == "" || p.Role == role)
		})
	}

	rd := get("rustdesk")
	if !hasPort(rd, "tcp", 21117, "relay") {
		t.Errorf("rustdesk: no tcp 21117 relay port in %+v", rd.Network.Ports)
	}
	if !slices.ContainsFunc(rd.Session, func(m SessionMarker) bool {
		return m.Kind == "process" && m.Process == "rustdesk" && m.Args == "--cm"
	}) {
		t.Errorf("rustdesk: no --cm process session marker in %+v", rd.Session)
	}
	if !slices.ContainsFunc(rd.Unattended, func(m ConfigMarker) bool {
		return m.Path == "~/.config/rustdesk/RustDesk.toml" && m.Pattern == "^password = '.+'"
	}) {
		t.Errorf("rustdesk: no permanent-password marker in %+v", rd.Unattended)
	}
	if rd.Origin != "lolrmm+farmwatch" || !slices.Contains(rd.LOLRMM, "RustDesk") {
		t.Errorf("rustdesk: origin %q lolrmm %v", rd.Origin, rd.LOLRMM)
	}

	tv := get("teamviewer")
	if !hasPort(tv, "tcp", 5938, "") || !hasPort(tv, "udp", 5938, "") {
		t.Errorf("teamviewer: no 5938 in %+v", tv.Network.Ports)
	}
	if !slices.ContainsFunc(tv.Session, func(m SessionMarker) bool { return m.Kind == "process" && m.Process == "TeamViewer_Desktop" }) {
		t.Errorf("teamviewer: no TeamViewer_Desktop marker in %+v", tv.Session)
	}

	ad := get("anydesk")
	if ad.MacOS == nil || !slices.Contains(ad.MacOS.BundleIDs, "com.philandro.anydesk") {
		t.Errorf("anydesk: macos %+v lacks com.philandro.anydesk", ad.MacOS)
	}
	if !slices.Contains(ad.Network.DomainPatterns, `^relay-[a-f0-9]{8}\.net\.anydesk\.com$`) {
		t.Errorf("anydesk: relay pattern missing from %v", ad.Network.DomainPatterns)
	}
	if !slices.ContainsFunc(ad.Unattended, func(m ConfigMarker) bool {
		return m.Path == "/etc/anydesk/system.conf" && slices.Equal(m.OS, []string{"linux"})
	}) {
		t.Errorf("anydesk: no linux system.conf marker in %+v", ad.Unattended)
	}

	xv := get("x11vnc")
	if xv.Linux == nil || !slices.Contains(xv.Linux.Processes, "x11vnc") || !slices.Contains(xv.Linux.Packages, "x11vnc") {
		t.Errorf("x11vnc: linux %+v", xv.Linux)
	}
	if !slices.ContainsFunc(xv.Session, func(m SessionMarker) bool { return m.Kind == "inbound" }) || !hasPort(xv, "tcp", 5900, "listen") {
		t.Errorf("x11vnc: session %+v ports %+v", xv.Session, xv.Network.Ports)
	}
	if xv.Origin != "farmwatch" {
		t.Errorf("x11vnc: origin %q, want farmwatch (not in LOLRMM)", xv.Origin)
	}

	for id, attack := range map[string]string{"windows_rdp": "T1021.001", "xrdp": "T1021.001", "tigervnc": "T1021.005", "ngrok": "T1572", "cloudflared": "T1572", "anydesk": "T1219.002"} {
		if got := get(id).Attack; got != attack {
			t.Errorf("%s: attack %s, want %s", id, got, attack)
		}
	}
	// A LOLRMM-only entry, normalised: wildcard domains become suffixes, origin says so.
	if st := get("splashtop"); !slices.Contains(st.Network.DomainSuffixes, "relay.splashtop.com") {
		t.Errorf("splashtop suffixes %v", st.Network.DomainSuffixes)
	}
	for _, tool := range c.RemoteTools {
		if tool.Origin == "lolrmm" && (tool.Deep || len(tool.LOLRMM) == 0) {
			t.Errorf("%s: lolrmm entry deep=%v lolrmm=%v", tool.ID, tool.Deep, tool.LOLRMM)
		}
	}
}

func TestParseRejectsBadDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": `{"version":"1","os_remote_listeners":[],"extra":1}`,
		"bad version":   `{"version":"","os_remote_listeners":[]}`,
		"bad port":      `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[70000]}]}`,
		"no ports":      `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[]}]}`,
		"duplicate id":  `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1]},{"id":"x","name":"Y","ports":[2]}]}`,
		"bad attack":    `{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1],"attack":"1021"}]}`,
		"not json":      `{"version":`,
		"trailing data": `{"version":"1","os_remote_listeners":[]} {}`,
		"empty":         ``,
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "catalog.json: ") {
			t.Errorf("%s: error without the file name: %v", name, err)
		}
	}
}

// goodTool is a valid entry that each case below breaks in one place.
const goodTool = `{"id":"rustdesk","name":"RustDesk","category":"remote_desktop","attack":"T1219.002","origin":"farmwatch","deep":true,
 "sources":["https://github.com/rustdesk/rustdesk"],
 "linux":{"processes":["rustdesk"],"paths":["/usr/bin/rustdesk"]},
 "network":{"domains":["rs-ny.rustdesk.com"],"domain_suffixes":["rustdesk.com"],"domain_patterns":["^rs-[a-z0-9-]+\\.rustdesk\\.com$"],
  "addresses":["100.64.0.0/10"],
  "ports":[{"protocol":"tcp","port":21116,"role":"rendezvous"},{"protocol":"udp","port":21116,"role":"rendezvous"},{"protocol":"tcp","port":21117,"role":"relay"}]},
 "session":[{"kind":"process","process":"rustdesk","args":"--cm"},{"kind":"relay"},{"kind":"log","os":["linux"],"path":"~/x.log","pattern":"^Incoming"}],
 "unattended":[{"os":["linux"],"path":"~/.config/rustdesk/RustDesk.toml","pattern":"^password = '.+'","note":"permanent password"}]}`

func TestParseFileNamesFileEntryAndField(t *testing.T) {
	doc := func(mutate func(map[string]any)) []byte {
		var tool map[string]any
		if err := json.Unmarshal([]byte(goodTool), &tool); err != nil {
			t.Fatal(err)
		}
		other := map[string]any{"id": "anydesk", "name": "AnyDesk", "category": "remote_desktop", "attack": "T1219", "origin": "lolrmm", "network": map[string]any{}}
		if mutate != nil {
			mutate(tool)
		}
		b, err := json.Marshal(map[string]any{"version": "1.abc", "os_remote_listeners": []any{}, "remote_tools": []any{other, tool}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := ParseFile("good.json", doc(nil)); err != nil {
		t.Fatalf("the valid document is refused: %v", err)
	}
	net := func(m map[string]any) map[string]any { return m["network"].(map[string]any) }
	port := func(m map[string]any, i int) map[string]any { return net(m)["ports"].([]any)[i].(map[string]any) }
	session := func(m map[string]any, i int) map[string]any { return m["session"].([]any)[i].(map[string]any) }
	const at = "x.json: remote_tools[1] (rustdesk): "
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"bad protocol", func(m map[string]any) { port(m, 2)["protocol"] = "tcpx" }, at + `network.ports[2].protocol: "tcpx" is neither tcp nor udp`},
		{"port zero", func(m map[string]any) { port(m, 0)["port"] = 0 }, at + "network.ports[0].port: 0 out of range"},
		{"port too big", func(m map[string]any) { port(m, 0)["port"] = 65536 }, at + "network.ports[0].port: 65536 out of range"},
		{"range backwards", func(m map[string]any) { port(m, 0)["to"] = 21000 }, at + "network.ports[0].to: 21000 must be between"},
		{"bad role", func(m map[string]any) { port(m, 1)["role"] = "server" }, at + `network.ports[1].role: "server" is not one of`},
		{"bad id", func(m map[string]any) { m["id"] = "Rust Desk" }, `x.json: remote_tools[1] (Rust Desk): id: "Rust Desk" is not lowercase`},
		{"duplicate id", func(m map[string]any) { m["id"] = "anydesk" }, `x.json: remote_tools[1] (anydesk): id: duplicate "anydesk"`},
		{"empty name", func(m map[string]any) { m["name"] = " " }, at + "name: missing"},
		{"bad category", func(m map[string]any) { m["category"] = "rat" }, at + `category: "rat" is not one of`},
		{"bad attack", func(m map[string]any) { m["attack"] = "T12" }, at + `attack: "T12" is not an ATT&CK technique id`},
		{"bad origin", func(m map[string]any) { m["origin"] = "elsewhere" }, at + `origin: "elsewhere" is not one of`},
		{"deep without sources", func(m map[string]any) { delete(m, "sources") }, at + "sources: a deep entry must name its sources"},
		{"empty process", func(m map[string]any) { m["linux"].(map[string]any)["processes"] = []any{""} }, at + "linux.processes[0]: empty string"},
		{"process with path", func(m map[string]any) { m["linux"].(map[string]any)["processes"] = []any{"/usr/bin/x"} }, at + `linux.processes[0]: "/usr/bin/x" is not a base name`},
		{"empty path", func(m map[string]any) { m["linux"].(map[string]any)["paths"] = []any{"/a", ""} }, at + "linux.paths[1]: empty string"},
		{"bad domain", func(m map[string]any) { net(m)["domains"] = []any{"Rs-NY.rustdesk.com"} }, at + `network.domains[0]: "Rs-NY.rustdesk.com" is not a lowercase host name`},
		{"starred suffix", func(m map[string]any) { net(m)["domain_suffixes"] = []any{"*.rustdesk.com"} }, at + `network.domain_suffixes[0]: "*.rustdesk.com"`},
		{"bad domain pattern", func(m map[string]any) { net(m)["domain_patterns"] = []any{"^rs-[a-z+$"} }, at + "network.domain_patterns[0]: error parsing regexp"},
		{"bad address", func(m map[string]any) { net(m)["addresses"] = []any{"100.64.0.0/40"} }, at + `network.addresses[0]: "100.64.0.0/40" is neither`},
		{"bad session kind", func(m map[string]any) { session(m, 0)["kind"] = "window" }, at + `session[0]: kind: "window" is not one of`},
		{"process marker without process", func(m map[string]any) { delete(session(m, 0), "process") }, at + `session[0]: process: required by kind "process"`},
		{"process marker with pattern", func(m map[string]any) { session(m, 0)["pattern"] = "x" }, at + `session[0]: pattern: not used by kind "process"`},
		{"log marker without path", func(m map[string]any) { delete(session(m, 2), "path") }, at + `session[2]: path: required by kind "log"`},
		{"log marker bad pattern", func(m map[string]any) { session(m, 2)["pattern"] = "(" }, at + "session[2]: pattern: error parsing regexp"},
		{"relay marker without relay port", func(m map[string]any) { port(m, 2)["role"] = "rendezvous" }, at + `session[1]: kind: "relay" needs a network.ports entry with role relay`},
		{"bad session os", func(m map[string]any) { session(m, 2)["os"] = []any{"macos"} }, at + `session[2]: os[0]: "macos" is not one of linux, windows, darwin`},
		{"bad config pattern", func(m map[string]any) {
			m["unattended"].([]any)[0].(map[string]any)["pattern"] = "^password = '(.+'"
		}, at + "unattended[0]: pattern: error parsing regexp"},
		{"config without note", func(m map[string]any) { delete(m["unattended"].([]any)[0].(map[string]any), "note") }, at + "unattended[0]: note: missing"},
		{"empty source", func(m map[string]any) { m["sources"] = []any{"https://x", ""} }, at + "sources[1]: empty string"},
		{"unknown field", func(m map[string]any) { m["lolrmm_name"] = "RustDesk" }, `x.json: line 1, byte `},
		{"wrong type", func(m map[string]any) { port(m, 0)["port"] = "21116" }, `x.json: line 1, byte `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("x.json", doc(tc.mutate))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestJSONErrorsCarryPosition(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"{\n\"version\": \"1\",\n\"remote_tools\": [}\n", "x.json: line 3, byte 36: invalid character '}'"},
		{"{\n\"version\": 1\n}", "x.json: line 2, byte 14: version: json: cannot unmarshal number"},
		{"{\"version\":\"1\",\n\"os_remote_listeners\":[],\n\"remote_tool\":[]}", `x.json: line 3, byte 59: json: unknown field "remote_tool"`},
		{"{\"version\":", "x.json: line 1, byte 11: truncated JSON"},
	} {
		_, err := ParseFile("x.json", []byte(tc.doc))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want prefix %q", tc.doc, err, tc.want)
		}
	}
}

func TestParseRefusesOversizedDocuments(t *testing.T) {
	b := make([]byte, MaxDocumentSize+1)
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "exceeds 16 MiB") {
		t.Fatalf("error %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DefaultDocument())
	f.Add([]byte(`{"version":"1","os_remote_listeners":[{"id":"x","name":"X","ports":[1]}]}`))
	f.Add([]byte(`{"version":"1","os_remote_listeners":[],"remote_tools":[` + goodTool + `]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "catalog.json: ") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		for _, l := range c.OSRemoteListeners {
			if len(l.Ports) == 0 || l.Name == "" {
				t.Fatalf("invalid listener accepted: %+v", l)
			}
		}
		for i := range c.RemoteTools {
			if err := c.RemoteTools[i].Validate(); err != nil {
				t.Fatalf("invalid tool accepted: %v", err)
			}
		}
		// What Parse accepts survives a round trip unchanged.
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(b); err != nil {
			t.Fatalf("re-encoded catalog refused: %v", err)
		}
	})
}

func TestPushedCatalogWithNewerFieldsIsAccepted(t *testing.T) {
	doc := []byte(`{"version":"9.newer","os_remote_listeners":[{"id":"vnc","name":"VNC","ports":[5900],"processes":["x11vnc"],"attack":"T1021.005","sources":["https://www.rfc-editor.org/rfc/rfc6143"],"future_field":1}],"remote_tools":[],"hardware":{},"some_new_section":{"x":1}}`)
	if _, err := Parse(doc); err == nil {
		t.Fatal("strict parse accepted unknown fields")
	}
	c, err := ParsePushed(doc)
	if err != nil {
		t.Fatalf("pushed catalog with newer fields refused: %v", err)
	}
	if c.Version != "9.newer" || len(c.OSRemoteListeners) != 1 {
		t.Fatalf("catalog: %+v", c)
	}
	if _, err := ParsePushed([]byte(`{"version":"","os_remote_listeners":[]}`)); err == nil {
		t.Fatal("invalid known fields accepted in a pushed catalog")
	}
}
