package detectors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Captured Linux trees of laptops with KVM-over-IP boxes, injectors and capture dongles
// plugged in, and of benign setups, built from the devices' real descriptors
// (research/hardware.md §1): USB device and interface attributes, HID report descriptors,
// SCSI inquiry strings, /proc/bus/input/devices and DRM connectors with the EDIDs of
// platform/edid's corpus. The scan reads each exactly as `farmwatch-agent scan --root DIR`
// does.

var hexd = sysfstest.MustHex

// Report descriptors (research §1.3 bytes for the KVMs; HID spec examples for the rest).
var (
	pikvmKeyboard    = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 C0")
	pikvmAbsMouse    = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	bootRelMouse     = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0")
	tinypilotKbd     = hexd("05 01 09 06 A1 01 05 08 19 01 29 03 15 00 25 01 75 01 95 03 91 02 09 4B 95 01 91 02 95 04 91 01 05 07 19 E0 29 E7 95 08 81 02 75 08 95 01 81 01 19 00 29 91 26 FF 00 95 06 81 00 C0")
	tinypilotAbs     = hexd("05 01 09 02 A1 01 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0")
	jetkvmKeyboard   = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0")
	jetkvmAbs        = hexd("05 01 09 02 A1 01 85 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 75 01 95 03 81 02 95 01 75 05 81 03 05 01 09 30 09 31 16 00 00 26 FF 7F 36 00 00 46 FF 7F 75 10 95 02 81 02 C0 85 02 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0")
	nanokvmKeyboard  = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 E7 05 07 19 00 29 E7 81 00 C0")
	nanokvmRel       = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 03 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0")
	nanokvmTouchpad  = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 05 15 00 25 01 95 05 75 01 81 02 95 01 75 03 81 01 05 01 09 30 09 31 15 00 26 FF 7F 35 00 46 FF 7F 75 10 95 02 81 02 05 01 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0 C0")
	ch9329AbsMouse   = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 15 00 26 FF 0F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	consumerControl  = hexd("05 0C 09 01 A1 01 15 00 25 01 09 E9 09 EA 09 E2 75 01 95 03 81 02 95 05 81 01 C0")
	fidoU2F          = hexd("06 D0 F1 09 01 A1 01 09 20 15 00 26 FF 00 75 08 95 40 81 02 09 21 15 00 26 FF 00 75 08 95 40 91 02 C0")
	vmwareAbsMouse   = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 15 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	logitechHIDPP    = hexd("06 00 FF 09 01 A1 01 85 10 75 08 95 06 15 00 26 FF 00 09 01 81 00 09 01 91 00 C0")
	bootKeyboardSpec = pikvmKeyboard // HID 1.11 Appendix B.1 shape
)

// iface is one USB interface of a setup device.
type iface struct {
	class, sub, proto int
	driver            string
	report            []byte
}

type disk struct {
	vendor, model, rev string
	typ                int
}

type device struct {
	vid, pid, bcd                 string
	mfr, product, serial, config  string
	class                         string
	ifaces                        []iface
	disks                         []disk
	inputAbs, inputRel, inputKeys bool
}

type setup struct {
	name    string
	devices []device
	edid    string // platform/edid/testdata file on HDMI-A-1
	kvm     bool
	want    []want // findings that must be there (kvm setups)
}

func kbd(r []byte) iface       { return iface{3, 1, 1, "usbhid", r} }
func ptr(r []byte) iface       { return iface{3, 0, 0, "usbhid", r} }
func msd() iface               { return iface{8, 6, 0x50, "usb-storage", nil} }
func audio() iface             { return iface{1, 1, 0, "snd-usb-audio", nil} }
func vendorHID(r []byte) iface { return iface{3, 0, 0, "usbhid", r} }

