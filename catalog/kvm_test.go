package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func defaultHardware(t *testing.T) *Hardware {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return &c.Hardware
}

func TestDefaultHardwareIdentities(t *testing.T) {
	h := defaultHardware(t)
	kvm := 0
	for _, u := range h.USB {
		if u.Kind == "kvm" || u.Kind == "capture" {
			kvm++
		}
	}
	if kvm < 10 {
		t.Errorf("%d KVM/capture USB identities, want at least 10", kvm)
	}
	hasUSB := func(list []USBIdentity, f func(USBIdentity) bool) bool { return slices.ContainsFunc(list, f) }
	if !hasUSB(h.USB, func(u USBIdentity) bool {
		return u.VendorID == "1d6b" && u.ProductID == "0104" && u.Manufacturer == "PiKVM" &&
			u.Product == "PiKVM Composite Device" && u.Serial == "CAFEBABE" && !u.SerialPattern &&
			u.Kind == "kvm" && u.Attack == "T1219.003" && u.Confidence >= 0.9 && len(u.Sources) > 0
	}) {
		t.Error("no PiKVM 1d6b:0104 \"PiKVM Composite Device\" CAFEBABE identity")
	}
	if !hasUSB(h.USB, func(u USBIdentity) bool {
		return u.VendorID == "046d" && u.ProductID == "c52b" && u.Manufacturer == "Logitech (x64)" && u.Spoof && u.Device == "JetKVM"
	}) {
		t.Error("no JetKVM Logitech spoof preset 046d:c52b \"Logitech (x64)\"")
	}
	for _, want := range []struct{ vid, pid, product string }{
		{"1d6b", "0104", "Multifunction USB Device"}, // TinyPilot
		{"1d6b", "0106", "Multifunction USB Device"}, // BliKVM
		{"3346", "1009", "NanoKVM"},
		{"38eb", "", "Glinet Composite Device"},
		{"1a86", "e129", "WCH UART TO KB-MS_V1.7"},
		{"1209", "eda2", "PiKVM HID"},
	} {
		if !hasUSB(h.USB, func(u USBIdentity) bool {
			return u.VendorID == want.vid && u.ProductID == want.pid && u.Product == want.product
		}) {
			t.Errorf("no USB identity %s:%s %q", want.vid, want.pid, want.product)
		}
	}

	hasDisplay := func(f func(DisplayIdentity) bool) bool { return slices.ContainsFunc(h.Displays, f) }
	if !hasDisplay(func(d DisplayIdentity) bool {
		return d.Manufacturer == "LNX" && d.ProductCode == "7773" && d.Name == "PiKVM V4 Plus" && d.SerialString == "CAFEBABE" && d.Serial32 == "01010101"
	}) {
		t.Error("no PiKVM V4 Plus EDID LNX/7773")
	}
	if !hasDisplay(func(d DisplayIdentity) bool {
		return d.Manufacturer == "HJW" && d.Name == "HDMI TO USB" && d.Kind == "capture"
	}) {
		t.Error("no HJW \"HDMI TO USB\" capture EDID")
	}
	if !hasDisplay(func(d DisplayIdentity) bool { return d.SerialString == "T8NEE0038522" && d.Preset }) {
		t.Error("no JetKVM Acer preset EDID")
	}
	if !slices.ContainsFunc(h.Inquiry, func(q InquiryIdentity) bool {
		return q.Vendor == "PiKVM" && q.Model == "Optical Drive" && q.Revision == "1.00"
	}) {
		t.Error("no PiKVM Optical Drive inquiry")
	}
	if !slices.ContainsFunc(h.Allow, func(a USBIdentity) bool {
		return a.VendorID == "046d" && a.ProductID == "c52b" && strings.Contains(a.Note, "Logitech (x64)")
	}) {
		t.Error("the Unifying allow entry must say it does not cover the JetKVM spoof")
	}
	if !slices.ContainsFunc(h.GadgetVendors, func(g GadgetVendor) bool {
		return g.VendorID == "1d6b" && slices.Contains(g.ProductIDs, "0104") && !slices.Contains(g.ProductIDs, "0002")
	}) {
		t.Error("1d6b gadget vendor must list 0104 and leave out the root hubs")
	}
	for _, s := range []string{"CAFEBABE", "6b65796d696d6570690", "0123456789ABCDEF", "T8NEE0038522"} {
		if !slices.ContainsFunc(h.FixedSerials, func(f FixedSerial) bool { return f.Serial == s }) {
			t.Errorf("fixed serial %s missing", s)
		}
	}
	for name, n := range map[string]int{
		"usb": len(h.USB), "displays": len(h.Displays), "inquiry": len(h.Inquiry), "hid_descriptors": len(h.HIDDescriptors),
		"jigglers": len(h.Jigglers), "allow": len(h.Allow), "gadget_vendors": len(h.GadgetVendors), "fixed_serials": len(h.FixedSerials),
	} {
		if n == 0 {
			t.Errorf("%s: empty", name)
		}
	}
	byID := func(a, b USBIdentity) int { return strings.Compare(a.ID, b.ID) }
	if !slices.IsSortedFunc(h.USB, byID) || !slices.IsSortedFunc(h.Allow, byID) || !slices.IsSortedFunc(h.Jigglers, byID) {
		t.Error("usb, allow or jigglers not sorted by id")
	}
	// An allowlisted identity never hides a KVM identity with the same strings.
	for _, u := range h.USB {
		if u.Spoof && u.Manufacturer == "" && !u.SerialPattern {
			t.Errorf("%s: a spoof preset needs a distinguishing string", u.ID)
		}
	}
}

