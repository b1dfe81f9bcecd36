package input

import (
	"fmt"
	"strings"

	"github.com/farmwatch/farmwatch/platform/hid"
	"howett.net/plist"
)

// This file holds the OS-independent half of the macOS reader: the parse
// of `ioreg -a -r -d 1 -c IOHIDDevice -l` output. input_darwin.go runs
// ioreg; tests parse recorded plists on every OS.

// maxUsagePairs bounds the DeviceUsagePairs read per device.
const maxUsagePairs = 64

// parseIoregHID reads the XML plist ioreg prints: an array of IOHIDDevice
// registry entries (IOUSBHostHIDDevice, AppleUserUSBHostHIDDevice,
// Bluetooth and internal SPI/FIFO HID devices...), each a dictionary of
// properties. An entry printed twice is kept once, by IORegistryEntryID;
// nested entries (IORegistryEntryChildren) are not read, as every
// IOHIDDevice is a root of ioreg's output. One IOHIDDevice is one HID
// interface, with all its top-level collections; it becomes one Device
// when one of those collections (or, without a ReportDescriptor, one of
// its DeviceUsagePairs) is on an input page (see inputPage). Properties
// read:
//
//	VendorID ProductID VersionNumber  Vendor, Product, Version
//	Manufacturer Product              Name, joined as Linux usbhid does
//	Transport                         Bus (see transportBus)
//	IORegistryEntryName LocationID    Phys ("AppleUserUSBHostHIDDevice@14200000")
//	PrimaryUsagePage PrimaryUsage DeviceUsagePairs   pages; Keys and Touchpad without a descriptor
//	ReportDescriptor                  Absolute, Relative, Keys, Touchpad, AbsMax
//
// The descriptor is parsed with package hid; hid.Summarize gives Keys
// (Keyboard), Relative (RelativePointer), Absolute (AbsolutePointer) and
// AbsMax; a Digitizer application with absolute X and Y inputs also sets
// Absolute, and a Digitizer Touch Screen or Touch Pad application (or
// usage pair) sets Touchpad, so that a touchpad reads as it does on Linux.
// Flags: "no-descriptor", "bad-descriptor" (hid.Parse failed) and those
// of usb.SanitizeString.
func parseIoregHID(b []byte) ([]Device, error) {
	var roots []any
	if _, err := plist.Unmarshal(b, &roots); err != nil {
		return nil, fmt.Errorf("parse ioreg plist: %w", err)
	}
	var devs []Device
	seen := map[uint64]bool{}
	for _, r := range roots {
		e, ok := r.(map[string]any)
		if !ok {
			continue
		}
		if id, ok := ioNum(e, "IORegistryEntryID"); ok {
			if seen[id] {
				continue
			}
			seen[id] = true
		}
		if d, ok := ioregHIDDevice(e); ok {
			devs = append(devs, d)
		}
	}
	return devs, nil
}

// ioregHIDDevice maps one IOHIDDevice entry; false when it has nothing on
// an input page.
func ioregHIDDevice(e map[string]any) (Device, bool) {
	var d Device
	num := func(key string) uint16 { v, _ := ioNum(e, key); return uint16(v) }
	d.Vendor, d.Product, d.Version = num("VendorID"), num("ProductID"), num("VersionNumber")
	transport, _ := e["Transport"].(string)
	d.Bus = transportBus(transport)
	d.Name = clean(&d, joinName(ioStr(e, "Manufacturer"), ioStr(e, "Product")))
	d.Phys = ioStr(e, "IORegistryEntryName")
	if loc, ok := ioNum(e, "LocationID"); ok {
		d.Phys = fmt.Sprintf("%s@%08x", d.Phys, uint32(loc))
	}
	d.Phys = clean(&d, d.Phys)

	relevant, pairKeys, pairTouch := false, false, false
	for _, p := range usagePairs(e) {
		relevant = relevant || inputPage(p[0])
		pairKeys = pairKeys || p == [2]uint16{hid.PageGenericDesktop, hid.UsageKeyboard}
		pairTouch = pairTouch || p == [2]uint16{hid.PageDigitizer, usageTouchPad} || p == [2]uint16{hid.PageDigitizer, usageTouchScreen}
	}
	d.Touchpad = pairTouch
	desc, _ := e["ReportDescriptor"].([]byte)
	if len(desc) == 0 {
		addFlags(&d, "no-descriptor")
		d.Keys = pairKeys
		return d, relevant
	}
	parsed, err := hid.Parse(desc)
	if err != nil {
		addFlags(&d, "bad-descriptor")
		d.Keys = pairKeys
		return d, relevant
	}
	s := hid.Summarize(parsed)
	d.Keys, d.Relative, d.Absolute = s.Keyboard, s.RelativePointer, s.AbsolutePointer
	digAbs, touch, appInput := digitizerApps(parsed)
	d.Absolute = d.Absolute || digAbs
	d.Touchpad = d.Touchpad || touch
	if d.Absolute {
		d.AbsMax = s.AbsMax
	}
	return d, relevant || appInput
}

