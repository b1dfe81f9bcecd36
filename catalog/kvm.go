package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// Hardware is what the catalog knows about KVM-over-IP, HID-injection and capture hardware
// as the controlled laptop sees it: USB identities, the EDID the KVM presents as "the
// monitor", virtual-media SCSI inquiry strings, HID report descriptors, mouse jigglers, and
// the benign look-alikes that must not be reported. Every list is sorted by id (gadget
// vendors by vendor id, fixed serials by serial). Identities are leads with a confidence,
// not proof: every value can be rewritten by a determined operator, so detectors combine
// them with structural checks (keyboard + absolute mouse + mass storage in one composite
// device) and behaviour.
type Hardware struct {
	// USB are KVM, injector, capture, enterprise KVM and BMC identities, the identity-spoofing
	// presets of KVMs included (Spoof).
	USB []USBIdentity `json:"usb"`
	// Displays are EDIDs KVMs and capture dongles present, and real monitors' EDIDs KVMs offer
	// as presets (with their fixed serial strings).
	Displays []DisplayIdentity `json:"displays"`
	// Inquiry are the SCSI inquiry strings of KVM virtual media (USB mass storage).
	Inquiry []InquiryIdentity `json:"inquiry"`
	// HIDDescriptors are known HID report descriptors, by hash.
	HIDDescriptors []HIDDescriptor `json:"hid_descriptors"`
	// Jigglers are mouse jigglers and HID emulators with a USB identity.
	Jigglers []USBIdentity `json:"jigglers"`
	// Allow are benign look-alikes (hypervisor HID, docks, receivers, security keys, Apple
	// keyboards): a device matching one is not reported on its identity alone. Each entry's
	// note says what must still be reported despite it (spoofs of that identity).
	Allow []USBIdentity `json:"allow"`
	// GadgetVendors are the vendor ids (and product ids) of Linux USB gadget defaults: any
	// DIY Raspberry Pi or SBC injector that kept them.
	GadgetVendors []GadgetVendor `json:"gadget_vendors"`
	// FixedSerials are well-known fixed USB and EDID serial strings: the same value on many
	// laptops is a fleet-level signal on its own.
	FixedSerials []FixedSerial `json:"fixed_serials"`
}

// USBIdentity is one USB device identity: the vendor id, optionally the product id and the
// strings the device reports. Every field that is set must match; an empty one is not part of
// the identity.
type USBIdentity struct {
	ID     string `json:"id"`
	Device string `json:"device"` // product family: "PiKVM", "JetKVM"...
	// VendorID and ProductID are 4 lowercase hex digits; an empty ProductID matches any
	// product of the vendor.
	VendorID  string `json:"vendor_id"`
	ProductID string `json:"product_id,omitempty"`
	// Manufacturer, Product, Serial and Configuration are the exact strings the device
	// reports (iManufacturer, iProduct, iSerialNumber, the configuration's iConfiguration),
	// never usb.ids names (those go in Note). Serial is a Go regexp when SerialPattern is set.
	Manufacturer  string `json:"manufacturer,omitempty"`
	Product       string `json:"product,omitempty"`
	Serial        string `json:"serial,omitempty"`
	SerialPattern bool   `json:"serial_pattern,omitempty"`
	Configuration string `json:"configuration,omitempty"`
	// Spoof marks an identity-spoofing preset: a KVM posing as a real keyboard or receiver.
	Spoof bool   `json:"spoof,omitempty"`
	Kind  string `json:"kind"` // one of USBKinds, AllowKinds or "jiggler", by list
	// Confidence is how sure a match makes us, in (0, 1]: high for exact strings read in the
	// device's source, low for usb.ids names, shared ids and unverified values.
	Confidence float64 `json:"confidence"`
	// Attack is the ATT&CK technique: T1219.003 (remote access hardware) for KVMs, capture and
	// BMC devices, T1200 (hardware additions) for injectors, gadgets and jigglers. Empty in
	// the allowlist.
	Attack  string   `json:"attack,omitempty"`
	Note    string   `json:"note,omitempty"`
	Sources []string `json:"sources,omitempty"`
}

