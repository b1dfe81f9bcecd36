package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

// machine describes one captured Linux laptop: what /etc, /proc, /sys and the package
// database say. build turns it into a tree that `farmwatch-agent scan --root` reads.
type machine struct {
	host       string
	zone       string // IANA zone: /etc/timezone and the /etc/localtime link
	locale     string // LANG
	xkb        string // XKBLAYOUT, e.g. "us" or "us,kr"
	xkbVariant string
	ime        string // fcitx5 input method of the user ("hangul", "pinyin"), "" for none
	user       string
	serial     string
	machineID  string
	wlanMAC    string
	addr       string  // the laptop's own LAN address on wlp0s20f3
	gateway    lanHost // default gateway (IP and MAC in the ARP table)
	neighbours []lanHost
	virtIfaces []string // extra virtual interfaces (tailscale0, zt..., wg0)
	packages   []string // dpkg packages installed
	services   []string // systemd units enabled (multi-user.target.wants)
	dirs       []string // directories that exist (e.g. opt/teamviewer)
	files      map[string]string
	recent     []string // files whose mtime is set to now (fresh log lines)
	procs      []proc
	usb        []device // USB devices on xHCI port 1-N
	edid       string   // platform/edid/testdata file on HDMI-A-1, "" for nothing connected
	// captured is a captured tree in the repository (e.g. agent/scan/testdata/laptop) used
	// as it is instead of building one; recent still applies.
	captured string
}

type lanHost struct{ ip, mac string }

type proc struct {
	pid, ppid int
	name      string // comm (15 characters at most, as the kernel keeps it)
	exe       string
	cmdline   []string
	uid       int
	socks     []sock
}

// sock is one socket of a process: proto tcp or udp, addresses "ip:port".
type sock struct {
	proto, local, remote string
	listen               bool
}

// USB devices, in the shape of agent/detectors' captured KVM setups.
type iface struct {
	class, sub, proto int
	driver            string
	report            []byte
}

type disk struct {
	vendor, model, rev string
	typ                int
}

type device struct {
	vid, pid, bcd                string
	mfr, product, serial, config string
	class                        string
	ifaces                       []iface
	disks                        []disk
	inputAbs, inputRel           bool
}

func kbd(r []byte) iface { return iface{3, 1, 1, "usbhid", r} }
func ptr(r []byte) iface { return iface{3, 0, 0, "usbhid", r} }
func msd() iface         { return iface{8, 6, 0x50, "usb-storage", nil} }
func audio() iface       { return iface{1, 1, 0, "snd-usb-audio", nil} }

const xhci = "sys/devices/pci0000:00/0000:00:14.0"

