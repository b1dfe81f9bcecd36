// Package host reads the identity of this computer: names, OS release,
// hardware UUID and serial, machine id and physical MAC addresses.
//
// The agent sends it at enrollment and with every report; the collector uses
// the hardware identifiers to follow a laptop across re-installs and to find
// identities shared by several devices.
package host

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"

	"github.com/farmwatch/farmwatch/platform/netif"
)

// Identity is what identifies this computer. Fields that cannot be read are
// empty; none of them is trustworthy against a local administrator.
type Identity struct {
	// Hostname is the kernel's host name ("dev-laptop-17").
	Hostname string
	// OS is the GOOS-style operating system: "linux", "windows", "darwin".
	OS string
	// Platform names the distribution or edition: "debian", "fedora"
	// (os-release ID), "Microsoft Windows 11 Pro", "macOS".
	Platform string
	// PrettyName is the human-readable release: "Debian GNU/Linux 12
	// (bookworm)", "Microsoft Windows 11 Pro 23H2", "macOS 14.5".
	PrettyName string
	// OSVersion is the release: "12" (os-release VERSION_ID), "23H2"
	// (Windows DisplayVersion), "14.5" (macOS product version).
	OSVersion string
	// KernelVersion is "6.1.0-18-amd64" (Linux), "10.0.22631.3880" (Windows
	// build), "23.5.0" (Darwin).
	KernelVersion string
	// Arch is the GOARCH-style architecture: "amd64", "arm64".
	Arch string
	// HardwareUUID is the SMBIOS system UUID (IOPlatformUUID on macOS),
	// lowercase. Firmware placeholders are kept as they are.
	HardwareUUID string
	// SerialNumber is the SMBIOS system serial (IOPlatformSerialNumber on
	// macOS), trimmed. Placeholders such as "To be filled by O.E.M." are kept.
	SerialNumber string
	// MachineID is the OS installation id: /etc/machine-id on Linux,
	// MachineGuid on Windows, empty on macOS (which has none apart from
	// the hardware UUID).
	MachineID string
	// MACAddresses are the physical interfaces' hardware addresses: sorted,
	// unique, lowercase colon form, without loopback, all-zero and (as far as
	// netif can tell) virtual interfaces.
	MACAddresses []string
}

// ErrNotImplemented is returned on operating systems without a live reader.
var ErrNotImplemented = errors.New("not implemented on " + runtime.GOOS)

// Read returns the identity of the computer at root.
//
// root "" or "/" is the live system. Any other root is a captured Linux tree
// and is read on every OS (see readTree for the files). On Linux the live
// system is read through the same files. Missing or permission-denied files
// (product_serial is root-only) leave their field empty; an error is returned
// only when root cannot be read at all or a file fails for another reason,
// and then with whatever could be read.
//
// Cost: Linux, about ten small file reads plus a sysfs listing; Windows, a
// few registry reads and one firmware-table call; macOS, two sysctls and one
// run of ioreg (~20 ms).
func Read(ctx context.Context, root string) (Identity, error) {
	if root != "" && root != "/" {
		return readTree(ctx, root, false)
	}
	return read(ctx)
}

// physicalMACs picks the MAC addresses Identity wants from netif's list.
func physicalMACs(ifs []netif.Interface) []string {
	var out []string
	for _, i := range ifs {
		if i.Virtual || i.MACAddress == "" || slices.Contains(i.Flags, "loopback") {
			continue
		}
		out = append(out, strings.ToLower(i.MACAddress))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
