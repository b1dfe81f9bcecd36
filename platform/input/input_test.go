package input

import (
	"context"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/platform/usb"
	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

func TestListCapturedLaptop(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("sysfs names contain ':'")
	}
	root := t.TempDir()
	if err := sysfstest.KVMLaptop().Write(root); err != nil {
		t.Fatal(err)
	}
	got, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Name: "AT Translated Set 2 keyboard", Phys: "isa0060/serio0/input0", Sysfs: "/devices/platform/i8042/serio0/input/input3",
			Bus: 0x11, Vendor: 1, Product: 1, Version: 0xab83, Handlers: []string{"sysrq", "kbd", "event3", "leds"}, Keys: true},
		{Name: "SYNA8004:00 06CB:CD8B Touchpad", Phys: "i2c-SYNA8004:00",
			Sysfs: "/devices/pci0000:00/0000:00:15.1/i2c_designware.1/i2c-2/i2c-SYNA8004:00/0018:06CB:CD8B.0006/input/input12",
			Bus:   0x18, Vendor: 0x06cb, Product: 0xcd8b, Version: 0x0100, Handlers: []string{"mouse1", "event8"}, Absolute: true, Touchpad: true},
		{Name: "Logitech USB Receiver", Phys: "usb-0000:00:14.0-2/input0",
			Sysfs: "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:046D:C52B.0001/input/input14",
			Bus:   3, Vendor: 0x046d, Product: 0xc52b, Version: 0x1211, Handlers: []string{"sysrq", "kbd", "leds", "event14"}, Keys: true},
		{Name: "Logitech M705", Phys: "usb-0000:00:14.0-2/input2:1",
			Sysfs: "/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.2/0003:046D:C52B.0005/0003:046D:406D.0007/input/input19",
			Bus:   3, Vendor: 0x046d, Product: 0x406d, Version: 0x1211, Handlers: []string{"mouse0", "event5"}, Relative: true},
		{Name: "PiKVM PiKVM Composite Device", Phys: "usb-0000:00:14.0-1.2/input0",
			Sysfs: "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.0/0003:1D6B:0104.0003/input/input20",
			Bus:   3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Handlers: []string{"sysrq", "kbd", "leds", "event20"}, Keys: true},
		{Name: "PiKVM PiKVM Composite Device", Phys: "usb-0000:00:14.0-1.2/input1",
			Sysfs: "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.1/0003:1D6B:0104.0004/input/input21",
			Bus:   3, Vendor: 0x1d6b, Product: 0x0104, Version: 0x0100, Handlers: []string{"mouse2", "event21"}, Absolute: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListEmptyAndMissing(t *testing.T) {
	if got, err := List(context.Background(), t.TempDir()); err != nil || got != nil {
		t.Errorf("List(empty tree) = %v, %v", got, err)
	}
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) gave no error")
	}
}

func TestListLive(t *testing.T) {
	devs, err := List(context.Background(), "")
	if err != nil && err != ErrNotImplemented {
		t.Fatalf("List(live): %v", err)
	}
	t.Logf("%d live input devices", len(devs))
}

func TestListTruncated(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlink-free but keeps one tree builder")
	}
	entry := "I: Bus=0006 Vendor=0000 Product=0000 Version=0000\nN: Name=\"uinput\"\nB: EV=3\nB: KEY=fffffffe\n\n"
	tree := sysfstest.New()
	tree.File("proc/bus/input/devices", []byte(strings.Repeat(entry, MaxFile/len(entry)+10)))
	root := t.TempDir()
	if err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	devs, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(devs); n < MaxFile/len(entry) || !slices.Contains(devs[n-1].Flags, "truncated") || len(devs[0].Flags) != 0 {
		t.Errorf("%d devices, last flags %v", n, devs[n-1].Flags)
	}
	if !devs[0].Keys || devs[0].Bus != 6 {
		t.Errorf("first = %+v", devs[0])
	}
}

func TestParseDevicesOdd(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Device
	}{
		{"crlf and missing trailing blank line",
			"I: Bus=0003 Vendor=0627 Product=0001 Version=0001\r\nN: Name=\"QEMU QEMU USB Tablet\"\r\nB: EV=1f\r\nB: ABS=3\r\nB: REL=900",
			[]Device{{Name: "QEMU QEMU USB Tablet", Bus: 3, Vendor: 0x0627, Product: 1, Version: 1, Absolute: true}}},
		{"hostile name, bad ids, bad bitmap",
			"I: Bus=zz Vendor=1d6b Product=10104 Version=0100\nN: Name=\"Ev\x1bil \"quoted\"\xff\"\nB: EV=xyz 1f\nB: ABS=3\nB: NOEQUALS\n",
			// The readable low word of EV still says EV_ABS.
			[]Device{{Name: "Ev\uFFFDil \"quoted\"\uFFFD", Vendor: 0x1d6b, Version: 0x0100, Absolute: true,
				Flags: []string{"bad-id", "invalid-utf8", "control-chars", "bad-bitmap"}}}},
		{"abs axes without EV_ABS",
			"I: Bus=0003 Vendor=0001 Product=0002 Version=0003\nB: EV=3\nB: ABS=3\n\n",
			[]Device{{Bus: 3, Vendor: 1, Product: 2, Version: 3}}},
		{"32 bitmap words", "N: Name=\"x\"\nB: EV=4\nB: REL=" + strings.Repeat("0 ", 31) + "3\n",
			[]Device{{Name: "x", Relative: true, Flags: []string{"bad-bitmap"}}}},
		{"only blank lines", "\n\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseDevices([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseDevices =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseBitmap(t *testing.T) {
	w, ok := parseBitmap("402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe")
	want := []uint64{0xfffffffffffffffe, 0xfeffffdfffefffff, 0x3803078f800d001, 0x402000000}
	if !ok || !slices.Equal(w, want) {
		t.Errorf("parseBitmap = %x, %v", w, ok)
	}
	if !bit(w, 30) || bit(w, 0) || !bit(w, 0x74) {
		t.Error("KEY_A or KEY_POWER bit wrong")
	}
	w, _ = parseBitmap("e520 10000 0 0 0 0")
	if !bit(w, btnToolFinger) || !bit(w, 0x110) || bit(w, 0x111) {
		t.Error("BTN_TOOL_FINGER / BTN_LEFT bits wrong")
	}
}

func FuzzProcInput(f *testing.F) {
	f.Add([]byte("I: Bus=0003 Vendor=1d6b Product=0104 Version=0100\nN: Name=\"PiKVM\"\nH: Handlers=mouse2 event21 \nB: EV=1f\nB: KEY=ff0000 0 0 0 0\nB: ABS=3\n\n"))
	f.Add([]byte("B: KEY=1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n\nN: Name=\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range parseDevices(b) {
			for _, s := range append([]string{d.Name, d.Phys, d.Sysfs}, d.Handlers...) {
				if len(s) > usb.MaxString {
					t.Fatalf("string of %d bytes", len(s))
				}
			}
			if len(d.Handlers) > 64 {
				t.Fatalf("%d handlers", len(d.Handlers))
			}
		}
	})
}
