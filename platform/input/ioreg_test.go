package input

import (
	"os"
	"reflect"
	"testing"

	"github.com/farmwatch/farmwatch/platform/usb"
)

// testdata/ioreg_hid.plist is hand-written in the form of
// `ioreg -a -r -d 1 -c IOHIDDevice -l`: a PiKVM composite (keyboard and
// absolute mouse functions with the descriptors of research/hardware.md
// §1.3, the mouse printed twice), an Intel MacBook's internal SPI keyboard
// and trackpad, a Logitech USB mouse, a Bluetooth LE mouse, an Apple
// ambient light sensor (vendor page only) and a Bluetooth keyboard without
// a ReportDescriptor.
func TestParseIoregHID(t *testing.T) {
	b, err := os.ReadFile("testdata/ioreg_hid.plist")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseIoregHID(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Name: "PiKVM PiKVM Composite Device", Phys: "AppleUserUSBHostHIDDevice@14200000",
			Bus: 3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Keys: true},
		{Name: "PiKVM PiKVM Composite Device", Phys: "AppleUserUSBHostHIDDevice@14200000",
			Bus: 3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Absolute: true, AbsMax: 32767},
		{Name: "Apple Inc. Apple Internal Keyboard / Trackpad", Phys: "AppleHSSPIHIDDriver@0000002a",
			Bus: 0x1c, Vendor: 0x05ac, Product: 0x0276, Version: 0x0623, Keys: true},
		{Name: "Apple Inc. Apple Internal Keyboard / Trackpad", Phys: "AppleHSSPIHIDDriver@0000002a",
			Bus: 0x1c, Vendor: 0x05ac, Product: 0x0276, Version: 0x0623, Relative: true, Touchpad: true},
		{Name: "Logitech USB Optical Mouse", Phys: "AppleUserUSBHostHIDDevice@14300000",
			Bus: 3, Vendor: 0x046d, Product: 0xc077, Version: 0x7200, Relative: true},
		{Name: "MX Master 3", Phys: "AppleUserHIDDevice", Bus: 5, Vendor: 0x046d, Product: 0xb023, Version: 0x0013, Relative: true},
		{Name: "Apple Inc. Magic Keyboard", Phys: "IOBluetoothHIDDriver", Bus: 5, Vendor: 0x05ac, Product: 0x0267, Version: 0x0100,
			Keys: true, Flags: []string{"no-descriptor"}},
	}
	if len(got) != len(want) {
		t.Fatalf("parseIoregHID = %d devices\n%+v", len(got), got)
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("device %d =\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}
}

func TestParseIoregHIDOdd(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">`
	tests := []struct {
		name string
		in   string
		want []Device
	}{
		{"touch screen over I2C, digitizer only",
			head + `<array><dict><key>Transport</key><string>I2C</string><key>ReportDescriptor</key>` +
				// Digitizer Touch Screen, finger with tip switch and X/Y 0..4095.
				`<data>BQ0JBKEBCSKhAgUNCUIVACUBdQGVAYECdQeVAYEDBQEJMAkxFQAm/w91EJUCgQLAwA==</data></dict></array></plist>`,
			[]Device{{Bus: 0x18, Absolute: true, Touchpad: true, AbsMax: 4095}}},
		{"bad descriptor, hostile strings",
			head + `<array><dict><key>Product</key><string>Evil` + "\u202e" + `</string><key>PrimaryUsagePage</key><integer>1</integer>` +
				`<key>PrimaryUsage</key><integer>6</integer><key>ReportDescriptor</key><data>wA==</data><key>VendorID</key><integer>-1</integer></dict>` +
				`<string>not a dict</string></array></plist>`,
			[]Device{{Name: "Evil\uFFFD", Vendor: 0xffff, Keys: true, Flags: []string{"control-chars", "bad-descriptor"}}}},
		{"empty array", head + `<array/></plist>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseIoregHID([]byte(tt.in))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseIoregHID =\n%+v, %v\nwant\n%+v", got, err, tt.want)
			}
		})
	}
	if _, err := parseIoregHID([]byte("<plist><dict>")); err == nil {
		t.Error("no error for a broken plist")
	}
}

func TestTransportBus(t *testing.T) {
	for in, want := range map[string]uint16{"USB": 3, "Bluetooth": 5, "Bluetooth Low Energy": 5, "SPI": 0x1c, "I2C": 0x18,
		"FIFO": 0x19, "Virtual": 6, "": 0, "AirPlay": 0} {
		if got := transportBus(in); got != want {
			t.Errorf("transportBus(%q) = %#x, want %#x", in, got, want)
		}
	}
}

func FuzzIoregHID(f *testing.F) {
	if b, err := os.ReadFile("testdata/ioreg_hid.plist"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`<plist><array><dict><key>ReportDescriptor</key><data>BQEJAqEBCTAJMYECwA==</data><key>DeviceUsagePairs</key><array><dict/></array></dict></array></plist>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		devs, err := parseIoregHID(b)
		if err != nil && devs != nil {
			t.Fatal("devices with an error")
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
		}
	})
}
