//go:build linux

package perf

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// floor counts what rawFloor read.
type floor struct{ files, bytes int }

func (f *floor) read(path string) []byte {
	b, err := os.ReadFile(path)
	if err == nil {
		f.files++
		f.bytes += len(b)
	}
	return b
}

// kthread says whether a /proc/PID/stat has PF_KTHREAD (0x00200000) in its flags, field 9:
// the one thing the floor looks at in what it reads, to skip what the scan skips.
func kthread(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	fields := bytes.Fields(stat[i+1:])
	if len(fields) < 7 {
		return false
	}
	flags, _ := strconv.ParseUint(string(fields[6]), 10, 64)
	return flags&0x00200000 != 0
}

func (f *floor) link(path string) string {
	t, err := os.Readlink(path)
	if err == nil {
		f.files++
	}
	return t
}

func (f *floor) dir(path string) []os.DirEntry {
	ents, err := os.ReadDir(path)
	if err == nil {
		f.files++
	}
	return ents
}

// rawFloor reads, with plain os.ReadFile, os.ReadDir and os.Readlink and no parsing, the files
// a live scan on this machine reads (found with strace -e openat,readlinkat,getdents64 on
// BenchmarkScan and by reading platform/...): the processes and their descriptors, the
// socket, route and neighbour tables, network interfaces, USB devices with their interfaces'
// HID report descriptors, DRM connectors with their EDID, disks, input devices, identity,
// time zone, locale and keyboard files, the software inventory (dpkg status, .desktop
// files), systemd unit directories and the users' home directories. Where the scan reads a
// source more than once (network interfaces: three times) the floor reads it once, and
// where the list is uncertain it leaves a file out: the floor is, if anything, below the true
// one, so scan/floor is not flattered.
func rawFloor() floor {
	var f floor
	f.read("/proc/stat")
	f.read("/etc/passwd")
	for _, e := range f.dir("/proc") {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		d := "/proc/" + e.Name()
		if stat := f.read(d + "/stat"); kthread(stat) {
			continue // the scan reads a kernel thread's stat alone, as here
		}
		f.read(d + "/status")
		f.read(d + "/cmdline")
		f.link(d + "/exe")
		for _, fd := range f.dir(d + "/fd") {
			f.link(d + "/fd/" + fd.Name())
		}
	}
	for _, n := range []string{"tcp", "tcp6", "udp", "udp6", "route", "ipv6_route", "arp"} {
		f.read("/proc/net/" + n)
	}
	for _, e := range f.dir("/sys/class/net") {
		d := "/sys/class/net/" + e.Name()
		f.link(d)
		f.read(d + "/address")
		f.read(d + "/flags")
	}
	usbAttrs := []string{"idVendor", "idProduct", "bcdDevice", "version", "bDeviceClass", "bDeviceSubClass",
		"bDeviceProtocol", "manufacturer", "product", "serial", "configuration", "bMaxPower", "speed",
		"bmAttributes", "bNumInterfaces", "busnum", "devnum", "removable"}
	ifAttrs := []string{"bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol", "interface"}
	for _, e := range f.dir("/sys/bus/usb/devices") {
		d := "/sys/bus/usb/devices/" + e.Name()
		if strings.Contains(e.Name(), ":") { // an interface
			for _, a := range ifAttrs {
				f.read(d + "/" + a)
			}
			f.link(d + "/driver")
			if hids, _ := filepath.Glob(d + "/*:*.*/report_descriptor"); len(hids) > 0 {
				f.read(hids[0])
			}
			continue
		}
		for _, a := range usbAttrs {
			f.read(d + "/" + a)
		}
	}
	for _, e := range f.dir("/sys/class/drm") {
		d := "/sys/class/drm/" + e.Name()
		f.read(d + "/status")
		f.read(d + "/edid")
	}
	for _, e := range f.dir("/sys/block") {
		d := "/sys/block/" + e.Name()
		for _, a := range []string{"removable", "ro", "device/vendor", "device/model", "device/rev"} {
			f.read(d + "/" + a)
		}
	}
	f.read("/proc/bus/input/devices")
	for _, p := range []string{"/etc/os-release", "/etc/machine-id", "/proc/sys/kernel/hostname", "/proc/sys/kernel/osrelease",
		"/sys/class/dmi/id/product_serial", "/sys/class/dmi/id/product_uuid",
		"/etc/timezone", "/etc/default/locale", "/etc/locale.conf", "/etc/default/keyboard", "/etc/vconsole.conf",
		"/var/lib/dpkg/status"} {
		f.read(p)
	}
	if zone := f.link("/etc/localtime"); zone != "" {
		f.read(filepath.Join("/etc", zone))
	}
	f.dir("/etc/X11/xorg.conf.d")
	homes := []string{"/root"}
	for _, e := range f.dir("/home") {
		homes = append(homes, "/home/"+e.Name())
		f.dir("/home/" + e.Name())
	}
	apps := []string{"/usr/share/applications", "/usr/local/share/applications"}
	for _, h := range homes {
		apps = append(apps, h+"/.local/share/applications")
	}
	for _, d := range apps {
		for _, e := range f.dir(d) {
			if strings.HasSuffix(e.Name(), ".desktop") {
				f.read(d + "/" + e.Name())
			}
		}
	}
	for _, d := range []string{"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system", "/usr/local/lib/systemd/system"} {
		for _, e := range f.dir(d) {
			if e.Type()&os.ModeSymlink != 0 {
				f.link(d + "/" + e.Name())
			}
		}
	}
	return f
}
