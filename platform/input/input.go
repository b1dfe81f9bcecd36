// Package input lists the input devices the kernel knows: keyboards, mice,
// touchpads, tablets, with their bus and ids and what kinds of events they
// can send.
//
// The KVM detector uses it as a second view of USB HID: an input device on
// the USB bus that reports absolute X/Y without being a touchpad
// (BTN_TOOL_FINGER) is the "tablet mouse" of a KVM-over-IP box or a VM
// console; a laptop's own touchpad is absolute too but has finger tools.
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
	// Phys is the physical path ("usb-0000:00:14.0-1.2/input1") and Sysfs
	// the device path under /sys ("/devices/pci0000:00/.../input/input21").
	Phys, Sysfs string
	// Bus is the bus type (linux/input.h): 0x03 USB, 0x05 Bluetooth,
	// 0x11 i8042, 0x18 I2C, 0x06 virtual (uinput). Vendor, Product and
	// Version are the ids; for USB HID, Version is bcdDevice.
	Bus, Vendor, Product, Version uint16
	// Handlers are the attached handlers: "sysrq", "kbd", "leds",
	// "mouse2", "event21".
	Handlers []string
	// Absolute: EV_ABS with ABS_X and ABS_Y.
	Absolute bool
	// Relative: EV_REL with REL_X and REL_Y.
	Relative bool
	// Keys: a keyboard as udev's input_id sees one: EV_KEY with all of
	// KEY_ESC through KEY_D (bits 1-31), which covers KEY_Q..KEY_P and
	// KEY_A..KEY_D.
	Keys bool
	// Touchpad: EV_KEY with BTN_TOOL_FINGER, which touchpads and touch
	// screens report and KVM absolute mice do not.
	Touchpad bool
	// Flags name anomalies in the entry: "invalid-utf8", "control-chars",
	// "string-too-long" (see usb.SanitizeString), "bad-id", "bad-bitmap",
	// "truncated" (the file was over MaxFile; this is the last entry read).
	Flags []string
}

// ErrNotImplemented is returned on operating systems without a reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// MaxFile bounds the read of /proc/bus/input/devices; a laptop's is ~5 KiB.
const MaxFile = 1 << 20

// List returns the input devices in the kernel's order.
//
// root "" or "/" is the live system:
//   - Linux parses /proc/bus/input/devices (see parseDevices); a system
//     without it (no input subsystem, a restricted container) gives an
//     empty list and no error.
//   - Windows is not implemented (ErrNotImplemented): HID devices there
//     are described by HidP_GetCaps capabilities, a later addition.
//   - macOS is not implemented (ErrNotImplemented); IOHIDDevice entries
//     in the IORegistry are the source for a later version, and the usb
//     package already returns macOS report descriptors.
//
// Any other root is a captured Linux tree, read from
// ROOT/proc/bus/input/devices on every OS.
//
// Cost: one read of a procfs file of a few KiB and one parse pass.
func List(ctx context.Context, root string) ([]Device, error) {
	if root != "" && root != "/" {
		return readProc(ctx, root)
	}
	return list(ctx)
}