// build writes m's tree under root; repo is the repository's root (EDIDs, captured trees).
func (m machine) build(root, repo string) error {
	if m.captured != "" {
		return copyTree(filepath.Join(repo, filepath.FromSlash(m.captured)), root)
	}
	edidDir := filepath.Join(repo, "platform", "edid", "testdata")
	t := sysfstest.New()
	f := func(p, s string) { t.File(p, []byte(s)) }
	f("etc/hostname", m.host+"\n")
	f("proc/sys/kernel/hostname", m.host+"\n")
	f("proc/sys/kernel/osrelease", "6.1.0-28-amd64\n")
	f("proc/sys/kernel/arch", "x86_64\n")
	f("proc/stat", "cpu  1 2 3 4 5 6 7 0 0 0\nintr 0\nctxt 12345\nbtime 1795000000\nprocesses 4300\n")
	f("usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n")
	t.Link("etc/os-release", "usr/lib/os-release")
	f("etc/machine-id", m.machineID+"\n")
	f("etc/timezone", m.zone+"\n")
	t.RawLink("etc/localtime", "/usr/share/zoneinfo/"+m.zone)
	f("etc/default/locale", "LANG="+m.locale+"\n")
	f("etc/default/keyboard", fmt.Sprintf("XKBMODEL=\"pc105\"\nXKBLAYOUT=%q\nXKBVARIANT=%q\nXKBOPTIONS=\"grp:alt_shift_toggle\"\n", m.xkb, m.xkbVariant))
	f("etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\n%s:x:1000:1000:%s,,,:/home/%s:/bin/bash\n", m.user, m.user, m.user))
	f("sys/devices/virtual/dmi/id/product_serial", m.serial+"\n")
	f("sys/devices/virtual/dmi/id/product_uuid", "4C4C4544-0042-3510-8051-"+strings.ToUpper(strings.ReplaceAll(m.wlanMAC, ":", ""))+"\n")
	t.Link("sys/class/dmi/id", "sys/devices/virtual/dmi/id")
	if m.ime != "" {
		f("home/"+m.user+"/.config/fcitx5/profile", fmt.Sprintf("[Groups/0]\nName=Default\nDefault Layout=us\nDefaultIM=%s\n\n[Groups/0/Items/0]\nName=keyboard-us\nLayout=\n\n[Groups/0/Items/1]\nName=%s\nLayout=\n\n[GroupOrder]\n0=Default\n", m.ime, m.ime))
	}

	// Network interfaces, routes and the ARP table.
	nic := func(name, mac, flags string, virtual bool) {
		dir := "sys/devices/virtual/net/" + name
		if !virtual {
			dir = "sys/devices/pci0000_00/0000_00_14.3/net/" + name
			t.Link(dir+"/device", "sys/devices/pci0000_00/0000_00_14.3")
		}
		t.Attrs(dir, "address", mac, "flags", flags)
		t.Link("sys/class/net/"+name, dir)
	}
	nic("lo", "00:00:00:00:00:00", "0x9", true)
	nic("wlp0s20f3", m.wlanMAC, "0x1003", false)
	for _, v := range m.virtIfaces {
		nic(v, "", "0x11", true)
	}
	gw, err := hexAddr(m.gateway.ip)
	if err != nil {
		return err
	}
	own := netip.MustParseAddr(m.addr).As4()
	netw, _ := hexAddr(netip.AddrFrom4([4]byte{own[0], own[1], own[2], 0}).String())
	f("proc/net/route", "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
		"wlp0s20f3\t00000000\t"+gw+"\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"+
		"wlp0s20f3\t"+netw+"\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0\n")
	arp := "IP address       HW type     Flags       HW address            Mask     Device\n"
	for _, n := range append([]lanHost{m.gateway}, m.neighbours...) {
		arp += fmt.Sprintf("%-16s 0x1         0x2         %s     *        wlp0s20f3\n", n.ip, n.mac)
	}
	f("proc/net/arp", arp)

	// Packages, services, directories, files.
	status := "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b7\nDescription: GNU Bourne Again SHell\n"
	for _, p := range m.packages {
		status += fmt.Sprintf("\nPackage: %s\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\nDescription: %s\n", p, p)
	}
	f("var/lib/dpkg/status", status)
	for _, s := range m.services {
		f("lib/systemd/system/"+s, "[Unit]\nDescription="+s+"\n\n[Service]\nExecStart=/usr/bin/"+strings.TrimSuffix(s, ".service")+"\n\n[Install]\nWantedBy=multi-user.target\n")
		t.RawLink("etc/systemd/system/multi-user.target.wants/"+s, "/lib/systemd/system/"+s)
	}
	for _, d := range m.dirs {
		f(d+"/.keep", "")
	}
	for p, s := range m.files {
		f(p, s)
	}

	// Processes and their sockets.
	tables := map[string][]string{"tcp": nil, "tcp6": nil, "udp": nil, "udp6": nil}
	inode := 40000
	procs := append([]proc{{pid: 1, name: "systemd", exe: "/usr/lib/systemd/systemd", cmdline: []string{"/sbin/init", "splash"}}}, m.procs...)
	for _, p := range procs {
		dir := fmt.Sprintf("proc/%d", p.pid)
		f(dir+"/cmdline", strings.Join(p.cmdline, "\x00")+"\x00")
		f(dir+"/stat", fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 %d 170000000 3000 18446744073709551615\n", p.pid, p.name, p.ppid, p.pid, p.pid, 1000+p.pid))
		f(dir+"/status", fmt.Sprintf("Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\nTracerPid:\t0\nUid:\t%d\t%d\t%d\t%d\nGid:\t%d\t%d\t%d\t%d\n", p.name, p.pid, p.pid, p.ppid, p.uid, p.uid, p.uid, p.uid, p.uid, p.uid, p.uid, p.uid))
		t.RawLink(dir+"/exe", p.exe)
		f(dir+"/fd/.keep", "")
		for i, s := range p.socks {
			inode++
			t.RawLink(fmt.Sprintf("%s/fd/%d", dir, 3+i), fmt.Sprintf("socket:[%d]", inode))
			line, err := sockLine(len(tables[s.proto]), s, p.uid, inode)
			if err != nil {
				return err
			}
			tables[s.proto] = append(tables[s.proto], line)
		}
	}
	for name, lines := range tables {
		f("proc/net/"+name, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+strings.Join(lines, ""))
	}
	t.RawLink("proc/self", "1")

	if err := m.hardware(t, edidDir); err != nil {
		return err
	}
	if err := t.Write(root); err != nil {
		return err
	}
	// The .keep files only made the directories exist.
	for _, p := range procs {
		os.Remove(filepath.Join(root, fmt.Sprintf("proc/%d/fd/.keep", p.pid)))
	}
	return nil
}

