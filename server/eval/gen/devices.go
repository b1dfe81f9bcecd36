package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

// HID report descriptors: research/hardware.md §1.3 bytes for the KVMs, HID spec examples for
// the rest (the same bytes as agent/detectors' captured setups).
var (
	hexd            = sysfstest.MustHex
	pikvmKeyboard   = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 C0")
	pikvmAbsMouse   = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	bootRelMouse    = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0")
	tinypilotKbd    = hexd("05 01 09 06 A1 01 05 08 19 01 29 03 15 00 25 01 75 01 95 03 91 02 09 4B 95 01 91 02 95 04 91 01 05 07 19 E0 29 E7 95 08 81 02 75 08 95 01 81 01 19 00 29 91 26 FF 00 95 06 81 00 C0")
	tinypilotAbs    = hexd("05 01 09 02 A1 01 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0")
	jetkvmKeyboard  = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0")
	jetkvmAbs       = hexd("05 01 09 02 A1 01 85 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 75 01 95 03 81 02 95 01 75 05 81 03 05 01 09 30 09 31 16 00 00 26 FF 7F 36 00 00 46 FF 7F 75 10 95 02 81 02 C0 85 02 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0")
	nanokvmKeyboard = hexd("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 03 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 03 95 06 75 08 15 00 25 E7 05 07 19 00 29 E7 81 00 C0")
	nanokvmRel      = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 03 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0")
	nanokvmTouchpad = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 05 15 00 25 01 95 05 75 01 81 02 95 01 75 03 81 01 05 01 09 30 09 31 15 00 26 FF 7F 35 00 46 FF 7F 75 10 95 02 81 02 05 01 09 38 15 81 25 7F 35 00 45 00 75 08 95 01 81 06 C0 C0")
	ch9329AbsMouse  = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 15 00 26 FF 0F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	consumerControl = hexd("05 0C 09 01 A1 01 15 00 25 01 09 E9 09 EA 09 E2 75 01 95 03 81 02 95 05 81 01 C0")
	fidoU2F         = hexd("06 D0 F1 09 01 A1 01 09 20 15 00 26 FF 00 75 08 95 40 81 02 09 21 15 00 26 FF 00 75 08 95 40 91 02 C0")
	vmwareAbsMouse  = hexd("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 15 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	logitechHIDPP   = hexd("06 00 FF 09 01 A1 01 85 10 75 08 95 06 15 00 26 FF 00 09 01 81 00 09 01 91 00 C0")
)

// USB devices of the suite (agent/detectors' KVM and benign setups, plus a desk KVM switch).
var (
	usbPiKVMv4 = device{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "PiKVM", product: "PiKVM Composite Device", serial: "CAFEBABE",
		ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), ptr(bootRelMouse), msd()},
		disks:  []disk{{"PiKVM   ", "Optical Drive   ", "1.00", 5}}, inputAbs: true}
	usbPiKVM2022 = device{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "PiKVM", product: "Composite KVM Device", serial: "CAFEBABE", config: "PiKVM device",
		ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), msd()}, disks: []disk{{"PiKVM   ", "Flash Drive     ", "1.00", 0}}}
	usbTinyPilot = device{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "tinypilot", product: "Multifunction USB Device", serial: "6b65796d696d6570690", config: "Config 1: ECM network",
		ifaces: []iface{kbd(tinypilotKbd), ptr(tinypilotAbs)}}
	usbJetKVM = device{vid: "1d6b", pid: "0104", bcd: "0100", mfr: "JetKVM", product: "USB Emulation Device", config: "Config 1: HID",
		ifaces: []iface{kbd(jetkvmKeyboard), ptr(jetkvmAbs), ptr(bootRelMouse), msd()}, disks: []disk{{"JetKVM  ", "Virtual Media   ", "0001", 5}}}
	usbJetKVMSpoof = device{vid: "046d", pid: "c52b", bcd: "1211", mfr: "Logitech (x64)", product: "Logitech USB Input Device", serial: "3&1a2b3c4&0&1", config: "Config 1: HID",
		ifaces: []iface{kbd(jetkvmKeyboard), ptr(jetkvmAbs), msd()}, disks: []disk{{"JetKVM  ", "Virtual Media   ", "0001", 5}}}
	usbNanoKVM = device{vid: "3346", pid: "1009", bcd: "0510", mfr: "sipeed", product: "NanoKVM", serial: "0123456789ABCDEF", config: "NanoKVM", class: "ef",
		ifaces: []iface{kbd(nanokvmKeyboard), ptr(nanokvmRel), ptr(nanokvmTouchpad), msd()}, disks: []disk{{"NanoKVM ", "USB Mass Storage", "0520", 0}}}
	usbGLiNet = device{vid: "38eb", pid: "0104", bcd: "0100", mfr: "Glinet", product: "Glinet Composite Device", serial: "CAFEBABE", config: "Glinet device",
		ifaces: []iface{kbd(pikvmKeyboard), ptr(pikvmAbsMouse), audio(), msd()}, disks: []disk{{"Glinet  ", "Optical Drive   ", "1.00", 5}}}
	usbBliKVM = device{vid: "1d6b", pid: "0106", bcd: "0100", mfr: "smart-kvm", product: "Multifunction USB Device", serial: "6b65796d696d6570690",
		ifaces: []iface{kbd(tinypilotKbd), ptr(tinypilotAbs), msd()}}
	usbCH9329 = device{vid: "1a86", pid: "e129", bcd: "0100", mfr: "WWW.WCH.CN", product: "WCH UART TO KB-MS_V1.7", serial: "2019A152BB40",
		ifaces: []iface{kbd(pikvmKeyboard), ptr(ch9329AbsMouse)}, inputAbs: true}
	usbWiggler = device{vid: "16c0", pid: "27da", bcd: "0100", mfr: "wagiminator", product: "MouseWiggler", serial: "CH552E", ifaces: []iface{ptr(bootRelMouse)}, inputRel: true}

	usbDellDock  = device{vid: "413c", pid: "b06e", bcd: "0101", mfr: "Dell Inc.", product: "Dell dock", class: "09", ifaces: []iface{{9, 0, 0, "hub", nil}}}
	usbLogitech  = device{vid: "046d", pid: "c52b", bcd: "1211", mfr: "Logitech", product: "USB Receiver", ifaces: []iface{kbd(pikvmKeyboard), ptr(bootRelMouse), ptr(logitechHIDPP)}, inputRel: true}
	usbAppleKbd  = device{vid: "05ac", pid: "024f", bcd: "0069", mfr: "Apple Inc.", product: "Apple Keyboard", ifaces: []iface{kbd(pikvmKeyboard), ptr(consumerControl)}}
	usbYubiKey   = device{vid: "1050", pid: "0407", bcd: "0543", mfr: "Yubico", product: "YubiKey OTP+FIDO+CCID", ifaces: []iface{kbd(pikvmKeyboard), ptr(fidoU2F), {0x0b, 0, 0, "", nil}}}
	usbVMMouse   = device{vid: "0e0f", pid: "0003", bcd: "0102", mfr: "VMware", product: "VMware Virtual USB Mouse", ifaces: []iface{ptr(vmwareAbsMouse)}, inputAbs: true}
	usbVMKbd     = device{vid: "0e0f", pid: "0006", bcd: "0100", mfr: "VMware", product: "VMware Virtual USB Keyboard", ifaces: []iface{kbd(pikvmKeyboard)}}
	usbHeadset   = device{vid: "0b0e", pid: "245e", bcd: "0104", mfr: "GN Audio A/S", product: "Jabra Link 380", serial: "70BF92D4A6E1", ifaces: []iface{audio(), {1, 2, 0, "snd-usb-audio", nil}, ptr(consumerControl)}}
	usbWebcam    = device{vid: "046d", pid: "085e", bcd: "0317", mfr: "Logitech", product: "Logitech BRIO", serial: "409CBA2F", ifaces: []iface{{0x0e, 1, 0, "uvcvideo", nil}, {0x0e, 2, 0, "uvcvideo", nil}, audio()}}
	usbGenesys   = device{vid: "05e3", pid: "0610", bcd: "9226", mfr: "GenesysLogic", product: "USB2.1 Hub", class: "09", ifaces: []iface{{9, 0, 0, "hub", nil}}}
	usbDeskKVMSw = device{vid: "0557", pid: "2213", bcd: "0100", mfr: "ATEN", product: "CS692 KVM Switch", ifaces: []iface{kbd(pikvmKeyboard), ptr(bootRelMouse)}, inputRel: true}
)

