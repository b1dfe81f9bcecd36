package hid

import (
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Descriptors from research/hardware.md §1.3 (bytes and hashes copied from
// the table), plus a benign mouse and a touch screen.
var (
	pikvmKeyboard    = "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 C0"
	pikvmAbsMouse    = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0"
	pikvmAbsNoHWheel = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0"
	pikvmRelMouse    = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0"
	pikvmRelNoHWheel = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0"
	tinypilotKbd     = "05 01 09 06 A1 01 05 08 19 01 29 03 15 00 25 01 75 01 95 03 91 02 09 4B 95 01 91 02 95 04 91 01 05 07 19 E0 29 E7 95 08 81 02 75 08 95 01 81 01 19 00 29 91 26 FF 00 95 06 81 00 C0"
	tinypilotAbs     = "05 01 09 02 A1 01 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0"
	jetkvmKbd        = "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0"
	jetkvmAbs        = "05 01 09 02 A1 01 85 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 75 01 95 03 81 02 95 01 75 05 81 03 05 01 09 30 09 31 16 00 00 26 FF 7F 36 00 00 46 FF 7F 75 10 95 02 81 02 C0 85 02 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0"
	nanokvmKbd       = "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 E7 05 07 19 00 29 E7 81 00 C0"
	nanokvmRel       = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 03 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0"
	nanokvmTouchpad  = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 05 15 00 25 01 95 05 75 01 81 02 95 01 75 03 81 01 05 01 09 30 09 31 15 00 26 FF 7F 35 00 46 FF 7F 75 10 95 02 81 02 05 01 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0 C0"
	// HID 1.11 Appendix B.2 boot mouse with a wheel: what ordinary mice send.
	bootMouse = "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0"
	// Single-touch touch screen (Digitizer page), X/Y absolute 0..4095.
	touchScreen = "05 0D 09 04 A1 01 85 01 09 22 A1 02 09 42 15 00 25 01 75 01 95 01 81 02 09 32 81 02 95 06 81 03 75 08 09 51 25 3F 95 01 81 02 05 01 26 FF 0F 75 10 55 0E 65 33 09 30 35 00 46 B5 04 81 02 46 8A 03 09 31 81 02 C0 C0"
	// A Consumer Control application and a vendor-page application.
	consumerVendor = "05 0C 09 01 A1 01 85 03 19 00 2A 3C 02 15 00 26 3C 02 95 01 75 10 81 00 C0 06 00 FF 09 01 A1 01 09 20 15 00 26 FF 00 75 08 95 40 81 02 09 21 91 02 C0"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKnownDescriptors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		len  int
		hash string // "" when the research table has none
		want Summary
		apps int // top-level collections
		ids  []uint8
	}{
		{"pikvm keyboard", pikvmKeyboard, 65, "5333cc3a23db1dd7", Summary{Keyboard: true}, 1, nil},
		{"pikvm absolute mouse", pikvmAbsMouse, 73, "3a71a5a23705ee80", Summary{AbsolutePointer: true, AbsMax: 32767}, 1, nil},
		{"pikvm absolute mouse without hwheel", pikvmAbsNoHWheel, 58, "d9b93f5aa0cb2ab2", Summary{AbsolutePointer: true, AbsMax: 32767}, 1, nil},
		{"pikvm relative mouse", pikvmRelMouse, 61, "92155ddf022d4091", Summary{RelativePointer: true}, 1, nil},
		{"pikvm relative mouse without hwheel", pikvmRelNoHWheel, 46, "55c045b2daf5c91f", Summary{RelativePointer: true}, 1, nil},
		{"tinypilot keyboard, LEDs first", tinypilotKbd, 60, "3ff35a2908d55c14", Summary{Keyboard: true}, 1, nil},
		{"tinypilot absolute mouse", tinypilotAbs, 68, "0eab8b0c15825160", Summary{AbsolutePointer: true, AbsMax: 32767}, 1, nil},
		{"jetkvm keyboard", jetkvmKbd, 63, "81c9b5a7d7ecf4b9", Summary{Keyboard: true}, 1, nil},
		{"jetkvm absolute mouse, report ids", jetkvmAbs, 78, "5e10a7f6cc69f217", Summary{AbsolutePointer: true, AbsMax: 32767}, 1, []uint8{2}},
		{"nanokvm keyboard", nanokvmKbd, 63, "bba88cf2c2245cf8", Summary{Keyboard: true}, 1, nil},
		{"nanokvm relative mouse", nanokvmRel, 52, "8aab9edd8276e0aa", Summary{RelativePointer: true}, 1, nil},
		{"nanokvm absolute touchpad", nanokvmTouchpad, 74, "406e9a7433451eed", Summary{AbsolutePointer: true, AbsMax: 32767}, 1, nil},
		{"boot mouse", bootMouse, 52, "", Summary{RelativePointer: true}, 1, nil},
		{"touch screen", touchScreen, 71, "", Summary{Digitizer: true, AbsMax: 4095}, 1, nil},
		{"consumer and vendor", consumerVendor, 50, "", Summary{Consumer: true, Vendor: true}, 2, []uint8{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			if len(b) != tt.len {
				t.Fatalf("len = %d, want %d", len(b), tt.len)
			}
			if tt.hash != "" {
				if got := Hash(b); got != tt.hash {
					t.Errorf("Hash = %s, want %s", got, tt.hash)
				}
			}
			d, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Flags) != 0 {
				t.Errorf("Flags = %v, want none", d.Flags)
			}
			if got := Summarize(d); got != tt.want {
				t.Errorf("Summarize = %+v, want %+v", got, tt.want)
			}
			apps := 0
			for _, c := range d.Collections {
				if c.Depth == 0 {
					apps++
					if c.Kind != "application" {
						t.Errorf("top-level collection kind %q", c.Kind)
					}
				}
			}
			if apps != tt.apps {
				t.Errorf("top-level collections = %d, want %d", apps, tt.apps)
			}
			// The first application's own report IDs (JetKVM: the wheel's 2;
			// X/Y with ID 1 sit in the nested physical collection).
			if got := d.Collections[0].ReportIDs; !slices.Equal(got, tt.ids) {
				t.Errorf("ReportIDs of first collection = %v, want %v", got, tt.ids)
			}
		})
	}
}

