package usb

import (
	"context"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/farmwatch/farmwatch/platform/hid"
	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

// writeTree writes a built tree to a temporary root; sysfs names contain
// ':' and cannot exist on Windows.
func writeTree(t *testing.T, tree *sysfstest.Tree) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("sysfs names contain ':'")
	}
	root := t.TempDir()
	if err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestListCapturedLaptop(t *testing.T) {
	root := writeTree(t, sysfstest.KVMLaptop())
	devs, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range devs {
		paths = append(paths, d.Path)
	}
	if want := []string{"1-1", "1-1.2", "1-2", "2-1", "usb1", "usb2"}; !slices.Equal(paths, want) {
		t.Fatalf("paths = %q, want %q", paths, want)
	}
	byPath := map[string]Device{}
	for _, d := range devs {
		byPath[d.Path] = d
	}
	wantPiKVM := Device{
		Path: "1-1.2", VendorID: 0x1d6b, ProductID: 0x0104, BCDDevice: 0x0100, BCDUSB: 0x0200,
		Manufacturer: "PiKVM", Product: "PiKVM Composite Device", Serial: "CAFEBABE",
		MaxPowerMA: 250, Speed: "480",
		Interfaces: []Interface{
			{Number: 0, Class: 3, SubClass: 1, Protocol: 1, Name: "HID Interface", Driver: "usbhid", ReportDescriptor: sysfstest.PiKVMKeyboard},
			{Number: 1, Class: 3, Name: "HID Interface", Driver: "usbhid", ReportDescriptor: sysfstest.PiKVMAbsMouse},
			{Number: 2, Class: 8, SubClass: 6, Protocol: 0x50, Name: "Mass Storage", Driver: "usb-storage"},
		},
		Raw: map[string]string{"bmAttributes": "a0", "bNumInterfaces": "3", "busnum": "1", "devnum": "5", "removable": "unknown"},
	}
	if got := byPath["1-1.2"]; !reflect.DeepEqual(got, wantPiKVM) {
		t.Errorf("PiKVM =\n%+v\nwant\n%+v", got, wantPiKVM)
	}
	wantLogi := Device{
		Path: "1-2", VendorID: 0x046d, ProductID: 0xc52b, BCDDevice: 0x1211, BCDUSB: 0x0200,
		Manufacturer: "Logitech", Product: "USB Receiver", Configuration: "RQR12.11_B0032",
		MaxPowerMA: 98, Speed: "12",
		Interfaces: []Interface{
			{Number: 0, Class: 3, SubClass: 1, Protocol: 1, Driver: "usbhid", ReportDescriptor: sysfstest.LogiKeyboard},
			{Number: 1, Class: 3, SubClass: 1, Protocol: 2, Driver: "usbhid", ReportDescriptor: sysfstest.LogiMouse},
			{Number: 2, Class: 3, Driver: "usbhid", ReportDescriptor: sysfstest.LogiHIDPP},
		},
		Raw: map[string]string{"bmAttributes": "a0", "bNumInterfaces": "3", "busnum": "1", "devnum": "3", "removable": "removable"},
	}
	if got := byPath["1-2"]; !reflect.DeepEqual(got, wantLogi) {
		t.Errorf("Logitech =\n%+v\nwant\n%+v", got, wantLogi)
	}
	// Root hubs keep their interfaces although they are named "1-0:1.0".
	hub := byPath["usb2"]
	if hub.Class != 9 || hub.BCDUSB != 0x0310 || hub.Speed != "10000" || len(hub.Interfaces) != 1 || hub.Interfaces[0].Driver != "hub" {
		t.Errorf("usb2 = %+v", hub)
	}
	if d := byPath["2-1"]; d.BCDUSB != 0x0320 || d.MaxPowerMA != 896 || d.Interfaces[0].Driver != "usb-storage" {
		t.Errorf("2-1 = %+v", d)
	}
}

func TestListNoUSBBus(t *testing.T) {
	devs, err := List(context.Background(), t.TempDir())
	if err != nil || devs != nil {
		t.Fatalf("List(empty tree) = %v, %v; want nil, nil", devs, err)
	}
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("List(missing root) returned no error")
	}
}

// The live system may have no USB bus (a container); List must not fail.
func TestListLive(t *testing.T) {
	devs, err := List(context.Background(), "")
	if err != nil && err != ErrNotImplemented {
		t.Fatalf("List(live) error: %v", err)
	}
	t.Logf("%d live devices", len(devs))
}

