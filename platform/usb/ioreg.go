package usb

import (
	"fmt"
	"strconv"

	"howett.net/plist"
)

// maxIoregDepth bounds the walk through nested registry entries (device,
// hub driver, port, device, interface, driver ...).
const maxIoregDepth = 64

// parseIoreg reads the XML plist of `ioreg -a -r -c IOUSBHostDevice -l`: an
// array of registry entries, each a dictionary of properties plus
// IOObjectClass, IORegistryEntryName, IORegistryEntryID and
// IORegistryEntryChildren. A device is an entry with idVendor and
// idProduct that is not an IOUSBHostInterface; its interfaces are its
// IOUSBHostInterface children, whose first child is the bound driver and
// may carry the HID ReportDescriptor. Devices behind hubs are found
// wherever they are nested, and an entry printed twice (ioreg roots a
// subtree at every match) is kept once, by IORegistryEntryID.
//
// Properties read, preferring the first key:
//
//	idVendor idProduct bcdDevice bcdUSB bDeviceClass bDeviceSubClass bDeviceProtocol
//	kUSBVendorString, "USB Vendor Name"          Manufacturer
//	kUSBProductString, "USB Product Name"        Product
//	kUSBSerialNumberString, "USB Serial Number"  Serial
//	UsbLinkSpeed (bit/s), "Device Speed" (0-4)   Speed
//	locationID, Built-In                         Path, Raw
//	bInterfaceNumber/Class/SubClass/Protocol, kUSBString   Interface
func parseIoreg(b []byte) ([]Device, error) {
	var roots []any
	if _, err := plist.Unmarshal(b, &roots); err != nil {
		return nil, fmt.Errorf("parse ioreg plist: %w", err)
	}
	w := ioregWalk{seen: map[uint64]bool{}}
	for _, r := range roots {
		w.walk(r, 0)
	}
	sortDevices(w.devs)
	return w.devs, nil
}

type ioregWalk struct {
	devs []Device
	seen map[uint64]bool
}

func (w *ioregWalk) walk(v any, depth int) {
	e, ok := v.(map[string]any)
	if !ok || depth > maxIoregDepth {
		return
	}
	_, hasVID := e["idVendor"]
	class, _ := e["IOObjectClass"].(string)
	if hasVID && class != "IOUSBHostInterface" && class != "IOUSBInterface" {
		id, hasID := ioNum(e, "IORegistryEntryID")
		if !hasID || !w.seen[id] {
			w.seen[id] = hasID
			w.devs = append(w.devs, ioregDevice(e))
		}
	}
	for _, c := range ioChildren(e) {
		w.walk(c, depth+1)
	}
}

func ioChildren(e map[string]any) []any {
	c, _ := e["IORegistryEntryChildren"].([]any)
	return c
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

// ioStr reads the first of keys that is a string, sanitized.
func ioStr(d *Device, e map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := e[k].(string); ok {
			return clean(d, s)
		}
	}
	return ""
}

// darwinSpeeds maps "Device Speed" (IOUSBHostFamily) to Linux's Mbit/s.
var darwinSpeeds = []string{"1.5", "12", "480", "5000", "10000"}

func ioregDevice(e map[string]any) Device {
	var d Device
	num := func(key string) uint64 { v, _ := ioNum(e, key); return v }
	d.VendorID, d.ProductID = uint16(num("idVendor")), uint16(num("idProduct"))
	d.BCDDevice, d.BCDUSB = uint16(num("bcdDevice")), uint16(num("bcdUSB"))
	d.Class, d.SubClass, d.Protocol = uint8(num("bDeviceClass")), uint8(num("bDeviceSubClass")), uint8(num("bDeviceProtocol"))
	d.Manufacturer = ioStr(&d, e, "kUSBVendorString", "USB Vendor Name")
	d.Product = ioStr(&d, e, "kUSBProductString", "USB Product Name")
	d.Serial = ioStr(&d, e, "kUSBSerialNumberString", "USB Serial Number")
	if bps, ok := ioNum(e, "UsbLinkSpeed"); ok && bps > 0 {
		d.Speed = strconv.FormatFloat(float64(bps)/1e6, 'f', -1, 64)
	} else if s, ok := ioNum(e, "Device Speed"); ok && s < uint64(len(darwinSpeeds)) {
		d.Speed = darwinSpeeds[s]
	}
	name := ioStr(&d, e, "IORegistryEntryName")
	loc, hasLoc := ioNum(e, "locationID")
	d.Path = name
	if hasLoc {
		d.Path = fmt.Sprintf("%s@%08x", name, uint32(loc))
		d.Raw = map[string]string{"locationID": fmt.Sprintf("0x%08x", uint32(loc))}
	}
	if b, ok := e["Built-In"].(bool); ok {
		if d.Raw == nil {
			d.Raw = map[string]string{}
		}
		d.Raw["built_in"] = strconv.FormatBool(b)
	}
	for _, c := range ioChildren(e) {
		ie, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if cls, _ := ie["IOObjectClass"].(string); cls != "IOUSBHostInterface" && cls != "IOUSBInterface" {
			continue
		}
		inum := func(key string) uint8 { v, _ := ioNum(ie, key); return uint8(v) }
		i := Interface{
			Number: inum("bInterfaceNumber"), Class: inum("bInterfaceClass"),
			SubClass: inum("bInterfaceSubClass"), Protocol: inum("bInterfaceProtocol"),
			Name: ioStr(&d, ie, "kUSBString", "USB Interface Name"),
		}
		if drivers := ioChildren(ie); len(drivers) > 0 {
			if de, ok := drivers[0].(map[string]any); ok {
				i.Driver = ioStr(&d, de, "IOObjectClass")
			}
		}
		i.ReportDescriptor = reportDescriptor(&d, ie, 0)
		d.Interfaces = append(d.Interfaces, i)
	}
	return d
}

// reportDescriptor finds the first ReportDescriptor below an interface
// (on its HID driver, or an IOHIDInterface under that).
func reportDescriptor(d *Device, e map[string]any, depth int) []byte {
	if depth > 4 {
		return nil
	}
	for _, c := range ioChildren(e) {
		ce, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if b, ok := ce["ReportDescriptor"].([]byte); ok && len(b) > 0 {
			if len(b) > MaxReportDescriptor {
				addFlags(d, "truncated")
				b = b[:MaxReportDescriptor]
			}
			return b
		}
		if b := reportDescriptor(d, ce, depth+1); b != nil {
			return b
		}
	}
	return nil
}
