// Package display lists the displays this computer has (and on Windows,
// has had) with their EDIDs.
//
// In a laptop farm the laptop's only "monitor" is often the capture input of
// a KVM-over-IP box or an HDMI capture dongle, which presents its own EDID
// (PiKVM's "LNX"/"PiKVM", a TC358743's "TSB"/"Toshiba-H2C", a MacroSilicon
// dongle's "HDMI TO USB"). The kvm detector matches the parsed EDID against
// the catalog; Windows also remembers monitors that were connected before,
// which reveals a KVM that has since been unplugged.
package display

import (
	"cmp"
	"context"
	"errors"
	"runtime"
	"slices"

	"github.com/farmwatch/farmwatch/platform/edid"
)

// Display is one display output or remembered monitor.
type Display struct {
	// Connector names where the display is attached: the DRM connector on
	// Linux ("card0-HDMI-A-1"), the device instance id on Windows
	// (`DISPLAY\LNX7773\5&1a2b3c4d&0&UID4357`, as under
	// HKLM\SYSTEM\CurrentControlSet\Enum), the IODisplayLocation registry
	// path (Intel) or the framebuffer's registry entry name, with its
	// location when ioreg prints one (Apple Silicon, "dispext0") on macOS.
	Connector string
	// Status is "connected", "disconnected", "remembered" (Windows: a
	// monitor seen before that is not present now) or "unknown".
	Status string
	// Enabled is true when the output is in use: the DRM connector's
	// "enabled" attribute on Linux; on Windows, a present monitor device
	// (the desktop topology is not read, so a present but unused monitor is
	// also true); on macOS, every display ioreg lists with an EDID.
	Enabled bool
	// Raw is the EDID as read, at most edid.MaxSize (32 KiB); nil when
	// there is none (a disconnected connector, a monitor without EDID).
	Raw []byte
	// EDID is Raw parsed; nil when Raw is empty or has no EDID header. A
	// damaged EDID is still parsed, with edid.EDID.Flags saying what is
	// wrong; a Raw shorter than one block gives the fields that fit.
	EDID *edid.EDID
	// Source says where the entry came from: "drm" (Linux sysfs),
	// "registry" (Windows, a present monitor or presence unknown),
	// "registry-history" (Windows, a remembered monitor), "ioreg" (macOS).
	Source string
}

// Status values.
const (
	StatusConnected    = "connected"
	StatusDisconnected = "disconnected"
	StatusRemembered   = "remembered"
	StatusUnknown      = "unknown"
)

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// List returns the displays, sorted by connector.
//
// root "" or "/" is the live system:
//
//   - Linux reads /sys/class/drm/card*-*/{status,enabled,edid}: every
//     connector of every GPU, connected or not (see readDRM).
//   - Windows reads the EDID of every monitor instance under
//     HKLM\SYSTEM\CurrentControlSet\Enum\DISPLAY, including monitors
//     connected in the past, and asks SetupAPI which instances are present
//     now (see registryDisplays).
//   - macOS runs ioreg for the IODisplayConnect (Intel) and AppleCLCD2 /
//     IOMobileFramebufferShim (Apple Silicon) classes and reads the EDID
//     properties (see parseIoreg).
//
// Any other root is a captured Linux tree, read on every OS. An error is
// returned with whatever could be read.
//
// Cost: Linux, one directory listing and three small reads per connector
// (the kernel's cached values: no DDC transaction); Windows, one registry
// key open and value read per remembered monitor plus one SetupAPI
// enumeration (a few ms); macOS, three runs of ioreg (~20-50 ms each).
func List(ctx context.Context, root string) ([]Display, error) {
	var ds []Display
	var err error
	if root != "" && root != "/" {
		ds, err = readDRM(ctx, root, false)
	} else {
		ds, err = list(ctx)
	}
	slices.SortFunc(ds, func(a, b Display) int {
		return cmp.Or(cmp.Compare(a.Connector, b.Connector), cmp.Compare(a.Source, b.Source))
	})
	return ds, err
}

// maxEDIDRead is how much of an EDID source is read: one byte more than
// edid.MaxSize, so that Parse can flag a longer one as oversize.
const maxEDIDRead = edid.MaxSize + 1

// withEDID sets d.Raw and d.EDID from raw (at most maxEDIDRead bytes).
func withEDID(d Display, raw []byte) Display {
	if len(raw) == 0 {
		return d
	}
	e, err := edid.Parse(raw)
	if len(raw) > edid.MaxSize {
		raw = raw[:edid.MaxSize]
	}
	d.Raw = raw
	if err == nil || errors.Is(err, edid.ErrTruncated) {
		d.EDID = &e
	}
	return d
}