// Remote tools and overlays as installed packages, services, files and processes.
type part func(m *machine)

func with(m machine, parts ...part) machine {
	for _, p := range parts {
		p(&m)
	}
	return m
}

func teamviewer(session bool, relay string) part {
	return func(m *machine) {
		m.packages = append(m.packages, "teamviewer")
		m.services = append(m.services, "teamviewerd.service")
		m.dirs = append(m.dirs, "opt/teamviewer/tv_bin")
		m.procs = append(m.procs, proc{pid: 1210, ppid: 1, name: "teamviewerd", exe: "/opt/teamviewer/tv_bin/teamviewerd", cmdline: []string{"/opt/teamviewer/tv_bin/teamviewerd", "-d"},
			socks: []sock{{proto: "tcp", local: m.addr + ":41822", remote: relay + ":5938"}}})
		if session {
			m.procs = append(m.procs, proc{pid: 4410, ppid: 1210, name: "TeamViewer_Desk", exe: "/opt/teamviewer/tv_bin/TeamViewer_Desktop", cmdline: []string{"/opt/teamviewer/tv_bin/TeamViewer_Desktop", "--IPCport", "5939", "--Module", "1"}, uid: 1000})
		}
	}
}

func rustdesk(session bool, relay string) part {
	return func(m *machine) {
		m.packages = append(m.packages, "rustdesk")
		m.services = append(m.services, "rustdesk.service")
		s := []sock{{proto: "tcp", local: "0.0.0.0:21118", listen: true}, {proto: "tcp", local: m.addr + ":51234", remote: relay + ":21116"}}
		if session {
			s = append(s, sock{proto: "tcp", local: m.addr + ":51240", remote: relay + ":21117"})
		}
		m.procs = append(m.procs, proc{pid: 2345, ppid: 1, name: "rustdesk", exe: "/usr/bin/rustdesk", cmdline: []string{"/usr/bin/rustdesk", "--service"}, socks: s})
		if session {
			m.procs = append(m.procs, proc{pid: 2399, ppid: 2345, name: "rustdesk", exe: "/usr/bin/rustdesk", cmdline: []string{"/usr/bin/rustdesk", "--cm"}, uid: 1000})
		}
	}
}

