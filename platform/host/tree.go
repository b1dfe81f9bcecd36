package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/farmwatch/farmwatch/platform/envfile"
	"github.com/farmwatch/farmwatch/platform/fsroot"
	"github.com/farmwatch/farmwatch/platform/netif"
)

// maxFile bounds every read of a file in the tree.
const maxFile = 64 << 10

// readTree reads a Linux identity from the files under root; it builds on
// every OS so captured trees can be read anywhere. Files:
//
//	proc/sys/kernel/hostname, else etc/hostname     Hostname
//	etc/os-release, else usr/lib/os-release         Platform (ID), OSVersion (VERSION_ID), PrettyName
//	proc/sys/kernel/osrelease                       KernelVersion
//	proc/sys/kernel/arch                            Arch (captured trees; live uses runtime.GOARCH)
//	sys/class/dmi/id/product_uuid, product_serial   HardwareUUID, SerialNumber
//	etc/machine-id, else var/lib/dbus/machine-id    MachineID
//	sys/class/net/*                                 MACAddresses (via netif)
//
// Arch of a captured tree comes from proc/sys/kernel/arch (Linux 6.1+), which
// capture tools may not have copied; it is then empty.
func readTree(ctx context.Context, root string, live bool) (Identity, error) {
	if root == "" {
		root = "/"
	}
	if err := fsroot.CheckRoot(root); err != nil {
		return Identity{}, err
	}
	t := tree{root: root, live: live}
	id := Identity{OS: "linux"}
	id.Hostname = t.first("proc/sys/kernel/hostname", "etc/hostname")
	osr := t.osRelease()
	id.Platform, id.OSVersion, id.PrettyName = osr["ID"], osr["VERSION_ID"], osr["PRETTY_NAME"]
	id.KernelVersion = t.first("proc/sys/kernel/osrelease")
	if live {
		id.Arch = runtime.GOARCH
	} else {
		id.Arch = goarch(t.first("proc/sys/kernel/arch"))
	}
	id.HardwareUUID = strings.ToLower(t.first("sys/class/dmi/id/product_uuid"))
	id.SerialNumber = t.first("sys/class/dmi/id/product_serial")
	id.MachineID = t.first("etc/machine-id", "var/lib/dbus/machine-id")
	if ifs, err := netif.List(ctx, root); err == nil {
		id.MACAddresses = physicalMACs(ifs)
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.errs = append(t.errs, err)
	}
	return id, errors.Join(t.errs...)
}

// tree reads small files under root, remembering unexpected errors.
type tree struct {
	root string
	live bool
	errs []error
}

// first returns the trimmed content of the first of rels that can be read.
// Absence and permission errors mean "no data"; others are remembered.
func (t *tree) first(rels ...string) string {
	for _, rel := range rels {
		s, err := t.read(rel)
		if err == nil {
			return s
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			t.errs = append(t.errs, err)
		}
	}
	return ""
}

// read opens rel under root. In a captured tree it uses os.OpenInRoot so
// that a symlink cannot lead out of the tree into the live system (absolute
// symlinks therefore fail there).
func (t *tree) read(rel string) (string, error) {
	var f *os.File
	var err error
	if t.root == "/" {
		f, err = os.Open(filepath.Join("/", rel))
	} else {
		f, err = os.OpenInRoot(t.root, rel)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", rel, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", rel, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (t *tree) osRelease() map[string]string {
	for _, rel := range []string{"etc/os-release", "usr/lib/os-release"} {
		s, err := t.read(rel)
		if err == nil {
			return envfile.Parse([]byte(s))
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrPermission) {
			t.errs = append(t.errs, err)
		}
	}
	return nil
}

// goarch maps a uname machine string to GOARCH; unknown ones pass through.
func goarch(machine string) string {
	switch machine {
	case "x86_64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "armv6l", "armv7l", "armv8l":
		return "arm"
	}
	return machine
}
