package geoip

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCommand(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = Command(args, &o, &e, filepath.Join(fixtureDir, "iplocdb"))
	return o.String(), e.String(), code
}

func TestCommandJSON(t *testing.T) {
	out, errOut, code := runCommand("--json", "1.2.3.4", "10.0.0.1", "::ffff:5.6.7.8")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(raw) != 3 {
		t.Fatalf("got %d results", len(raw))
	}
	want0 := map[string]any{"ip": "1.2.3.4", "country": "DE", "asn": float64(16509), "as_org": "Amazon.com, Inc.", "class": "hosting", "class_note": "Amazon Web Services"}
	if !equalMaps(raw[0], want0) {
		t.Errorf("result 0: %v, want %v", raw[0], want0)
	}
	want1 := map[string]any{"ip": "10.0.0.1", "country": "", "asn": float64(0), "private": true}
	if !equalMaps(raw[1], want1) {
		t.Errorf("result 1: %v, want %v", raw[1], want1)
	}
	if raw[2]["ip"] != "5.6.7.8" || raw[2]["class"] != "vpn" {
		t.Errorf("result 2: %v", raw[2])
	}
}

func equalMaps(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCommandText(t *testing.T) {
	out, _, code := runCommand("1.2.3.4", "--dir", filepath.Join(fixtureDir, "maxmind"), "9.9.9.9", "fd00::1")
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want header + 3 rows:\n%s", out)
	}
	if !strings.HasPrefix(lines[0], "IP ") || !strings.Contains(lines[0], "COUNTRY") {
		t.Errorf("header: %q", lines[0])
	}
	// Aligned: the COUNTRY column starts at the same offset in every row.
	col := strings.Index(lines[0], "COUNTRY")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row not aligned with header:\n%s\n%s", lines[0], l)
		}
	}
	for _, w := range []string{"US", "AS16509", "hosting", "Amazon Web Services"} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("row 1 lacks %q: %q", w, lines[1])
		}
	}
	if !strings.Contains(lines[2], "CH") || !strings.Contains(lines[3], "private") {
		t.Errorf("rows:\n%s", out)
	}
}

func TestCommandBadIP(t *testing.T) {
	out, errOut, code := runCommand("--json", "1.2.3.4", "not-an-ip", "999.1.1.1")
	if code != 2 {
		t.Errorf("code %d, want 2", code)
	}
	if !strings.Contains(errOut, `"not-an-ip"`) || !strings.Contains(errOut, `"999.1.1.1"`) {
		t.Errorf("stderr does not name the bad arguments: %q", errOut)
	}
	var res []Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].ASN != 16509 {
		t.Errorf("good result not printed: %q %v", out, err)
	}
	_, _, code = runCommand("nope")
	if code != 2 {
		t.Errorf("text mode, only bad IP: code %d", code)
	}
}

func TestCommandUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--json"}, {"--frob", "1.2.3.4"}, {"1.2.3.4", "--dir"}} {
		_, errOut, code := runCommand(args...)
		if code != 2 || !strings.Contains(errOut, "usage: geoip") {
			t.Errorf("%q: code %d stderr %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCommand("--help"); code != 0 || !strings.Contains(errOut, "make geodata") {
		t.Errorf("--help: %d %q", code, errOut)
	}
	// "--" ends the flags; --json=false works.
	out, _, code := runCommand("--json=false", "--", "1.2.3.4")
	if code != 0 || !strings.HasPrefix(out, "IP ") {
		t.Errorf("--json=false --: %d %q", code, out)
	}
}

func TestCommandMissingDB(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCommand("--dir", dir, "1.2.3.4")
	if code != 1 || out != "" {
		t.Errorf("code %d out %q", code, out)
	}
	for _, w := range []string{filepath.Join(dir, CountryFile), "make geodata"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q: %q", w, errOut)
		}
	}
	// Corrupt file given explicitly.
	bad := filepath.Join(dir, "bad.mmdb")
	if err := os.WriteFile(bad, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCommand("--asn", bad, "1.2.3.4")
	if code != 1 || !strings.Contains(errOut, bad) || !strings.Contains(errOut, "make geodata") {
		t.Errorf("corrupt --asn: %d %q", code, errOut)
	}
}

func TestCommandFileOverrides(t *testing.T) {
	// --country replaces the directory's country file; its asn.mmdb stays.
	out, errOut, code := runCommand("--json", "--country", filepath.Join(fixtureDir, "maxmind", CountryFile), "1.2.3.4")
	if code != 0 {
		t.Fatalf("%d %s", code, errOut)
	}
	var res []Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res[0].Country != "US" || res[0].ASN != 16509 {
		t.Errorf("%+v", res[0])
	}
}
