package usb

import (
	"strconv"
	"strings"
)

// setupRecord is what SetupAPI says about one device node of the USB
// enumerator: a device, or one function (MI_xx) of a composite device. The
// Windows reader fills it live; tests fill it from recorded JSON. Every
// string in it comes from the device or its driver package.
type setupRecord struct {
	// InstanceID is the device instance id:
	// `USB\VID_1D6B&PID_0104\CAFEBABE`, `USB\VID_1D6B&PID_0104&MI_00\7&1b3f9c2&0&0000`.
	InstanceID string `json:"instance_id"`
	// HardwareIDs (SPDRP_HARDWAREID), most specific first:
	// `USB\VID_1D6B&PID_0104&REV_0100`, `USB\VID_1D6B&PID_0104`.
	HardwareIDs []string `json:"hardware_ids"`
	// CompatibleIDs (SPDRP_COMPATIBLEIDS): `USB\Class_03&SubClass_01&Prot_01`
	// ..., or `USB\DevClass_00&SubClass_00&Prot_00` ... `USB\COMPOSITE`.
	CompatibleIDs []string `json:"compatible_ids"`
	// Mfg, DeviceDesc and FriendlyName come from the INF that installed the
	// driver ("(Standard USB Host Controller)", "USB Composite Device").
	Mfg          string `json:"mfg,omitempty"`
	DeviceDesc   string `json:"device_desc,omitempty"`
	FriendlyName string `json:"friendly_name,omitempty"`
	// BusReported is DEVPKEY_Device_BusReportedDeviceDesc: the device's own
	// iProduct string (iInterface for a function that has one).
	BusReported string `json:"bus_reported_desc,omitempty"`
	// Parent is DEVPKEY_Device_Parent: the composite device of a function,
	// the hub of a device.
	Parent string `json:"parent,omitempty"`
	// Service is the function driver's service: "usbccgp", "HidUsb", "USBSTOR".
	Service string `json:"service,omitempty"`
	// Location is SPDRP_LOCATION_INFORMATION: "Port_#0002.Hub_#0001".
	Location string `json:"location,omitempty"`
	// Capabilities is SPDRP_CAPABILITIES when it could be read;
	// CM_DEVCAP_UNIQUEID (0x10) says the instance id ends in the device's
	// serial number.
	Capabilities *uint32 `json:"capabilities,omitempty"`
}

// cmDevcapUniqueID is CM_DEVCAP_UNIQUEID (cfgmgr32.h).
const cmDevcapUniqueID = 0x10

// hardwareID is a parsed `USB\VID_xxxx&PID_xxxx[&REV_xxxx][&MI_xx]`.
type hardwareID struct {
	VendorID, ProductID uint16
	Rev                 uint16
	HasRev              bool
	MI                  int // interface number, -1 when the id names a device
}

