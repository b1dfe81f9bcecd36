package scan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/farmwatch/farmwatch/platform/block"
	"github.com/farmwatch/farmwatch/platform/display"
	"github.com/farmwatch/farmwatch/platform/edid"
	"github.com/farmwatch/farmwatch/platform/hid"
	"github.com/farmwatch/farmwatch/platform/input"
	"github.com/farmwatch/farmwatch/platform/usb"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Hardware caps keep the inventories within the collector's limits.
const (
	maxUSB      = 256
	maxDisplays = 64
	maxDisks    = 256
	maxInputs   = 256
)

// hardware reads the USB bus, displays, disks and input devices into facts. Each source that
// fails is noted; an OS without a reader is not a failure.
func (s *Scanner) hardware(ctx context.Context, facts *pb.Facts, note func(string, time.Time, error)) {
	t0 := time.Now()
	devs, err := usb.List(ctx, s.Root)
	for _, d := range devs {
		if len(facts.UsbDevices) == maxUSB {
			break
		}
		facts.UsbDevices = append(facts.UsbDevices, USBDevice(d))
	}
	note("usb", t0, notImplemented(err, usb.ErrNotImplemented))

	t0 = time.Now()
	disps, err := display.List(ctx, s.Root)
	for _, d := range disps {
		if len(facts.Displays) == maxDisplays {
			break
		}
		facts.Displays = append(facts.Displays, Display(d))
	}
	note("displays", t0, notImplemented(err, display.ErrNotImplemented))

	t0 = time.Now()
	disks, err := block.List(ctx, s.Root)
	for _, d := range disks {
		if len(facts.Disks) == maxDisks {
			break
		}
		facts.Disks = append(facts.Disks, &pb.Disk{
			Name: clip(d.Name, maxField), Vendor: clip(d.Vendor, maxField), Model: clip(d.Model, maxField),
			Revision: clip(d.Revision, maxField), Removable: d.Removable, ReadOnly: d.ReadOnly,
			Transport: clip(d.Transport, maxField), UsbPath: clip(d.USBPath, maxField), ScsiType: uint32(d.Type),
			Flags: clipAll(d.Flags, 16),
		})
	}
	note("disks", t0, notImplemented(err, block.ErrNotImplemented))

	t0 = time.Now()
	inputs, err := input.List(ctx, s.Root)
	for _, d := range inputs {
		if len(facts.InputDevices) == maxInputs {
			break
		}
		facts.InputDevices = append(facts.InputDevices, &pb.InputDevice{
			Name: clip(d.Name, maxField), Bus: uint32(d.Bus), VendorId: uint32(d.Vendor), ProductId: uint32(d.Product),
			Absolute: d.Absolute, Relative: d.Relative, Keys: d.Keys, Touchpad: d.Touchpad, Sysfs: clip(d.Sysfs, maxField),
		})
	}
	note("input", t0, notImplemented(err, input.ErrNotImplemented))
}

func notImplemented(err, sentinel error) error {
	if errors.Is(err, sentinel) {
		return nil
	}
	return err
}

// USBDevice converts a platform USB device to its wire form, summarising each interface's HID
// report descriptor.
func USBDevice(d usb.Device) *pb.UsbDevice {
	out := &pb.UsbDevice{
		Path: clip(d.Path, maxField), VendorId: uint32(d.VendorID), ProductId: uint32(d.ProductID), BcdDevice: uint32(d.BCDDevice),
		DeviceClass: uint32(d.Class), DeviceSubclass: uint32(d.SubClass), DeviceProtocol: uint32(d.Protocol),
		Manufacturer: clip(d.Manufacturer, maxField), Product: clip(d.Product, maxField), Serial: clip(d.Serial, maxField),
		Configuration: clip(d.Configuration, maxField), Flags: clipAll(d.Flags, 16),
	}
	for _, i := range d.Interfaces {
		if len(out.Interfaces) == 64 {
			break
		}
		pi := &pb.UsbInterface{
			Number: uint32(i.Number), Class: uint32(i.Class), Subclass: uint32(i.SubClass), Protocol: uint32(i.Protocol),
			Name: clip(i.Name, maxField), Driver: clip(i.Driver, maxField),
		}
		if len(i.ReportDescriptor) > 0 {
			pi.HidDescriptorHash = hid.Hash(i.ReportDescriptor)
			pi.HidDescriptorLength = uint32(len(i.ReportDescriptor))
			desc, err := hid.Parse(i.ReportDescriptor)
			if err != nil {
				pi.HidFlags = append(pi.HidFlags, "unparsable")
			} else {
				sum := hid.Summarize(desc)
				pi.HidKeyboard, pi.HidRelativePointer, pi.HidAbsolutePointer, pi.HidDigitizer = sum.Keyboard, sum.RelativePointer, sum.AbsolutePointer, sum.Digitizer
				pi.HidAbsoluteMax = sum.AbsMax
				pi.HidFlags = append(pi.HidFlags, clipAll(desc.Flags, 15)...)
			}
		}
		out.Interfaces = append(out.Interfaces, pi)
	}
	return out
}

// Display converts a platform display to its wire form.
func Display(d display.Display) *pb.Display {
	out := &pb.Display{Connector: clip(d.Connector, maxField), Status: clip(d.Status, maxField), Source: clip(d.Source, maxField)}
	if e := d.EDID; e != nil {
		out.Manufacturer, out.ProductCode, out.SerialNumber = clip(e.Manufacturer, maxField), uint32(e.ProductCode), e.SerialNumber
		out.Name, out.SerialString = clip(e.Name, maxField), clip(e.SerialString, maxField)
		out.Week, out.Year = int32(e.Week), int32(e.Year)
		out.EdidHash = edid.Hash(d.Raw)
		if m := e.PreferredMode; m.Width > 0 {
			out.PreferredMode = fmt.Sprintf("%dx%d@%.0f", m.Width, m.Height, m.RefreshHz)
		}
		out.Flags = clipAll(e.Flags, 16)
	}
	return out
}
