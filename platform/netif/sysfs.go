package netif

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxFile bounds every read of a sysfs attribute; real ones are a few bytes.
const maxFile = 4 << 10

// Linux interface flags (include/uapi/linux/if.h) in net.Flags order.
var sysfsFlags = []struct {
	bit  uint64
	name string
}{
	{0x1, "up"},
	{0x2, "broadcast"},
	{0x8, "loopback"},
	{0x10, "pointtopoint"},
	{0x1000, "multicast"},
	{0x40, "running"},
}

// readSysfs lists ROOT/sys/class/net. It works on any OS so that captured
// trees can be read anywhere. Each entry is normally a symlink into
// /sys/devices; an absolute link target is re-rooted under root so a
// captured tree never leaks into the live system.
func readSysfs(root string) ([]Interface, error) {
	if root == "" {
		root = "/"
	}
	dir := filepath.Join(root, "sys", "class", "net")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	var out []Interface
	for _, e := range entries {
		name := e.Name()
		path := resolve(root, filepath.Join(dir, name))
		iface := Interface{
			Name:       name,
			MACAddress: normalizeMAC(readAttr(filepath.Join(path, "address"))),
			Virtual:    isVirtual(path),
		}
		if flags, err := strconv.ParseUint(strings.TrimPrefix(readAttr(filepath.Join(path, "flags")), "0x"), 16, 32); err == nil {
			for _, f := range sysfsFlags {
				if flags&f.bit != 0 {
					iface.Flags = append(iface.Flags, f.name)
				}
			}
		}
		out = append(out, iface)
	}
	sortByName(out)
	return out, nil
}

// isVirtual: the kernel puts software interfaces under /sys/devices/virtual,
// and only hardware-backed ones have a "device" link.
func isVirtual(path string) bool {
	if strings.Contains(filepath.ToSlash(path), "/devices/virtual/") {
		return true
	}
	_, err := os.Lstat(filepath.Join(path, "device"))
	return err != nil
}

// resolve follows one symlink at path, keeping absolute targets inside root.
func resolve(root, path string) string {
	target, err := os.Readlink(path)
	if err != nil {
		return path // not a link (a flattened capture) or unreadable
	}
	if filepath.IsAbs(target) {
		return filepath.Join(root, target)
	}
	return filepath.Join(filepath.Dir(path), target)
}

// readAttr returns a trimmed sysfs attribute, or "" when it cannot be read.
func readAttr(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
