package builder

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/farmwatch/farmwatch/catalog"
)

// HardwareDir holds the hardware identity sources: one JSON file per device family, each a
// partial catalog.Hardware object.
const HardwareDir = "overrides/hardware"

// readHardware reads every overrides/hardware/*.json, validates each file on its own (errors
// name the file, the list, the entry and the field), concatenates the lists and sorts them
// by id. An id, gadget vendor or fixed serial defined in two files is an error naming both.
// No hardware directory gives an empty section.
func readHardware(fsys fs.FS) (*catalog.Hardware, error) {
	names, err := fs.Glob(fsys, HardwareDir+"/*.json")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var all catalog.Hardware
	owner := map[string]string{} // id, "vendor:" + vendor id or "serial:" + serial → file
	take := func(file, key, at string) error {
		if prev, ok := owner[key]; ok {
			return fmt.Errorf("%s: %s: duplicate of an entry in %s", file, at, prev)
		}
		owner[key] = file
		return nil
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		var h catalog.Hardware
		if err := catalog.DecodeStrict(b, &h); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := h.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ids := func(list string, n int, id func(int) string) error {
			for i := range n {
				if err := take(name, id(i), fmt.Sprintf("%s[%d] (%s): id", list, i, id(i))); err != nil {
					return err
				}
			}
			return nil
		}
		for _, err := range []error{
			ids("usb", len(h.USB), func(i int) string { return h.USB[i].ID }),
			ids("jigglers", len(h.Jigglers), func(i int) string { return h.Jigglers[i].ID }),
			ids("allow", len(h.Allow), func(i int) string { return h.Allow[i].ID }),
			ids("displays", len(h.Displays), func(i int) string { return h.Displays[i].ID }),
			ids("inquiry", len(h.Inquiry), func(i int) string { return h.Inquiry[i].ID }),
			ids("hid_descriptors", len(h.HIDDescriptors), func(i int) string { return h.HIDDescriptors[i].ID }),
		} {
			if err != nil {
				return nil, err
			}
		}
		for i, g := range h.GadgetVendors {
			if err := take(name, "vendor:"+g.VendorID, fmt.Sprintf("gadget_vendors[%d] (%s): vendor_id", i, g.VendorID)); err != nil {
				return nil, err
			}
		}
		for i, s := range h.FixedSerials {
			if err := take(name, "serial:"+s.Serial, fmt.Sprintf("fixed_serials[%d] (%s): serial", i, s.Serial)); err != nil {
				return nil, err
			}
		}
		all.USB = append(all.USB, h.USB...)
		all.Jigglers = append(all.Jigglers, h.Jigglers...)
		all.Allow = append(all.Allow, h.Allow...)
		all.Displays = append(all.Displays, h.Displays...)
		all.Inquiry = append(all.Inquiry, h.Inquiry...)
		all.HIDDescriptors = append(all.HIDDescriptors, h.HIDDescriptors...)
		all.GadgetVendors = append(all.GadgetVendors, h.GadgetVendors...)
		all.FixedSerials = append(all.FixedSerials, h.FixedSerials...)
	}
	byID := func(a, b catalog.USBIdentity) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(all.USB, byID)
	slices.SortFunc(all.Jigglers, byID)
	slices.SortFunc(all.Allow, byID)
	slices.SortFunc(all.Displays, func(a, b catalog.DisplayIdentity) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(all.Inquiry, func(a, b catalog.InquiryIdentity) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(all.HIDDescriptors, func(a, b catalog.HIDDescriptor) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(all.GadgetVendors, func(a, b catalog.GadgetVendor) int { return strings.Compare(a.VendorID, b.VendorID) })
	slices.SortFunc(all.FixedSerials, func(a, b catalog.FixedSerial) int { return strings.Compare(a.Serial, b.Serial) })
	// The merged section must hold together too (a descriptor hash in two files).
	if err := all.Validate(); err != nil {
		return nil, fmt.Errorf("%s (merged): %w", HardwareDir, err)
	}
	return &all, nil
}
