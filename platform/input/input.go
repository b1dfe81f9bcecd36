// Package input lists the input devices the OS knows: keyboards, mice,
// touchpads, tablets, with their bus and ids and what kinds of events they
// can send.
//
// The KVM detector uses it as a second view of USB HID: an input device on
// the USB bus that reports absolute X/Y without being a touchpad
// (BTN_TOOL_FINGER) is the "tablet mouse" of a KVM-over-IP box or a VM
// console; a laptop's own touchpad is absolute too but has finger tools.
// Windows and macOS are mapped to the Linux terms (bus types of
// linux/input.h, Absolute/Relative/Keys/Touchpad as Linux would set them
// for the same HID collections), so the detector reads every OS alike.
package input

import (
	"context"
	"errors"
	"runtime"
)

// Device is one input device.
type Device struct {
	// Name is the device name: for USB HID the device's manufacturer and
	// product strings joined ("PiKVM PiKVM Composite Device"); sanitized.
	Name string
	// Phys is the physical path and Sysfs the device's own path:
	//   - Linux: "usb-0000:00:14.0-1.2/input1" and the device path under
	//     /sys ("/devices/pci0000:00/.../input/input21").
	//   - Windows: the parent's device instance id, for USB HID the USB
	//     function (`USB\VID_1D6B&PID_0104&MI_01\7&1b3f9c2&0&0001`, the
	//     usb package's interface), and the HID collection's instance id
	//     (`HID\VID_1D6B&PID_0104&MI_01\8&11c0a2d&0&0000`).
	//   - macOS: IORegistryEntryName@LocationID
	//     ("AppleUserUSBHostHIDDevice@14200000"); Sysfs is empty.
	Phys, Sysfs string
	// Bus is the bus type (linux/input.h): 0x03 USB, 0x05 Bluetooth,
	// 0x11 i8042, 0x18 I2C, 0x19 host (Apple Silicon internal), 0x1C SPI,
	// 0x06 virtual (uinput, Hyper-V); 0 when unknown (see hidpBus and
	// transportBus for Windows and macOS). Vendor, Product and Version are
	// the ids; for USB HID, Version is bcdDevice.
	Bus, Vendor, Product, Version uint16
	// Handlers are the attached handlers: "sysrq", "kbd", "leds",
	// "mouse2", "event21". Linux only.
	Handlers []string
	// Absolute: EV_ABS with ABS_X and ABS_Y. On Windows and macOS: a
	// Generic Desktop Mouse or Pointer collection, or a Digitizer one, with
	// absolute X and Y inputs.
	Absolute bool
	// Relative: EV_REL with REL_X and REL_Y. On Windows and macOS: a Mouse
	// or Pointer collection with relative X and Y inputs.
	Relative bool
	// Keys: a keyboard as udev's input_id sees one: EV_KEY with all of
	// KEY_ESC through KEY_D (bits 1-31), which covers KEY_Q..KEY_P and
	// KEY_A..KEY_D. On Windows: a Generic Desktop Keyboard collection; on
	// macOS: a Keyboard or Keypad application with keyboard-page inputs
	// (hid.Summary.Keyboard).
	Keys bool
	// Touchpad: EV_KEY with BTN_TOOL_FINGER, which touchpads and touch
	// screens report and KVM absolute mice do not. On Windows and macOS: a
	// Digitizer Touch Screen (0x0D/0x04) or Touch Pad (0x0D/0x05)
	// collection.
	Touchpad bool
	// AbsMax is the largest logical maximum of the absolute X and Y axes
	// when Absolute is set and the OS reports it: 32767 for PiKVM,
	// TinyPilot, JetKVM and NanoKVM. Windows and macOS only; 0 on Linux,
	// whose /proc/bus/input/devices does not carry axis ranges.
	AbsMax int32
	// Flags name anomalies in the entry: "invalid-utf8", "control-chars",
	// "string-too-long" (see usb.SanitizeString); Linux: "bad-id",
	// "bad-bitmap", "truncated" (the file was over MaxFile; this is the
	// last entry read); Windows: "unreadable" (the collection could not be
	// opened or queried; only what was read is set), "too-many-caps";
	// macOS: "no-descriptor" (classified from DeviceUsagePairs only),
	// "bad-descriptor".
	Flags []string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// MaxFile bounds the read of /proc/bus/input/devices; a laptop's is ~5 KiB.
const MaxFile = 1 << 20

// List returns the input devices.
//
// root "" or "/" is the live system:
//   - Linux parses /proc/bus/input/devices (see parseDevices), in the
//     kernel's order; a system without it (no input subsystem, a
//     restricted container) gives an empty list and no error. Cost: one
//     read of a procfs file of a few KiB and one parse pass.
//   - Windows enumerates the present HID device interfaces
//     (GUID_DEVINTERFACE_HID) with SetupAPI, opens each with no access
//     rights (which works for the keyboards and mice the OS holds, without
//     elevation) and reads HidD_GetAttributes, the manufacturer and
//     product strings and the HidP_GetCaps / HidP_GetValueCaps
//     capabilities (see fromHidp): one device per top-level collection
//     with inputs on the Generic Desktop, Consumer or Digitizer page, in
//     enumeration order. Cost: an open and a few IOCTLs per collection,
//     the two string reads going to the device; a few ms for a few dozen
//     collections, more if a Bluetooth device is slow to answer. Devices
//     that fail are kept flagged "unreadable" and their errors joined into
//     the returned error.
//   - macOS runs `/usr/sbin/ioreg -a -r -d 1 -c IOHIDDevice -l` (about
//     50-100 ms, output bounded to 16 MiB; IOKit itself needs cgo) and
//     parses its plist (see parseIoregHID): one device per IOHIDDevice
//     (per HID interface), classified from its ReportDescriptor with
//     package hid.
//
// Any other root is a captured Linux tree, read from
// ROOT/proc/bus/input/devices on every OS.
func List(ctx context.Context, root string) ([]Device, error) {
	if root != "" && root != "/" {
		return readProc(ctx, root)
	}
	return list(ctx)
}
