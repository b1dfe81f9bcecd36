package input

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"unsafe"

	"github.com/farmwatch/farmwatch/platform/usb"
)

// The hid.dll structures are OS-independent Go types, so their layout is
// checked on every OS (and again on Windows in input_windows_test.go).
func TestHidpLayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, bin uintptr
		want      uintptr
	}{
		{"HIDD_ATTRIBUTES", unsafe.Sizeof(hidpAttributes{}), uintptr(binary.Size(hidpAttributes{})), 12},
		{"HIDP_CAPS", unsafe.Sizeof(hidpCaps{}), uintptr(binary.Size(hidpCaps{})), 64},
		{"HIDP_VALUE_CAPS", unsafe.Sizeof(hidpValueCaps{}), uintptr(binary.Size(hidpValueCaps{})), 72},
	} {
		// binary.Size equal to unsafe.Sizeof: no implicit padding anywhere.
		if c.size != c.want || c.bin != c.want {
			t.Errorf("%s: unsafe.Sizeof %d, binary.Size %d, want %d", c.name, c.size, c.bin, c.want)
		}
	}
	var v hidpValueCaps
	var caps hidpCaps
	var a hidpAttributes
	for _, o := range []struct {
		name      string
		got, want uintptr
	}{
		{"attributes.VendorID", unsafe.Offsetof(a.VendorID), 4},
		{"attributes.VersionNumber", unsafe.Offsetof(a.VersionNumber), 8},
		{"caps.Usage", unsafe.Offsetof(caps.Usage), 0},
		{"caps.UsagePage", unsafe.Offsetof(caps.UsagePage), 2},
		{"caps.NumberLinkCollectionNodes", unsafe.Offsetof(caps.NumberLinkCollectionNodes), 44},
		{"caps.NumberInputButtonCaps", unsafe.Offsetof(caps.NumberInputButtonCaps), 46},
		{"caps.NumberInputValueCaps", unsafe.Offsetof(caps.NumberInputValueCaps), 48},
		{"caps.NumberFeatureDataIndices", unsafe.Offsetof(caps.NumberFeatureDataIndices), 62},
		{"value.ReportID", unsafe.Offsetof(v.ReportID), 2},
		{"value.BitField", unsafe.Offsetof(v.BitField), 4},
		{"value.LinkCollection", unsafe.Offsetof(v.LinkCollection), 6},
		{"value.LinkUsagePage", unsafe.Offsetof(v.LinkUsagePage), 10},
		{"value.IsRange", unsafe.Offsetof(v.IsRange), 12},
		{"value.IsAbsolute", unsafe.Offsetof(v.IsAbsolute), 15},
		{"value.BitSize", unsafe.Offsetof(v.BitSize), 18},
		{"value.ReportCount", unsafe.Offsetof(v.ReportCount), 20},
		{"value.UnitsExp", unsafe.Offsetof(v.UnitsExp), 32},
		{"value.LogicalMin", unsafe.Offsetof(v.LogicalMin), 40},
		{"value.LogicalMax", unsafe.Offsetof(v.LogicalMax), 44},
		{"value.PhysicalMax", unsafe.Offsetof(v.PhysicalMax), 52},
		{"value.Union", unsafe.Offsetof(v.Union), 56},
	} {
		if o.got != o.want {
			t.Errorf("offset of %s = %d, want %d", o.name, o.got, o.want)
		}
	}
}

// vcap is a NotRange input value cap; vrange a Range one.
func vcap(page, usage uint16, abs bool, lo, hi int32) hidpValueCaps {
	v := hidpValueCaps{UsagePage: page, LogicalMin: lo, LogicalMax: hi, BitSize: 16, ReportCount: 1}
	if abs {
		v.IsAbsolute = 1
	}
	v.Union[0] = usage
	return v
}

func vrange(page, umin, umax uint16, abs bool, lo, hi int32) hidpValueCaps {
	v := vcap(page, umin, abs, lo, hi)
	v.IsRange, v.Union[1] = 1, umax
	return v
}

func caps(page, usage, buttons, values uint16) hidpCaps {
	return hidpCaps{UsagePage: page, Usage: usage, NumberInputButtonCaps: buttons, NumberInputValueCaps: values}
}

func attrs(vid, pid, ver uint16) hidpAttributes {
	return hidpAttributes{Size: 12, VendorID: vid, ProductID: pid, VersionNumber: ver}
}

const hidGUID = "#{4d1e55b2-f16f-11cf-88cb-001111000030}"

