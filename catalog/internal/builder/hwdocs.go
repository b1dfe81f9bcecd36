package builder

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/farmwatch/farmwatch/catalog"
)

// hwDocs is the hardware part of docs/catalog.md: counts and table rows.
type hwDocs struct {
	USB, Displays, Inquiry, HID, Jigglers, Allow, Gadget, Serials []string
	NUSB, NSpoof, NDisplays, NInquiry, NHID, NJigglers, NAllow    int
	NGadget, NSerials                                             int
	USBKinds, AllowKinds, DisplayKinds, HIDKinds, Places          string
}

func renderHardware(h *catalog.Hardware) hwDocs {
	d := hwDocs{
		NUSB: len(h.USB), NDisplays: len(h.Displays), NInquiry: len(h.Inquiry), NHID: len(h.HIDDescriptors),
		NJigglers: len(h.Jigglers), NAllow: len(h.Allow), NGadget: len(h.GadgetVendors), NSerials: len(h.FixedSerials),
		USBKinds:     strings.Join(catalog.USBKinds, ", "),
		AllowKinds:   strings.Join(catalog.AllowKinds, ", "),
		DisplayKinds: strings.Join(catalog.DisplayKinds, ", "),
		HIDKinds:     strings.Join(catalog.HIDKinds, ", "),
		Places:       strings.Join(catalog.SerialPlaces, ", "),
	}
	usbRow := func(u *catalog.USBIdentity) string {
		serial := code(u.Serial)
		if u.SerialPattern {
			serial = "regexp " + serial
		}
		return row(u.Device+" (`"+u.ID+"`)", vidpid(u.VendorID, u.ProductID), code(u.Manufacturer), code(u.Product), serial,
			code(u.Configuration), yes(u.Spoof), u.Kind, conf(u.Confidence))
	}
	for i := range h.USB {
		if h.USB[i].Spoof {
			d.NSpoof++
		}
		d.USB = append(d.USB, usbRow(&h.USB[i]))
	}
	for i := range h.Jigglers {
		d.Jigglers = append(d.Jigglers, usbRow(&h.Jigglers[i]))
	}
	for i := range h.Allow {
		a := &h.Allow[i]
		d.Allow = append(d.Allow, row(a.Device+" (`"+a.ID+"`)", vidpid(a.VendorID, a.ProductID), a.Kind, a.Note))
	}
	for _, v := range h.Displays {
		d.Displays = append(d.Displays, row(v.Device+" (`"+v.ID+"`)", code(v.Manufacturer), hexOrAny(v.ProductCode), hexOrAny(v.Serial32),
			code(v.Name), code(v.SerialString), yes(v.Preset), v.Kind, conf(v.Confidence)))
	}
	for _, q := range h.Inquiry {
		d.Inquiry = append(d.Inquiry, row(q.Device+" (`"+q.ID+"`)", code(q.Vendor), code(q.Model), code(q.Revision), conf(q.Confidence)))
	}
	for _, x := range h.HIDDescriptors {
		d.HID = append(d.HID, row(x.Device+" (`"+x.ID+"`)", x.Kind, strconv.Itoa(x.Length), code(x.Hash), x.Specificity))
	}
	for _, g := range h.GadgetVendors {
		pids := "any"
		if len(g.ProductIDs) > 0 {
			pids = strings.Join(g.ProductIDs, " ")
		}
		d.Gadget = append(d.Gadget, row(code(g.VendorID), g.Name, pids, g.Note))
	}
	for _, s := range h.FixedSerials {
		d.Serials = append(d.Serials, row(code(s.Serial), s.Where, strings.Join(s.Devices, "; "), s.Note))
	}
	return d
}

// row renders a Markdown table row, escaping the cell separators.
func row(cells ...string) string {
	for i, c := range cells {
		c = strings.ReplaceAll(c, "|", `\|`)
		if c == "" {
			c = "·"
		}
		cells[i] = c
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func vidpid(v, p string) string {
	if p == "" {
		p = "*"
	}
	return "`" + v + ":" + p + "`"
}

func hexOrAny(s string) string {
	if s == "" {
		return "any"
	}
	return "`" + s + "`"
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func conf(c float64) string { return fmt.Sprintf("%.2f", c) }