// DisplayIdentity is an EDID a KVM or capture device presents as the laptop's monitor. Every
// field that is set must match.
type DisplayIdentity struct {
	ID           string `json:"id"`
	Device       string `json:"device"`
	Manufacturer string `json:"manufacturer"`            // PNP id, 3 capital letters (LNX, TSB, HJW)
	ProductCode  string `json:"product_code,omitempty"`  // 4 lowercase hex digits; empty = any
	Serial32     string `json:"serial32,omitempty"`      // the 32-bit serial, 8 lowercase hex; empty = any
	Name         string `json:"name,omitempty"`          // monitor name descriptor (0xFC)
	SerialString string `json:"serial_string,omitempty"` // serial descriptor (0xFF)
	// Preset marks a real monitor's EDID a KVM offers as a preset: it matches the real monitor
	// too, so the fixed SerialString across many laptops is the signal.
	Preset     bool     `json:"preset,omitempty"`
	Kind       string   `json:"kind"` // one of DisplayKinds
	Confidence float64  `json:"confidence"`
	Attack     string   `json:"attack,omitempty"`
	Note       string   `json:"note,omitempty"`
	Sources    []string `json:"sources,omitempty"`
}

// InquiryIdentity is the SCSI inquiry of a KVM's virtual media (vendor 8, product 16,
// revision 4 characters), compared with surrounding spaces trimmed. An empty Revision matches
// any.
type InquiryIdentity struct {
	ID         string   `json:"id"`
	Device     string   `json:"device"`
	Vendor     string   `json:"vendor"`
	Model      string   `json:"model"`
	Revision   string   `json:"revision,omitempty"`
	Confidence float64  `json:"confidence"`
	Note       string   `json:"note,omitempty"`
	Sources    []string `json:"sources,omitempty"`
}

// HIDDescriptor is a known HID report descriptor. Hash is the first 16 lowercase hex digits
// of the SHA-256 of the descriptor bytes, Length their count.
type HIDDescriptor struct {
	ID     string `json:"id"`
	Device string `json:"device"`
	Kind   string `json:"kind"` // one of HIDKinds
	Hash   string `json:"hash"`
	Length int    `json:"length"`
	// Specificity is "high" for descriptors only the device uses, "low" for ones shared with
	// DIY projects (the kernel's sample keyboard, NicoHood's BootMouse).
	Specificity string   `json:"specificity"`
	Note        string   `json:"note,omitempty"`
	Sources     []string `json:"sources,omitempty"`
}

// GadgetVendor is a USB vendor id used by Linux USB gadget defaults.
type GadgetVendor struct {
	VendorID string `json:"vendor_id"`
	Name     string `json:"name"`
	// ProductIDs are the vendor's gadget product ids; empty means every product. 1d6b lists
	// them because its root-hub ids (0001-0003) are on every Linux host.
	ProductIDs []string `json:"product_ids,omitempty"`
	Note       string   `json:"note,omitempty"`
}

// FixedSerial is a serial string many units of a device share.
type FixedSerial struct {
	Serial  string   `json:"serial"`
	Devices []string `json:"devices"`
	Where   string   `json:"where"` // one of SerialPlaces
	Note    string   `json:"note,omitempty"`
}

// USBKinds are the kinds of Hardware.USB entries.
var USBKinds = []string{"kvm", "injector", "capture", "enterprise_kvm", "bmc", "gadget"}

// JigglerKind is the kind of every Hardware.Jigglers entry.
const JigglerKind = "jiggler"

// AllowKinds are the kinds of Hardware.Allow entries.
var AllowKinds = []string{"hypervisor", "dock", "receiver", "security_key", "keyboard", "audio", "camera"}

// DisplayKinds are the kinds of Hardware.Displays entries; "preset" goes with Preset.
var DisplayKinds = []string{"kvm", "capture", "preset"}

// HIDKinds are the kinds of Hardware.HIDDescriptors entries.
var HIDKinds = []string{"keyboard", "absolute_mouse", "relative_mouse"}

// Specificities are the values HIDDescriptor.Specificity can take.
var Specificities = []string{"high", "low"}

// SerialPlaces are the values FixedSerial.Where can take.
var SerialPlaces = []string{"usb", "edid", "usb+edid"}

// ParseHex16 parses a USB vendor or product id, or an EDID product code: 1 to 4 hex digits
// of either case, with or without a 0x prefix ("046d", "0x046D", "C52B").
func ParseHex16(s string) (uint16, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if h == "" || len(h) > 4 {
		return 0, fmt.Errorf("%q is not 1-4 hex digits", s)
	}
	v, err := strconv.ParseUint(h, 16, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not 1-4 hex digits", s)
	}
	return uint16(v), nil
}