func anydesk(unattended, session bool) part {
	return func(m *machine) {
		m.packages = append(m.packages, "anydesk")
		m.services = append(m.services, "anydesk.service")
		conf := "ad.anynet.id=547911884\nad.anynet.alias=\n"
		if unattended {
			conf += "ad.anynet.pwd_hash=8e6ed7cd0f0d1a7c4b8b4e5a0d8c2b1f3a9c6e2d5f7a1b3c9e4d2f6a8b0c1d3e\nad.anynet.pwd_salt=3b1f8a9c2d4e6f70\n"
		}
		m.files["etc/anydesk/system.conf"] = conf
		m.procs = append(m.procs, proc{pid: 1500, ppid: 1, name: "anydesk", exe: "/usr/bin/anydesk", cmdline: []string{"/usr/bin/anydesk", "--service"}})
		if session {
			p := "home/" + m.user + "/.anydesk/connection_trace.txt"
			m.files[p] = "Incoming 2026-11-20, 21:14 Passwd 812733501 812733501\nIncoming 2026-11-23, 02:02 Passwd 812733501 812733501\n"
			m.recent = append(m.recent, p)
		}
	}
}

func x11vnc(listen, peer string) part {
	return func(m *machine) {
		s := []sock{{proto: "tcp", local: listen, listen: true}}
		if peer != "" {
			s = append(s, sock{proto: "tcp", local: m.addr + ":5900", remote: peer})
		}
		m.procs = append(m.procs, proc{pid: 3001, ppid: 1, name: "x11vnc", exe: "/usr/bin/x11vnc", cmdline: []string{"/usr/bin/x11vnc", "-forever", "-display", ":0"}, uid: 1000, socks: s})
	}
}