// digitizerApps walks the top-level collections: absolute is a Digitizer
// application with absolute X and Y inputs, touch a Digitizer Touch
// Screen or Touch Pad application, input any application on an input page.
func digitizerApps(d hid.Descriptor) (absolute, touch, input bool) {
	var app hid.Collection
	var xy [2]bool
	flush := func() {
		absolute = absolute || app.UsagePage == hid.PageDigitizer && xy[0] && xy[1]
		xy = [2]bool{}
	}
	for _, c := range d.Collections {
		if c.Depth == 0 {
			flush()
			app = c
			if c.Kind == "application" {
				input = input || inputPage(c.UsagePage)
				touch = touch || c.UsagePage == hid.PageDigitizer && (c.Usage == usageTouchScreen || c.Usage == usageTouchPad)
			}
		}
		if app.UsagePage != hid.PageDigitizer {
			continue
		}
		for _, f := range c.Fields {
			if !f.Input || f.Constant || !f.Absolute {
				continue
			}
			for _, u := range f.Usages {
				switch u {
				case hid.UsageX:
					xy[0] = true
				case hid.UsageY:
					xy[1] = true
				}
			}
		}
	}
	flush()
	return absolute, touch, input
}

// usagePairs returns PrimaryUsagePage/PrimaryUsage and the
// DeviceUsagePairs, as (page, usage).
func usagePairs(e map[string]any) [][2]uint16 {
	var pairs [][2]uint16
	if p, ok := ioNum(e, "PrimaryUsagePage"); ok {
		u, _ := ioNum(e, "PrimaryUsage")
		pairs = append(pairs, [2]uint16{uint16(p), uint16(u)})
	}
	list, _ := e["DeviceUsagePairs"].([]any)
	for _, v := range list {
		if len(pairs) > maxUsagePairs {
			break
		}
		pe, ok := v.(map[string]any)
		if !ok {
			continue
		}
		p, ok := ioNum(pe, "DeviceUsagePage")
		if !ok {
			continue
		}
		u, _ := ioNum(pe, "DeviceUsage")
		pairs = append(pairs, [2]uint16{uint16(p), uint16(u)})
	}
	return pairs
}

// transportBus maps the IOHIDDevice Transport property
// (IOHIDKeys.h kIOHIDTransport*Value) to a Linux bus type as Linux would
// report the same hardware: "USB" 0x03; "Bluetooth", "Bluetooth Low
// Energy", "BT-AACP" 0x05; "I2C" 0x18; "SPI" 0x1C (BUS_SPI: applespi on an
// Intel MacBook's keyboard and trackpad); "FIFO", "AID", "SPU" (Apple
// Silicon internal transports) 0x19 BUS_HOST; "Virtual" 0x06. Anything
// else, or no Transport, is 0.
func transportBus(t string) uint16 {
	switch strings.ToUpper(strings.TrimSpace(t)) {
	case "USB":
		return busUSB
	case "BLUETOOTH", "BLUETOOTH LOW ENERGY", "BLUETOOTHLOWENERGY", "BT-AACP":
		return busBluetooth
	case "I2C":
		return busI2C
	case "SPI":
		return busSPI
	case "FIFO", "AID", "SPU":
		return busHost
	case "VIRTUAL":
		return busVirtual
	}
	return 0
}

// ioNum reads an integer property; plist integers decode as uint64, or
// int64 when negative.
func ioNum(e map[string]any, key string) (uint64, bool) {
	switch v := e[key].(type) {
	case uint64:
		return v, true
	case int64:
		return uint64(v), true
	}
	return 0, false
}

// ioStr reads a string property, unsanitized ("" when absent).
func ioStr(e map[string]any, key string) string {
	s, _ := e[key].(string)
	return s
}