// write builds the tree of one setup: a laptop (eDP panel, i8042 keyboard, touchpad) with the
// setup's devices on xHCI port 1-N.
func (s setup) write(t *testing.T) string {
	t.Helper()
	tr := sysfstest.New()
	const xhci = "sys/devices/pci0000:00/0000:00:14.0"
	tr.AddUSB(sysfstest.USBDevice{Parent: xhci, Name: "usb1", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0002", "bcdDevice", "0601", "bDeviceClass", "09", "bDeviceSubClass", "00", "bDeviceProtocol", "01",
		"manufacturer", "Linux 6.1.0-18-amd64 xhci-hcd", "product", "xHCI Host Controller", "serial", "0000:00:14.0", "bMaxPower", "0mA", "speed", "480",
	}, Interfaces: []sysfstest.USBInterface{{Suffix: "1.0", Driver: "hub", Attrs: []string{"bInterfaceNumber", "00", "bInterfaceClass", "09", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00"}}}})
	input := strings.Builder{}
	input.WriteString("I: Bus=0011 Vendor=0001 Product=0001 Version=ab83\nN: Name=\"AT Translated Set 2 keyboard\"\nP: Phys=isa0060/serio0/input0\nS: Sysfs=/devices/platform/i8042/serio0/input/input3\nU: Uniq=\nH: Handlers=sysrq kbd event3 leds\nB: PROP=0\nB: EV=120013\nB: KEY=402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe\nB: MSC=10\nB: LED=7\n\n")
	input.WriteString("I: Bus=0018 Vendor=06cb Product=ce26 Version=0100\nN: Name=\"SYNA8004:00 06CB:CE26 Touchpad\"\nP: Phys=i2c-SYNA8004:00\nS: Sysfs=/devices/platform/AMDI0010:03/i2c-1/i2c-SYNA8004:00/0018:06CB:CE26.0002/input/input15\nU: Uniq=\nH: Handlers=mouse0 event9\nB: PROP=5\nB: EV=1b\nB: KEY=e520 10000 0 0 0 0\nB: ABS=2e0800000000003\nB: MSC=20\n\n")
	for n, d := range s.devices {
		name := fmt.Sprintf("1-%d", n+1)
		attrs := []string{"idVendor", d.vid, "idProduct", d.pid, "bcdDevice", d.bcd, "version", " 2.00", "bDeviceClass", firstNonEmpty(d.class, "00"),
			"bDeviceSubClass", "00", "bDeviceProtocol", "00", "bMaxPower", "250mA", "speed", "480", "bNumInterfaces", fmt.Sprintf("%2d", len(d.ifaces))}
		for _, kv := range [][2]string{{"manufacturer", d.mfr}, {"product", d.product}, {"serial", d.serial}, {"configuration", d.config}} {
			if kv[1] != "" {
				attrs = append(attrs, kv[0], kv[1])
			}
		}
		dev := sysfstest.USBDevice{Parent: xhci + "/usb1", Name: name, Attrs: attrs}
		for i, f := range d.ifaces {
			si := sysfstest.USBInterface{Suffix: fmt.Sprintf("1.%d", i), Driver: f.driver, Attrs: []string{
				"bInterfaceNumber", fmt.Sprintf("%02x", i), "bInterfaceClass", fmt.Sprintf("%02x", f.class),
				"bInterfaceSubClass", fmt.Sprintf("%02x", f.sub), "bInterfaceProtocol", fmt.Sprintf("%02x", f.proto),
			}}
			if f.report != nil {
				si.HID = fmt.Sprintf("0003:%s:%s.%04X", strings.ToUpper(d.vid), strings.ToUpper(d.pid), 10*n+i+1)
				si.Report = f.report
				si.Hidraw = fmt.Sprintf("hidraw%d", 10*n+i)
			}
			dev.Interfaces = append(dev.Interfaces, si)
		}
		tr.AddUSB(dev)
		for j, k := range d.disks {
			host := 6 + 10*n + j
			tr.AddBlock(sysfstest.Block{
				SCSIDir: fmt.Sprintf("%s/usb1/%s/%s:1.%d/host%d/target%d:0:0/%d:0:0:0", xhci, name, name, len(d.ifaces)-1, host, host, host),
				Name:    map[int]string{0: fmt.Sprintf("sd%c", 'b'+n), 5: fmt.Sprintf("sr%d", n)}[k.typ],
				Vendor:  k.vendor, Model: k.model, Rev: k.rev, Type: k.typ, Removable: true, ReadOnly: k.typ == 5,
			})
		}
		if d.inputAbs || d.inputRel || d.inputKeys {
			ev, extra := "17", ""
			switch {
			case d.inputAbs:
				ev, extra = "1f", "B: ABS=3\n"
			case d.inputRel:
				extra = "B: REL=903\n"
			default:
				ev = "120013"
			}
			keys := "B: KEY=1f0000 0 0 0 0\n"
			if d.inputKeys {
				keys = "B: KEY=1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n"
			}
			fmt.Fprintf(&input, "I: Bus=0003 Vendor=%s Product=%s Version=0111\nN: Name=\"%s %s\"\nP: Phys=usb-0000:00:14.0-%d/input0\nS: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/%s/%s:1.0/input/input%d\nU: Uniq=%s\nH: Handlers=event%d\nB: PROP=0\nB: EV=%s\n%s%s\n",
				d.vid, d.pid, d.mfr, d.product, n+1, name, name, 20+n, d.serial, 20+n, ev, keys, extra)
		}
	}
	tr.File("proc/bus/input/devices", []byte(input.String()))

	// Displays: the laptop panel on eDP-1 and the setup's EDID on HDMI-A-1.
	addDisplay := func(conn, file, status string) {
		dir := "sys/devices/pci0000:00/0000:00:02.0/drm/card0/card0-" + conn
		var b []byte
		if file != "" {
			var err error
			if b, err = os.ReadFile(filepath.Join("../../platform/edid/testdata", file)); err != nil {
				t.Fatal(err)
			}
		}
		tr.Attrs(dir, "status", status, "enabled", map[string]string{"connected": "enabled", "disconnected": "disabled"}[status])
		tr.File(dir+"/edid", b)
		tr.Link("sys/class/drm/card0-"+conn, dir)
	}
	addDisplay("eDP-1", "benign-boe-edp-panel.bin", "connected")
	if s.edid != "" {
		addDisplay("HDMI-A-1", s.edid, "connected")
	} else {
		addDisplay("HDMI-A-1", "", "disconnected")
	}
	root := t.TempDir()
	if err := tr.Write(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func kvmSetups() []setup {
	return []setup{
		{name: "PiKVM V4 Plus (current kvmd)", edid: "pikvm-v4plus.bin", kvm: true,
			devices: []device{{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "PiKVM", product: "PiKVM Composite Device", serial: "CAFEBABE",
				ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), ptr(bootRelMouse), msd()},
				disks:  []disk{{"PiKVM   ", "Optical Drive   ", "1.00", 5}}, inputAbs: true}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "1d6b:0104", "device_family": "PiKVM"}},
				{signal: "kvm.hid_shape", ev: map[string]string{"usb_id": "1d6b:0104"}, has: map[string]string{"offers": "keyboard + absolute pointer + relative pointer + mass storage"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "LNX", "name": "PiKVM V4 Plus", "serial_string": "CAFEBABE"}},
				{signal: "kvm.virtual_media", ev: map[string]string{"vendor": "PiKVM", "model": "Optical Drive"}},
			}},
		{name: "PiKVM 2021-2025 (Composite KVM Device)", edid: "pikvm-2022.bin", kvm: true,
			devices: []device{{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "PiKVM", product: "Composite KVM Device", serial: "CAFEBABE", config: "PiKVM device",
				ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), msd()}, disks: []disk{{"PiKVM   ", "Flash Drive     ", "1.00", 0}}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "1d6b:0104", "product": "Composite KVM Device"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "LNX", "name": "PiKVM"}},
				{signal: "kvm.virtual_media", ev: map[string]string{"model": "Flash Drive"}},
			}},
		{name: "TinyPilot", edid: "tinypilot.bin", kvm: true,
			devices: []device{{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "tinypilot", product: "Multifunction USB Device", serial: "6b65796d696d6570690", config: "Config 1: ECM network",
				ifaces: []iface{kbd(tinypilotKbd), ptr(tinypilotAbs)}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"device_family": "TinyPilot"}},
				{signal: "kvm.hid_shape", has: map[string]string{"reasons": "fixed serial"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "TSB", "name": "TinyPilot"}},
			}},
		{name: "JetKVM default", edid: "jetkvm-default.bin", kvm: true,
			devices: []device{{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "JetKVM", product: "USB Emulation Device", config: "Config 1: HID",
				ifaces: []iface{kbd(jetkvmKeyboard), ptr(jetkvmAbs), ptr(bootRelMouse), msd()}, disks: []disk{{"JetKVM  ", "Virtual Media   ", "0001", 5}}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"device_family": "JetKVM"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "TSB", "name": "T749-fHD720"}},
				{signal: "kvm.virtual_media", ev: map[string]string{"vendor": "JetKVM", "model": "Virtual Media"}},
			}},
		{name: "JetKVM with the Logitech spoof preset and the Acer monitor preset", edid: "jetkvm-acer-b246wl.bin", kvm: true,
			devices: []device{{vid: "046d", pid: "c52b", bcd: "1211", mfr: "Logitech (x64)", product: "Logitech USB Input Device", serial: "3&1a2b3c4&0&1", config: "Config 1: HID",
				ifaces: []iface{kbd(jetkvmKeyboard), ptr(jetkvmAbs), msd()}, disks: []disk{{"JetKVM  ", "Virtual Media   ", "0001", 5}}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "046d:c52b", "spoof_preset": "true"}},
				{signal: "kvm.hid_shape", has: map[string]string{"reasons": "Windows device instance id"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "ACR", "serial_string": "T8NEE0038522"}},
			}},
		{name: "Sipeed NanoKVM", edid: "nanokvm-phl-342e2.bin", kvm: true,
			devices: []device{{vid: "3346", pid: "1009", bcd: "0510", mfr: "sipeed", product: "NanoKVM", serial: "0123456789ABCDEF", config: "NanoKVM", class: "ef",
				ifaces: []iface{kbd(nanokvmKeyboard), ptr(nanokvmRel), ptr(nanokvmTouchpad), msd()}, disks: []disk{{"NanoKVM ", "USB Mass Storage", "0520", 0}}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "3346:1009", "device_family": "Sipeed NanoKVM", "identity": "nanokvm"}},
				{signal: "kvm.hid_shape", ev: map[string]string{"usb_id": "3346:1009"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "PHL", "serial_string": "UK02143047718"}},
				{signal: "kvm.virtual_media", ev: map[string]string{"vendor": "NanoKVM"}},
			}},
		{name: "GL.iNet Comet (GLKVM 1.7.2+)", kvm: true,
			devices: []device{{vid: "38eb", pid: "0104", bcd: "0100", mfr: "Glinet", product: "Glinet Composite Device", serial: "CAFEBABE", config: "Glinet device",
				ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), audio(), msd()}, disks: []disk{{"Glinet  ", "Optical Drive   ", "1.00", 5}}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "38eb:0104", "manufacturer": "Glinet"}},
				{signal: "kvm.hid_shape", has: map[string]string{"offers": "audio"}},
				{signal: "kvm.virtual_media", ev: map[string]string{"vendor": "Glinet"}},
			}},
		{name: "BliKVM (own firmware)", edid: "tc358743-toshiba-h2c.bin", kvm: true,
			devices: []device{{vid: "1d6b", pid: "0106", bcd: "0100", mfr: "smart-kvm", product: "Multifunction USB Device", serial: "6b65796d696d6570690",
				ifaces: []iface{kbd(tinypilotKbd), ptr(tinypilotAbs), msd()}}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "1d6b:0106"}},
				{signal: "kvm.display", ev: map[string]string{"manufacturer": "TSB", "name": "Toshiba-H2C"}},
			}},
		{name: "WCH CH9329 UART-to-HID cable", kvm: true,
			devices: []device{{vid: "1a86", pid: "e129", bcd: "0100", mfr: "WWW.WCH.CN", product: "WCH UART TO KB-MS_V1.7", serial: "2019A152BB40",
				ifaces: []iface{kbd(pikvmKeyboard), ptr(ch9329AbsMouse)}, inputAbs: true}},
			want: []want{
				{signal: "kvm.usb", ev: map[string]string{"usb_id": "1a86:e129"}},
				{signal: "kvm.hid_shape", ev: map[string]string{"usb_id": "1a86:e129"}},
			}},
		{name: "CH552 MouseWiggler jiggler", kvm: true,
			devices: []device{{vid: "16c0", pid: "27da", bcd: "0100", mfr: "wagiminator", product: "MouseWiggler", serial: "CH552E", ifaces: []iface{ptr(bootRelMouse)}, inputRel: true}},
			want:    []want{{signal: "hid.jiggler", ev: map[string]string{"usb_id": "16c0:27da", "identity": "ch552_mousewiggler"}}}},
		{name: "MS2109 HDMI capture dongle on the HDMI port", edid: "ms2109.bin", kvm: true,
			want: []want{{signal: "kvm.display", ev: map[string]string{"manufacturer": "HJW", "name": "HDMI TO USB"}}}},
		{name: "MS2130 HDMI capture dongle", edid: "ms2130.bin", kvm: true,
			want: []want{{signal: "kvm.display", ev: map[string]string{"manufacturer": "HJW", "product_code": "2130"}}}},
	}
}