// recordedHidp is what a Windows 11 laptop with a PiKVM, a Logitech
// receiver and a precision touchpad, and a VMware guest, report. Values
// follow the devices' descriptors (research/hardware.md §1.3 for PiKVM);
// instance ids and parents follow the forms Windows uses.
func recordedHidp() []hidpRecord {
	ok := func(r hidpRecord) hidpRecord { r.Opened, r.HasAttributes, r.HasCaps = true, true, true; return r }
	return []hidpRecord{
		// PiKVM keyboard function: buttons only.
		ok(hidpRecord{Path: `\\?\HID#VID_1D6B&PID_0104&MI_00#8&2f1a3b&0&0000` + hidGUID,
			InstanceID: `HID\VID_1D6B&PID_0104&MI_00\8&2F1A3B&0&0000`, Parent: `USB\VID_1D6B&PID_0104&MI_00\7&1B3F9C2&0&0000`,
			Attributes: attrs(0x1d6b, 0x0104, 0x0100), Manufacturer: "PiKVM", Product: "PiKVM Composite Device",
			Caps: caps(0x01, 0x06, 2, 0)}),
		// PiKVM absolute mouse: X/Y 0..32767, wheel and AC Pan relative.
		ok(hidpRecord{Path: `\\?\HID#VID_1D6B&PID_0104&MI_01#8&11c0a2d&0&0000` + hidGUID,
			InstanceID: `HID\VID_1D6B&PID_0104&MI_01\8&11C0A2D&0&0000`, Parent: `USB\VID_1D6B&PID_0104&MI_01\7&1B3F9C2&0&0001`,
			Attributes: attrs(0x1d6b, 0x0104, 0x0100), Manufacturer: "PiKVM", Product: "PiKVM Composite Device",
			Caps: caps(0x01, 0x02, 1, 4),
			ValueCaps: []hidpValueCaps{vcap(0x0C, 0x238, false, -127, 127), vcap(0x01, 0x38, false, -127, 127),
				vcap(0x01, 0x31, true, 0, 32767), vcap(0x01, 0x30, true, 0, 32767)}}),
		// Logitech receiver: keyboard Col01 ... vendor Col03, M705 mouse on MI_01&Col01.
		ok(hidpRecord{Path: `\\?\HID#VID_046D&PID_C52B&MI_00#8&5a1c&0&0000` + hidGUID,
			InstanceID: `HID\VID_046D&PID_C52B&MI_00\8&5A1C&0&0000`, Parent: `USB\VID_046D&PID_C52B&MI_00\7&2A&0&0000`,
			Attributes: attrs(0x046d, 0xc52b, 0x1211), Manufacturer: "Logitech", Product: "USB Receiver",
			Caps: caps(0x01, 0x06, 2, 0)}),
		ok(hidpRecord{Path: `\\?\HID#VID_046D&PID_C52B&MI_01&Col01#8&7e&0&0000` + hidGUID,
			InstanceID: `HID\VID_046D&PID_C52B&MI_01&COL01\8&7E&0&0000`, Parent: `USB\VID_046D&PID_C52B&MI_01\7&2A&0&0001`,
			Attributes: attrs(0x046d, 0xc52b, 0x1211), Manufacturer: "Logitech", Product: "USB Receiver",
			Caps: caps(0x01, 0x02, 1, 4),
			ValueCaps: []hidpValueCaps{vcap(0x01, 0x31, false, -2047, 2047), vcap(0x01, 0x30, false, -2047, 2047),
				vcap(0x01, 0x38, false, -127, 127), vcap(0x0C, 0x238, false, -127, 127)}}),
		ok(hidpRecord{Path: `\\?\HID#VID_046D&PID_C52B&MI_02&Col03#8&90&0&0002` + hidGUID,
			InstanceID: `HID\VID_046D&PID_C52B&MI_02&COL03\8&90&0&0002`, Parent: `USB\VID_046D&PID_C52B&MI_02\7&2A&0&0002`,
			Attributes: attrs(0x046d, 0xc52b, 0x1211), Manufacturer: "Logitech", Product: "USB Receiver",
			Caps: caps(0xFF00, 0x01, 0, 1), ValueCaps: []hidpValueCaps{vcap(0xFF00, 0x01, true, 0, 255)}}),
		// Precision touchpad over I2C: the touch pad collection (finger X/Y
		// in link collections) and its legacy mouse collection.
		ok(hidpRecord{Path: `\\?\HID#SYNA7DB5&Col02#5&2d0b&0&0001` + hidGUID,
			InstanceID: `HID\SYNA7DB5&COL02\5&2D0B&0&0001`, Parent: `ACPI\SYNA7DB5\1`,
			Attributes: attrs(0x06cb, 0xcd8b, 0x0100), Caps: caps(0x0D, 0x05, 3, 12),
			ValueCaps: []hidpValueCaps{vcap(0x0D, 0x51, true, 0, 15), vcap(0x01, 0x30, true, 0, 1224), vcap(0x01, 0x31, true, 0, 804),
				vcap(0x0D, 0x51, true, 0, 15), vcap(0x01, 0x30, true, 0, 1224), vcap(0x01, 0x31, true, 0, 804),
				vcap(0x0D, 0x56, true, 0, 65535), vcap(0x0D, 0x54, true, 0, 5)}}),
		ok(hidpRecord{Path: `\\?\HID#SYNA7DB5&Col01#5&2d0b&0&0000` + hidGUID,
			InstanceID: `HID\SYNA7DB5&COL01\5&2D0B&0&0000`, Parent: `ACPI\SYNA7DB5\1`,
			Attributes: attrs(0x06cb, 0xcd8b, 0x0100), Caps: caps(0x01, 0x02, 1, 2),
			ValueCaps: []hidpValueCaps{vcap(0x01, 0x30, false, -127, 127), vcap(0x01, 0x31, false, -127, 127)}}),
		// Touchpad configuration collection: features only, skipped.
		ok(hidpRecord{Path: `\\?\HID#SYNA7DB5&Col03#5&2d0b&0&0002` + hidGUID,
			InstanceID: `HID\SYNA7DB5&COL03\5&2D0B&0&0002`, Parent: `ACPI\SYNA7DB5\1`,
			Attributes: attrs(0x06cb, 0xcd8b, 0x0100), Caps: hidpCaps{UsagePage: 0x0D, Usage: 0x0E, NumberFeatureValueCaps: 2}}),
		// VMware absolute pointing device: X/Y as a usage range.
		ok(hidpRecord{Path: `\\?\HID#VID_0E0F&PID_0003&MI_01#7&3a&0&0000` + hidGUID,
			InstanceID: `HID\VID_0E0F&PID_0003&MI_01\7&3A&0&0000`, Parent: `USB\VID_0E0F&PID_0003&MI_01\6&1C&0&0001`,
			Attributes: attrs(0x0e0f, 0x0003, 0x0102), Manufacturer: "VMware", Product: "VMware Virtual USB Mouse",
			Caps:      caps(0x01, 0x02, 1, 2),
			ValueCaps: []hidpValueCaps{vrange(0x01, 0x30, 0x31, true, 0, 32767), vcap(0x01, 0x38, false, -127, 127)}}),
		// A collection that could not be opened.
		{Path: `\\?\HID#VID_1050&PID_0407&MI_01#8&1&0&0000` + hidGUID, InstanceID: `HID\VID_1050&PID_0407&MI_01\8&1&0&0000`},
	}
}

