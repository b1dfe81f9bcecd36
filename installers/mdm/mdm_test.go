// Package mdm holds no code: it is the MDM deployment material (guides, profiles, scripts, the
// Ansible role). These tests keep that material well-formed, since an MDM rejects a broken
// profile only once it is in front of a fleet.
package mdm

import (
	"bytes"
	"github.com/farmwatch/farmwatch/agent/config"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"howett.net/plist"
)

// files returns the paths under this directory whose names end in one of exts, sorted.
func files(t *testing.T, exts ...string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.ContainsFunc(exts, func(e string) bool { return strings.HasSuffix(p, e) }) {
			out = append(out, filepath.ToSlash(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %v files found", exts)
	}
	return out
}

func decodePlist(t *testing.T, p string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	format, err := plist.Unmarshal(b, &m)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if format != plist.XMLFormat {
		t.Errorf("%s: format %d, want XML (MDM consoles take XML)", p, format)
	}
	return m
}

// payloads returns the profile's own dictionary followed by every payload in PayloadContent.
func payloads(t *testing.T, p string, profile map[string]any) []map[string]any {
	t.Helper()
	out := []map[string]any{profile}
	content, ok := profile["PayloadContent"].([]any)
	if !ok || len(content) == 0 {
		t.Fatalf("%s: PayloadContent missing or empty", p)
	}
	for i, c := range content {
		d, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("%s: PayloadContent[%d] is %T, want a dictionary", p, i, c)
		}
		out = append(out, d)
	}
	return out
}

var uuidRE = regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[1-5][0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`)

func TestProfilesHaveUniqueValidPayloadKeys(t *testing.T) {
	seenUUID := map[string]string{}
	seenID := map[string]string{}
	for _, p := range files(t, ".mobileconfig") {
		profile := decodePlist(t, p)
		if profile["PayloadType"] != "Configuration" {
			t.Errorf("%s: top-level PayloadType %v, want Configuration", p, profile["PayloadType"])
		}
		// PPPC is honoured only from the device channel, and the settings are per machine.
		if profile["PayloadScope"] != "System" {
			t.Errorf("%s: PayloadScope %v, want System", p, profile["PayloadScope"])
		}
		for i, pl := range payloads(t, p, profile) {
			where := p + " payload " + strconv.Itoa(i)
			for _, k := range []string{"PayloadType", "PayloadIdentifier", "PayloadUUID"} {
				if s, _ := pl[k].(string); s == "" {
					t.Errorf("%s: %s missing", where, k)
				}
			}
			if v, _ := pl["PayloadVersion"].(uint64); v != 1 {
				t.Errorf("%s: PayloadVersion %v, want integer 1", where, pl["PayloadVersion"])
			}
			u, _ := pl["PayloadUUID"].(string)
			if !uuidRE.MatchString(u) {
				t.Errorf("%s: PayloadUUID %q is not an upper-case RFC 4122 UUID", where, u)
			}
			if prev, dup := seenUUID[u]; dup {
				t.Errorf("%s: PayloadUUID %s already used by %s", where, u, prev)
			}
			seenUUID[u] = where
			id, _ := pl["PayloadIdentifier"].(string)
			if prev, dup := seenID[id]; dup {
				t.Errorf("%s: PayloadIdentifier %s already used by %s", where, id, prev)
			}
			seenID[id] = where
		}
	}
}

// payloadsOfType returns every payload of type typ across all profiles.
func payloadsOfType(t *testing.T, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range files(t, ".mobileconfig") {
		for _, pl := range payloads(t, p, decodePlist(t, p))[1:] {
			if pl["PayloadType"] == typ {
				out = append(out, pl)
			}
		}
	}
	return out
}

func TestPPPCGrantsFullDiskAccessByCodeRequirement(t *testing.T) {
	pppc := payloadsOfType(t, "com.apple.TCC.configuration-profile-policy")
	if len(pppc) != 1 {
		t.Fatalf("%d PPPC payloads, want 1", len(pppc))
	}
	services, _ := pppc[0]["Services"].(map[string]any)
	entries, _ := services["SystemPolicyAllFiles"].([]any)
	if len(entries) != 1 {
		t.Fatalf("SystemPolicyAllFiles has %d entries, want 1: %v", len(entries), services)
	}
	e, _ := entries[0].(map[string]any)
	if e["Allowed"] != true {
		t.Errorf("Allowed = %v, want true", e["Allowed"])
	}
	if e["IdentifierType"] != "path" || e["Identifier"] != "/usr/local/bin/farmwatch-agent" {
		t.Errorf("Identifier %v (%v), want the pkg's binary /usr/local/bin/farmwatch-agent by path", e["Identifier"], e["IdentifierType"])
	}
	req, _ := e["CodeRequirement"].(string)
	for _, want := range []string{`identifier "com.farmwatch.agent"`, "anchor apple generic", "certificate leaf[subject.OU] = TEAMID"} {
		if !strings.Contains(req, want) {
			t.Errorf("CodeRequirement %q lacks %q", req, want)
		}
	}
	for k := range services {
		if k != "SystemPolicyAllFiles" {
			t.Errorf("PPPC grants %s too; the agent needs Full Disk Access only", k)
		}
	}
}

func TestManagedLoginItemKeepsTheLaunchDaemon(t *testing.T) {
	sm := payloadsOfType(t, "com.apple.servicemanagement")
	if len(sm) != 1 {
		t.Fatalf("%d servicemanagement payloads, want 1", len(sm))
	}
	rules, _ := sm[0]["Rules"].([]any)
	if len(rules) != 1 {
		t.Fatalf("%d rules, want 1", len(rules))
	}
	r, _ := rules[0].(map[string]any)
	if r["RuleType"] != "Label" || r["RuleValue"] != "com.farmwatch.agent" {
		t.Errorf("rule %v, want Label com.farmwatch.agent (the LaunchDaemon's label)", r)
	}
}

// checkSettings pins the managed-preferences keys the agent reads on macOS.
func checkSettings(t *testing.T, where string, m map[string]any) {
	t.Helper()
	allowed := []string{"server", "ca_pem", "ca_file", "enroll_secret", "enroll_secret_file",
		"PayloadDisplayName", "PayloadIdentifier", "PayloadType", "PayloadUUID", "PayloadVersion"}
	for k := range m {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: unknown key %s", where, k)
		}
	}
	if s, _ := m["server"].(string); !strings.HasSuffix(s, ":7443") {
		t.Errorf("%s: Server %q, want HOST:7443", where, s)
	}
	_, pem := m["ca_pem"]
	_, file := m["ca_file"]
	if pem == file {
		t.Errorf("%s: want exactly one of ca_pem and ca_file", where)
	}
	if s, _ := m["ca_pem"].(string); pem && !strings.HasPrefix(s, "-----BEGIN CERTIFICATE-----\n") {
		t.Errorf("%s: ca_pem does not start a PEM certificate: %q", where, s)
	}
	if _, ok := m["enroll_secret"].(string); !ok {
		t.Errorf("%s: enroll_secret missing", where)
	}
}

func TestSettingsProfileAndPlistAgree(t *testing.T) {
	prefs := payloadsOfType(t, "com.farmwatch.agent")
	if len(prefs) != 1 {
		t.Fatalf("%d com.farmwatch.agent payloads, want 1", len(prefs))
	}
	checkSettings(t, "settings profile", prefs[0])
	bare := decodePlist(t, "macos/com.farmwatch.agent.plist")
	checkSettings(t, "com.farmwatch.agent.plist", bare)
	for k, v := range bare {
		if prefs[0][k] != v {
			t.Errorf("%s differs between the profile (%q) and the plist (%q)", k, prefs[0][k], v)
		}
	}
}

func TestAnsibleYAMLParses(t *testing.T) {
	for _, p := range files(t, ".yml", ".yaml") {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestAnsibleKeepsTheSecretOutOfLogsAndFiles0600(t *testing.T) {
	b, err := os.ReadFile("linux/ansible/roles/farmwatch_agent/tasks/main.yml")
	if err != nil {
		t.Fatal(err)
	}
	var tasks []map[string]any
	if err := yaml.Unmarshal(b, &tasks); err != nil {
		t.Fatal(err)
	}
	var wrote bool
	for _, task := range tasks {
		raw, _ := yaml.Marshal(task)
		for _, mod := range []string{"ansible.builtin.template", "ansible.builtin.copy"} {
			args, _ := task[mod].(map[string]any)
			if args["dest"] != "/etc/farmwatch/agent.yaml" {
				continue
			}
			wrote = true
			// A string: an unquoted 0600 is the YAML integer 600, which Ansible reads as decimal.
			if args["mode"] != "0600" {
				t.Errorf("task %q writes agent.yaml with mode %#v, want \"0600\"", task["name"], args["mode"])
			}
			if task["diff"] != false {
				t.Errorf("task %q would show the secret under --diff", task["name"])
			}
		}
		if bytes.Contains(raw, []byte("enroll_secret")) || bytes.Contains(raw, []byte("agent.yaml")) {
			if task["no_log"] != true {
				t.Errorf("task %q handles the enroll secret without no_log: true", task["name"])
			}
		}
	}
	if !wrote {
		t.Error("no task writes /etc/farmwatch/agent.yaml")
	}
}

func TestAgentYAMLTemplateUsesKnownKeys(t *testing.T) {
	known := []string{"server", "ca_file", "enroll_secret", "enroll_secret_file", "state_dir", "interval", "sniff", "log_level"}
	b, err := os.ReadFile("linux/ansible/roles/farmwatch_agent/templates/agent.yaml.j2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^([a-z_]+):`).FindAllSubmatch(b, -1) {
		got = append(got, string(m[1]))
		if !slices.Contains(known, string(m[1])) {
			t.Errorf("agent.yaml.j2 sets %s, which the agent does not read", m[1])
		}
	}
	for _, want := range []string{"server", "ca_file", "enroll_secret"} {
		if !slices.Contains(got, want) {
			t.Errorf("agent.yaml.j2 lacks %s; got %v", want, got)
		}
	}
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// Every relative link in a guide leads to a file, and every file here is linked from a guide,
// so an admin following a guide never meets a missing file and no file is left unexplained.
func TestGuidesLinkEveryFileAndOnlyExistingOnes(t *testing.T) {
	linked := map[string]bool{}
	for _, md := range files(t, ".md") {
		b, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllSubmatch(b, -1) {
			target := string(m[1])
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			p := path.Join(path.Dir(md), target)
			if _, err := os.Stat(filepath.FromSlash(p)); err != nil {
				t.Errorf("%s links %s: %v", md, m[1], err)
			}
			linked[p] = true
		}
	}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		p = filepath.ToSlash(p)
		if p == "README.md" || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		if !linked[p] {
			t.Errorf("%s is not linked from any guide", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestShellScriptsParse(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	for _, p := range files(t, ".sh") {
		if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", p, err, out)
		}
	}
}

// The agent itself accepts the settings plist: every key is one it knows.
func TestAgentAcceptsTheManagedPreferences(t *testing.T) {
	path := filepath.Join("macos", "com.farmwatch.agent.plist")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, probs := config.ParseManaged(path, data); len(probs) > 0 {
		t.Fatalf("the agent refuses the managed preferences: %+v", probs)
	}
}