func benignSetups() []setup {
	return []setup{
		{name: "laptop panel only"},
		{name: "Dell dock with a Dell monitor", edid: "benign-dell-u2720q.bin",
			devices: []device{{vid: "413c", pid: "b06e", bcd: "0101", mfr: "Dell Inc.", product: "Dell dock", class: "09", ifaces: []iface{{9, 0, 0, "hub", nil}}}}},
		{name: "Logitech Unifying receiver", devices: []device{{vid: "046d", pid: "c52b", bcd: "1211", mfr: "Logitech", product: "USB Receiver",
			ifaces: []iface{kbd(bootKeyboardSpec), ptr(bootRelMouse), vendorHID(logitechHIDPP)}, inputRel: true}}},
		{name: "Apple keyboard", devices: []device{{vid: "05ac", pid: "024f", bcd: "0069", mfr: "Apple Inc.", product: "Apple Keyboard",
			ifaces: []iface{kbd(bootKeyboardSpec), vendorHID(consumerControl)}, inputKeys: true}}},
		{name: "YubiKey 5 NFC", devices: []device{{vid: "1050", pid: "0407", bcd: "0543", mfr: "Yubico", product: "YubiKey OTP+FIDO+CCID",
			ifaces: []iface{kbd(bootKeyboardSpec), vendorHID(fidoU2F), {0x0b, 0, 0, "", nil}}}}},
		{name: "VMware guest (virtual keyboard and absolute mouse)", devices: []device{
			{vid: "0e0f", pid: "0003", bcd: "0102", mfr: "VMware", product: "VMware Virtual USB Mouse", ifaces: []iface{ptr(vmwareAbsMouse)}, inputAbs: true},
			{vid: "0e0f", pid: "0006", bcd: "0100", mfr: "VMware", product: "VMware Virtual USB Keyboard", ifaces: []iface{kbd(bootKeyboardSpec)}},
		}},
		{name: "USB headset", devices: []device{{vid: "0b0e", pid: "245e", bcd: "0104", mfr: "GN Audio A/S", product: "Jabra Link 380", serial: "70BF92D4A6E1",
			ifaces: []iface{audio(), {1, 2, 0, "snd-usb-audio", nil}, vendorHID(consumerControl)}}}},
		{name: "webcam", devices: []device{{vid: "046d", pid: "085e", bcd: "0317", mfr: "Logitech", product: "Logitech BRIO", serial: "409CBA2F",
			ifaces: []iface{{0x0e, 1, 0, "uvcvideo", nil}, {0x0e, 2, 0, "uvcvideo", nil}, audio()}}}},
	}
}