func TestFromHidp(t *testing.T) {
	got := fromHidp(recordedHidp())
	want := []Device{
		{Name: "PiKVM PiKVM Composite Device", Phys: `USB\VID_1D6B&PID_0104&MI_00\7&1B3F9C2&0&0000`, Sysfs: `HID\VID_1D6B&PID_0104&MI_00\8&2F1A3B&0&0000`,
			Bus: 3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Keys: true},
		{Name: "PiKVM PiKVM Composite Device", Phys: `USB\VID_1D6B&PID_0104&MI_01\7&1B3F9C2&0&0001`, Sysfs: `HID\VID_1D6B&PID_0104&MI_01\8&11C0A2D&0&0000`,
			Bus: 3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Absolute: true, AbsMax: 32767},
		{Name: "Logitech USB Receiver", Phys: `USB\VID_046D&PID_C52B&MI_00\7&2A&0&0000`, Sysfs: `HID\VID_046D&PID_C52B&MI_00\8&5A1C&0&0000`,
			Bus: 3, Vendor: 0x046d, Product: 0xc52b, Version: 0x1211, Keys: true},
		{Name: "Logitech USB Receiver", Phys: `USB\VID_046D&PID_C52B&MI_01\7&2A&0&0001`, Sysfs: `HID\VID_046D&PID_C52B&MI_01&COL01\8&7E&0&0000`,
			Bus: 3, Vendor: 0x046d, Product: 0xc52b, Version: 0x1211, Relative: true},
		{Phys: `ACPI\SYNA7DB5\1`, Sysfs: `HID\SYNA7DB5&COL02\5&2D0B&0&0001`,
			Bus: 0x18, Vendor: 0x06cb, Product: 0xcd8b, Version: 0x0100, Absolute: true, Touchpad: true, AbsMax: 1224},
		{Phys: `ACPI\SYNA7DB5\1`, Sysfs: `HID\SYNA7DB5&COL01\5&2D0B&0&0000`,
			Bus: 0x18, Vendor: 0x06cb, Product: 0xcd8b, Version: 0x0100, Relative: true},
		{Name: "VMware VMware Virtual USB Mouse", Phys: `USB\VID_0E0F&PID_0003&MI_01\6&1C&0&0001`, Sysfs: `HID\VID_0E0F&PID_0003&MI_01\7&3A&0&0000`,
			Bus: 3, Vendor: 0x0e0f, Product: 0x0003, Version: 0x0102, Absolute: true, AbsMax: 32767},
		{Sysfs: `HID\VID_1050&PID_0407&MI_01\8&1&0&0000`, Bus: 3, Flags: []string{"unreadable"}},
	}
	if len(got) != len(want) {
		t.Fatalf("fromHidp = %d devices\n%+v", len(got), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("device %d =\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

func TestHidpBus(t *testing.T) {
	for _, c := range []struct {
		parent, id, path string
		want             uint16
	}{
		{`USB\VID_1D6B&PID_0104&MI_01\7&1`, "", "", 3},
		{`BTHENUM\{00001124-0000-1000-8000-00805f9b34fb}_VID&0002046d_PID&b01a\8&1`, "", "", 5},
		{`BTHLEDevice\{00001812-0000-1000-8000-00805f9b34fb}_Dev_VID&02046d_PID&b023\8&1`, "", "", 5},
		{`ACPI\MSFT0001\1`, "", "", 0x18},
		{`VMBUS\{58f75a6d-d949-4320-99e1-a2a2576d581c}\5&1`, "", "", 6},
		{`PCI\VEN_8086&DEV_1234\3&1`, "", "", 0},
		{"", `hid\vid_046d&pid_c077\7&1`, "", 3},
		{"", "", `\\?\hid#vid_046d&pid_c077#7&1` + hidGUID, 3},
		{"", `HID\{00001124-0000-1000-8000-00805f9b34fb}_VID&0002046d_PID&b01a\9&1`, "", 0},
	} {
		if got := hidpBus(c.parent, c.id, c.path); got != c.want {
			t.Errorf("hidpBus(%q, %q, %q) = %#x, want %#x", c.parent, c.id, c.path, got, c.want)
		}
	}
}

// FuzzHidp decodes the fuzz input as one record's raw hid.dll output
// (HIDD_ATTRIBUTES, HIDP_CAPS, then HIDP_VALUE_CAPS) and its strings.
func FuzzHidp(f *testing.F) {
	for _, r := range recordedHidp() {
		var b bytes.Buffer
		binary.Write(&b, binary.LittleEndian, r.Attributes)
		binary.Write(&b, binary.LittleEndian, r.Caps)
		binary.Write(&b, binary.LittleEndian, r.ValueCaps)
		f.Add(b.Bytes(), r.Parent, r.InstanceID, r.Product)
	}
	f.Fuzz(func(t *testing.T, raw []byte, parent, id, product string) {
		r := hidpRecord{Path: id, InstanceID: id, Parent: parent, Product: product, Opened: true}
		rd := bytes.NewReader(raw)
		r.HasAttributes = binary.Read(rd, binary.LittleEndian, &r.Attributes) == nil
		r.HasCaps = binary.Read(rd, binary.LittleEndian, &r.Caps) == nil
		for len(r.ValueCaps) < maxValueCaps {
			var v hidpValueCaps
			if binary.Read(rd, binary.LittleEndian, &v) != nil {
				break
			}
			r.ValueCaps = append(r.ValueCaps, v)
		}
		devs := fromHidp([]hidpRecord{r})
		if len(devs) > 1 {
			t.Fatalf("%d devices from one record", len(devs))
		}
		for _, d := range devs {
			for _, s := range []string{d.Name, d.Phys, d.Sysfs} {
				if len(s) > usb.MaxString {
					t.Fatalf("string of %d bytes", len(s))
				}
			}
			if d.AbsMax != 0 && !d.Absolute {
				t.Fatalf("AbsMax %d without Absolute", d.AbsMax)
			}
			if (d.Keys || d.Absolute || d.Relative || d.Touchpad) && !r.HasCaps {
				t.Fatalf("capabilities without caps: %+v", d)
			}
		}
	})
}
