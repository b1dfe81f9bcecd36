package detectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/farmwatch/farmwatch/agent/detect"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

func init() {
	detect.Register("kvm", true, newKVM)
}

// kvmAttack is MITRE ATT&CK "Remote Access Tools: Remote Access Hardware".
const kvmAttack = "T1219.003"

// windowsInstanceSerial is the shape of serials JetKVM's spoof presets generate: a Windows
// device instance id ("7&2a3b4c5&0&1"), which no real device reports as its own serial.
var windowsInstanceSerial = regexp.MustCompile(`^[1-9]&[0-9a-fA-F]{7}&0&[0-9]$`)

// kvm finds KVM-over-IP boxes, HID injectors and capture hardware from the USB, display, disk
// and input inventories in the facts: known identities (spoof presets included), structure
// that survives renaming, KVM and capture EDIDs, and virtual-media inquiry strings.
type kvm struct {
	mu     sync.Mutex
	idxFor *catalog.Catalog
	idx    *hwIndex
}

func newKVM(*slog.Logger) (detect.Detector, error) { return &kvm{}, nil }

type hwIndex struct {
	hw       *catalog.Hardware
	usb      []usbRule
	jigglers []usbRule
	allow    []usbRule
	gadget   map[uint16]map[uint16]bool // vendor -> products (empty = any)
	serials  map[string]catalog.FixedSerial
	hidHash  map[string]catalog.HIDDescriptor
}

type usbRule struct {
	id       catalog.USBIdentity
	vid, pid uint16
	anyPID   bool
	serialRE *regexp.Regexp
}

func (r usbRule) match(d *pb.UsbDevice) bool {
	if uint32(r.vid) != d.GetVendorId() || (!r.anyPID && uint32(r.pid) != d.GetProductId()) {
		return false
	}
	if r.id.Manufacturer != "" && r.id.Manufacturer != d.GetManufacturer() {
		return false
	}
	if r.id.Product != "" && r.id.Product != d.GetProduct() {
		return false
	}
	if r.id.Configuration != "" && r.id.Configuration != d.GetConfiguration() {
		return false
	}
	if r.id.Serial != "" {
		if r.serialRE != nil {
			return r.serialRE.MatchString(d.GetSerial())
		}
		return r.id.Serial == d.GetSerial()
	}
	return true
}

// better says whether r identifies a device more precisely than o: more of its strings must
// match, then a higher confidence.
func (r *usbRule) better(o *usbRule) bool {
	if a, b := r.fields(), o.fields(); a != b {
		return a > b
	}
	return r.id.Confidence > o.id.Confidence
}

func (r *usbRule) fields() int {
	n := 0
	for _, f := range []string{r.id.ProductID, r.id.Manufacturer, r.id.Product, r.id.Serial, r.id.Configuration} {
		if f != "" {
			n++
		}
	}
	return n
}

func compileUSB(ids []catalog.USBIdentity) []usbRule {
	var out []usbRule
	for _, id := range ids {
		r := usbRule{id: id}
		v, err := catalog.ParseHex16(id.VendorID)
		if err != nil {
			continue // validated at load
		}
		r.vid = v
		if id.ProductID == "" {
			r.anyPID = true
		} else if p, err := catalog.ParseHex16(id.ProductID); err == nil {
			r.pid = p
		}
		if id.SerialPattern {
			r.serialRE, _ = regexp.Compile(id.Serial)
		}
		out = append(out, r)
	}
	return out
}

func (k *kvm) index(c *catalog.Catalog) *hwIndex {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.idxFor == c {
		return k.idx
	}
	hw := &c.Hardware
	x := &hwIndex{hw: hw, usb: compileUSB(hw.USB), jigglers: compileUSB(hw.Jigglers), allow: compileUSB(hw.Allow),
		gadget: map[uint16]map[uint16]bool{}, serials: map[string]catalog.FixedSerial{}, hidHash: map[string]catalog.HIDDescriptor{}}
	for _, g := range hw.GadgetVendors {
		v, err := catalog.ParseHex16(g.VendorID)
		if err != nil {
			continue
		}
		ps := map[uint16]bool{}
		for _, p := range g.ProductIDs {
			if pid, err := catalog.ParseHex16(p); err == nil {
				ps[pid] = true
			}
		}
		x.gadget[v] = ps
	}
	for _, s := range hw.FixedSerials {
		x.serials[s.Where+":"+s.Serial] = s
	}
	for _, h := range hw.HIDDescriptors {
		x.hidHash[h.Hash] = h
	}
	k.idxFor, k.idx = c, x
	return x
}