func scanTree(t *testing.T, root string) *pb.Report {
	t.Helper()
	dets, err := detect.New(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&scan.Scanner{Root: root, Detectors: dets}).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The trees hold hardware only: host, time and process sources have nothing to read.
	for _, d := range rep.GetDetectors() {
		switch d.GetName() {
		case "kvm", "facts.usb", "facts.displays", "facts.disks", "facts.input":
			if !d.GetOk() {
				t.Errorf("%s failed: %s", d.GetName(), d.GetError())
			}
		}
	}
	return rep
}

func TestKVMSetupsAreFound(t *testing.T) {
	setups := kvmSetups()
	if len(setups) < 10 {
		t.Fatalf("only %d KVM setups", len(setups))
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			rep := scanTree(t, s.write(t))
			for _, w := range s.want {
				f := find(rep.GetFindings(), w)
				if f == nil {
					t.Errorf("no %s %v %v; findings:\n%s", w.signal, w.ev, w.has, describe(rep.GetFindings()))
					continue
				}
				if f.GetAttack() != kvmAttack && f.GetAttack() != "T1200" {
					t.Errorf("%s: ATT&CK %q", f.GetSignal(), f.GetAttack())
				}
				if f.GetSeverity() < pb.Severity_SEVERITY_MEDIUM {
					t.Errorf("%s %q: severity %v", f.GetSignal(), f.GetTitle(), f.GetSeverity())
				}
			}
		})
	}
}