// A hostile device or capture: strings that are not text, too long, links
// that point out of the tree. Everything stays inside root, is bounded and
// is flagged.
func TestListHostileTree(t *testing.T) {
	tree := sysfstest.New()
	bus := "sys/devices/pci0000:00/0000:00:14.0/usb1"
	tree.AddUSB(sysfstest.USBDevice{Parent: bus, Name: "1-3", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0104", "bcdDevice", "zz", "version", "2",
		"manufacturer", "Pi\xffKVM", "product", "Composite\x1b[31m Device\u202e", "serial", strings.Repeat("A", 300),
		"bMaxPower", "lots",
	}, Interfaces: []sysfstest.USBInterface{{Suffix: "1.0", HID: "0003:1D6B:0104.0009",
		Report: make([]byte, MaxReportDescriptor+10), Attrs: []string{"bInterfaceNumber", "00", "bInterfaceClass", "03"}}}})
	tree.RawLink("sys/bus/usb/devices/1-4", "../../../../../../../../../../etc")
	tree.RawLink("sys/bus/usb/devices/1-5", "/sys/devices/pci0000:00/0000:00:14.0/usb1/1-3")
	root := writeTree(t, tree)
	devs, err := List(context.Background(), root)
	if err == nil {
		t.Error("escaping links were not reported")
	}
	t.Logf("reported: %v", err)
	var d Device
	for _, x := range devs {
		if x.Path == "1-3" {
			d = x
		}
		if x.Path == "1-4" || x.Path == "1-5" {
			t.Errorf("%s read through a link leaving the tree: %+v", x.Path, x)
		}
	}
	if d.Manufacturer != "Pi\uFFFDKVM" {
		t.Errorf("Manufacturer = %q", d.Manufacturer)
	}
	if d.Product != "Composite\uFFFD[31m Device\uFFFD" {
		t.Errorf("Product = %q", d.Product)
	}
	if len(d.Serial) != MaxString {
		t.Errorf("len(Serial) = %d, want %d", len(d.Serial), MaxString)
	}
	if n := len(d.Interfaces[0].ReportDescriptor); n != MaxReportDescriptor {
		t.Errorf("report descriptor %d bytes, want %d", n, MaxReportDescriptor)
	}
	want := []string{"bad-attribute", "invalid-utf8", "control-chars", "string-too-long", "truncated"}
	if !slices.Equal(d.Flags, want) {
		t.Errorf("Flags = %q, want %q", d.Flags, want)
	}
}

func TestSanitizeString(t *testing.T) {
	tests := []struct {
		in, want string
		flags    []string
	}{
		{"PiKVM Composite Device", "PiKVM Composite Device", nil},
		{"PiKVM   ", "PiKVM   ", nil},
		{"Logitech (x64)", "Logitech (x64)", nil},
		{"caf\xe9", "caf\uFFFD", []string{"invalid-utf8"}},
		{"a\tb\nc\x00", "a\uFFFDb\uFFFDc\uFFFD", []string{"control-chars"}},
		{"evil\u202eexe.pdf", "evil\uFFFDexe.pdf", []string{"control-chars"}},
		{"\u0085next line", "\uFFFDnext line", []string{"control-chars"}},
		{strings.Repeat("é", 200), strings.Repeat("é", 128), []string{"string-too-long"}},
		{"Jürgen's Tastatur ⌨", "Jürgen's Tastatur ⌨", nil},
	}
	for _, tt := range tests {
		got, flags := SanitizeString(tt.in)
		if got != tt.want || !slices.Equal(flags, tt.flags) {
			t.Errorf("SanitizeString(%q) = %q, %q; want %q, %q", tt.in, got, flags, tt.want, tt.flags)
		}
	}
}

func FuzzUSBString(f *testing.F) {
	for _, s := range []string{"PiKVM", "caf\xe9", "a\x1b[0m", strings.Repeat("x", 300), "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, flags := SanitizeString(s)
		if !utf8.ValidString(got) || len(got) > MaxString {
			t.Fatalf("invalid or too long: %q", got)
		}
		if strings.IndexFunc(got, isControl) >= 0 {
			t.Fatalf("control character left in %q", got)
		}
		if len(flags) == 0 && got != s {
			t.Fatalf("changed %q to %q without a flag", s, got)
		}
		again, f2 := SanitizeString(got)
		if again != got || len(f2) != 0 {
			t.Fatalf("not idempotent: %q -> %q %v", got, again, f2)
		}
	})
}

// The shape the KVM detector looks for, end to end from a captured tree:
// one device with a keyboard, an absolute pointer in 0..32767 and mass
// storage; the Logitech receiver has a keyboard and a relative mouse only.
func TestCapturedLaptopHIDShape(t *testing.T) {
	root := writeTree(t, sysfstest.KVMLaptop())
	devs, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	type shape struct{ keyboard, abs, rel, storage bool }
	got := map[string]shape{}
	for _, d := range devs {
		var s shape
		for _, i := range d.Interfaces {
			s.storage = s.storage || i.Class == 8
			if len(i.ReportDescriptor) == 0 {
				continue
			}
			desc, err := hid.Parse(i.ReportDescriptor)
			if err != nil {
				t.Fatalf("%s interface %d: %v", d.Path, i.Number, err)
			}
			sum := hid.Summarize(desc)
			s.keyboard = s.keyboard || sum.Keyboard
			s.abs = s.abs || (sum.AbsolutePointer && sum.AbsMax == 32767)
			s.rel = s.rel || sum.RelativePointer
		}
		got[d.Path] = s
	}
	if s := got["1-1.2"]; s != (shape{keyboard: true, abs: true, storage: true}) {
		t.Errorf("PiKVM shape = %+v", s)
	}
	if s := got["1-2"]; s != (shape{keyboard: true, rel: true}) {
		t.Errorf("Logitech shape = %+v", s)
	}
}