func xrdp(peer string) part {
	return func(m *machine) {
		m.packages = append(m.packages, "xrdp")
		m.services = append(m.services, "xrdp.service")
		m.procs = append(m.procs, proc{pid: 900, ppid: 1, name: "xrdp", exe: "/usr/sbin/xrdp", cmdline: []string{"/usr/sbin/xrdp", "--nodaemon"}, socks: []sock{{proto: "tcp", local: "0.0.0.0:3389", listen: true}}})
		if peer != "" {
			m.procs = append(m.procs, proc{pid: 5100, ppid: 900, name: "xrdp", exe: "/usr/sbin/xrdp", cmdline: []string{"/usr/sbin/xrdp", "--nodaemon"}, socks: []sock{{proto: "tcp", local: m.addr + ":3389", remote: peer}}})
		}
	}
}

func chromeRemoteDesktop() part {
	return func(m *machine) {
		m.packages = append(m.packages, "chrome-remote-desktop")
		m.services = append(m.services, "chrome-remote-desktop.service")
		m.dirs = append(m.dirs, "opt/google/chrome-remote-desktop")
		m.files["home/"+m.user+"/.config/chrome-remote-desktop/host#8f3c2a.json"] = "{\"host_id\": \"8f3c2a\", \"host_name\": \"" + m.host + "\"}\n"
		m.procs = append(m.procs, proc{pid: 2800, ppid: 1, name: "chrome-remote-d", exe: "/opt/google/chrome-remote-desktop/chrome-remote-desktop-host",
			cmdline: []string{"/opt/google/chrome-remote-desktop/chrome-remote-desktop-host", "--host-config=-"}, uid: 1000})
	}
}

func tailscale() part {
	return func(m *machine) {
		m.packages = append(m.packages, "tailscale")
		m.services = append(m.services, "tailscaled.service")
		m.virtIfaces = append(m.virtIfaces, "tailscale0")
		m.procs = append(m.procs, proc{pid: 700, ppid: 1, name: "tailscaled", exe: "/usr/sbin/tailscaled", cmdline: []string{"/usr/sbin/tailscaled", "--state=/var/lib/tailscale/tailscaled.state"}})
	}
}

func astrill() part {
	return func(m *machine) {
		m.dirs = append(m.dirs, "usr/local/Astrill")
		m.procs = append(m.procs, proc{pid: 1900, ppid: 1, name: "astrill", exe: "/usr/local/Astrill/astrill", cmdline: []string{"/usr/local/Astrill/astrill"}, uid: 1000})
	}
}

func cloudflared() part {
	return func(m *machine) {
		m.packages = append(m.packages, "cloudflared")
		m.procs = append(m.procs, proc{pid: 2600, ppid: 1, name: "cloudflared", exe: "/usr/local/bin/cloudflared", cmdline: []string{"/usr/local/bin/cloudflared", "tunnel", "run", "dev-preview"}, uid: 1000,
			socks: []sock{{proto: "tcp", local: m.addr + ":40112", remote: "198.41.192.27:7844"}}})
	}
}

func usb(ds ...device) part    { return func(m *machine) { m.usb = append(m.usb, ds...) } }
func monitor(edid string) part { return func(m *machine) { m.edid = edid } }
func korean() part {
	return func(m *machine) { m.xkb, m.xkbVariant, m.ime = "us,kr", ",kr104", "hangul" }
}
func chinese() part { return func(m *machine) { m.xkb, m.ime = "us", "pinyin" } }

// home is a household network: one gateway, the laptops of the household seeing each other.
type home struct {
	prefix string // "192.168.50."
	gwMAC  string
	others []lanHost // other hosts on the LAN (phones, TVs, the other laptops)
}

// laptop is a plain company laptop: Debian, English, the employee's zone, at home.
func laptop(host, zone string, n int, h home, self int) machine {
	mac := fmt.Sprintf("a0:c5:89:%02x:%02x:%02x", n/256, n%256, self)
	m := machine{host: host, zone: zone, locale: "en_US.UTF-8", xkb: "us", user: "emp",
		serial: fmt.Sprintf("PF%06d", n), machineID: fmt.Sprintf("%032x", 0x5ce0a000+n), wlanMAC: mac,
		addr: fmt.Sprintf("%s%d", h.prefix, self), gateway: lanHost{h.prefix + "1", h.gwMAC}, files: map[string]string{}}
	for _, o := range h.others {
		if o.ip != m.addr {
			m.neighbours = append(m.neighbours, o)
		}
	}
	return m
}

// copyTree copies a captured tree (with its symlinks) to dst.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
	})
}