func TestBenignSetupsAreQuiet(t *testing.T) {
	setups := benignSetups()
	if len(setups) < 8 {
		t.Fatalf("only %d benign setups", len(setups))
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			rep := scanTree(t, s.write(t))
			for _, f := range rep.GetFindings() {
				if strings.HasPrefix(f.GetSignal(), "kvm.") || strings.HasPrefix(f.GetSignal(), "hid.") {
					t.Errorf("benign setup flagged: %s %s %v", f.GetSignal(), f.GetTitle(), f.GetEvidence())
				}
			}
			if len(rep.GetFacts().GetDisplays()) == 0 {
				t.Error("no displays read from the tree")
			}
		})
	}
}

func TestKVMFindingExplainsItself(t *testing.T) {
	rep := scanTree(t, kvmSetups()[0].write(t))
	f := find(rep.GetFindings(), want{signal: "kvm.usb", ev: map[string]string{"usb_id": "1d6b:0104"}})
	if f == nil {
		t.Fatal("no kvm.usb")
	}
	for _, part := range []string{"1d6b:0104", `"PiKVM Composite Device"`, "keyboard + absolute pointer", "mass storage", "PiKVM"} {
		if !strings.Contains(f.GetTitle(), part) {
			t.Errorf("title %q lacks %q", f.GetTitle(), part)
		}
	}
	if f.GetAttack() != "T1219.003" {
		t.Errorf("attack %q", f.GetAttack())
	}
}

