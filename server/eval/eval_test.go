package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/server/policy"
)

const suiteDir = "testdata/scenarios"

// TestScenarioSuite is the calibration gate: the shipped suite under the default policy must
// put every farm device at high or above and no benign device there.
func TestScenarioSuite(t *testing.T) {
	r, err := Run(suiteDir, policy.Default(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Devices < 60 || len(r.Fleets) < 4 || r.Farm == 0 || r.Benign == 0 {
		t.Fatalf("suite too small: %d devices (%d farm, %d benign) in %d fleets", r.Devices, r.Farm, r.Benign, len(r.Fleets))
	}
	for _, f := range r.Families {
		if f.Devices == 0 {
			t.Errorf("no device exercises family %s", f.Family)
		}
	}
	if fails := r.Check(DefaultMinRecallHigh, DefaultMaxFPRHigh); len(fails) > 0 {
		var buf bytes.Buffer
		for _, d := range r.Misclassified {
			writeBreakdown(&buf, d)
		}
		t.Errorf("%s\nmisclassified devices:%s", strings.Join(fails, "\n"), buf.String())
	}
}

func TestFleetFilesAreValidatedStrictly(t *testing.T) {
	good := `{
  "fleet": "f",
  "description": "d",
  "observed": "2026-11-23T09:00:00Z",
  "devices": [
    {
      "id": "a",
      "hostname": "a",
      "label": "farm",
      "families": ["kvm"],
      "case": "c",
      "recorded": ["recorded/hw-kvm-01.json"]
    }
  ]
}
`
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown key", `"case": "c",`, `"case": "c", "colour": "red",`, `f.json:11: unknown key "colour"`},
		{"unknown label", `"label": "farm"`, `"label": "suspicious"`, `f.json:9: device a: label "suspicious"`},
		{"unknown family", `["kvm"]`, `["kvm", "usb"]`, `f.json:10: device a: unknown family "usb"`},
		{"missing recorded file", `hw-kvm-01.json`, `nope.json`, `f.json:12: device a: recorded recorded/nope.json`},
		{"typed finding without why", `"recorded": ["recorded/hw-kvm-01.json"]`, `"findings": [{"typed": true, "signal": "location.rtt", "key": "k", "severity": "low", "confidence": 0.5, "title": "t", "why": ""}]`, `device a: finding 1: typed findings need`},
		{"bad time", `2026-11-23T09:00:00Z`, `yesterday`, `f.json:4: observed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Symlink(mustAbs(t, filepath.Join(suiteDir, "recorded")), filepath.Join(dir, "recorded")); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(good, tc.from) {
				t.Fatalf("fixture lacks %q", tc.from)
			}
			if err := os.WriteFile(filepath.Join(dir, "f.json"), []byte(strings.Replace(good, tc.from, tc.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Run(dir, policy.Default(), time.Now())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	os.Symlink(mustAbs(t, filepath.Join(suiteDir, "recorded")), filepath.Join(dir, "recorded"))
	os.WriteFile(filepath.Join(dir, "f.json"), []byte(good), 0o644)
	if _, err := Run(dir, policy.Default(), time.Now()); err != nil {
		t.Errorf("good file refused: %v", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCommandExitsOneBelowThresholds(t *testing.T) {
	var out, errb bytes.Buffer
	// An impossible recall threshold must fail; a lenient pair must pass unless the suite errs.
	if code := Command([]string{"--scenarios", suiteDir, "--min-recall-high", "1.01"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "recall at high") {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := Command([]string{"--scenarios", suiteDir, "--json", "--min-recall-high", "0", "--max-fpr-high", "1"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"policy_version"`) {
		t.Errorf("exit %d, stderr %s", code, errb.String())
	}
	if code := Command(nil, &out, &errb); code != 2 {
		t.Errorf("no --scenarios: exit %d", code)
	}
}