// hexAddr writes an IPv4 address as /proc/net does: the 32-bit value in host (little-endian) order.
func hexAddr(ip string) (string, error) {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return "", fmt.Errorf("not an IPv4 address: %q", ip)
	}
	b := a.As4()
	return fmt.Sprintf("%02X%02X%02X%02X", b[3], b[2], b[1], b[0]), nil
}

func sockLine(n int, s sock, uid, inode int) (string, error) {
	hp := func(ap string) (string, error) {
		if ap == "" {
			return "00000000:0000", nil
		}
		a, err := netip.ParseAddrPort(ap)
		if err != nil {
			return "", err
		}
		h, err := hexAddr(a.Addr().String())
		return fmt.Sprintf("%s:%04X", h, a.Port()), err
	}
	l, err := hp(s.local)
	if err != nil {
		return "", err
	}
	r, err := hp(s.remote)
	if err != nil {
		return "", err
	}
	st := "01"
	switch {
	case s.listen && strings.HasPrefix(s.proto, "udp"):
		st = "07"
	case s.listen:
		st = "0A"
	}
	return fmt.Sprintf("%4d: %s %s %s 00000000:00000000 00:00000000 00000000 %5d        0 %d 1 0000000000000000 100 0 0 10 0\n", n, l, r, st, uid, inode), nil
}

