package input

import (
	"strings"

	"github.com/farmwatch/farmwatch/platform/hid"
)

// This file holds the OS-independent half of the Windows reader: the
// hid.dll structures, and the mapping from what hid.dll returned for each
// HID device interface to Devices. input_windows.go fills hidpRecords on a
// live system; tests fill them from recorded values on every OS.

// hidpAttributes is HIDD_ATTRIBUTES (hidsdi.h), 12 bytes: Size must be set
// to the struct size before HidD_GetAttributes.
type hidpAttributes struct {
	Size          uint32
	VendorID      uint16
	ProductID     uint16
	VersionNumber uint16
	_             uint16 // trailing padding to the 4-byte alignment of Size
}

// hidpCaps is HIDP_CAPS (hidpi.h), 64 bytes. Note that Usage comes before
// UsagePage here, unlike in HIDP_VALUE_CAPS.
type hidpCaps struct {
	Usage                     uint16
	UsagePage                 uint16
	InputReportByteLength     uint16
	OutputReportByteLength    uint16
	FeatureReportByteLength   uint16
	Reserved                  [17]uint16
	NumberLinkCollectionNodes uint16
	NumberInputButtonCaps     uint16
	NumberInputValueCaps      uint16
	NumberInputDataIndices    uint16
	NumberOutputButtonCaps    uint16
	NumberOutputValueCaps     uint16
	NumberOutputDataIndices   uint16
	NumberFeatureButtonCaps   uint16
	NumberFeatureValueCaps    uint16
	NumberFeatureDataIndices  uint16
}

// hidpValueCaps is HIDP_VALUE_CAPS (hidpi.h), 72 bytes on every
// architecture (no pointers, every field at its natural alignment):
//
//	 0 UsagePage       2 ReportID         3 IsAlias        4 BitField
//	 6 LinkCollection  8 LinkUsage       10 LinkUsagePage 12 IsRange
//	13 IsStringRange  14 IsDesignatorRange 15 IsAbsolute  16 HasNull
//	17 Reserved       18 BitSize         20 ReportCount   22 Reserved2[5]
//	32 UnitsExp       36 Units           40 LogicalMin    44 LogicalMax
//	48 PhysicalMin    52 PhysicalMax     56 Range / NotRange union (8 × USHORT)
//
// The BOOLEANs are UCHARs. Union[0] is Range.UsageMin or NotRange.Usage,
// Union[1] Range.UsageMax.
type hidpValueCaps struct {
	UsagePage         uint16
	ReportID          uint8
	IsAlias           uint8
	BitField          uint16
	LinkCollection    uint16
	LinkUsage         uint16
	LinkUsagePage     uint16
	IsRange           uint8
	IsStringRange     uint8
	IsDesignatorRange uint8
	IsAbsolute        uint8
	HasNull           uint8
	Reserved          uint8
	BitSize           uint16
	ReportCount       uint16
	Reserved2         [5]uint16
	UnitsExp          uint32
	Units             uint32
	LogicalMin        int32
	LogicalMax        int32
	PhysicalMin       int32
	PhysicalMax       int32
	Union             [8]uint16
}

// usages returns the usage range a value cap covers: UsageMin..UsageMax
// for a range, Usage..Usage otherwise.
func (v *hidpValueCaps) usages() (lo, hi uint16) {
	if v.IsRange != 0 {
		return v.Union[0], v.Union[1]
	}
	return v.Union[0], v.Union[0]
}

// maxValueCaps bounds the input value caps read per collection; a
// precision touchpad with five fingers has a few dozen.
const maxValueCaps = 1024

// hidpRecord is what SetupAPI and hid.dll say about one HID device
// interface. Windows gives every top-level collection of a HID device its
// own device node and interface: a PiKVM shows two (the keyboard function
// MI_00, the mouse function MI_01), a Logitech receiver several
// (HID\VID_046D&PID_C52B&MI_01&Col01 ...). Every string in it comes from
// the device or its driver.
type hidpRecord struct {
	// Path is the device interface path:
	// `\\?\HID#VID_1D6B&PID_0104&MI_01#8&2f1a3b&0&0000#{4d1e55b2-f16f-11cf-88cb-001111000030}`.
	Path string
	// InstanceID is the collection's device instance id
	// (`HID\VID_1D6B&PID_0104&MI_01\8&2F1A3B&0&0000`) and Parent
	// DEVPKEY_Device_Parent, the device the HID minidriver runs on:
	// `USB\VID_1D6B&PID_0104&MI_01\7&...` (HidUsb), `ACPI\SYNA7DB5\1`
	// (hidi2c), `BTHENUM\{00001124-...}_VID&...` (HidBth),
	// `BTHLEDEVICE\{00001812-...}` (HidBthLE).
	InstanceID, Parent string
	// Opened: CreateFile succeeded. HasAttributes, HasCaps: the HidD and
	// HidP calls succeeded; TooManyCaps: more than maxValueCaps input
	// value caps, none kept.
	Opened, HasAttributes, HasCaps, TooManyCaps bool
	Attributes                                  hidpAttributes
	// Manufacturer and Product are HidD_GetManufacturerString and
	// HidD_GetProductString ("" when the device has none).
	Manufacturer, Product string
	Caps                  hidpCaps
	// ValueCaps are HidP_GetValueCaps(HidP_Input).
	ValueCaps []hidpValueCaps
}

// Usages (HID Usage Tables 1.5) fromHidp and the ioreg reader look for
// besides those of package hid.
const (
	usageTouchScreen = 0x04 // Digitizer page
	usageTouchPad    = 0x05 // Digitizer page
	usageX           = 0x30 // Generic Desktop
	usageY           = 0x31
)

