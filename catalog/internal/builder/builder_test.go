package builder

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/farmwatch/farmwatch/catalog"
)

func TestToolID(t *testing.T) {
	for name, want := range map[string]string{
		"AnyDesk":                     "anydesk",
		"GoToAssist (GoTo Resolve)":   "gotoassist_goto_resolve",
		"247ithelp.com (ConnectWise)": "247ithelp_com_connectwise",
		"  Ultra VNC ":                "ultra_vnc",
		strings.Repeat("ab ", 40):     strings.TrimRight(strings.Repeat("ab_", 22)[:64], "_"),
	} {
		if got := ToolID(name); got != want {
			t.Errorf("ToolID(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAddDomainSplitsValues(t *testing.T) {
	var n catalog.Network
	var st Stats
	for _, v := range []string{
		"boot.net.anydesk.com", "*.anydesk.com", "relay-[a-f0-9]{8}.net.anydesk.com:443", "user_managed",
		"<operator-configured GLPI server>", "136.243.104.235", "px-*.getscreen.me", "GetScreen.me", "*.-dms.zoho.com.cn",
	} {
		addDomain(&n, v, &st)
	}
	if !slices.Equal(n.Domains, []string{"boot.net.anydesk.com", "getscreen.me"}) {
		t.Errorf("domains %v", n.Domains)
	}
	if !slices.Equal(n.DomainSuffixes, []string{"anydesk.com"}) {
		t.Errorf("suffixes %v", n.DomainSuffixes)
	}
	if !slices.Equal(n.DomainPatterns, []string{`^relay-[a-f0-9]{8}\.net\.anydesk\.com$`, `^px-[a-z0-9_-]*\.getscreen\.me$`}) {
		t.Errorf("patterns %v", n.DomainPatterns)
	}
	if !slices.Equal(n.Addresses, []string{"136.243.104.235"}) || st.Addresses != 1 {
		t.Errorf("addresses %v", n.Addresses)
	}
	if st.SentinelDomains != 2 || !slices.Equal(st.MalformedDomains, []string{"*.-dms.zoho.com.cn"}) {
		t.Errorf("stats %+v", st)
	}
}

func TestAddPathGuessesTheOS(t *testing.T) {
	tool := &catalog.Tool{Windows: &catalog.OSIndicators{}, MacOS: &catalog.OSIndicators{}, Linux: &catalog.OSIndicators{}}
	var st Stats
	for _, p := range []string{
		`C:\\ProgramData\\AMMYY\\*`, `%APPDATA%\AnyDesk\`, `*\AMMYY_Admin.exe`, "/Applications/AnyDesk.app",
		"~/Library/Logs/x", "/usr/local/mesh_services/meshagent/*", "rutserv.exe", "rustdesk*.exe", "ARDAgent.app",
		"teamviewerhost", "nxservice*.ese",
	} {
		addPath(tool, p, &st)
	}
	if want := []string{`C:\ProgramData\AMMYY\*`, `%APPDATA%\AnyDesk`, `**\AMMYY_Admin.exe`, `**\rustdesk*.exe`}; !slices.Equal(tool.Windows.Paths, want) {
		t.Errorf("windows paths %q, want %q", tool.Windows.Paths, want)
	}
	if !slices.Equal(tool.Windows.Processes, []string{"rutserv.exe"}) {
		t.Errorf("windows processes %q", tool.Windows.Processes)
	}
	if want := []string{"/Applications/AnyDesk.app", "~/Library/Logs/x", "**/ARDAgent.app"}; !slices.Equal(tool.MacOS.Paths, want) {
		t.Errorf("macos paths %q", tool.MacOS.Paths)
	}
	if !slices.Equal(tool.Linux.Paths, []string{"/usr/local/mesh_services/meshagent/*"}) {
		t.Errorf("linux paths %q", tool.Linux.Paths)
	}
	if st.DroppedPaths != 2 {
		t.Errorf("dropped %d, want 2 (teamviewerhost, nxservice*.ese)", st.DroppedPaths)
	}
}

func TestLOLRMMPorts(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want catalog.Port
		ok   bool
	}{
		{float64(443), catalog.Port{Protocol: "tcp", Port: 443, Role: "rendezvous"}, true},
		{"21115", catalog.Port{Protocol: "tcp", Port: 21115, Role: "rendezvous"}, true},
		{"6783-6785", catalog.Port{Protocol: "tcp", Port: 6783, To: 6785, Role: "rendezvous"}, true},
		{"1000-65535", catalog.Port{}, false},
		{float64(0), catalog.Port{}, false},
		{"http", catalog.Port{}, false},
	} {
		got, ok := lolrmmPort(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("lolrmmPort(%v) = %+v, %v", tc.in, got, ok)
		}
	}
}

// miniInputs is a two-record LOLRMM snapshot and one override, enough to pin the merge rules.
func miniInputs(override string) fstest.MapFS {
	return fstest.MapFS{
		"lolrmm/rmm_tools.json": {Data: []byte(`[
 {"Name":"Ultra VNC","Category":"RAT","Details":{"PEMetadata":{"Filename":"winvnc.exe"},"InstallationPaths":["C:\\uvnc\\*","UltraVNC*.exe"]},
  "Artifacts":{"Network":[{"Domains":["ultravnc.com","user_managed"],"Ports":[5900]}]},"CodeSigning":{"signer_names":["uvnc bvba"]},"References":["https://uvnc.com"]},
 {"Name":"UltraVNC","Category":"RAT","Details":{"PEMetadata":[{"Filename":"UVNC_Launch.exe"}],"InstallationPaths":["*\\uvnc bvba\\*"]},"Artifacts":{}},
 {"Name":"Other Tool","Category":"RMM","Details":{"PEMetadata":null},"Artifacts":{"Network":[{"Domains":["*.other.example"],"Ports":[]}]}}
]`)},
		"lolrmm/rmm_domains.csv":             {Data: []byte("URI,RMM_Tool\n*.uvnc.com,UltraVNC\n")},
		"lolrmm/rmm_certificates.json":       {Data: []byte(`[{"name":"Other","signer_names":["Other Ltd"],"certificates":[{"signer_name":"Microsoft Corporation"}]}]`)},
		"overrides/os_remote_listeners.json": {Data: []byte(`[{"id":"vnc","name":"VNC","ports":[5900],"processes":["x11vnc"],"attack":"T1021.005","sources":["rfc6143"]}]`)},
		"overrides/ultravnc.json":            {Data: []byte(override)},
	}
}

func TestMergeRules(t *testing.T) {
	out, err := Build(miniInputs(`{"id":"ultravnc","name":"UltraVNC","category":"vnc","attack":"T1021.005","deep":true,
	  "lolrmm":["Ultra VNC","UltraVNC"],"sources":["https://example.org/uvnc"],
	  "windows":{"processes":["winvnc.exe"],"signers":[]},
	  "network":{"ports":[{"protocol":"tcp","port":5900,"role":"listen"}]},
	  "session":[{"kind":"inbound"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Parse(out.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RemoteTools) != 2 || c.RemoteTools[0].ID != "other_tool" || c.RemoteTools[1].ID != "ultravnc" {
		t.Fatalf("tools %v", c.RemoteTools)
	}
	other, u := c.RemoteTools[0], c.RemoteTools[1]
	if other.Origin != "lolrmm" || other.Category != "rmm" || !slices.Equal(other.Network.DomainSuffixes, []string{"other.example"}) {
		t.Errorf("lolrmm-only entry %+v", other)
	}
	if other.Windows == nil || !slices.Equal(other.Windows.Signers, []string{"Other Ltd"}) {
		t.Errorf("certificate group by id prefix, platform signer dropped: %+v", other.Windows)
	}
	if u.Origin != "lolrmm+farmwatch" || !u.Deep || u.Category != "vnc" {
		t.Errorf("merged entry %+v", u)
	}
	// Present lists replace ("signers":[] empties), absent lists are inherited and unioned
	// across both LOLRMM records.
	if !slices.Equal(u.Windows.Processes, []string{"winvnc.exe"}) || u.Windows.Signers != nil {
		t.Errorf("windows %+v", u.Windows)
	}
	if want := []string{`**\UltraVNC*.exe`, `**\uvnc bvba\*`, `C:\uvnc\*`}; !slices.Equal(u.Windows.Paths, want) {
		t.Errorf("paths %q, want %q", u.Windows.Paths, want)
	}
	if !slices.Equal(u.Network.Domains, []string{"ultravnc.com"}) || !slices.Equal(u.Network.DomainSuffixes, []string{"uvnc.com"}) {
		t.Errorf("domains %v %v", u.Network.Domains, u.Network.DomainSuffixes)
	}
	if len(u.Network.Ports) != 1 || u.Network.Ports[0].Role != "listen" {
		t.Errorf("ports %+v: the override's list replaces LOLRMM's", u.Network.Ports)
	}
	if !slices.Equal(u.Sources, []string{"https://example.org/uvnc", "https://uvnc.com"}) || !slices.Equal(u.LOLRMM, []string{"Ultra VNC", "UltraVNC"}) {
		t.Errorf("sources %v lolrmm %v", u.Sources, u.LOLRMM)
	}
	if out.Stats.DuplicateRecords != 0 || out.Stats.SentinelDomains != 1 {
		t.Errorf("stats %+v", out.Stats)
	}
}

func TestOverrideErrorsNameFileEntryAndField(t *testing.T) {
	for _, tc := range []struct{ override, want string }{
		{`{"id":"ultravnc","name":"U","category":"vnc","attack":"T1021.005","network":{"ports":[{"protocol":"tcpx","port":1,"role":"listen"}]}}`,
			`overrides/ultravnc.json (ultravnc): network.ports[0].protocol: "tcpx" is neither tcp nor udp`},
		{`{"id":"ultravnc","name":"U","category":"vnc","attack":"T1021.005","lolrmm":["Ultra VNCC"]}`,
			`overrides/ultravnc.json (ultravnc): lolrmm: "Ultra VNCC" is neither a LOLRMM tool nor a certificate group`},
		{`{"id":"ultravnc","name":"U","category":"vnc","attack":"T1021.005","origin":"farmwatch"}`,
			`overrides/ultravnc.json (ultravnc): origin: set by the builder`},
		{`{"id":"ultravnc","name":"U","category":"vnc","attack":"T1021.005","deep":true}`,
			`overrides/ultravnc.json (ultravnc): sources: a deep entry must name its sources`},
		{`{"id":"ultravnc","nmae":"U"}`, `overrides/ultravnc.json: line 1, byte `},
	} {
		_, err := Build(miniInputs(tc.override))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("error %v\nwant prefix %q", err, tc.want)
		}
	}
}
