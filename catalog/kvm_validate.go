package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	hex4RE  = regexp.MustCompile(`^[0-9a-f]{4}$`)
	hex8RE  = regexp.MustCompile(`^[0-9a-f]{8}$`)
	hex16RE = regexp.MustCompile(`^[0-9a-f]{16}$`)
	pnpRE   = regexp.MustCompile(`^[A-Z]{3}$`)
	hwIDRE  = toolIDRE
)

const maxHIDLen = 4096 // the kernel's HID_MAX_DESCRIPTOR_SIZE

// Validate checks the hardware section. Errors name the list, the entry and the field
// (usb[3] (pikvm): vendor_id: ...); Catalog.Validate prefixes "hardware.". Ids are unique
// across all identity lists.
func (h *Hardware) Validate() error {
	ids := map[string]string{} // id → where it was first seen
	claim := func(at, id string) error {
		if prev, ok := ids[id]; ok {
			return fmt.Errorf("%s: id: duplicate %q (also %s)", at, id, prev)
		}
		ids[id] = at
		return nil
	}
	for _, l := range []struct {
		name  string
		list  []USBIdentity
		kinds []string
	}{{"usb", h.USB, USBKinds}, {"jigglers", h.Jigglers, []string{JigglerKind}}, {"allow", h.Allow, AllowKinds}} {
		for i := range l.list {
			u := &l.list[i]
			at := fmt.Sprintf("%s[%d] (%s)", l.name, i, u.ID)
			if err := u.validate(l.name, l.kinds); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
			if err := claim(at, u.ID); err != nil {
				return err
			}
		}
	}
	for i := range h.Displays {
		d := &h.Displays[i]
		at := fmt.Sprintf("displays[%d] (%s)", i, d.ID)
		if err := d.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if err := claim(at, d.ID); err != nil {
			return err
		}
	}
	for i := range h.Inquiry {
		q := &h.Inquiry[i]
		at := fmt.Sprintf("inquiry[%d] (%s)", i, q.ID)
		if err := q.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if err := claim(at, q.ID); err != nil {
			return err
		}
	}
	hashes := map[string]string{}
	for i := range h.HIDDescriptors {
		d := &h.HIDDescriptors[i]
		at := fmt.Sprintf("hid_descriptors[%d] (%s)", i, d.ID)
		if err := d.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if err := claim(at, d.ID); err != nil {
			return err
		}
		if prev, ok := hashes[d.Hash]; ok {
			return fmt.Errorf("%s: hash: duplicate %q (also %s); one descriptor, one entry", at, d.Hash, prev)
		}
		hashes[d.Hash] = at
	}
	vendors := map[string]bool{}
	for i := range h.GadgetVendors {
		g := &h.GadgetVendors[i]
		at := fmt.Sprintf("gadget_vendors[%d] (%s)", i, g.VendorID)
		if err := g.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if vendors[g.VendorID] {
			return fmt.Errorf("%s: vendor_id: duplicate %q", at, g.VendorID)
		}
		vendors[g.VendorID] = true
	}
	serials := map[string]bool{}
	for i := range h.FixedSerials {
		s := &h.FixedSerials[i]
		at := fmt.Sprintf("fixed_serials[%d] (%s)", i, s.Serial)
		if err := s.validate(); err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		if serials[s.Serial] {
			return fmt.Errorf("%s: serial: duplicate %q", at, s.Serial)
		}
		serials[s.Serial] = true
	}
	return nil
}

func (u *USBIdentity) validate(list string, kinds []string) error {
	switch {
	case !hwIDRE.MatchString(u.ID):
		return fmt.Errorf("id: %q is not lowercase [a-z0-9_], 1-64 characters", u.ID)
	case strings.TrimSpace(u.Device) == "":
		return fmt.Errorf("device: missing")
	case !hex4RE.MatchString(u.VendorID):
		return fmt.Errorf("vendor_id: %q is not 4 lowercase hex digits", u.VendorID)
	case u.ProductID != "" && !hex4RE.MatchString(u.ProductID):
		return fmt.Errorf("product_id: %q is not 4 lowercase hex digits", u.ProductID)
	case !slices.Contains(kinds, u.Kind):
		return fmt.Errorf("kind: %q is not one of %s (in %s)", u.Kind, strings.Join(kinds, ", "), list)
	case u.SerialPattern && u.Serial == "":
		return fmt.Errorf("serial_pattern: set without a serial")
	case u.Spoof && list != "usb":
		return fmt.Errorf("spoof: only usb entries are spoofing presets")
	}
	for _, f := range []struct{ name, v string }{
		{"manufacturer", u.Manufacturer}, {"product", u.Product}, {"serial", u.Serial}, {"configuration", u.Configuration},
	} {
		if f.v != "" && strings.TrimSpace(f.v) == "" {
			return fmt.Errorf("%s: blank", f.name)
		}
	}
	if u.SerialPattern {
		if _, err := regexp.Compile(u.Serial); err != nil {
			return fmt.Errorf("serial: %w", err)
		}
	}
	if err := validConfidence(u.Confidence); err != nil {
		return err
	}
	if list == "allow" {
		if u.Attack != "" {
			return fmt.Errorf("attack: allowlist entries have none")
		}
	} else if !attackRE.MatchString(u.Attack) {
		return fmt.Errorf("attack: %q is not an ATT&CK technique id (T1219.003, T1200)", u.Attack)
	}
	return sources(u.Sources)
}

