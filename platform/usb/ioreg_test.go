package usb

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

// testdata/ioreg_usb.plist is written by hand in the shape of `ioreg -a -r
// -c IOUSBHostDevice -l` (registry entries with their properties and
// IORegistryEntryChildren) for a Mac with a Genesys hub with the PiKVM
// behind it, a Logitech receiver, and the PiKVM printed a second time as
// its own root.
func TestParseIoreg(t *testing.T) {
	b, err := os.ReadFile("testdata/ioreg_usb.plist")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := parseIoreg(b)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, d := range devs {
		paths = append(paths, d.Path)
	}
	want := []string{"PiKVM Composite Device@01120000", "USB Receiver@01200000", "USB2.1 Hub@01100000"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths = %q, want %q", paths, want)
	}
	wantPiKVM := Device{
		Path: "PiKVM Composite Device@01120000", VendorID: 0x1d6b, ProductID: 0x0104, BCDDevice: 0x0100, BCDUSB: 0x0200,
		Manufacturer: "PiKVM", Product: "PiKVM Composite Device", Serial: "CAFEBABE", Speed: "480",
		Interfaces: []Interface{
			{Number: 0, Class: 3, SubClass: 1, Protocol: 1, Name: "HID Interface", Driver: "AppleUserUSBHostHIDDevice", ReportDescriptor: sysfstest.PiKVMKeyboard},
			{Number: 1, Class: 3, Name: "HID Interface", Driver: "AppleUserUSBHostHIDDevice", ReportDescriptor: sysfstest.PiKVMAbsMouse},
			{Number: 2, Class: 8, SubClass: 6, Protocol: 80, Name: "Mass Storage", Driver: "IOUSBMassStorageInterfaceNub"},
		},
		Raw: map[string]string{"locationID": "0x01120000", "built_in": "false"},
	}
	if !reflect.DeepEqual(devs[0], wantPiKVM) {
		t.Errorf("PiKVM =\n%+v\nwant\n%+v", devs[0], wantPiKVM)
	}
	if l := devs[1]; l.VendorID != 0x046d || l.ProductID != 0xc52b || l.Speed != "12" || l.Serial != "" || len(l.Interfaces) != 3 || l.Interfaces[2].Driver != "" {
		t.Errorf("receiver = %+v", l)
	}
	if h := devs[2]; h.Class != 9 || h.BCDUSB != 0x0210 || len(h.Interfaces) != 0 {
		t.Errorf("hub = %+v", h)
	}
}

func TestParseIoregBad(t *testing.T) {
	for _, in := range []string{"", "not a plist", "<plist><dict><key>a</key></dict></plist>"} {
		if _, err := parseIoreg([]byte(in)); err == nil {
			t.Errorf("parseIoreg(%q) gave no error", in)
		}
	}
	devs, err := parseIoreg([]byte(`<plist><array><dict><key>idVendor</key><string>x</string><key>kUSBProductString</key><string>a` + "\u202e" + `b</string></dict></array></plist>`))
	if err != nil || len(devs) != 1 || devs[0].Product != "a\uFFFDb" || !slices.Contains(devs[0].Flags, "control-chars") {
		t.Errorf("odd entry = %+v, %v", devs, err)
	}
}
