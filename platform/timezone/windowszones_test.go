package timezone

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/platform/timezone/internal/cldrgen"
)

func TestIANAFromWindows(t *testing.T) {
	tests := []struct {
		id, territory, want string
		ok                  bool
	}{
		{"W. Europe Standard Time", "", "Europe/Berlin", true},
		{"W. Europe Standard Time", "CH", "Europe/Zurich", true},
		{"Pacific Standard Time", "", "America/Los_Angeles", true},
		{"Pacific Standard Time", "CA", "America/Vancouver", true},
		{"Korea Standard Time", "", "Asia/Seoul", true},
		{"North Korea Standard Time", "", "Asia/Pyongyang", true},
		{"China Standard Time", "", "Asia/Shanghai", true},
		{"China Standard Time", "HK", "Asia/Hong_Kong", true},
		{"China Standard Time", "hk", "Asia/Hong_Kong", true},
		{"China Standard Time", "001", "Asia/Shanghai", true},
		{"China Standard Time", "DE", "Asia/Shanghai", true}, // no zone for DE: primary
		// Current IANA names, not CLDR's older canonical ids.
		{"India Standard Time", "", "Asia/Kolkata", true},
		{"FLE Standard Time", "UA", "Europe/Kyiv", true},
		{"UTC", "", "Etc/UTC", true},
		{"Mars Standard Time", "", "", false},
		{"w. europe standard time", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		got, ok := IANAFromWindows(tt.id, tt.territory)
		if got != tt.want || ok != tt.ok {
			t.Errorf("IANAFromWindows(%q, %q) = %q, %v; want %q, %v", tt.id, tt.territory, got, ok, tt.want, tt.ok)
		}
	}
}

// Every zone in the table must load (with Go's embedded tzdata, imported in
// timezone_test.go) and be a name readTree would accept.
func TestWindowsZonesLoad(t *testing.T) {
	m := windowsZones()
	if len(m) < 100 {
		t.Fatalf("windowsZones has %d ids, want over 100", len(m))
	}
	for id, zones := range m {
		if zones["001"] == "" {
			t.Errorf("%q has no 001 zone", id)
		}
		for territory, name := range zones {
			if _, err := time.LoadLocation(name); err != nil || !validName(name) {
				t.Errorf("%q in %s → %q: LoadLocation: %v, validName %v", id, territory, name, err, validName(name))
			}
		}
	}
}

// The committed table is the generator's output for the committed inputs,
// and the generator is deterministic.
func TestWindowsZonesGenerated(t *testing.T) {
	dir := filepath.Join("internal", "cldrgen")
	wz, err := os.ReadFile(filepath.Join(dir, cldrgen.WindowsZonesFile))
	if err != nil {
		t.Fatal(err)
	}
	tz, err := os.ReadFile(filepath.Join(dir, cldrgen.BCP47TimezoneFile))
	if err != nil {
		t.Fatal(err)
	}
	first, err := cldrgen.Generate(wz, tz)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, err := cldrgen.Generate(wz, tz)
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("Generate is not deterministic (run %d, err %v)", i, err)
		}
	}
	committed, err := os.ReadFile("windowszones.csv")
	if err != nil {
		t.Fatal(err)
	}
	// A checkout with CRLF line endings (git autocrlf) is still up to date.
	committed = bytes.ReplaceAll(committed, []byte("\r\n"), []byte("\n"))
	if !bytes.Equal(committed, first) || strings.ReplaceAll(windowsZonesCSV, "\r\n", "\n") != string(first) {
		t.Error("windowszones.csv differs from the generator's output; run go generate ./platform/timezone")
	}
	if !strings.Contains(string(first), cldrgen.Source) {
		t.Error("generated header does not name the source")
	}
	for _, f := range []string{"LICENSE-CLDR", filepath.Join(dir, "testdata", "LICENSE-CLDR")} {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), "UNICODE LICENSE V3") {
			t.Errorf("%s: missing Unicode License v3 text (%v)", f, err)
		}
	}
}
