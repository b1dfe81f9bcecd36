// Package block lists the SCSI disks and optical drives of this computer
// with their inquiry strings and whether they hang off a USB device.
//
// The KVM detector looks here for virtual media: a KVM-over-IP box shows
// its mass-storage function as a drive whose inquiry strings name it
// ("PiKVM   " "Optical Drive   " "1.00"), and the USB path ties the drive
// to the composite device that also types and points.
package block

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
)

// Disk is one SCSI block device: a disk (sda) or an optical drive (sr0).
type Disk struct {
	// Name is the kernel name ("sdb", "sr0") on Linux and the device
	// instance id on Windows
	// (`USBSTOR\CDROM&VEN_PIKVM&PROD_OPTICAL_DRIVE&REV_1.00\CAFEBABE&0`).
	Name string
	// Vendor, Model and Revision are the SCSI inquiry fields (8, 16 and 4
	// bytes), sanitized and with the padding trimmed: "PiKVM",
	// "Optical Drive", "1.00". On Windows they come from the USBSTOR
	// hardware id, where Windows has replaced spaces and unusual
	// characters with '_' (read back as spaces).
	Vendor, Model, Revision string
	// Removable is the kernel's removable flag, or on Windows a removal
	// policy of orderly or surprise removal. ReadOnly is Linux's ro; it is
	// always false on Windows.
	Removable, ReadOnly bool
	// Transport is "usb" when the device sits behind a USB interface
	// (usb-storage or uas), "ata" for a SATA disk on Linux, else "".
	Transport string
	// USBPath names the USB device the drive belongs to, in usb.Device.Path
	// terms: "1-1.2" on Linux, `USB\VID_1D6B&PID_0104\CAFEBABE` on Windows.
	USBPath string
	// Type is the SCSI peripheral device type: 0 disk, 5 CD/DVD, 7 optical
	// memory, 1 tape.
	Type uint8
	// Flags name anomalies in the strings read: "invalid-utf8",
	// "control-chars", "string-too-long" (see usb.SanitizeString) and
	// "bad-attribute" (a number that does not parse).
	Flags []string
}

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the SCSI disks and optical drives sorted by Name.
//
// root "" or "/" is the live system:
//   - Linux reads ROOT/sys/block/sd* and sr* (see readSysfs). A system
//     without /sys/block gives an empty list and no error.
//   - Windows asks SetupAPI for the present devices of the DiskDrive and
//     CDROM classes and parses their USBSTOR hardware ids; it then lists
//     the USB enumerator once to name the USB device behind each drive.
//   - macOS is not implemented (ErrNotImplemented): the drives are in the
//     IORegistry under IOSCSIPeripheralDeviceNub, a later addition.
//
// Any other root is a captured Linux tree, read on every OS.
//
// Cost: Linux, a readlink and eight small reads per drive; Windows, two
// SetupAPI class enumerations and one USB enumeration (a few ms).
func List(ctx context.Context, root string) ([]Disk, error) {
	if root != "" && root != "/" {
		return readSysfs(ctx, root)
	}
	return list(ctx)
}

func addFlags(d *Disk, flags ...string) {
	for _, f := range flags {
		if !slices.Contains(d.Flags, f) {
			d.Flags = append(d.Flags, f)
		}
	}
}

func sortDisks(ds []Disk) {
	slices.SortFunc(ds, func(a, b Disk) int { return strings.Compare(a.Name, b.Name) })
}
