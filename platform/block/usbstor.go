package block

import (
	"strings"

	"github.com/farmwatch/farmwatch/platform/usb"
)

// diskRecord is what SetupAPI says about one DiskDrive or CDROM device
// node. The Windows reader fills it live; tests fill it from recorded JSON.
type diskRecord struct {
	// InstanceID: `USBSTOR\CDROM&VEN_PIKVM&PROD_OPTICAL_DRIVE&REV_1.00\CAFEBABE&0`.
	InstanceID string `json:"instance_id"`
	// HardwareIDs, most specific first: `USBSTOR\CdRomPiKVM____Optical_Drive___1.00`.
	HardwareIDs []string `json:"hardware_ids"`
	// FriendlyName: "PiKVM Optical Drive USB Device".
	FriendlyName string `json:"friendly_name,omitempty"`
	// Parent is DEVPKEY_Device_Parent: the USB interface function
	// (`USB\VID_1D6B&PID_0104&MI_02\7&1b3f9c2&0&0002`) or device.
	Parent string `json:"parent,omitempty"`
	// USBDevice is the parent's parent when the parent is an MI_ function:
	// the composite device, as usb.List names it.
	USBDevice string `json:"usb_device,omitempty"`
	// RemovalPolicy is SPDRP_REMOVAL_POLICY: 1 not removable, 2 orderly,
	// 3 surprise removal.
	RemovalPolicy uint32 `json:"removal_policy,omitempty"`
}

// scsiTypes are the device-type prefixes of USBSTOR and SCSI hardware ids
// (Windows' scsiport naming) with their peripheral device types. Longer
// names first where one is a prefix of another.
var scsiTypes = []struct {
	name string
	typ  uint8
}{
	{"Sfloppy", 0}, {"Disk", 0}, {"CdRom", 5}, {"Optical", 7}, {"Tape", 1},
	{"Worm", 4}, {"Changer", 8}, {"Printer", 2}, {"Processor", 3},
	{"Scanner", 6}, {"Array", 0x0c}, {"Enclosure", 0x0d}, {"Other", 0x1f},
}

// parseStorageID parses `USBSTOR\CdRomPiKVM____Optical_Drive___1.00`: the
// enumerator, the device type, then the inquiry vendor (8), product (16)
// and revision (4) with '_' for spaces. Shorter ids of the same device
// (without the revision, or the vendor alone) give what they hold. usb is
// true for the USBSTOR enumerator.
func parseStorageID(id string) (vendor, product, rev string, typ uint8, usbEnum, ok bool) {
	enum, rest, found := strings.Cut(id, `\`)
	if !found {
		return
	}
	switch {
	case strings.EqualFold(enum, "USBSTOR"):
		usbEnum = true
	case strings.EqualFold(enum, "SCSI"):
	default:
		return
	}
	matched := false
	for _, t := range scsiTypes {
		if len(rest) >= len(t.name) && strings.EqualFold(rest[:len(t.name)], t.name) {
			rest, typ, matched = rest[len(t.name):], t.typ, true
			break
		}
	}
	if !matched {
		return "", "", "", 0, false, false
	}
	field := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "_", " ")) }
	switch len(rest) {
	case 28:
		vendor, product, rev = field(rest[:8]), field(rest[8:24]), field(rest[24:])
	case 24:
		vendor, product = field(rest[:8]), field(rest[8:])
	case 8:
		vendor = field(rest)
	default:
		return "", "", "", 0, false, false
	}
	return vendor, product, rev, typ, usbEnum, true
}

// fromSetupAPI turns DiskDrive and CDROM records into disks.
func fromSetupAPI(recs []diskRecord) []Disk {
	var disks []Disk
	for _, r := range recs {
		d := Disk{}
		d.Name = clean(&d, r.InstanceID)
		for _, id := range r.HardwareIDs {
			v, p, rev, typ, usbEnum, ok := parseStorageID(id)
			if !ok {
				continue
			}
			d.Vendor, d.Model, d.Revision, d.Type = clean(&d, v), clean(&d, p), clean(&d, rev), typ
			if usbEnum {
				d.Transport = "usb"
			}
			break
		}
		d.Removable = r.RemovalPolicy >= 2
		parent := r.USBDevice
		if parent == "" {
			parent = r.Parent
		}
		if len(parent) > 4 && strings.EqualFold(parent[:4], `USB\`) {
			d.Transport = "usb" // UAS drives enumerate as SCSI\ under a USB parent
			d.USBPath = clean(&d, parent)
		}
		disks = append(disks, d)
	}
	sortDisks(disks)
	return disks
}

func clean(d *Disk, s string) string {
	s, flags := usb.SanitizeString(s)
	addFlags(d, flags...)
	return s
}