func (d *DisplayIdentity) validate() error {
	switch {
	case !hwIDRE.MatchString(d.ID):
		return fmt.Errorf("id: %q is not lowercase [a-z0-9_], 1-64 characters", d.ID)
	case strings.TrimSpace(d.Device) == "":
		return fmt.Errorf("device: missing")
	case !pnpRE.MatchString(d.Manufacturer):
		return fmt.Errorf("manufacturer: %q is not a PNP id (3 capital letters)", d.Manufacturer)
	case d.ProductCode != "" && !hex4RE.MatchString(d.ProductCode):
		return fmt.Errorf("product_code: %q is not 4 lowercase hex digits", d.ProductCode)
	case d.Serial32 != "" && !hex8RE.MatchString(d.Serial32):
		return fmt.Errorf("serial32: %q is not 8 lowercase hex digits", d.Serial32)
	case d.ProductCode == "" && d.Name == "" && d.SerialString == "":
		return fmt.Errorf("product_code: a manufacturer alone is no identity; set product_code, name or serial_string")
	case len(d.Name) > 13 || d.Name != strings.TrimSpace(d.Name):
		return fmt.Errorf("name: %q is not an EDID descriptor string (at most 13 characters, trimmed)", d.Name)
	case len(d.SerialString) > 13 || d.SerialString != strings.TrimSpace(d.SerialString):
		return fmt.Errorf("serial_string: %q is not an EDID descriptor string (at most 13 characters, trimmed)", d.SerialString)
	case !slices.Contains(DisplayKinds, d.Kind):
		return fmt.Errorf("kind: %q is not one of %s", d.Kind, strings.Join(DisplayKinds, ", "))
	case d.Preset != (d.Kind == "preset"):
		return fmt.Errorf("preset: %v with kind %q; preset entries have kind \"preset\" and only they", d.Preset, d.Kind)
	case d.Attack != "" && !attackRE.MatchString(d.Attack):
		return fmt.Errorf("attack: %q is not an ATT&CK technique id", d.Attack)
	}
	if err := validConfidence(d.Confidence); err != nil {
		return err
	}
	return sources(d.Sources)
}

func (q *InquiryIdentity) validate() error {
	for _, f := range []struct {
		name, v string
		max     int
		need    bool
	}{{"vendor", q.Vendor, 8, true}, {"model", q.Model, 16, true}, {"revision", q.Revision, 4, false}} {
		switch {
		case f.need && f.v == "":
			return fmt.Errorf("%s: missing", f.name)
		case len(f.v) > f.max || f.v != strings.TrimSpace(f.v):
			return fmt.Errorf("%s: %q is not a trimmed inquiry field of at most %d characters", f.name, f.v, f.max)
		}
	}
	switch {
	case !hwIDRE.MatchString(q.ID):
		return fmt.Errorf("id: %q is not lowercase [a-z0-9_], 1-64 characters", q.ID)
	case strings.TrimSpace(q.Device) == "":
		return fmt.Errorf("device: missing")
	}
	if err := validConfidence(q.Confidence); err != nil {
		return err
	}
	return sources(q.Sources)
}

func (d *HIDDescriptor) validate() error {
	switch {
	case !hwIDRE.MatchString(d.ID):
		return fmt.Errorf("id: %q is not lowercase [a-z0-9_], 1-64 characters", d.ID)
	case strings.TrimSpace(d.Device) == "":
		return fmt.Errorf("device: missing")
	case !slices.Contains(HIDKinds, d.Kind):
		return fmt.Errorf("kind: %q is not one of %s", d.Kind, strings.Join(HIDKinds, ", "))
	case !hex16RE.MatchString(d.Hash):
		return fmt.Errorf("hash: %q is not 16 lowercase hex digits (the start of a SHA-256)", d.Hash)
	case d.Length < 1 || d.Length > maxHIDLen:
		return fmt.Errorf("length: %d out of range 1..%d", d.Length, maxHIDLen)
	case !slices.Contains(Specificities, d.Specificity):
		return fmt.Errorf("specificity: %q is not one of %s", d.Specificity, strings.Join(Specificities, ", "))
	}
	return sources(d.Sources)
}

func (g *GadgetVendor) validate() error {
	switch {
	case !hex4RE.MatchString(g.VendorID):
		return fmt.Errorf("vendor_id: %q is not 4 lowercase hex digits", g.VendorID)
	case strings.TrimSpace(g.Name) == "":
		return fmt.Errorf("name: missing")
	}
	for i, p := range g.ProductIDs {
		if !hex4RE.MatchString(p) {
			return fmt.Errorf("product_ids[%d]: %q is not 4 lowercase hex digits", i, p)
		}
	}
	return nil
}

func (s *FixedSerial) validate() error {
	switch {
	case s.Serial == "" || s.Serial != strings.TrimSpace(s.Serial):
		return fmt.Errorf("serial: %q is empty or not trimmed", s.Serial)
	case len(s.Devices) == 0:
		return fmt.Errorf("devices: none")
	case !slices.Contains(SerialPlaces, s.Where):
		return fmt.Errorf("where: %q is not one of %s", s.Where, strings.Join(SerialPlaces, ", "))
	}
	return nonEmpty("devices", s.Devices)
}

func validConfidence(c float64) error {
	if !(c > 0 && c <= 1) {
		return fmt.Errorf("confidence: %v is not in (0, 1]", c)
	}
	return nil
}

// sources requires at least one source and no blank ones.
func sources(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("sources: none (say where the identity comes from)")
	}
	return nonEmpty("sources", list)
}
