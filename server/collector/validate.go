package collector

import (
	"fmt"
	"net"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// Limits on what one report may carry. They are generous for a real laptop and stop a hostile
// agent from storing arbitrary volumes.
const (
	maxFindings      = 1000
	maxEvidence      = 64
	maxKeyBytes      = 128
	maxValueBytes    = 4096
	maxTitleBytes    = 512
	maxProcesses     = 10000
	maxSocketsPerPID = 1024
	maxInterfaces    = 256
	maxDetectors     = 256
	maxShortString   = 256
	maxCommandLine   = 8192
)

// ValidateReport checks a report against the contract and the size limits. Protobuf decoding
// has already rejected invalid UTF-8 and malformed bytes.
func ValidateReport(r *pb.Report) error {
	if r == nil {
		return fmt.Errorf("missing")
	}
	if r.GetSequence() == 0 {
		return fmt.Errorf("sequence must start at 1")
	}
	if r.GetSequence() > 1<<62 {
		return fmt.Errorf("sequence %d out of range", r.GetSequence())
	}
	if r.GetCreated() == nil || r.GetCreated().CheckValid() != nil {
		return fmt.Errorf("created time missing or invalid")
	}
	if err := short("agent_version", r.GetAgentVersion()); err != nil {
		return err
	}
	if err := short("catalog_version", r.GetCatalogVersion()); err != nil {
		return err
	}
	if n := len(r.GetFindings()); n > maxFindings {
		return fmt.Errorf("%d findings exceed %d", n, maxFindings)
	}
	for i, f := range r.GetFindings() {
		if err := validateFinding(f); err != nil {
			return fmt.Errorf("finding %d: %w", i, err)
		}
	}
	if n := len(r.GetDetectors()); n > maxDetectors {
		return fmt.Errorf("%d detector statuses exceed %d", n, maxDetectors)
	}
	for _, d := range r.GetDetectors() {
		if err := short("detector name", d.GetName()); err != nil {
			return err
		}
		if len(d.GetError()) > maxValueBytes {
			return fmt.Errorf("detector %s: error longer than %d bytes", d.GetName(), maxValueBytes)
		}
	}
	return validateFacts(r.GetFacts())
}

func validateFinding(f *pb.Finding) error {
	if !validSignal(f.GetSignal()) {
		return fmt.Errorf("signal %q: want family.name in lowercase letters, digits and _", clip(f.GetSignal()))
	}
	if _, ok := pb.Severity_name[int32(f.GetSeverity())]; !ok {
		return fmt.Errorf("severity %d unknown", f.GetSeverity())
	}
	if c := f.GetConfidence(); c < 0 || c > 1 || c != c {
		return fmt.Errorf("confidence %v outside 0..1", c)
	}
	if len(f.GetTitle()) > maxTitleBytes {
		return fmt.Errorf("title longer than %d bytes", maxTitleBytes)
	}
	for _, s := range []struct{ name, v string }{{"attack", f.GetAttack()}, {"detector", f.GetDetector()}, {"key", f.GetKey()}} {
		if err := short(s.name, s.v); err != nil {
			return err
		}
	}
	if n := len(f.GetEvidence()); n > maxEvidence {
		return fmt.Errorf("%d evidence entries exceed %d", n, maxEvidence)
	}
	for k, v := range f.GetEvidence() {
		if k == "" || len(k) > maxKeyBytes {
			return fmt.Errorf("evidence key %q: empty or longer than %d bytes", clip(k), maxKeyBytes)
		}
		if len(v) > maxValueBytes {
			return fmt.Errorf("evidence %q longer than %d bytes", clip(k), maxValueBytes)
		}
	}
	for _, ts := range []*timestamppb.Timestamp{f.GetFirstSeen(), f.GetLastSeen()} {
		if ts != nil && ts.CheckValid() != nil {
			return fmt.Errorf("invalid first_seen or last_seen")
		}
	}
	return nil
}

func validateIdentity(h *pb.HardwareIdentity) error {
	if h == nil {
		return fmt.Errorf("missing")
	}
	for _, s := range []struct{ name, v string }{
		{"hostname", h.GetHostname()}, {"os", h.GetOs()}, {"platform", h.GetPlatform()}, {"os_version", h.GetOsVersion()},
		{"kernel_version", h.GetKernelVersion()}, {"arch", h.GetArch()}, {"hardware_uuid", h.GetHardwareUuid()},
		{"serial_number", h.GetSerialNumber()}, {"machine_id", h.GetMachineId()},
	} {
		if err := short(s.name, s.v); err != nil {
			return err
		}
	}
	if n := len(h.GetMacAddresses()); n > maxInterfaces {
		return fmt.Errorf("%d MAC addresses exceed %d", n, maxInterfaces)
	}
	for _, m := range h.GetMacAddresses() {
		if _, err := net.ParseMAC(m); err != nil {
			return fmt.Errorf("MAC address %q: %w", clip(m), err)
		}
	}
	return nil
}

func validateFacts(f *pb.Facts) error {
	if f == nil {
		return nil
	}
	if f.GetHost() != nil {
		if err := validateIdentity(f.GetHost()); err != nil {
			return fmt.Errorf("host: %w", err)
		}
	}
	if t := f.GetTime(); t != nil {
		for _, s := range append([]string{t.GetZone(), t.GetAbbreviation(), t.GetLocale()}, t.GetLanguages()...) {
			if err := short("time", s); err != nil {
				return err
			}
		}
		if len(t.GetLanguages()) > 64 {
			return fmt.Errorf("more than 64 languages")
		}
		if o := t.GetUtcOffsetSeconds(); o < -16*3600 || o > 16*3600 {
			return fmt.Errorf("UTC offset %d s out of range", o)
		}
		if err := short("windows_zone", t.GetWindowsZone()); err != nil {
			return err
		}
		if len(t.GetZoneChanges()) > 32 {
			return fmt.Errorf("%d zone changes exceed 32", len(t.GetZoneChanges()))
		}
		for _, c := range t.GetZoneChanges() {
			if err := validTime("zone change", c.GetAt()); err != nil {
				return err
			}
			for _, o := range []int32{c.GetFromOffsetSeconds(), c.GetToOffsetSeconds()} {
				if o < -16*3600 || o > 16*3600 {
					return fmt.Errorf("zone change offset %d s out of range", o)
				}
			}
			for _, v := range []string{c.GetFromZone(), c.GetToZone()} {
				if err := short("zone change", v); err != nil {
					return err
				}
			}
		}
	}
	if err := validateActivity(f.GetActivity()); err != nil {
		return err
	}
	if len(f.GetRdpClients()) > 32 {
		return fmt.Errorf("%d RDP clients exceed 32", len(f.GetRdpClients()))
	}
	for _, c := range f.GetRdpClients() {
		for _, v := range []string{c.GetSession(), c.GetUser(), c.GetClientName(), c.GetClientAddress(), c.GetKeyboardLayout(), c.GetTimeZone(), c.GetClientBuild(), c.GetSource()} {
			if err := short("rdp client", v); err != nil {
				return err
			}
		}
		if o := c.GetClientUtcOffsetSeconds(); o < -16*3600 || o > 16*3600 {
			return fmt.Errorf("RDP client offset %d s out of range", o)
		}
	}
	if n := len(f.GetProcesses()); n > maxProcesses {
		return fmt.Errorf("%d processes exceed %d", n, maxProcesses)
	}
	for _, p := range f.GetProcesses() {
		if err := short("process name", p.GetName()); err != nil {
			return err
		}
		if len(p.GetExecutable()) > 4096 || len(p.GetCommandLine()) > maxCommandLine || len(p.GetUsername()) > maxShortString {
			return fmt.Errorf("process %d: field too long", p.GetPid())
		}
		if len(p.GetSockets()) > maxSocketsPerPID {
			return fmt.Errorf("process %d: %d sockets exceed %d", p.GetPid(), len(p.GetSockets()), maxSocketsPerPID)
		}
		for _, s := range p.GetSockets() {
			if s.GetLocalPort() > 65535 || s.GetRemotePort() > 65535 {
				return fmt.Errorf("process %d: port out of range", p.GetPid())
			}
			for _, v := range []string{s.GetProtocol(), s.GetLocalAddress(), s.GetRemoteAddress(), s.GetState()} {
				if err := short("socket", v); err != nil {
					return err
				}
			}
		}
	}
	if err := validateHardware(f); err != nil {
		return err
	}
	if l := f.GetLan(); l != nil {
		if len(l.GetGateways()) > 16 || len(l.GetNeighbours()) > 256 || len(l.GetWifi()) > 16 {
			return fmt.Errorf("lan inventory too large")
		}
		for _, h := range append(append([]*pb.LanHost{}, l.GetGateways()...), l.GetNeighbours()...) {
			for _, v := range []string{h.GetIp(), h.GetMac(), h.GetInterface(), h.GetState()} {
				if err := short("lan host", v); err != nil {
					return err
				}
			}
		}
		for _, w := range l.GetWifi() {
			for _, v := range []string{w.GetInterface(), w.GetSsid(), w.GetBssid(), w.GetNote()} {
				if err := short("wifi", v); err != nil {
					return err
				}
			}
		}
	}
	if len(f.GetInputSources()) > 128 {
		return fmt.Errorf("%d input sources exceed 128", len(f.GetInputSources()))
	}
	for _, s := range f.GetInputSources() {
		for _, v := range []string{s.GetId(), s.GetLanguage(), s.GetKind(), s.GetSource(), s.GetUser()} {
			if err := short("input source", v); err != nil {
				return err
			}
		}
	}
	if n := len(f.GetInterfaces()); n > maxInterfaces {
		return fmt.Errorf("%d interfaces exceed %d", n, maxInterfaces)
	}
	for _, i := range f.GetInterfaces() {
		if len(i.GetAddresses()) > 256 || len(i.GetFlags()) > 32 {
			return fmt.Errorf("interface %q: too many addresses or flags", clip(i.GetName()))
		}
		for _, v := range append(append([]string{i.GetName(), i.GetMacAddress()}, i.GetAddresses()...), i.GetFlags()...) {
			if err := short("interface", v); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateActivity bounds the activity profile: at most 35 distinct whole UTC days, 24 hours
// each, no hour with more than 60 minutes or with more active than sampled minutes.
func validateActivity(a *pb.Activity) error {
	if a == nil {
		return nil
	}
	if err := short("activity source", a.GetSource()); err != nil {
		return err
	}
	if len(a.GetNote()) > maxValueBytes {
		return fmt.Errorf("activity note too long")
	}
	if a.GetSampleIntervalSeconds() > 86400 {
		return fmt.Errorf("activity sample interval %d s out of range", a.GetSampleIntervalSeconds())
	}
	if len(a.GetDays()) > 35 {
		return fmt.Errorf("%d activity days exceed 35", len(a.GetDays()))
	}
	seen := map[int64]bool{}
	for _, d := range a.GetDays() {
		if d.GetDay()%86400 != 0 || d.GetDay() < 0 || d.GetDay() > 1<<40 || seen[d.GetDay()] {
			return fmt.Errorf("activity day %d is not a distinct UTC midnight", d.GetDay())
		}
		seen[d.GetDay()] = true
		act, smp := d.GetActiveMinutes(), d.GetSampledMinutes()
		if len(act) != 24 || len(smp) != 24 {
			return fmt.Errorf("activity day %d: want 24 hours, got %d and %d", d.GetDay(), len(act), len(smp))
		}
		for h := range 24 {
			if smp[h] > 60 || act[h] > smp[h] {
				return fmt.Errorf("activity day %d hour %d: %d active of %d sampled minutes", d.GetDay(), h, act[h], smp[h])
			}
		}
	}
	return nil
}

// validateHardware bounds the USB, display, disk and input inventories.
func validateHardware(f *pb.Facts) error {
	if len(f.GetUsbDevices()) > 256 || len(f.GetDisplays()) > 64 || len(f.GetDisks()) > 256 || len(f.GetInputDevices()) > 256 {
		return fmt.Errorf("hardware inventory too large")
	}
	for _, d := range f.GetUsbDevices() {
		if d.GetVendorId() > 0xffff || d.GetProductId() > 0xffff || d.GetBcdDevice() > 0xffff || len(d.GetInterfaces()) > 64 || len(d.GetFlags()) > 16 {
			return fmt.Errorf("usb device %q: field out of range", clip(d.GetPath()))
		}
		for _, v := range append([]string{d.GetPath(), d.GetManufacturer(), d.GetProduct(), d.GetSerial(), d.GetConfiguration()}, d.GetFlags()...) {
			if err := short("usb device", v); err != nil {
				return err
			}
		}
		for _, i := range d.GetInterfaces() {
			if len(i.GetHidFlags()) > 16 {
				return fmt.Errorf("usb interface: too many flags")
			}
			for _, v := range append([]string{i.GetName(), i.GetDriver(), i.GetHidDescriptorHash()}, i.GetHidFlags()...) {
				if err := short("usb interface", v); err != nil {
					return err
				}
			}
		}
	}
	for _, d := range f.GetDisplays() {
		if d.GetProductCode() > 0xffff || len(d.GetFlags()) > 16 {
			return fmt.Errorf("display %q: field out of range", clip(d.GetConnector()))
		}
		for _, v := range append([]string{d.GetConnector(), d.GetStatus(), d.GetManufacturer(), d.GetName(), d.GetSerialString(), d.GetEdidHash(), d.GetPreferredMode(), d.GetSource()}, d.GetFlags()...) {
			if err := short("display", v); err != nil {
				return err
			}
		}
	}
	for _, d := range f.GetDisks() {
		if len(d.GetFlags()) > 16 {
			return fmt.Errorf("disk: too many flags")
		}
		for _, v := range append([]string{d.GetName(), d.GetVendor(), d.GetModel(), d.GetRevision(), d.GetTransport(), d.GetUsbPath()}, d.GetFlags()...) {
			if err := short("disk", v); err != nil {
				return err
			}
		}
	}
	for _, d := range f.GetInputDevices() {
		if d.GetBus() > 0xffff || d.GetVendorId() > 0xffff || d.GetProductId() > 0xffff {
			return fmt.Errorf("input device: id out of range")
		}
		for _, v := range []string{d.GetName(), d.GetSysfs()} {
			if err := short("input device", v); err != nil {
				return err
			}
		}
	}
	return nil
}

func short(name, v string) error {
	if len(v) > maxShortString {
		return fmt.Errorf("%s longer than %d bytes", name, maxShortString)
	}
	return nil
}

func validSignal(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	fam, rest, ok := strings.Cut(s, ".")
	if !ok || fam == "" || rest == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// validTime accepts an unset or valid timestamp.
func validTime(what string, ts *timestamppb.Timestamp) error {
	if ts != nil && ts.CheckValid() != nil {
		return fmt.Errorf("%s: invalid time", what)
	}
	return nil
}