// The PiKVM absolute mouse field by field: the values a detector relies on.
func TestPiKVMAbsoluteMouseFields(t *testing.T) {
	d, err := Parse(mustHex(t, pikvmAbsMouse))
	if err != nil {
		t.Fatal(err)
	}
	want := Descriptor{Collections: []Collection{
		{UsagePage: 0x01, Usage: 0x02, Kind: "application", Depth: 0},
		{UsagePage: 0x01, Usage: 0x01, Kind: "physical", Depth: 1, Fields: []Field{
			{UsagePage: 0x09, Usages: []uint32{0x90001, 0x90002, 0x90003, 0x90004, 0x90005, 0x90006, 0x90007, 0x90008},
				LogicalMin: 0, LogicalMax: 1, ReportSize: 1, ReportCount: 8, Input: true, Absolute: true, Variable: true},
			{UsagePage: 0x01, Usages: []uint32{UsageX, UsageY}, LogicalMin: 0, LogicalMax: 32767,
				ReportSize: 16, ReportCount: 2, Input: true, Absolute: true, Variable: true},
			{UsagePage: 0x01, Usages: []uint32{0x10038}, LogicalMin: -127, LogicalMax: 127,
				ReportSize: 8, ReportCount: 1, Input: true, Variable: true},
			{UsagePage: 0x0C, Usages: []uint32{0xC0238}, LogicalMin: -127, LogicalMax: 127,
				ReportSize: 8, ReportCount: 1, Input: true, Variable: true},
		}},
	}}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", d, want)
	}
}

func TestJetKVMReportIDs(t *testing.T) {
	d, err := Parse(mustHex(t, jetkvmAbs))
	if err != nil {
		t.Fatal(err)
	}
	var xy *Field
	for i := range d.Collections {
		for j, f := range d.Collections[i].Fields {
			if slices.Contains(f.Usages, UsageX) {
				xy = &d.Collections[i].Fields[j]
			}
		}
	}
	if xy == nil || xy.ReportID != 1 || !xy.Absolute || xy.LogicalMax != 32767 {
		t.Fatalf("X/Y field = %+v, want report 1, absolute, max 32767", xy)
	}
	if got := d.Collections[1].ReportIDs; !slices.Equal(got, []uint8{1}) {
		t.Errorf("physical collection ReportIDs = %v, want [1]", got)
	}
}

// NanoKVM's keyboard says "25 E7": with a minimum of 0 that is 231, not -25.
func TestLogicalMaxUnsignedWhenMinNotNegative(t *testing.T) {
	d, err := Parse(mustHex(t, nanokvmKbd))
	if err != nil {
		t.Fatal(err)
	}
	f := d.Collections[0].Fields
	last := f[len(f)-1]
	if last.LogicalMax != 231 || len(last.Usages) != 232 || last.Variable {
		t.Errorf("key array field = max %d, %d usages, variable %v; want 231, 232, false", last.LogicalMax, len(last.Usages), last.Variable)
	}
}