// researchDescriptors are the report descriptors of research/hardware.md §1.3, byte for byte,
// with the table's length and first 16 hex digits of SHA-256.
var researchDescriptors = []struct {
	id, hash string
	length   int
	bytes    string
}{
	{"pikvm_keyboard", "5333cc3a23db1dd7", 65, "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 C0"},
	{"pikvm_mouse_absolute_hwheel", "3a71a5a23705ee80", 73, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0"},
	{"pikvm_mouse_absolute", "d9b93f5aa0cb2ab2", 58, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0"},
	{"pikvm_mouse_relative_hwheel", "92155ddf022d4091", 61, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0"},
	{"pikvm_mouse_relative", "55c045b2daf5c91f", 46, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0"},
	{"tinypilot_keyboard", "3ff35a2908d55c14", 60, "05 01 09 06 A1 01 05 08 19 01 29 03 15 00 25 01 75 01 95 03 91 02 09 4B 95 01 91 02 95 04 91 01 05 07 19 E0 29 E7 95 08 81 02 75 08 95 01 81 01 19 00 29 91 26 FF 00 95 06 81 00 C0"},
	{"tinypilot_mouse_absolute", "0eab8b0c15825160", 68, "05 01 09 02 A1 01 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0"},
	{"jetkvm_keyboard", "81c9b5a7d7ecf4b9", 63, "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0"},
	{"jetkvm_mouse_absolute", "5e10a7f6cc69f217", 78, "05 01 09 02 A1 01 85 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 75 01 95 03 81 02 95 01 75 05 81 03 05 01 09 30 09 31 16 00 00 26 FF 7F 36 00 00 46 FF 7F 75 10 95 02 81 02 C0 85 02 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0"},
	{"nanokvm_keyboard", "bba88cf2c2245cf8", 63, "05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 E7 05 07 19 00 29 E7 81 00 C0"},
	{"nanokvm_mouse_relative", "8aab9edd8276e0aa", 52, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 03 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0"},
	{"nanokvm_touchpad_absolute", "406e9a7433451eed", 74, "05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 05 15 00 25 01 95 05 75 01 81 02 95 01 75 03 81 01 05 01 09 30 09 31 15 00 26 FF 7F 35 00 46 FF 7F 75 10 95 02 81 02 05 01 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0 C0"},
}

func TestHIDDescriptorHashesMatchTheBytes(t *testing.T) {
	h := defaultHardware(t)
	if len(h.HIDDescriptors) != len(researchDescriptors) {
		t.Errorf("%d descriptors in the catalog, %d in the research", len(h.HIDDescriptors), len(researchDescriptors))
	}
	for _, r := range researchDescriptors {
		b, err := hex.DecodeString(strings.ReplaceAll(r.bytes, " ", ""))
		if err != nil {
			t.Fatalf("%s: %v", r.id, err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])[:16]
		if got != r.hash || len(b) != r.length {
			t.Errorf("%s: the research bytes hash to %s (%d bytes); the table says %s (%d)", r.id, got, len(b), r.hash, r.length)
		}
		i := slices.IndexFunc(h.HIDDescriptors, func(d HIDDescriptor) bool { return d.ID == r.id })
		if i < 0 {
			t.Errorf("%s: not in the catalog", r.id)
			continue
		}
		if d := h.HIDDescriptors[i]; d.Hash != got || d.Length != len(b) {
			t.Errorf("%s: catalog has %s/%d, the bytes give %s/%d", r.id, d.Hash, d.Length, got, len(b))
		}
	}
}

func TestJetKVMSerialPatternMatchesGeneratedSerials(t *testing.T) {
	h := defaultHardware(t)
	for _, u := range h.USB {
		if !u.SerialPattern {
			continue
		}
		re := regexp.MustCompile(u.Serial)
		if !re.MatchString("5&1a2b3c4&0&1") || re.MatchString("CAFEBABE") {
			t.Errorf("%s: pattern %q", u.ID, u.Serial)
		}
	}
}

// goodHardware is a valid hardware section that each case below breaks in one place.
const goodHardware = `{
 "usb":[{"id":"pikvm","device":"PiKVM","vendor_id":"1d6b","product_id":"0104","manufacturer":"PiKVM","serial":"CAFEBABE","kind":"kvm","confidence":0.9,"attack":"T1219.003","sources":["s"]},
        {"id":"spoof","device":"JetKVM","vendor_id":"046d","product_id":"c52b","serial":"^[1-9]&[0-9a-f]{7}&0&1$","serial_pattern":true,"spoof":true,"kind":"kvm","confidence":0.6,"attack":"T1219.003","sources":["s"]}],
 "displays":[{"id":"pikvm_edid","device":"PiKVM","manufacturer":"LNX","product_code":"7773","serial32":"01010101","name":"PiKVM V4 Plus","serial_string":"CAFEBABE","kind":"kvm","confidence":0.9,"sources":["s"]}],
 "inquiry":[{"id":"pikvm_msd","device":"PiKVM","vendor":"PiKVM","model":"Optical Drive","revision":"1.00","confidence":0.9,"sources":["s"]}],
 "hid_descriptors":[{"id":"pikvm_kb","device":"PiKVM","kind":"keyboard","hash":"5333cc3a23db1dd7","length":65,"specificity":"high","sources":["s"]}],
 "jigglers":[{"id":"wiggler","device":"W","vendor_id":"16c0","product_id":"27da","kind":"jiggler","confidence":0.5,"attack":"T1200","sources":["s"]}],
 "allow":[{"id":"vmware","device":"VMware","vendor_id":"0e0f","product_id":"0003","kind":"hypervisor","confidence":0.9,"sources":["s"]}],
 "gadget_vendors":[{"vendor_id":"1d6b","name":"Linux Foundation","product_ids":["0104"]}],
 "fixed_serials":[{"serial":"CAFEBABE","devices":["PiKVM"],"where":"usb+edid"}]}`

func TestHardwareErrorsNameFileEntryAndField(t *testing.T) {
	doc := func(mutate func(map[string]any)) []byte {
		var hw map[string]any
		if err := json.Unmarshal([]byte(goodHardware), &hw); err != nil {
			t.Fatal(err)
		}
		if mutate != nil {
			mutate(hw)
		}
		b, err := json.Marshal(map[string]any{"version": "1.abc", "os_remote_listeners": []any{}, "hardware": hw})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := ParseFile("x.json", doc(nil)); err != nil {
		t.Fatalf("the valid document is refused: %v", err)
	}
	entry := func(m map[string]any, list string, i int) map[string]any { return m[list].([]any)[i].(map[string]any) }
	set := func(list string, i int, field string, v any) func(map[string]any) {
		return func(m map[string]any) { entry(m, list, i)[field] = v }
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"upper-case vendor", set("usb", 0, "vendor_id", "1D6B"), `x.json: hardware.usb[0] (pikvm): vendor_id: "1D6B" is not 4 lowercase hex digits`},
		{"short product", set("usb", 0, "product_id", "104"), `x.json: hardware.usb[0] (pikvm): product_id: "104" is not 4 lowercase hex digits`},
		{"bad usb kind", set("usb", 0, "kind", "hypervisor"), `x.json: hardware.usb[0] (pikvm): kind: "hypervisor" is not one of kvm, injector`},
		{"zero confidence", set("usb", 0, "confidence", 0), `x.json: hardware.usb[0] (pikvm): confidence: 0 is not in (0, 1]`},
		{"confidence above 1", set("usb", 0, "confidence", 1.5), `x.json: hardware.usb[0] (pikvm): confidence: 1.5 is not in (0, 1]`},
		{"bad attack", set("usb", 0, "attack", "T12"), `x.json: hardware.usb[0] (pikvm): attack: "T12" is not an ATT&CK technique id`},
		{"no sources", set("usb", 0, "sources", []any{}), `x.json: hardware.usb[0] (pikvm): sources: none`},
		{"bad serial regexp", set("usb", 1, "serial", "^[1-9"), `x.json: hardware.usb[1] (spoof): serial: error parsing regexp`},
		{"pattern without serial", func(m map[string]any) { delete(entry(m, "usb", 1), "serial") }, `x.json: hardware.usb[1] (spoof): serial_pattern: set without a serial`},
		{"bad id", set("usb", 0, "id", "Pi KVM"), `x.json: hardware.usb[0] (Pi KVM): id: "Pi KVM" is not lowercase`},
		{"duplicate id across lists", set("inquiry", 0, "id", "pikvm"), `x.json: hardware.inquiry[0] (pikvm): id: duplicate "pikvm" (also usb[0] (pikvm))`},
		{"spoof in allow", set("allow", 0, "spoof", true), `x.json: hardware.allow[0] (vmware): spoof: only usb entries`},
		{"attack in allow", set("allow", 0, "attack", "T1200"), `x.json: hardware.allow[0] (vmware): attack: allowlist entries have none`},
		{"jiggler kind", set("jigglers", 0, "kind", "kvm"), `x.json: hardware.jigglers[0] (wiggler): kind: "kvm" is not one of jiggler`},
		{"lower-case PNP", set("displays", 0, "manufacturer", "lnx"), `x.json: hardware.displays[0] (pikvm_edid): manufacturer: "lnx" is not a PNP id`},
		{"bad product code", set("displays", 0, "product_code", "0x7773"), `x.json: hardware.displays[0] (pikvm_edid): product_code: "0x7773" is not 4 lowercase hex digits`},
		{"bad serial32", set("displays", 0, "serial32", "1010101"), `x.json: hardware.displays[0] (pikvm_edid): serial32: "1010101" is not 8 lowercase hex digits`},
		{"long EDID name", set("displays", 0, "name", "PiKVM V4 Plus Extra"), `x.json: hardware.displays[0] (pikvm_edid): name: "PiKVM V4 Plus Extra" is not an EDID descriptor string`},
		{"preset without kind", set("displays", 0, "preset", true), `x.json: hardware.displays[0] (pikvm_edid): preset: true with kind "kvm"`},
		{"long inquiry vendor", set("inquiry", 0, "vendor", "PiKVM Inc."), `x.json: hardware.inquiry[0] (pikvm_msd): vendor: "PiKVM Inc." is not a trimmed inquiry field of at most 8 characters`},
		{"untrimmed model", set("inquiry", 0, "model", "Optical Drive   "), `x.json: hardware.inquiry[0] (pikvm_msd): model: "Optical Drive   " is not a trimmed`},
		{"short hash", set("hid_descriptors", 0, "hash", "5333cc3a"), `x.json: hardware.hid_descriptors[0] (pikvm_kb): hash: "5333cc3a" is not 16 lowercase hex digits`},
		{"upper-case hash", set("hid_descriptors", 0, "hash", "5333CC3A23DB1DD7"), `x.json: hardware.hid_descriptors[0] (pikvm_kb): hash: "5333CC3A23DB1DD7"`},
		{"bad hid kind", set("hid_descriptors", 0, "kind", "mouse"), `x.json: hardware.hid_descriptors[0] (pikvm_kb): kind: "mouse" is not one of keyboard, absolute_mouse, relative_mouse`},
		{"bad specificity", set("hid_descriptors", 0, "specificity", "medium"), `x.json: hardware.hid_descriptors[0] (pikvm_kb): specificity: "medium"`},
		{"zero length", set("hid_descriptors", 0, "length", 0), `x.json: hardware.hid_descriptors[0] (pikvm_kb): length: 0 out of range`},
		{"bad gadget product", func(m map[string]any) { entry(m, "gadget_vendors", 0)["product_ids"] = []any{"104"} }, `x.json: hardware.gadget_vendors[0] (1d6b): product_ids[0]: "104" is not 4 lowercase hex digits`},
		{"bad serial place", set("fixed_serials", 0, "where", "hid"), `x.json: hardware.fixed_serials[0] (CAFEBABE): where: "hid" is not one of usb, edid, usb+edid`},
		{"unknown field", set("usb", 0, "vid", "1d6b"), `x.json: line 1, byte `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("x.json", doc(tc.mutate))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant prefix %q", err, tc.want)
			}
		})
	}
}

func TestParseHex16(t *testing.T) {
	for in, want := range map[string]uint16{"046d": 0x046d, "0x046D": 0x046d, "C52B": 0xc52b, "0X1d6b": 0x1d6b, "1": 1, "ffff": 0xffff} {
		if got, err := ParseHex16(in); err != nil || got != want {
			t.Errorf("ParseHex16(%q) = %#x, %v; want %#x", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0x", "10000", "xyz", "-1", "+1", "1_0", " 046d", "0x0x1"} {
		if _, err := ParseHex16(in); err == nil {
			t.Errorf("ParseHex16(%q) accepted", in)
		}
	}
}
