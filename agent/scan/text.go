package scan

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// meaning says in plain words what each signal means for the person reading the scan.
var meaning = map[string]string{
	"remote_tool.installed":  "remote-control software is installed on this laptop",
	"remote_tool.running":    "remote-control software is running now",
	"remote_tool.session":    "someone is connected to this laptop through it right now",
	"remote_tool.unattended": "it is set up so that someone can connect without anyone at the laptop accepting",
	"remote_tool.multiple":   "several remote-control products from different vendors are on one laptop",
	"os_remote.enabled":      "this laptop accepts remote-desktop connections",
	"os_remote.session":      "someone is connected to this laptop's remote desktop right now",
	"kvm.usb":                "a KVM-over-IP box or keyboard/mouse injector is plugged into this laptop",
	"kvm.hid_shape":          "a USB device acts like a KVM box: it types and points at exact screen positions",
	"kvm.display":            "the screen this laptop sends its picture to is a KVM or capture device, not a monitor",
	"kvm.virtual_media":      "a KVM box is offering this laptop a virtual disk or CD",
	"hid.jiggler":            "a mouse jiggler keeps this laptop looking busy",
	"relay.dns":              "this laptop looked up a remote-control tool's relay or rendezvous server",
	"relay.tls":              "this laptop opened an encrypted connection to a remote-control tool's server",
	"relay.stun":             "this laptop is negotiating a peer-to-peer path, as remote-desktop and call software do",
	"relay.connection":       "a process holds a connection to a remote-control tool's server now",
}

var severityWord = map[pb.Severity]string{
	pb.Severity_SEVERITY_UNSPECIFIED: "NOTE",
	pb.Severity_SEVERITY_INFO:        "INFO",
	pb.Severity_SEVERITY_LOW:         "LOW",
	pb.Severity_SEVERITY_MEDIUM:      "MEDIUM",
	pb.Severity_SEVERITY_HIGH:        "HIGH",
	pb.Severity_SEVERITY_CRITICAL:    "CRITICAL",
}

// WriteText explains a report in plain words for the person running `farmwatch-agent scan`.
func WriteText(w io.Writer, r *pb.Report) error {
	var b strings.Builder
	f := r.GetFacts()
	h := f.GetHost()
	fmt.Fprintf(&b, "Farmwatch scan of %s — %s %s (%s), %s\n", orUnknown(h.GetHostname()), orUnknown(h.GetPlatform()),
		h.GetOsVersion(), orUnknown(h.GetArch()), r.GetCreated().AsTime().Local().Format(time.RFC1123))
	fmt.Fprintf(&b, "  took %s\n\n", time.Duration(r.GetScanDurationMicros())*time.Microsecond)

	b.WriteString("This laptop\n")
	fmt.Fprintf(&b, "  hardware UUID  %s\n", orUnknown(h.GetHardwareUuid()))
	fmt.Fprintf(&b, "  serial number  %s\n", orUnknown(h.GetSerialNumber()))
	fmt.Fprintf(&b, "  MAC addresses  %s\n", orUnknown(strings.Join(h.GetMacAddresses(), ", ")))
	t := f.GetTime()
	fmt.Fprintf(&b, "  time zone      %s (%s, UTC%s%s)\n", orUnknown(t.GetZone()), orUnknown(t.GetAbbreviation()),
		offset(t.GetUtcOffsetSeconds()), map[bool]string{true: ", daylight saving", false: ""}[t.GetDst()])
	fmt.Fprintf(&b, "  locale         %s\n", orUnknown(t.GetLocale()))
	if t.GetClockMeasured() {
		fmt.Fprintf(&b, "  clock          %+.1f s against the collector (round trip %d ms)\n", float64(t.GetClockSkewMillis())/1000, t.GetRoundTripMillis())
	}
	var inputs []string
	for _, in := range f.GetInputSources() {
		s := in.GetId()
		if in.GetLanguage() != "" {
			s += " (" + in.GetLanguage() + ")"
		}
		if in.GetKind() == "ime" {
			s += " input method"
		}
		if !slices.Contains(inputs, s) {
			inputs = append(inputs, s)
		}
	}
	fmt.Fprintf(&b, "  keyboards      %s\n", orUnknown(strings.Join(inputs, ", ")))
	var gws []string
	for _, g := range f.GetLan().GetGateways() {
		gws = append(gws, g.GetIp()+" "+orUnknown(g.GetMac())+" on "+g.GetInterface())
	}
	fmt.Fprintf(&b, "  gateway        %s; %d neighbours\n", orUnknown(strings.Join(gws, ", ")), len(f.GetLan().GetNeighbours()))
	for _, w := range f.GetLan().GetWifi() {
		if w.GetKnown() && w.GetBssid() != "" {
			fmt.Fprintf(&b, "  wi-fi          %s: %q (BSSID %s)\n", w.GetInterface(), w.GetSsid(), w.GetBssid())
		} else {
			fmt.Fprintf(&b, "  wi-fi          %s: %s\n", w.GetInterface(), orUnknown(w.GetNote()))
		}
	}

	listening, connected := 0, 0
	for _, p := range f.GetProcesses() {
		for _, s := range p.GetSockets() {
			switch {
			case s.GetState() == "LISTEN":
				listening++
			case s.GetRemotePort() != 0:
				connected++
			}
		}
	}
	fmt.Fprintf(&b, "  processes      %d running; %d listening sockets, %d connections\n", f.GetProcessCount(), listening, connected)
	if v, p := f.GetProcessesVanished(), f.GetProcessesPartial(); v+p > 0 {
		fmt.Fprintf(&b, "                 (%d exited during the scan, %d only partly readable: run as root/administrator to see all)\n", v, p)
	}
	b.WriteString("\n")

	writeFindings(&b, r.GetFindings())
	var failed []string
	for _, d := range r.GetDetectors() {
		if !d.GetOk() {
			failed = append(failed, fmt.Sprintf("  %s: %s", d.GetName(), d.GetError()))
		}
	}
	if len(failed) > 0 {
		b.WriteString("\nCould not check (the result above may be incomplete)\n")
		b.WriteString(strings.Join(failed, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func offset(sec int32) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d:%02d", sign, sec/3600, sec%3600/60)
}

// WriteFindings explains findings in plain words (what `scan` prints under "Findings").
func WriteFindings(w io.Writer, fs []*pb.Finding) error {
	var b strings.Builder
	writeFindings(&b, fs)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFindings(b *strings.Builder, fs []*pb.Finding) {
	if len(fs) == 0 {
		b.WriteString("Findings\n  None. No detector found a remote-control tool, remote-access service or other signal on this laptop.\n")
	} else {
		fmt.Fprintf(b, "Findings (%d)\n", len(fs))
		sorted := append([]*pb.Finding(nil), fs...)
		sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].GetSeverity() > sorted[j].GetSeverity() })
		for _, x := range sorted {
			fmt.Fprintf(b, "  [%s] %s — %s", severityWord[x.GetSeverity()], x.GetSignal(), x.GetTitle())
			if x.GetAttack() != "" {
				fmt.Fprintf(b, " (ATT&CK %s)", x.GetAttack())
			}
			b.WriteString("\n")
			if m, ok := meaning[x.GetSignal()]; ok {
				fmt.Fprintf(b, "      means: %s\n", m)
			}
			keys := make([]string, 0, len(x.GetEvidence()))
			for k := range x.GetEvidence() {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(b, "      %s: %s\n", k, x.GetEvidence()[k])
			}
		}
	}
}