// TestLyingDevicesAreParsedSafely feeds descriptors and strings that lie: a truncated report
// descriptor, invalid UTF-8 and control characters in the strings, a 300-byte product string,
// an EDID with a bad checksum. Nothing crashes, anomalies are flagged, and the KVM behind the
// lies is still found by its structure.
func TestLyingDevicesAreParsedSafely(t *testing.T) {
	truncated := pikvmAbsMouse[:len(pikvmAbsMouse)-9]
	s := setup{name: "lying KVM", edid: "pikvm-v3.bin", devices: []device{{vid: "1d6b", pid: "0104", bcd: "0100",
		mfr: "Pi\xffKVM\x1b[31m", product: strings.Repeat("A", 300), serial: "CAFEBABE",
		ifaces: []iface{kbd(pikvmKeyboard), ptr(truncated), ptr([]byte{0xfe, 0xff, 0x00}), msd()}}}}
	root := s.write(t)
	// Break the EDID's checksum in place.
	edidPath := filepath.Join(root, "sys/devices/pci0000:00/0000:00:02.0/drm/card0/card0-HDMI-A-1/edid")
	b, err := os.ReadFile(edidPath)
	if err != nil {
		t.Fatal(err)
	}
	b[127] ^= 0xff
	if err := os.WriteFile(edidPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := scanTree(t, root)
	var dev *pb.UsbDevice
	for _, d := range rep.GetFacts().GetUsbDevices() {
		if d.GetVendorId() == 0x1d6b && d.GetProductId() == 0x0104 {
			dev = d
		}
	}
	if dev == nil {
		t.Fatal("device not read")
	}
	if len(dev.GetProduct()) > 256 || len(dev.GetFlags()) == 0 {
		t.Errorf("strings not bounded or not flagged: %d bytes, flags %v", len(dev.GetProduct()), dev.GetFlags())
	}
	if f := find(rep.GetFindings(), want{signal: "kvm.hid_shape", ev: map[string]string{"usb_id": "1d6b:0104"}}); f == nil {
		t.Errorf("KVM behind lying strings not found by structure:\n%s", describe(rep.GetFindings()))
	}
	var disp *pb.Display
	for _, d := range rep.GetFacts().GetDisplays() {
		if strings.HasSuffix(d.GetConnector(), "HDMI-A-1") {
			disp = d
		}
	}
	if disp == nil || !strings.Contains(strings.Join(disp.GetFlags(), ","), "checksum") || disp.GetName() != "PiKVM V3" {
		t.Errorf("bad-checksum EDID: %v", disp)
	}
}