// parseHardwareID parses a USB hardware id or the first element of an
// instance id. Keys are case-insensitive; "VID8086" (root hubs) is read as
// "VID_8086". It reports false when there is no vendor and product.
func parseHardwareID(s string) (hardwareID, bool) {
	h := hardwareID{MI: -1}
	enum, rest, ok := strings.Cut(s, `\`)
	if !ok || !strings.EqualFold(enum, "USB") {
		return h, false
	}
	rest, _, _ = strings.Cut(rest, `\`)
	var hasVID, hasPID bool
	for part := range strings.SplitSeq(rest, "&") {
		key, val := splitKey(part)
		switch key {
		case "VID":
			if v, err := strconv.ParseUint(val, 16, 16); err == nil && len(val) == 4 {
				h.VendorID, hasVID = uint16(v), true
			}
		case "PID":
			if v, err := strconv.ParseUint(val, 16, 16); err == nil && len(val) == 4 {
				h.ProductID, hasPID = uint16(v), true
			}
		case "REV":
			if v, err := strconv.ParseUint(val, 16, 16); err == nil && len(val) == 4 {
				h.Rev, h.HasRev = uint16(v), true
			}
		case "MI":
			if v, err := strconv.ParseUint(val, 16, 8); err == nil && len(val) == 2 {
				h.MI = int(v)
			}
		}
	}
	return h, hasVID && hasPID
}

// splitKey splits "VID_1D6B" or "VID1D6B" into an upper-case key and value.
func splitKey(part string) (string, string) {
	if k, v, ok := strings.Cut(part, "_"); ok {
		return strings.ToUpper(k), v
	}
	for _, k := range []string{"VID", "PID", "REV"} {
		if len(part) > len(k) && strings.EqualFold(part[:len(k)], k) {
			return k, part[len(k):]
		}
	}
	return strings.ToUpper(part), ""
}

// classTriple is a parsed compatible id.
type classTriple struct {
	Class, SubClass, Protocol uint8
	Device                    bool // DevClass_ (a composite parent) rather than Class_
}

// parseCompatibleIDs returns the most specific class triple in ids
// (`USB\Class_03&SubClass_01&Prot_01`, `USB\DevClass_00&SubClass_00&Prot_00`).
func parseCompatibleIDs(ids []string) (classTriple, bool) {
	for _, id := range ids {
		enum, rest, ok := strings.Cut(id, `\`)
		if !ok || !strings.EqualFold(enum, "USB") {
			continue
		}
		var c classTriple
		var n int
		for part := range strings.SplitSeq(rest, "&") {
			key, val := splitKey(part)
			v, err := strconv.ParseUint(val, 16, 8)
			if err != nil || len(val) != 2 {
				n = -10
				continue
			}
			switch key {
			case "CLASS", "DEVCLASS":
				c.Class, c.Device = uint8(v), key == "DEVCLASS"
				n++
			case "SUBCLASS":
				c.SubClass = uint8(v)
				n++
			case "PROT":
				c.Protocol = uint8(v)
				n++
			}
		}
		if n == 3 {
			return c, true
		}
	}
	return classTriple{}, false
}

// instanceSerial returns the serial number in an instance id
// (`USB\VID_1D6B&PID_0104\CAFEBABE` -> "CAFEBABE"). Windows uses the
// device's serial as the last element when the device has a usable one and
// marks that with CM_DEVCAP_UNIQUEID; otherwise the element is generated
// ("5&2a9c3b1&0&2"). Without recorded capabilities, an element containing
// '&' is taken as generated; a device whose serial imitates that form (the
// JetKVM spoof presets) is then missed, which is why the live reader
// records capabilities.
func instanceSerial(instanceID string, caps *uint32) string {
	i := strings.LastIndexByte(instanceID, '\\')
	if i < 0 || strings.Count(instanceID, `\`) != 2 {
		return ""
	}
	last := instanceID[i+1:]
	if caps != nil {
		if *caps&cmDevcapUniqueID != 0 {
			return last
		}
		return ""
	}
	if strings.Contains(last, "&") {
		return ""
	}
	return last
}

// fromSetupAPI turns SetupAPI records into devices: records without MI_ are
// devices; records with MI_ are interfaces of the device named by their
// Parent, or else of the one device with the same vendor and product.
func fromSetupAPI(recs []setupRecord) []Device {
	var devs []Device
	byID := map[string]int{}
	byVIDPID := map[[2]uint16][]int{}
	var funcs []int
	for ri, r := range recs {
		h, ok := firstHardwareID(r)
		if ok && h.MI >= 0 {
			funcs = append(funcs, ri)
			continue
		}
		d := Device{Path: r.InstanceID}
		d.Path = clean(&d, d.Path)
		d.VendorID, d.ProductID, d.BCDDevice = h.VendorID, h.ProductID, h.Rev
		d.Product = clean(&d, r.BusReported)
		d.Serial = clean(&d, instanceSerial(r.InstanceID, r.Capabilities))
		d.Raw = setupRaw(&d, r)
		if c, ok := parseCompatibleIDs(r.CompatibleIDs); ok {
			if c.Device || c.Class == 0x09 {
				d.Class, d.SubClass, d.Protocol = c.Class, c.SubClass, c.Protocol
			}
			if !c.Device {
				// A single-function device: Windows takes the class from its
				// only interface (or from the device when that is not 0).
				d.Interfaces = []Interface{{Class: c.Class, SubClass: c.SubClass, Protocol: c.Protocol, Driver: clean(&d, r.Service)}}
			}
		}
		byID[strings.ToUpper(r.InstanceID)] = len(devs)
		if ok {
			k := [2]uint16{h.VendorID, h.ProductID}
			byVIDPID[k] = append(byVIDPID[k], len(devs))
		}
		devs = append(devs, d)
	}
	for _, ri := range funcs {
		r := recs[ri]
		h, _ := firstHardwareID(r)
		di, ok := byID[strings.ToUpper(r.Parent)]
		if !ok {
			if c := byVIDPID[[2]uint16{h.VendorID, h.ProductID}]; len(c) == 1 {
				di, ok = c[0], true
			}
		}
		if !ok {
			// A function whose parent is not listed: keep it as a device of
			// its own so that nothing read is lost.
			d := Device{VendorID: h.VendorID, ProductID: h.ProductID, BCDDevice: h.Rev}
			d.Path = clean(&d, r.InstanceID)
			d.Raw = setupRaw(&d, r)
			devs = append(devs, d)
			di = len(devs) - 1
		}
		d := &devs[di]
		i := Interface{Number: uint8(h.MI), Name: clean(d, r.BusReported), Driver: clean(d, r.Service)}
		if c, ok := parseCompatibleIDs(r.CompatibleIDs); ok {
			i.Class, i.SubClass, i.Protocol = c.Class, c.SubClass, c.Protocol
		}
		if d.BCDDevice == 0 && h.HasRev {
			d.BCDDevice = h.Rev
		}
		d.Interfaces = append(d.Interfaces, i)
	}
	sortDevices(devs)
	return devs
}

// firstHardwareID parses the most specific hardware id, falling back to
// the instance id's first element.
func firstHardwareID(r setupRecord) (hardwareID, bool) {
	for _, id := range r.HardwareIDs {
		if h, ok := parseHardwareID(id); ok {
			return h, true
		}
	}
	return parseHardwareID(r.InstanceID)
}

func setupRaw(d *Device, r setupRecord) map[string]string {
	raw := map[string]string{}
	for _, kv := range [...][2]string{
		{"mfg", r.Mfg}, {"device_desc", r.DeviceDesc}, {"friendly_name", r.FriendlyName},
		{"service", r.Service}, {"location", r.Location},
	} {
		if kv[1] != "" {
			raw[kv[0]] = clean(d, kv[1])
		}
	}
	if len(raw) == 0 {
		return nil
	}
	return raw
}