func TestBadDescriptors(t *testing.T) {
	kbd := pikvmKeyboard
	tests := []struct {
		name      string
		hex       string
		flags     []string
		err       bool
		keyboard  bool
		absMax    int32
		fieldsMin int
	}{
		{"truncated mid item", pikvmAbsMouse[:3*33-1], []string{"truncated", "unbalanced-collections"}, false, false, 0, 1},
		{"long item skipped", "FE 02 10 AA BB " + kbd, []string{"long-item"}, false, true, 0, 5},
		{"long item truncated", "FE 10 01 AA", []string{"truncated"}, true, false, 0, 0},
		{"end collection first", "C0 " + kbd, []string{"unbalanced-collections"}, false, true, 0, 5},
		{"never closed", kbd[:len(kbd)-3], []string{"unbalanced-collections"}, false, true, 0, 5},
		{"absurd report count", "05 01 09 02 A1 01 09 30 09 31 15 00 26 FF 7F 97 FF FF FF FF 75 10 81 02 C0", []string{"bad-item"}, false, false, 32767, 1},
		{"huge usage range", "05 01 09 02 A1 01 1B 00 00 01 00 2B FF FF 01 00 75 01 97 00 00 01 00 81 02 C0", []string{"too-many-usages", "bad-item"}, false, false, 0, 1},
		{"pop without push", "B4 " + kbd, []string{"bad-item"}, false, true, 0, 5},
		{"field outside collection", "75 08 95 01 81 02", []string{"bad-item"}, false, false, 0, 1},
		{"reserved item type", "0C " + kbd, []string{"bad-item"}, false, true, 0, 5},
		{"only garbage", "FF FF", []string{"truncated"}, true, false, 0, 0},
		{"empty", "", nil, true, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(mustHex(t, strings.TrimSpace(tt.hex)))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrEmpty) {
				t.Errorf("err = %v, want ErrEmpty", err)
			}
			if !slices.Equal(d.Flags, tt.flags) {
				t.Errorf("Flags = %q, want %q", d.Flags, tt.flags)
			}
			n := 0
			for _, c := range d.Collections {
				n += len(c.Fields)
			}
			if n < tt.fieldsMin {
				t.Errorf("%d fields, want at least %d", n, tt.fieldsMin)
			}
			if s := Summarize(d); s.Keyboard != tt.keyboard || s.AbsMax != tt.absMax {
				t.Errorf("Summarize = %+v, want Keyboard %v AbsMax %d", s, tt.keyboard, tt.absMax)
			}
		})
	}
}

func TestUsageRangeCapped(t *testing.T) {
	d, _ := Parse(mustHex(t, "05 01 09 02 A1 01 1B 00 00 01 00 2B FF FF 01 00 75 01 97 00 00 01 00 81 02 C0"))
	if n := len(d.Collections[0].Fields[0].Usages); n != MaxUsages-1 {
		t.Errorf("usages kept = %d, want %d (one went to the collection)", n, MaxUsages-1)
	}
}

func TestTooBig(t *testing.T) {
	b := append(mustHex(t, pikvmKeyboard), make([]byte, MaxDescriptor)...)
	d, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(d.Flags, "too-big") || !Summarize(d).Keyboard {
		t.Errorf("Flags = %v, Summary = %+v; want too-big and a keyboard", d.Flags, Summarize(d))
	}
}

// Usage Page declared after the usages applies to them (hid-core.c).
func TestUsagePageAfterUsages(t *testing.T) {
	d, err := Parse(mustHex(t, "09 02 A1 01 09 30 09 31 05 01 15 00 26 FF 7F 75 10 95 02 81 02 C0"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Collections[0].Fields[0].Usages; !slices.Equal(got, []uint32{UsageX, UsageY}) {
		t.Errorf("Usages = %#x, want X, Y on Generic Desktop", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{pikvmKeyboard, pikvmAbsMouse, tinypilotKbd, jetkvmAbs, nanokvmTouchpad, touchScreen, consumerVendor, "FE 02 10 AA BB C0", "A4 A4 B4 B4 B4"} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b)
		if err == nil && len(d.Collections) == 0 {
			t.Fatal("no error and no collections")
		}
		n := 0
		for _, c := range d.Collections {
			n += len(c.Fields)
			for _, fl := range c.Fields {
				if fl.Input == fl.Output && fl.Output == fl.Feature {
					t.Fatalf("field kind not unique: %+v", fl)
				}
			}
		}
		if n > len(b) || len(d.Collections) > len(b) {
			t.Fatalf("%d fields, %d collections from %d bytes", n, len(d.Collections), len(b))
		}
		_ = Summarize(d)
	})
}
