package display

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/platform/edid"
	"github.com/farmwatch/farmwatch/platform/regfile"
)

func readEDID(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "edid", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brief is the part of a Display the tests compare, one line each.
func brief(ds []Display) string {
	var sb strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&sb, "%s %s enabled=%v %s raw=%d", d.Connector, d.Status, d.Enabled, d.Source, len(d.Raw))
		if e := d.EDID; e != nil {
			fmt.Fprintf(&sb, " %s %q %q %v", e.PNPCode(), e.Name, e.SerialString, e.Flags)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

// drmTree writes a laptop's sysfs DRM class under root the way the kernel
// lays it out: class entries are relative symlinks into sys/devices.
func drmTree(t *testing.T, root string, connectors map[string][3]string) {
	t.Helper()
	dev := "sys/devices/pci0000:00/0000:00:02.0/drm/card0"
	class := filepath.Join(root, "sys/class/drm")
	for _, dir := range []string{class, filepath.Join(root, dev)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) {
		if err := os.Symlink(target, filepath.Join(class, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("card0", "../../devices/pci0000:00/0000:00:02.0/drm/card0")
	link("renderD128", "../../devices/pci0000:00/0000:00:02.0/drm/renderD128")
	if err := os.WriteFile(filepath.Join(class, "version"), []byte("drm 1.1.0 20060810\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	for name, files := range connectors {
		dir := filepath.Join(root, dev, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, f := range []string{"status", "enabled", "edid"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(files[i]), 0o444); err != nil {
				t.Fatal(err)
			}
		}
		link(name, "../../devices/pci0000:00/0000:00:02.0/drm/card0/"+name)
	}
}

func TestListLinuxTree(t *testing.T) {
	root := t.TempDir()
	panel := readEDID(t, "benign-boe-edp-panel.bin")
	pikvm := readEDID(t, "pikvm-v4plus.bin")
	drmTree(t, root, map[string][3]string{
		"card0-eDP-1":    {"connected\n", "enabled\n", string(panel)},
		"card0-HDMI-A-1": {"connected\n", "enabled\n", string(pikvm)},
		"card0-DP-1":     {"disconnected\n", "disabled\n", ""},
	})
	got, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := `card0-DP-1 disconnected enabled=false drm raw=0
card0-HDMI-A-1 connected enabled=true drm raw=256 LNX7773 "PiKVM V4 Plus" "CAFEBABE" []
card0-eDP-1 connected enabled=true drm raw=128 BOE0974 "" "" []
`
	if s := brief(got); s != want {
		t.Errorf("List =\n%swant\n%s", s, want)
	}
	if len(got) == 3 && !bytes.Equal(got[1].Raw, pikvm) {
		t.Error("HDMI-A-1 Raw differs from the EDID written")
	}
	if len(got) == 3 && got[1].EDID.Year != 2016 {
		t.Errorf("HDMI-A-1 EDID = %+v", got[1].EDID)
	}
}

// Damaged and oversized EDIDs are kept and flagged; a blob without a header
// keeps its bytes and gets no EDID.
func TestListLinuxTreeBadEDIDs(t *testing.T) {
	root := t.TempDir()
	ms := readEDID(t, "ms2109.bin")
	bad := bytes.Clone(ms)
	bad[127]++
	drmTree(t, root, map[string][3]string{
		"card0-HDMI-A-1": {"connected", "enabled", string(bad)},
		"card0-HDMI-A-2": {"connected", "enabled", string(ms[:64])},
		"card0-HDMI-A-3": {"connected", "enabled", string(append(bytes.Clone(ms), make([]byte, 100<<10)...))},
		"card0-HDMI-A-4": {"connected", "enabled", "garbage"},
		"card1-DP-1":     {"", "", ""},
	})
	got, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := `card0-HDMI-A-1 connected enabled=true drm raw=128 HJW0001 "HDMI TO USB" "" [bad-checksum]
card0-HDMI-A-2 connected enabled=true drm raw=64 HJW0001 "" "" [truncated]
card0-HDMI-A-3 connected enabled=true drm raw=32768 HJW0001 "HDMI TO USB" "" [trailing-data oversize]
card0-HDMI-A-4 connected enabled=true drm raw=7
card1-DP-1 unknown enabled=false drm raw=0
`
	if s := brief(got); s != want {
		t.Errorf("List =\n%swant\n%s", s, want)
	}
}

func TestListMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) returned no error")
	}
}

// A tree without sys/class/drm (a headless server) has no displays.
func TestListTreeWithoutDRM(t *testing.T) {
	got, err := List(context.Background(), t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("List = %v, %v; want nothing", got, err)
	}
}

// An absolute symlink in a captured tree must not be followed into the live
// system; the refusal is reported.
func TestListTreeStaysInside(t *testing.T) {
	root := t.TempDir()
	drmTree(t, root, nil)
	outside := t.TempDir()
	for f, s := range map[string]string{"status": "connected", "enabled": "enabled", "edid": string(readEDID(t, "ms2109.bin"))} {
		if err := os.WriteFile(filepath.Join(outside, f), []byte(s), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "sys/class/drm/card0-HDMI-A-1")); err != nil {
		t.Fatal(err)
	}
	got, err := List(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "card0-HDMI-A-1") {
		t.Errorf("List error = %v, want one naming card0-HDMI-A-1", err)
	}
	if len(got) != 1 || got[0].Raw != nil || got[0].Status != StatusUnknown {
		t.Errorf("List = %s; want card0-HDMI-A-1 with nothing read", brief(got))
	}
}

// hive reads a recorded .reg export as the Windows reader reads the live
// registry.
type hive struct{ *regfile.Hive }

func (h hive) Binary(path, name string) ([]byte, bool) {
	v, ok := h.Key(path).Value(name)
	if !ok || v.Type != regfile.TypeBinary || len(v.Data) > maxEDIDRead {
		return nil, false
	}
	return v.Data, true
}

func TestRegistryDisplays(t *testing.T) {
	b, err := os.ReadFile("testdata/windows/enum-display.reg")
	if err != nil {
		t.Fatal(err)
	}
	h, err := regfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	// SetupAPI reports instance ids in upper case.
	present := map[string]bool{
		`DISPLAY\BOE0974\4&2D1F6A2B&0&UID8388688`: true,
		`DISPLAY\DELA13F\5&2A3A6C0C&0&UID4353`:    true,
	}
	tests := []struct {
		name    string
		present map[string]bool
		want    string
	}{
		{"presence known", present, `DISPLAY\BOE0974\4&2d1f6a2b&0&UID8388688 connected enabled=true registry raw=128 BOE0974 "" "" []
DISPLAY\DELA13F\5&2a3a6c0c&0&UID4353 connected enabled=true registry raw=256 DELA13F "DELL U2720Q" "6JDWF93" []
DISPLAY\Default_Monitor\1&8713bca&0&UID0 remembered enabled=false registry-history raw=0
DISPLAY\LNX7773\5&2a3a6c0c&0&UID4357 remembered enabled=false registry-history raw=256 LNX7773 "PiKVM V4 Plus" "CAFEBABE" []
`},
		{"presence unknown", nil, `DISPLAY\BOE0974\4&2d1f6a2b&0&UID8388688 unknown enabled=false registry raw=128 BOE0974 "" "" []
DISPLAY\DELA13F\5&2a3a6c0c&0&UID4353 unknown enabled=false registry raw=256 DELA13F "DELL U2720Q" "6JDWF93" []
DISPLAY\Default_Monitor\1&8713bca&0&UID0 unknown enabled=false registry raw=0
DISPLAY\LNX7773\5&2a3a6c0c&0&UID4357 unknown enabled=false registry raw=256 LNX7773 "PiKVM V4 Plus" "CAFEBABE" []
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := registryDisplays(hive{h}, tt.present)
			if s := brief(got); s != tt.want {
				t.Errorf("registryDisplays =\n%swant\n%s", s, tt.want)
			}
			for _, d := range got {
				if d.EDID != nil && d.EDID.Manufacturer == "LNX" && !bytes.Equal(d.Raw, readEDID(t, "pikvm-v4plus.bin")) {
					t.Error("LNX7773 EDID differs from the corpus file")
				}
			}
		})
	}
}

func TestParseIoreg(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		// Intel: IODisplayConnect > AppleDisplay with IODisplayEDID; an
		// IODisplayConnect without a display is skipped.
		{"ioreg-iodisplayconnect.plist", `IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/IGPU@2/AppleIntelFramebuffer@0/display0/AppleBacklightDisplay-610-9227 connected enabled=true ioreg raw=128 APP9227 "Thunderbolt" "" []
IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/IGPU@2/AppleIntelFramebuffer@1/display0/AppleDisplay-10ac-a13f connected enabled=true ioreg raw=256 DELA13F "DELL U2720Q" "6JDWF93" []
IOService:/AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/IGPU@2/AppleIntelFramebuffer@2/display0/AppleDisplay-20d7-1 connected enabled=true ioreg raw=128 HJW0001 "HDMI TO USB" "" []
`},
		// Apple Silicon: the internal panel's framebuffer has no EDID;
		// the external one holds IODisplayEDIDOriginal.
		{"ioreg-appleclcd2.plist", `dispext0 connected enabled=true ioreg raw=256 LNX7773 "PiKVM V4 Plus" "CAFEBABE" []
`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/macos", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[uint64]bool{}
			got, err := parseIoreg(b, seen)
			if err != nil {
				t.Fatal(err)
			}
			if s := brief(got); s != tt.want {
				t.Errorf("parseIoreg =\n%swant\n%s", s, tt.want)
			}
			// The same entries printed by another class's run are not
			// listed twice.
			if again, err := parseIoreg(b, seen); err != nil || len(again) != 0 {
				t.Errorf("second parse = %s, %v; want nothing", brief(again), err)
			}
		})
	}
}

func TestParseIoregEDIDInDisplayAttributes(t *testing.T) {
	pikvm := readEDID(t, "pikvm-v4plus.bin")
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><array><dict>
<key>IORegistryEntryName</key><string>dispext1</string>
<key>IORegistryEntryLocation</key><string>1</string>
<key>DisplayAttributes</key><dict><key>EDID</key><data>`)
	sb.WriteString(base64.StdEncoding.EncodeToString(pikvm))
	sb.WriteString(`</data></dict></dict></array></plist>`)
	got, err := parseIoreg([]byte(sb.String()), map[uint64]bool{})
	if err != nil {
		t.Fatal(err)
	}
	want := `dispext1@1 connected enabled=true ioreg raw=256 LNX7773 "PiKVM V4 Plus" "CAFEBABE" []` + "\n"
	if s := brief(got); s != want {
		t.Errorf("parseIoreg =\n%swant\n%s", s, want)
	}
}

func TestParseIoregBadInput(t *testing.T) {
	for _, in := range []string{"", "not a plist", `<plist version="1.0"><dict/></plist>`} {
		if _, err := parseIoreg([]byte(in), map[uint64]bool{}); err == nil {
			t.Errorf("parseIoreg(%q) returned no error", in)
		}
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live test is for linux")
	}
	ds, err := List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Source != "drm" || !strings.HasPrefix(d.Connector, "card") || len(d.Raw) > edid.MaxSize {
			t.Errorf("bad display %+v", d)
		}
	}
}

func FuzzParseIoreg(f *testing.F) {
	for _, file := range []string{"ioreg-iodisplayconnect.plist", "ioreg-appleclcd2.plist"} {
		b, err := os.ReadFile(filepath.Join("testdata/macos", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, _ := parseIoreg(b, map[uint64]bool{})
		for _, d := range ds {
			if len(d.Raw) == 0 || len(d.Raw) > edid.MaxSize || d.Source != "ioreg" {
				t.Fatalf("bad display %+v", d)
			}
		}
	})
}