// hardware adds the USB devices, their disks and input devices, and the displays: the eDP
// panel and whatever is on HDMI-A-1 (the approach of agent/detectors' captured setups).
func (m machine) hardware(tr *sysfstest.Tree, edidDir string) error {
	tr.AddUSB(sysfstest.USBDevice{Parent: xhci, Name: "usb1", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0002", "bcdDevice", "0601", "bDeviceClass", "09", "bDeviceSubClass", "00", "bDeviceProtocol", "01",
		"manufacturer", "Linux 6.1.0-28-amd64 xhci-hcd", "product", "xHCI Host Controller", "serial", "0000:00:14.0", "bMaxPower", "0mA", "speed", "480",
	}, Interfaces: []sysfstest.USBInterface{{Suffix: "1.0", Driver: "hub", Attrs: []string{"bInterfaceNumber", "00", "bInterfaceClass", "09", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00"}}}})
	var input strings.Builder
	input.WriteString("I: Bus=0011 Vendor=0001 Product=0001 Version=ab83\nN: Name=\"AT Translated Set 2 keyboard\"\nP: Phys=isa0060/serio0/input0\nS: Sysfs=/devices/platform/i8042/serio0/input/input3\nU: Uniq=\nH: Handlers=sysrq kbd event3 leds\nB: PROP=0\nB: EV=120013\nB: KEY=402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe\nB: MSC=10\nB: LED=7\n\n")
	for n, d := range m.usb {
		name := fmt.Sprintf("1-%d", n+1)
		class := d.class
		if class == "" {
			class = "00"
		}
		attrs := []string{"idVendor", d.vid, "idProduct", d.pid, "bcdDevice", d.bcd, "version", " 2.00", "bDeviceClass", class,
			"bDeviceSubClass", "00", "bDeviceProtocol", "00", "bMaxPower", "250mA", "speed", "480", "bNumInterfaces", fmt.Sprintf("%2d", len(d.ifaces))}
		for _, kv := range [][2]string{{"manufacturer", d.mfr}, {"product", d.product}, {"serial", d.serial}, {"configuration", d.config}} {
			if kv[1] != "" {
				attrs = append(attrs, kv[0], kv[1])
			}
		}
		dev := sysfstest.USBDevice{Parent: xhci + "/usb1", Name: name, Attrs: attrs}
		for i, f := range d.ifaces {
			si := sysfstest.USBInterface{Suffix: fmt.Sprintf("1.%d", i), Driver: f.driver, Attrs: []string{
				"bInterfaceNumber", fmt.Sprintf("%02x", i), "bInterfaceClass", fmt.Sprintf("%02x", f.class),
				"bInterfaceSubClass", fmt.Sprintf("%02x", f.sub), "bInterfaceProtocol", fmt.Sprintf("%02x", f.proto),
			}}
			if f.report != nil {
				si.HID = fmt.Sprintf("0003:%s:%s.%04X", strings.ToUpper(d.vid), strings.ToUpper(d.pid), 10*n+i+1)
				si.Report = f.report
				si.Hidraw = fmt.Sprintf("hidraw%d", 10*n+i)
			}
			dev.Interfaces = append(dev.Interfaces, si)
		}
		tr.AddUSB(dev)
		for j, k := range d.disks {
			host := 6 + 10*n + j
			tr.AddBlock(sysfstest.Block{
				SCSIDir: fmt.Sprintf("%s/usb1/%s/%s:1.%d/host%d/target%d:0:0/%d:0:0:0", xhci, name, name, len(d.ifaces)-1, host, host, host),
				Name:    map[int]string{0: fmt.Sprintf("sd%c", 'b'+n), 5: fmt.Sprintf("sr%d", n)}[k.typ],
				Vendor:  k.vendor, Model: k.model, Rev: k.rev, Type: k.typ, Removable: true, ReadOnly: k.typ == 5,
			})
		}
		if d.inputAbs || d.inputRel {
			ev, extra := "17", "B: REL=903\n"
			if d.inputAbs {
				ev, extra = "1f", "B: ABS=3\n"
			}
			fmt.Fprintf(&input, "I: Bus=0003 Vendor=%s Product=%s Version=0111\nN: Name=\"%s %s\"\nP: Phys=usb-0000:00:14.0-%d/input0\nS: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/%s/%s:1.0/input/input%d\nU: Uniq=%s\nH: Handlers=event%d\nB: PROP=0\nB: EV=%s\nB: KEY=1f0000 0 0 0 0\n%s\n",
				d.vid, d.pid, d.mfr, d.product, n+1, name, name, 20+n, d.serial, 20+n, ev, extra)
		}
	}
	tr.File("proc/bus/input/devices", []byte(input.String()))
	display := func(conn, file string) error {
		dir := "sys/devices/pci0000:00/0000:00:02.0/drm/card0/card0-" + conn
		var b []byte
		status := "disconnected"
		if file != "" {
			var err error
			if b, err = os.ReadFile(filepath.Join(edidDir, file)); err != nil {
				return err
			}
			status = "connected"
		}
		tr.Attrs(dir, "status", status, "enabled", map[string]string{"connected": "enabled", "disconnected": "disabled"}[status])
		tr.File(dir+"/edid", b)
		tr.Link("sys/class/drm/card0-"+conn, dir)
		return nil
	}
	if err := display("eDP-1", "benign-boe-edp-panel.bin"); err != nil {
		return err
	}
	return display("HDMI-A-1", m.edid)
}
