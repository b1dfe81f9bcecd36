package usb

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
)

func loadSetupRecords(t *testing.T) []setupRecord {
	t.Helper()
	b, err := os.ReadFile("testdata/setupapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []setupRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// testdata/setupapi.json holds the records the Windows reader would make
// (USB enumerator, present devices) for a laptop with a PiKVM, a Logitech
// Unifying receiver, a JetKVM using its "Logitech" spoof preset, a YubiKey 5
// and a plain Logitech mouse. It is written by hand in the format of real
// SetupAPI values (ids, INF strings, capabilities); the identities come from
// research/hardware.md §1.1. Replace it with a dump from a real machine when
// one is available.
func TestFromSetupAPI(t *testing.T) {
	devs := fromSetupAPI(loadSetupRecords(t))
	var paths []string
	byPath := map[string]Device{}
	for _, d := range devs {
		paths = append(paths, d.Path)
		byPath[d.Path] = d
	}
	wantPaths := []string{
		`USB\ROOT_HUB30\4&2F3C8A1E&0&0`,
		`USB\VID_046D&PID_C077\5&2A9C3B1&0&5`,
		`USB\VID_046D&PID_C52B\3&1A2B3C4&0&1`,
		`USB\VID_046D&PID_C52B\5&2A9C3B1&0&1`,
		`USB\VID_1050&PID_0407\6&3B1C2D4E&0&3`,
		`USB\VID_1D6B&PID_0104\CAFEBABE`,
	}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("paths =\n%q\nwant\n%q", paths, wantPaths)
	}
	wantPiKVM := Device{
		Path: `USB\VID_1D6B&PID_0104\CAFEBABE`, VendorID: 0x1d6b, ProductID: 0x0104, BCDDevice: 0x0100,
		Product: "PiKVM Composite Device", Serial: "CAFEBABE",
		Interfaces: []Interface{
			{Number: 0, Class: 3, SubClass: 1, Protocol: 1, Name: "HID Interface", Driver: "HidUsb"},
			{Number: 1, Class: 3, Name: "HID Interface", Driver: "HidUsb"},
			{Number: 2, Class: 8, SubClass: 6, Protocol: 0x50, Name: "Mass Storage", Driver: "USBSTOR"},
		},
		Raw: map[string]string{"mfg": "(Standard USB Host Controller)", "device_desc": "USB Composite Device",
			"service": "usbccgp", "location": "Port_#0002.Hub_#0001"},
	}
	if got := byPath[wantPiKVM.Path]; !reflect.DeepEqual(got, wantPiKVM) {
		t.Errorf("PiKVM =\n%+v\nwant\n%+v", got, wantPiKVM)
	}
	// The real receiver has no serial: the last element is generated.
	if d := byPath[`USB\VID_046D&PID_C52B\5&2A9C3B1&0&1`]; d.Serial != "" || d.BCDDevice != 0x1211 || len(d.Interfaces) != 3 || d.Product != "USB Receiver" {
		t.Errorf("receiver = %+v", d)
	}
	// The JetKVM spoof has a serial that imitates a generated element;
	// CM_DEVCAP_UNIQUEID says it is the device's own.
	spoof := byPath[`USB\VID_046D&PID_C52B\3&1A2B3C4&0&1`]
	if spoof.Serial != "3&1A2B3C4&0&1" || len(spoof.Interfaces) != 4 || spoof.Interfaces[1].Protocol != 2 || spoof.Interfaces[3].Class != 8 {
		t.Errorf("JetKVM spoof = %+v", spoof)
	}
	// The YubiKey's MI_00 has no Parent: attached by vendor and product.
	yk := byPath[`USB\VID_1050&PID_0407\6&3B1C2D4E&0&3`]
	var classes []uint8
	for _, i := range yk.Interfaces {
		classes = append(classes, i.Class)
	}
	if !slices.Equal(classes, []uint8{3, 3, 0x0b}) || yk.BCDDevice != 0x0543 {
		t.Errorf("YubiKey = %+v", yk)
	}
	// A single-function mouse: its one interface comes from Class_ ids.
	m := byPath[`USB\VID_046D&PID_C077\5&2A9C3B1&0&5`]
	if want := []Interface{{Class: 3, SubClass: 1, Protocol: 2, Driver: "HidUsb"}}; !reflect.DeepEqual(m.Interfaces, want) || m.Class != 0 {
		t.Errorf("mouse = %+v", m)
	}
	hub := byPath[`USB\ROOT_HUB30\4&2F3C8A1E&0&0`]
	if hub.VendorID != 0x8086 || hub.ProductID != 0x9d2f || hub.Serial != "" {
		t.Errorf("root hub = %+v", hub)
	}
}

func TestParseHardwareID(t *testing.T) {
	tests := []struct {
		in   string
		want hardwareID
		ok   bool
	}{
		{`USB\VID_1D6B&PID_0104&REV_0100`, hardwareID{0x1d6b, 0x0104, 0x0100, true, -1}, true},
		{`USB\VID_1D6B&PID_0104&MI_00`, hardwareID{0x1d6b, 0x0104, 0, false, 0}, true},
		{`USB\VID_1D6B&PID_0104&REV_0100&MI_02`, hardwareID{0x1d6b, 0x0104, 0x0100, true, 2}, true},
		{`USB\VID_1D6B&PID_0104\CAFEBABE`, hardwareID{0x1d6b, 0x0104, 0, false, -1}, true},
		{`usb\vid_046d&pid_c52b`, hardwareID{0x046d, 0xc52b, 0, false, -1}, true},
		{`USB\ROOT_HUB30&VID8086&PID9D2F&REV0021`, hardwareID{0x8086, 0x9d2f, 0x0021, true, -1}, true},
		{`USB\ROOT_HUB30`, hardwareID{MI: -1}, false},
		{`HID\VID_1D6B&PID_0104&MI_00`, hardwareID{MI: -1}, false},
		{`USB\VID_1D6B&PID_01040`, hardwareID{0x1d6b, 0, 0, false, -1}, false},
		{`USB\VID_ZZZZ&PID_0104`, hardwareID{0, 0x0104, 0, false, -1}, false},
		{``, hardwareID{MI: -1}, false},
	}
	for _, tt := range tests {
		got, ok := parseHardwareID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseHardwareID(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCompatibleIDs(t *testing.T) {
	tests := []struct {
		in   []string
		want classTriple
		ok   bool
	}{
		{[]string{`USB\Class_03&SubClass_01&Prot_01`, `USB\Class_03&SubClass_01`, `USB\Class_03`}, classTriple{3, 1, 1, false}, true},
		{[]string{`USB\DevClass_00&SubClass_00&Prot_00`, `USB\COMPOSITE`}, classTriple{0, 0, 0, true}, true},
		{[]string{`USB\Class_08&SubClass_06`, `USB\Class_08&SubClass_06&Prot_50`}, classTriple{8, 6, 0x50, false}, true},
		{[]string{`USB\COMPOSITE`}, classTriple{}, false},
		{[]string{`USB\Class_XX&SubClass_01&Prot_01`}, classTriple{}, false},
		{nil, classTriple{}, false},
	}
	for _, tt := range tests {
		got, ok := parseCompatibleIDs(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseCompatibleIDs(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInstanceSerial(t *testing.T) {
	unique, generated := uint32(0x94), uint32(0x84)
	tests := []struct {
		id   string
		caps *uint32
		want string
	}{
		{`USB\VID_1D6B&PID_0104\CAFEBABE`, nil, "CAFEBABE"},
		{`USB\VID_1D6B&PID_0104\CAFEBABE`, &unique, "CAFEBABE"},
		{`USB\VID_046D&PID_C52B\5&2A9C3B1&0&1`, nil, ""},
		{`USB\VID_046D&PID_C52B\5&2A9C3B1&0&1`, &generated, ""},
		{`USB\VID_046D&PID_C52B\3&1A2B3C4&0&1`, &unique, "3&1A2B3C4&0&1"},
		{`USB\VID_046D&PID_C52B`, nil, ""},
	}
	for _, tt := range tests {
		if got := instanceSerial(tt.id, tt.caps); got != tt.want {
			t.Errorf("instanceSerial(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
}

func FuzzHardwareID(f *testing.F) {
	for _, s := range []string{`USB\VID_1D6B&PID_0104&REV_0100&MI_02`, `USB\ROOT_HUB30&VID8086&PID9D2F`, `USB\Class_03&SubClass_01&Prot_01`, `USB\VID_1D6B&PID_0104\CAFEBABE`, `USB\&&_\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, ok := parseHardwareID(s)
		if h.MI > 255 || h.MI < -1 {
			t.Fatalf("MI %d", h.MI)
		}
		_ = ok
		parseCompatibleIDs([]string{s})
		instanceSerial(s, nil)
		devs := fromSetupAPI([]setupRecord{{InstanceID: s, HardwareIDs: []string{s}, CompatibleIDs: []string{s}, BusReported: s, Parent: s}})
		if len(devs) != 1 {
			t.Fatalf("%d devices from one record", len(devs))
		}
	})
}