// shape is what a USB device offers, from its interfaces and HID descriptors.
type shape struct {
	keyboard, absolute, relative, digitizer, storage, audio, network bool
	pointers                                                         int
	absMax                                                           int32
	hashes                                                           []string
}

func deviceShape(d *pb.UsbDevice, inputs []*pb.InputDevice) shape {
	var s shape
	for _, i := range d.GetInterfaces() {
		switch i.GetClass() {
		case 0x08:
			s.storage = true
		case 0x01:
			s.audio = true
		case 0x02, 0x0a, 0xe0:
			s.network = true
		case 0xef:
			if i.GetSubclass() == 0x04 { // RNDIS over miscellaneous class
				s.network = true
			}
		}
		if strings.Contains(i.GetDriver(), "rndis") || strings.Contains(i.GetDriver(), "cdc_ether") || strings.Contains(i.GetDriver(), "cdc_ncm") {
			s.network = true
		}
		if i.GetHidKeyboard() || (i.GetClass() == 3 && i.GetSubclass() == 1 && i.GetProtocol() == 1) {
			s.keyboard = true
		}
		if i.GetHidAbsolutePointer() {
			s.absolute = true
			s.pointers++
			s.absMax = max(s.absMax, i.GetHidAbsoluteMax())
		}
		if i.GetHidRelativePointer() || (i.GetClass() == 3 && i.GetSubclass() == 1 && i.GetProtocol() == 2 && !i.GetHidAbsolutePointer()) {
			s.relative = true
			s.pointers++
		}
		if i.GetHidDigitizer() {
			s.digitizer = true
		}
		if h := i.GetHidDescriptorHash(); h != "" {
			s.hashes = append(s.hashes, h)
		}
	}
	// Where descriptors are not readable (Windows), the OS's input devices of the same
	// vendor:product tell whether the pointer is absolute.
	for _, in := range inputs {
		if in.GetBus() == 0x03 && in.GetVendorId() == d.GetVendorId() && in.GetProductId() == d.GetProductId() {
			if in.GetAbsolute() && !in.GetTouchpad() {
				s.absolute = true
			}
			if in.GetKeys() && !in.GetAbsolute() && !in.GetRelative() {
				s.keyboard = true
			}
		}
	}
	return s
}

func (s shape) describe() string {
	var parts []string
	add := func(ok bool, what string) {
		if ok {
			parts = append(parts, what)
		}
	}
	add(s.keyboard, "keyboard")
	add(s.absolute, "absolute pointer")
	add(s.relative, "relative pointer")
	add(s.digitizer, "digitizer")
	add(s.storage, "mass storage")
	add(s.audio, "audio")
	add(s.network, "ethernet")
	return strings.Join(parts, " + ")
}

func vidpid(d *pb.UsbDevice) string {
	return fmt.Sprintf("%04x:%04x", d.GetVendorId(), d.GetProductId())
}

func usbEvidence(d *pb.UsbDevice, sh shape) map[string]string {
	ev := map[string]string{
		"usb_id": vidpid(d), "manufacturer": d.GetManufacturer(), "product": d.GetProduct(),
		"serial": d.GetSerial(), "configuration": d.GetConfiguration(), "path": d.GetPath(),
		"offers": sh.describe(), "bcd_device": fmt.Sprintf("%04x", d.GetBcdDevice()),
	}
	if len(d.GetFlags()) > 0 {
		ev["string_flags"] = strings.Join(d.GetFlags(), ", ")
	}
	for k, v := range ev {
		if v == "" {
			delete(ev, k)
		}
	}
	return ev
}

