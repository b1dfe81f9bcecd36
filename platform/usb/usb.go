// Package usb lists the USB devices attached to this computer with their
// descriptors, strings, interfaces, bound drivers and (on Linux and macOS)
// the HID report descriptors of their HID interfaces.
//
// The KVM detector matches these against the catalog (a PiKVM's 1d6b:0104
// "PiKVM Composite Device") and, because a KVM can change its identity,
// looks at their shape: one composite device with a keyboard, an absolute
// pointer and mass storage. Everything here except the bus topology is
// chosen by the device, so strings are bounded and sanitized and anomalies
// are kept as Flags rather than hidden.
package usb

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"unicode/utf8"
)

// Device is one USB device (not an interface).
type Device struct {
	// Path identifies the device on this computer: the sysfs device name on
	// Linux ("1-1.2", "usb1" for a root hub), the device instance id on
	// Windows (`USB\VID_1D6B&PID_0104\CAFEBABE`), and "NAME@LOCATIONID"
	// on macOS ("PiKVM Composite Device@14100000", as ioreg names it).
	Path string
	// VendorID and ProductID are idVendor and idProduct.
	VendorID, ProductID uint16
	// BCDDevice is the device release (0x0100 for PiKVM); BCDUSB the USB
	// version (0x0200). Windows does not expose bcdUSB: 0 there.
	BCDDevice, BCDUSB uint16
	// Class, SubClass and Protocol are bDeviceClass/SubClass/Protocol:
	// 0/0/0 for a composite device whose interfaces carry the classes,
	// 0xEF/0x02/0x01 for one using interface association (NanoKVM), 9 for
	// a hub.
	Class, SubClass, Protocol uint8
	// Manufacturer, Product and Serial are the device's own string
	// descriptors, sanitized (see SanitizeString). Windows exposes only the
	// product (bus-reported description) and, for devices that report a
	// serial, the serial as the last element of the instance id; its
	// Manufacturer is empty (the INF manufacturer is kept in Raw["mfg"]).
	Manufacturer, Product, Serial string
	// Configuration is the string of the active configuration (Linux):
	// "Config 1: ECM network" for TinyPilot, "" when the device has none.
	Configuration string
	// MaxPowerMA is the active configuration's bMaxPower in mA (Linux).
	MaxPowerMA int
	// Speed is the link speed in Mbit/s as Linux writes it: "1.5", "12",
	// "480", "5000", "10000". Empty on Windows.
	Speed string
	// Interfaces are the active configuration's interfaces by number.
	Interfaces []Interface
	// Raw keeps a few more attributes as read, for evidence: on Linux
	// "bmAttributes", "bNumInterfaces", "busnum", "devnum", "removable"
	// (the port's "removable"/"fixed"/"unknown"); on Windows "mfg",
	// "device_desc", "friendly_name", "service", "location"; on macOS
	// "locationID", "built_in". Nil when there is nothing to keep.
	Raw map[string]string
	// Flags name anomalies found while reading, each once: "invalid-utf8",
	// "control-chars", "string-too-long" (from SanitizeString),
	// "truncated" (a report descriptor longer than MaxReportDescriptor),
	// "bad-attribute" (a numeric attribute that does not parse).
	Flags []string
}