// Bus types (linux/input.h) given to Windows and macOS devices.
const (
	busUSB       = 0x03
	busBluetooth = 0x05
	busVirtual   = 0x06
	busI2C       = 0x18
	busHost      = 0x19
	busSPI       = 0x1C
)

// inputPage reports whether a top-level collection's usage page is one
// whose collections Linux turns into input devices: Generic Desktop,
// Consumer and Digitizer. Vendor pages, FIDO, sensors and power devices
// are left out.
func inputPage(page uint16) bool {
	return page == hid.PageGenericDesktop || page == hid.PageConsumer || page == hid.PageDigitizer
}

// fromHidp turns hid.dll records into Devices, one per top-level
// collection with inputs on an input page (see inputPage), in enumeration
// order. A record that could not be opened or queried is kept, flagged
// "unreadable", with what was read.
//
// Classification, per collection, in the terms of the Linux reader:
//   - Absolute: the collection is a Generic Desktop Mouse or Pointer or is
//     on the Digitizer page, and has input value caps for both Generic
//     Desktop X and Y with IsAbsolute. AbsMax is the largest LogicalMax of
//     those caps.
//   - Relative: a Mouse or Pointer collection with X and Y not absolute.
//   - Keys: a Generic Desktop Keyboard collection.
//   - Touchpad: a Digitizer Touch Screen or Touch Pad collection (what
//     Linux reports with BTN_TOOL_FINGER).
//
// Bus comes from the parent's enumerator (see hidpBus).
func fromHidp(recs []hidpRecord) []Device {
	var devs []Device
	for _, r := range recs {
		var d Device
		d.Phys = clean(&d, r.Parent)
		d.Sysfs = clean(&d, r.InstanceID)
		d.Bus = hidpBus(r.Parent, r.InstanceID, r.Path)
		if r.HasAttributes {
			d.Vendor, d.Product, d.Version = r.Attributes.VendorID, r.Attributes.ProductID, r.Attributes.VersionNumber
		}
		d.Name = clean(&d, joinName(r.Manufacturer, r.Product))
		if !r.Opened || !r.HasCaps {
			addFlags(&d, "unreadable")
			devs = append(devs, d)
			continue
		}
		c := r.Caps
		if !inputPage(c.UsagePage) || c.NumberInputButtonCaps == 0 && c.NumberInputValueCaps == 0 {
			continue
		}
		if r.TooManyCaps {
			addFlags(&d, "too-many-caps")
		}
		pointer := c.UsagePage == hid.PageGenericDesktop && (c.Usage == hid.UsageMouse || c.Usage == hid.UsagePointer)
		digitizer := c.UsagePage == hid.PageDigitizer
		var abs, rel [2]bool
		var absMax int32
		for i := range r.ValueCaps {
			v := &r.ValueCaps[i]
			if v.UsagePage != hid.PageGenericDesktop {
				continue
			}
			lo, hi := v.usages()
			for axis, u := range [2]uint16{usageX, usageY} {
				if lo > u || u > hi {
					continue
				}
				if v.IsAbsolute != 0 {
					abs[axis] = true
					absMax = max(absMax, v.LogicalMax)
				} else {
					rel[axis] = true
				}
			}
		}
		d.Absolute = (pointer || digitizer) && abs[0] && abs[1]
		if d.Absolute {
			d.AbsMax = absMax
		}
		d.Relative = pointer && rel[0] && rel[1]
		d.Keys = c.UsagePage == hid.PageGenericDesktop && c.Usage == hid.UsageKeyboard
		d.Touchpad = digitizer && (c.Usage == usageTouchScreen || c.Usage == usageTouchPad)
		devs = append(devs, d)
	}
	return devs
}

// hidpBus maps a HID collection to a Linux bus type by the enumerator of
// its parent device: USB 0x03; BTHENUM (Bluetooth classic) and
// BTHLEDEVICE (Bluetooth LE) 0x05; ACPI 0x18, as HID over I2C (hidi2c)
// is what ACPI-described HID devices almost always are (HID over SPI,
// also ACPI-described, is reported as I2C too); VMBUS (Hyper-V synthetic
// devices), ROOT and SWD (software devices) 0x06 virtual. Without a parent,
// an instance id or path of the form HID\VID_xxxx&PID_xxxx is taken as USB
// HID: Bluetooth's have the form HID\{uuid}_VID&..., I2C's name the ACPI
// id. Anything else is 0.
func hidpBus(parent, instanceID, path string) uint16 {
	if enum, _, ok := strings.Cut(parent, `\`); ok {
		switch strings.ToUpper(enum) {
		case "USB":
			return busUSB
		case "BTHENUM", "BTHLEDEVICE", "BTHLE":
			return busBluetooth
		case "ACPI":
			return busI2C
		case "VMBUS", "ROOT", "SWD":
			return busVirtual
		}
		return 0
	}
	if hasPrefixFold(instanceID, `HID\VID_`) || hasPrefixFold(path, `\\?\HID#VID_`) {
		return busUSB
	}
	return 0
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// joinName builds a device name as Linux usbhid does: the manufacturer
// and product strings joined by a space, either alone when the other is
// empty. Nothing is trimmed (see usb.SanitizeString).
func joinName(manufacturer, product string) string {
	switch {
	case manufacturer == "":
		return product
	case product == "":
		return manufacturer
	}
	return manufacturer + " " + product
}