func (k *kvm) Detect(_ context.Context, env *detect.Env) ([]*pb.Finding, error) {
	if env.Catalog == nil {
		return nil, errors.New("no catalog")
	}
	x := k.index(env.Catalog)
	facts := env.Facts
	var out []*pb.Finding
	for _, d := range facts.GetUsbDevices() {
		sh := deviceShape(d, facts.GetInputDevices())
		out = append(out, x.usbFindings(d, sh)...)
	}
	out = append(out, x.displayFindings(facts.GetDisplays())...)
	out = append(out, x.mediaFindings(facts)...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func severityFor(conf float64) pb.Severity {
	switch {
	case conf >= 0.85:
		return pb.Severity_SEVERITY_HIGH
	case conf >= 0.5:
		return pb.Severity_SEVERITY_MEDIUM
	}
	return pb.Severity_SEVERITY_LOW
}

// usbFindings: a known identity (kvm.usb), a jiggler (hid.jiggler), and the structural
// signature (kvm.hid_shape), unless the device is an allowlisted look-alike without anomalies.
func (x *hwIndex) usbFindings(d *pb.UsbDevice, sh shape) []*pb.Finding {
	var out []*pb.Finding
	key := d.GetPath()
	if key == "" {
		key = vidpid(d) + "/" + d.GetSerial()
	}

	// Anomalies that no genuine device shows and that spoof presets cannot hide.
	var anomalies []string
	if windowsInstanceSerial.MatchString(d.GetSerial()) {
		anomalies = append(anomalies, fmt.Sprintf("serial %q has the shape of a Windows device instance id (JetKVM spoof presets generate these)", d.GetSerial()))
	}
	if fs, ok := x.serials["usb:"+d.GetSerial()]; ok && d.GetSerial() != "" {
		anomalies = append(anomalies, fmt.Sprintf("serial %q is the fixed serial of %s", d.GetSerial(), strings.Join(fs.Devices, ", ")))
	}
	if m := d.GetManufacturer(); strings.HasSuffix(m, " (x64)") || strings.HasSuffix(m, " (x86)") {
		anomalies = append(anomalies, fmt.Sprintf("manufacturer string %q carries a Windows driver-name suffix", m))
	}
	if ps, ok := x.gadget[uint16(d.GetVendorId())]; ok && (len(ps) == 0 || ps[uint16(d.GetProductId())]) {
		anomalies = append(anomalies, fmt.Sprintf("vendor id %04x is a Linux USB gadget id (a computer emulating a device)", d.GetVendorId()))
	}
	var knownDesc []string
	for _, h := range sh.hashes {
		if desc, ok := x.hidHash[h]; ok && desc.Specificity == "high" {
			knownDesc = append(knownDesc, fmt.Sprintf("%s %s descriptor", desc.Device, strings.ReplaceAll(desc.Kind, "_", " ")))
		}
	}

	allowed := ""
	for _, r := range x.allow {
		if r.match(d) {
			allowed = r.id.ID
		}
	}

	// The most specific matching identity speaks for the device; others are listed.
	var best *usbRule
	var others []string
	for i := range x.usb {
		r := &x.usb[i]
		if !r.match(d) {
			continue
		}
		if best == nil || r.better(best) {
			if best != nil {
				others = append(others, best.id.ID)
			}
			best = r
		} else {
			others = append(others, r.id.ID)
		}
	}
	if r := best; r != nil {
		ev := usbEvidence(d, sh)
		ev["identity"], ev["device_family"], ev["kind"] = r.id.ID, r.id.Device, r.id.Kind
		if len(others) > 0 {
			sort.Strings(others)
			ev["also_matches"] = strings.Join(others, ", ")
		}
		if r.id.Spoof {
			ev["spoof_preset"] = "true"
		}
		if len(anomalies) > 0 {
			ev["anomalies"] = strings.Join(anomalies, "; ")
		}
		what := r.id.Device + " identity"
		if r.id.Spoof {
			what = r.id.Device + " identity-spoofing preset"
		}
		ev["recognised_by"] = "catalog identity " + r.id.ID
		attack := r.id.Attack
		if attack == "" {
			attack = kvmAttack
		}
		out = append(out, &pb.Finding{
			Signal: "kvm.usb", Severity: severityFor(r.id.Confidence), Confidence: r.id.Confidence, Attack: attack,
			Title: fmt.Sprintf("USB device %s %q offers %s: %s", vidpid(d), d.GetProduct(), orNothing(sh.describe()), what),
			Key:   "usb:" + key, Evidence: ev,
		})
		allowed = "" // a known KVM identity is never allowlisted
	}
	var jig *usbRule
	for i := range x.jigglers {
		if r := &x.jigglers[i]; r.match(d) && (jig == nil || r.better(jig)) {
			jig = r
		}
	}
	if r := jig; r != nil {
		ev := usbEvidence(d, sh)
		ev["identity"], ev["device_family"], ev["recognised_by"] = r.id.ID, r.id.Device, "catalog identity "+r.id.ID
		out = append(out, &pb.Finding{
			Signal: "hid.jiggler", Severity: severityFor(r.id.Confidence * 0.8), Confidence: r.id.Confidence, Attack: firstNonEmpty(r.id.Attack, "T1200"),
			Title: fmt.Sprintf("USB mouse jiggler %s %q (%s)", vidpid(d), d.GetProduct(), r.id.Device),
			Key:   "usb:" + key + ":jiggler", Evidence: ev,
		})
	}

	// Structure: keyboard and absolute pointer on one device, with the rest a KVM adds.
	if sh.keyboard && sh.absolute {
		score, reasons := 0.55, []string{"one device offers a keyboard and an absolute pointer"}
		extras := 0
		for _, e := range []struct {
			ok   bool
			what string
		}{{sh.storage, "mass storage"}, {sh.audio, "audio"}, {sh.network, "ethernet"}} {
			if e.ok {
				extras++
				reasons = append(reasons, "with "+e.what+" beside it")
			}
		}
		score += 0.1 * float64(min(extras, 2))
		if sh.absMax == 32767 {
			reasons = append(reasons, "absolute range 0..32767 (tablet-style, as KVMs report)")
			score += 0.05
		}
		if sh.pointers >= 2 {
			reasons = append(reasons, fmt.Sprintf("%d pointer interfaces", sh.pointers))
			score += 0.05
		}
		reasons = append(reasons, anomalies...)
		score += 0.1 * float64(len(anomalies))
		if len(knownDesc) > 0 {
			reasons = append(reasons, "report descriptor of "+strings.Join(knownDesc, ", "))
			score += 0.1
		}
		score = min(score, 0.97)
		if allowed != "" && len(anomalies) == 0 {
			return out // a hypervisor tablet or known dock: benign unless something is off
		}
		ev := usbEvidence(d, sh)
		ev["reasons"] = strings.Join(reasons, "; ")
		ev["recognised_by"] = "device structure"
		if allowed != "" {
			ev["allowlisted_as"] = allowed + " (overridden by anomalies)"
		}
		out = append(out, &pb.Finding{
			Signal: "kvm.hid_shape", Severity: severityFor(score), Confidence: score, Attack: kvmAttack,
			Title: fmt.Sprintf("USB device %s %q offers %s: the shape of a KVM or HID injector", vidpid(d), d.GetProduct(), sh.describe()),
			Key:   "usb:" + key, Evidence: ev,
		})
	} else if len(anomalies) > 0 && (sh.keyboard || sh.absolute || sh.relative) && allowed == "" {
		ev := usbEvidence(d, sh)
		ev["reasons"] = strings.Join(anomalies, "; ")
		ev["recognised_by"] = "device anomalies"
		out = append(out, &pb.Finding{
			Signal: "kvm.hid_shape", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.6, Attack: kvmAttack,
			Title: fmt.Sprintf("USB input device %s %q is not what it claims to be", vidpid(d), d.GetProduct()),
			Key:   "usb:" + key, Evidence: ev,
		})
	}
	return out
}

func orNothing(s string) string {
	if s == "" {
		return "no input functions"
	}
	return s
}

// displayFindings match EDIDs against KVM, capture and preset identities, and fixed serials.
func (x *hwIndex) displayFindings(ds []*pb.Display) []*pb.Finding {
	var out []*pb.Finding
	for _, d := range ds {
		if d.GetManufacturer() == "" {
			continue
		}
		for _, id := range x.hw.Displays {
			if !displayMatch(id, d) {
				continue
			}
			conf := id.Confidence
			status := d.GetStatus()
			if status == "remembered" || status == "disconnected" {
				conf *= 0.8 // seen before, not necessarily now
			}
			ev := map[string]string{
				"connector": d.GetConnector(), "status": status, "manufacturer": d.GetManufacturer(),
				"product_code": fmt.Sprintf("%04x", d.GetProductCode()), "serial_number": fmt.Sprintf("%08x", d.GetSerialNumber()),
				"name": d.GetName(), "serial_string": d.GetSerialString(), "made": fmt.Sprintf("week %d of %d", d.GetWeek(), d.GetYear()),
				"edid_hash": d.GetEdidHash(), "identity": id.ID, "device_family": id.Device, "kind": id.Kind,
				"recognised_by": "catalog EDID identity " + id.ID, "source": d.GetSource(),
			}
			what := id.Device + " EDID"
			if id.Preset {
				what = "a monitor EDID offered as a preset by " + id.Device + " (its fixed serial " + id.SerialString + ")"
			}
			for k, v := range ev {
				if v == "" {
					delete(ev, k)
				}
			}
			out = append(out, &pb.Finding{
				Signal: "kvm.display", Severity: severityFor(conf), Confidence: conf, Attack: firstNonEmpty(id.Attack, kvmAttack),
				Title: fmt.Sprintf("Display %s %q (%s%04x) is %s", d.GetConnector(), d.GetName(), d.GetManufacturer(), d.GetProductCode(), what),
				Key:   "display:" + d.GetConnector() + ":" + id.ID, Evidence: ev,
			})
		}
	}
	return out
}

func displayMatch(id catalog.DisplayIdentity, d *pb.Display) bool {
	if id.Manufacturer != d.GetManufacturer() {
		return false
	}
	if id.ProductCode != "" {
		if p, err := catalog.ParseHex16(id.ProductCode); err != nil || uint32(p) != d.GetProductCode() {
			return false
		}
	}
	if id.Serial32 != "" {
		v, err := strconv.ParseUint(id.Serial32, 16, 32)
		if err != nil || uint32(v) != d.GetSerialNumber() {
			return false
		}
	}
	if id.Name != "" && id.Name != d.GetName() {
		return false
	}
	if id.SerialString != "" && id.SerialString != d.GetSerialString() {
		return false
	}
	return true
}

// mediaFindings match USB disks' SCSI inquiry strings (virtual media of a KVM), and flag a
// CD-ROM that lives on the same USB device as a keyboard.
func (x *hwIndex) mediaFindings(f *pb.Facts) []*pb.Finding {
	byPath := map[string]*pb.UsbDevice{}
	for _, d := range f.GetUsbDevices() {
		byPath[d.GetPath()] = d
	}
	var out []*pb.Finding
	for _, disk := range f.GetDisks() {
		if disk.GetTransport() != "usb" {
			continue
		}
		for _, id := range x.hw.Inquiry {
			if id.Vendor != disk.GetVendor() || (id.Model != "" && id.Model != disk.GetModel()) || (id.Revision != "" && id.Revision != disk.GetRevision()) {
				continue
			}
			ev := map[string]string{
				"disk": disk.GetName(), "vendor": disk.GetVendor(), "model": disk.GetModel(), "revision": disk.GetRevision(),
				"usb_path": disk.GetUsbPath(), "identity": id.ID, "device_family": id.Device, "recognised_by": "inquiry identity " + id.ID,
				"type": map[uint32]string{0: "disk", 5: "cd/dvd"}[disk.GetScsiType()],
			}
			out = append(out, &pb.Finding{
				Signal: "kvm.virtual_media", Severity: severityFor(id.Confidence), Confidence: id.Confidence, Attack: kvmAttack,
				Title: fmt.Sprintf("USB drive %s %q %q is %s virtual media", disk.GetName(), disk.GetVendor(), disk.GetModel(), id.Device),
				Key:   "disk:" + disk.GetName() + ":" + id.ID, Evidence: ev,
			})
		}
		if dev := byPath[disk.GetUsbPath()]; dev != nil && disk.GetScsiType() == 5 {
			if sh := deviceShape(dev, nil); sh.keyboard {
				out = append(out, &pb.Finding{
					Signal: "kvm.virtual_media", Severity: pb.Severity_SEVERITY_MEDIUM, Confidence: 0.7, Attack: kvmAttack,
					Title: fmt.Sprintf("USB CD-ROM %s comes from the same device as a keyboard (%s %q)", disk.GetName(), vidpid(dev), dev.GetProduct()),
					Key:   "disk:" + disk.GetName() + ":composite",
					Evidence: map[string]string{
						"disk": disk.GetName(), "vendor": disk.GetVendor(), "model": disk.GetModel(), "usb_id": vidpid(dev),
						"usb_product": dev.GetProduct(), "offers": sh.describe(), "recognised_by": "device structure",
					},
				})
			}
		}
	}
	return out
}