// Interface is one interface of the device's active configuration.
type Interface struct {
	// Number is bInterfaceNumber.
	Number uint8
	// Class, SubClass and Protocol are bInterfaceClass/SubClass/Protocol:
	// 3/1/1 boot keyboard, 3/1/2 boot mouse, 3/0/0 other HID, 8/6/80 mass
	// storage (SCSI, bulk-only), 2/6/0 + 10/0/0 CDC Ethernet, 0xE0/1/3 RNDIS.
	Class, SubClass, Protocol uint8
	// Name is the interface string: "HID Interface", "Mass Storage" for
	// Linux gadget functions; on Windows the bus-reported description.
	Name string
	// Driver is the bound driver: "usbhid", "usb-storage", "uas",
	// "cdc_ether", "rndis_host", "snd-usb-audio" on Linux; the service
	// ("HidUsb", "USBSTOR", "WUDFRd") on Windows; the driver's IOKit class
	// ("AppleUserUSBHostHIDDevice") on macOS. Empty when none is bound.
	Driver string
	// ReportDescriptor is the HID report descriptor, when the interface is
	// HID and the OS lets an unprivileged reader have it: Linux (sysfs
	// report_descriptor, world-readable) and macOS (ioreg ReportDescriptor).
	// Windows does not expose it to user mode; it is nil there.
	ReportDescriptor []byte
}

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Limits on what is read from a device.
const (
	// MaxString bounds every string descriptor kept, in bytes.
	MaxString = 256
	// MaxReportDescriptor is the longest report descriptor kept; Linux
	// refuses longer ones (HID_MAX_DESCRIPTOR_SIZE).
	MaxReportDescriptor = 4096
)

// List returns the USB devices sorted by Path.
//
// root "" or "/" is the live system:
//   - Linux reads sysfs (ROOT/sys/bus/usb/devices; see readSysfs). A system
//     without /sys/bus/usb (a container, a VM without USB) gives an empty
//     list and no error.
//   - Windows asks SetupAPI for the present devices of the USB enumerator
//     and groups interface functions (MI_xx) under their composite parent.
//     There are no report descriptors, bcdUSB, speed, configuration string
//     or manufacturer string in user-mode SetupAPI.
//   - macOS runs `ioreg -a -r -c IOUSBHostDevice -l` and parses its plist.
//
// Any other root is a captured Linux tree, read on every OS with the same
// code as live Linux; symlinks in it are followed only inside it.
//
// Cost: Linux, about 20 small sysfs reads per device (a laptop with five
// devices: ~1 ms); Windows, one SetupAPI enumeration with six property
// reads per device node (a few ms); macOS, one run of ioreg (50-100 ms).
// An error comes with whatever could be read.
func List(ctx context.Context, root string) ([]Device, error) {
	if root != "" && root != "/" {
		return readSysfs(ctx, root)
	}
	return list(ctx)
}

// SanitizeString makes an untrusted device string safe to keep and show:
// invalid UTF-8 becomes U+FFFD ("invalid-utf8"); control characters (C0,
// DEL, C1) and the bidirectional-override characters that could reorder a
// console line become U+FFFD ("control-chars"); more than MaxString bytes
// are cut at a character boundary ("string-too-long"). Nothing is trimmed:
// padding is part of a fingerprint. It returns the flags raised, in that
// order. Other platform readers (block, input) use it for the strings they
// read from devices.
func SanitizeString(s string) (string, []string) {
	var flags []string
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		flags = append(flags, "invalid-utf8")
	}
	if strings.IndexFunc(s, isControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isControl(r) {
				return utf8.RuneError
			}
			return r
		}, s)
		flags = append(flags, "control-chars")
	}
	if len(s) > MaxString {
		n := MaxString
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
		flags = append(flags, "string-too-long")
	}
	return s, flags
}

func isControl(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// addFlags appends the flags not yet present.
func addFlags(d *Device, flags ...string) {
	for _, f := range flags {
		if !slices.Contains(d.Flags, f) {
			d.Flags = append(d.Flags, f)
		}
	}
}

// clean sanitizes s and records its flags on d.
func clean(d *Device, s string) string {
	s, flags := SanitizeString(s)
	addFlags(d, flags...)
	return s
}

func sortDevices(ds []Device) {
	slices.SortFunc(ds, func(a, b Device) int { return strings.Compare(a.Path, b.Path) })
	for i := range ds {
		slices.SortStableFunc(ds[i].Interfaces, func(a, b Interface) int { return int(a.Number) - int(b.Number) })
	}
}
