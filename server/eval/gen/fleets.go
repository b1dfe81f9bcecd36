package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// The suite: four fleets, labelled. Each device is a captured tree scanned for real (its
// report goes to recorded/<id>.json), optionally with the relay findings of a recorded pcap,
// plus what only the collector knows: the addresses it connects from (with what geolocation
// says of them), the HR row, and Wi-Fi (the agent reads it over nl80211 from a live kernel,
// not from a captured tree).

type fleetSpec struct {
	file, name, description string
	devices                 []devSpec
}

type devSpec struct {
	id, label, caseText, group string
	families                   []string
	machine                    *machine
	activity                   *schedule
	pcaps                      []string
	egress                     []egressSpec
	person                     *personSpec
	wifi                       *wifiSpec
	typed                      []typedSpec
}

type egressSpec struct {
	address, country, asOrg, class string
	asn                            uint32
	firstDaysAgo, lastHoursAgo     float64
}

type personSpec struct {
	country, zone string
	languages     []string
	nightShift    bool
}

type wifiSpec struct{ ssid, bssid string }

type typedSpec struct {
	why, signal, key, severity, title string
	confidence                        float64
	evidence                          map[string]string
}

// pcaps lists the agent's recorded captures the suite sniffs.
func pcaps() []string {
	return []string{"dns_anydesk.pcap", "tls_rustdesk.pcap", "tls_split_teamviewer.pcap", "stun_binding.pcap"}
}

// Internet providers the suite's homes connect through.
var (
	comcast  = isp{"US", "Comcast Cable Communications, LLC", "", 7922}
	charter  = isp{"US", "Charter Communications Inc", "", 20115}
	att      = isp{"US", "AT&T Enterprises, LLC", "", 7018}
	verizon  = isp{"US", "Verizon Business", "", 701}
	telekom  = isp{"DE", "Deutsche Telekom AG", "", 3320}
	unicom   = isp{"CN", "CHINA UNICOM China169 Backbone", "", 4837}
	rostel   = isp{"RU", "PJSC Rostelecom", "", 12389}
	vpnExit  = isp{"US", "M247 Europe SRL", "vpn", 9009}
	telmex   = isp{"MX", "Telmex", "", 8151}
	hostingD = isp{"US", "DigitalOcean, LLC", "hosting", 14061}
)

type isp struct {
	country, org, class string
	asn                 uint32
}

func (i isp) at(addr string) egressSpec {
	return egressSpec{address: addr, country: i.country, asOrg: i.org, class: i.class, asn: i.asn, firstDaysAgo: 30, lastHoursAgo: 1}
}

func us(zone string) *personSpec {
	return &personSpec{country: "US", zone: zone, languages: []string{"en"}}
}

func dayShift(zone string) *schedule { return &schedule{zone: zone, from: 9, to: 18, days: 14} }
func koreaShift(zone string) *schedule {
	return &schedule{zone: "Asia/Seoul", from: 9, to: 18, days: 14}
}

func newHome(n int, prefix string, others ...lanHost) home {
	h := home{prefix: prefix, gwMAC: fmt.Sprintf("f4:92:bf:%02x:%02x:01", n/256, n%256)}
	h.others = append(h.others, lanHost{prefix + "30", fmt.Sprintf("8c:85:90:%02x:00:30", n%256)}) // a phone
	h.others = append(h.others, others...)
	return h
}

func mp(m machine) *machine { return &m }

func suite() []fleetSpec {
	return []fleetSpec{engineering(), helpdesk(), contractors(), hardware()}
}

// engineering is a clean, fully remote engineering org: every device benign, many of them
// hard cases.
func engineering() fleetSpec {
	const chi, ny, la, den = "America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver"
	dev := func(id, caseText string, fam []string, zone string, n int, e egressSpec, parts ...part) devSpec {
		h := newHome(n, "192.168.1.")
		return devSpec{id: id, label: "benign", caseText: caseText, group: "engineering", families: fam,
			machine: mp(with(laptop(id, zone, n, h, 20), parts...)), activity: dayShift(zone), egress: []egressSpec{e}, person: us(zone),
			wifi: &wifiSpec{ssid: fmt.Sprintf("home-%d", n), bssid: fmt.Sprintf("d8:07:b6:%02x:%02x:10", n/256, n%256)}}
	}
	couple := newHome(117, "192.168.4.", lanHost{"192.168.4.21", "a0:c5:89:00:75:15"}, lanHost{"192.168.4.22", "a0:c5:89:00:76:16"})
	cpl := func(id, caseText string, n, self int) devSpec {
		return devSpec{id: id, label: "benign", caseText: caseText, group: "engineering", families: []string{"fleet"},
			machine: mp(laptop(id, den, n, couple, self)), activity: dayShift(den), egress: []egressSpec{comcast.at("73.14.201.88")}, person: us(den),
			wifi: &wifiSpec{ssid: "casa-ruiz", bssid: "d8:07:b6:aa:01:10"}}
	}
	bilingual := dev("eng-bilingual", "bilingual employee: Korean layout and Hangul IME, Korean declared in HR", []string{"location"}, la, 112, verizon.at("71.181.3.40"), korean())
	bilingual.person.languages = []string{"en", "ko"}
	sre := dev("eng-sre-night", "night-shift SRE: active 22:00-07:00 local, night shift declared in HR", []string{"location"}, chi, 113, att.at("99.12.77.5"))
	sre.activity = &schedule{zone: chi, from: 22, to: 7, days: 14}
	sre.person.nightShift = true
	trav := dev("eng-traveller", "traveller: US employee at a conference in Berlin, laptop zone set to Berlin, hotel egress in Germany", []string{"location"}, "Europe/Berlin", 114, telekom.at("87.128.44.19"))
	trav.person = us(chi)
	trav.egress = []egressSpec{comcast.at("73.110.9.14"), telekom.at("87.128.44.19")}
	trav.egress[0].lastHoursAgo = 4 * 24
	trav.egress[1].firstDaysAgo = 3
	trav.activity = dayShift("Europe/Berlin")
	return fleetSpec{file: "engineering.json", name: "northwind-engineering",
		description: "A fully remote engineering org, every laptop at its owner's home: docks, receivers, security keys, a developer VM, a desk KVM switch, a company tailnet, a dev tunnel, a bilingual engineer, a night-shift SRE, a traveller and a couple sharing one home. No farm.",
		devices: []devSpec{
			dev("eng-plain", "laptop panel only, nothing attached", nil, chi, 101, comcast.at("73.50.12.7")),
			dev("eng-dock", "Dell dock with a Dell U2720Q monitor", []string{"kvm"}, ny, 102, verizon.at("71.105.8.21"), usb(usbDellDock), monitor("benign-dell-u2720q.bin")),
			dev("eng-logitech", "Logitech Unifying receiver (the id JetKVM spoofs, without the anomalies)", []string{"kvm", "hid"}, la, 103, charter.at("24.27.66.3"), usb(usbLogitech)),
			dev("eng-apple-kbd", "Apple keyboard", []string{"hid"}, den, 104, comcast.at("73.95.140.2"), usb(usbAppleKbd)),
			dev("eng-yubikey", "YubiKey (a HID keyboard by design)", []string{"hid", "kvm"}, ny, 105, att.at("99.8.201.44"), usb(usbYubiKey)),
			dev("eng-dev-vm", "developer in a VMware VM: virtual keyboard and absolute pointer", []string{"kvm", "hid"}, chi, 106, comcast.at("73.45.3.190"), usb(usbVMMouse, usbVMKbd)),
			dev("eng-headset", "USB headset with call buttons", []string{"hid"}, la, 107, charter.at("24.43.9.201"), usb(usbHeadset)),
			dev("eng-webcam", "webcam", nil, den, 108, comcast.at("73.181.20.9"), usb(usbWebcam), monitor("benign-apple-thunderbolt.bin")),
			dev("eng-kvm-switch", "home office with a desk KVM switch (ATEN CS692) between the laptop and a desktop", []string{"kvm", "hid"}, chi, 109, att.at("99.31.7.88"), usb(usbGenesys, usbDeskKVMSw, usbLogitech)),
			dev("eng-tailnet", "developer on the company tailnet (Tailscale)", []string{"overlay"}, ny, 110, verizon.at("71.190.44.2"), tailscale()),
			dev("eng-dev-tunnel", "developer exposing a preview server through a Cloudflare tunnel", []string{"overlay", "relay"}, la, 111, charter.at("24.205.1.77"), cloudflared()),
			bilingual, sre, trav,
			dev("eng-vnc-loopback", "developer with x11vnc on loopback for a local test", []string{"os_remote", "remote_tool"}, chi, 115, comcast.at("73.9.88.31"), x11vnc("127.0.0.1:5900", "")),
			cpl("eng-couple-a", "couple working for the company from one home (shared gateway, Wi-Fi, egress): first laptop", 121, 21),
			cpl("eng-couple-b", "couple working for the company from one home: second laptop", 122, 22),
		},
	}
}

// helpdesk is an org that supports its staff with TeamViewer (sanctioned for the helpdesk
// group), with three farm laptops among its staff.
func helpdesk() fleetSpec {
	const chi, ny, phx = "America/Chicago", "America/New_York", "America/Phoenix"
	tvRelay := "217.146.28.91"
	dev := func(id, label, caseText, group string, fam []string, zone string, n int, e egressSpec, parts ...part) devSpec {
		h := newHome(n, "192.168.0.")
		return devSpec{id: id, label: label, caseText: caseText, group: group, families: fam,
			machine: mp(with(laptop(id, zone, n, h, 40), parts...)), activity: dayShift(zone), egress: []egressSpec{e}, person: us(zone),
			wifi: &wifiSpec{ssid: fmt.Sprintf("net-%d", n), bssid: fmt.Sprintf("d8:07:b6:%02x:%02x:20", n/256, n%256)}}
	}
	hd := func(id, caseText string, n int, e egressSpec, parts ...part) devSpec {
		return dev(id, "benign", caseText, "helpdesk", []string{"remote_tool", "relay"}, chi, n, e, parts...)
	}
	tvSession := hd("hd-agent-session", "IT helpdesk agent, sanctioned TeamViewer, a support session in progress", 203, comcast.at("73.72.15.4"), teamviewer(true, tvRelay))
	tvSession.pcaps = []string{"tls_split_teamviewer.pcap"}
	farmRD := dev("sup-farm-rustdesk", "farm", "support staffer's laptop driven through RustDesk from Korea: session over hbbr, Korean IME, working hours of Seoul", "support", []string{"remote_tool", "relay", "location"}, ny, 212, verizon.at("71.244.10.3"), rustdesk(true, "45.76.178.22"), korean())
	farmRD.activity = koreaShift(ny)
	farmRD.pcaps = []string{"tls_rustdesk.pcap"}
	farmAD := dev("sup-farm-anydesk", "farm", "the captured farm laptop (agent/scan/testdata/laptop): AnyDesk unattended with a fresh incoming session, RustDesk session, x11vnc on 5900, PiKVM EDID, Korean IME, German locale", "support", []string{"remote_tool", "os_remote", "kvm", "location", "relay"}, chi, 213, comcast.at("73.201.14.60"))
	farmAD.machine = &machine{captured: "agent/scan/testdata/laptop", recent: []string{"home/ana/.anydesk/connection_trace.txt"}}
	farmAD.activity = nil
	farmAD.pcaps = []string{"dns_anydesk.pcap"}
	farmCRD := dev("sup-farm-crd", "farm", "laptop reached through Chrome Remote Desktop behind Astrill VPN (US exit), Chinese IME, active overnight", "support", []string{"remote_tool", "overlay", "location"}, phx, 214, vpnExit.at("185.156.46.10"), chromeRemoteDesktop(), astrill(), chinese())
	farmCRD.activity = &schedule{zone: phx, from: 18, to: 3, days: 14}
	return fleetSpec{file: "helpdesk.json", name: "contoso-support",
		description: "A support org whose IT helpdesk uses TeamViewer (sanctioned for the helpdesk group); staff laptops have the TeamViewer host installed. Three staff laptops are farmed: RustDesk from Korea, the captured AnyDesk/RustDesk/x11vnc laptop, Chrome Remote Desktop behind Astrill.",
		devices: []devSpec{
			hd("hd-agent-1", "IT helpdesk agent, sanctioned TeamViewer running", 201, comcast.at("73.72.9.18"), teamviewer(false, tvRelay)),
			hd("hd-agent-2", "IT helpdesk agent, sanctioned TeamViewer running", 202, att.at("99.120.4.6"), teamviewer(false, tvRelay)),
			tvSession,
			hd("hd-agent-multi", "IT helpdesk lead with TeamViewer and AnyDesk (customers use both)", 204, charter.at("24.160.22.9"), teamviewer(false, tvRelay), anydesk(false, false)),
			hd("hd-agent-vnc", "IT helpdesk agent with x11vnc for lab machines, listening on the LAN", 205, comcast.at("73.88.101.2"), teamviewer(false, tvRelay), x11vnc("0.0.0.0:5900", "")),
			dev("sup-staff-1", "benign", "support staffer, TeamViewer host installed by IT, idle", "support", []string{"remote_tool", "relay"}, ny, 206, verizon.at("71.250.3.17"), teamviewer(false, tvRelay)),
			dev("sup-staff-2", "benign", "support staffer, TeamViewer host installed by IT, idle", "support", []string{"remote_tool", "relay"}, chi, 207, comcast.at("73.36.199.5"), teamviewer(false, tvRelay)),
			dev("sup-staff-helped", "benign", "support staffer being helped by IT right now: a TeamViewer session", "support", []string{"remote_tool", "relay"}, phx, 208, att.at("99.45.6.230"), teamviewer(true, tvRelay)),
			dev("sup-staff-3", "benign", "support staffer, plain laptop", "support", nil, ny, 209, verizon.at("71.99.13.2")),
			dev("sup-staff-anydesk", "benign", "support staffer with AnyDesk installed for family support, never used", "support", []string{"remote_tool"}, chi, 210, comcast.at("73.22.64.98"), anydesk(false, false)),
			dev("sup-staff-xrdp", "benign", "staffer whose Linux desktop IT reaches over xrdp from the office", "support", []string{"os_remote", "remote_tool"}, chi, 211, comcast.at("73.61.77.1"), xrdp("10.20.0.15:50511")),
			farmRD, farmAD, farmCRD,
		},
	}
}

// contractors has a 10-laptop farm in one home (one gateway, one Wi-Fi, one egress, laptops
// that see each other) among ordinary remote employees.
func contractors() fleetSpec {
	const tn = "America/Chicago"
	farmHome := home{prefix: "192.168.50.", gwMAC: "c0:06:c3:5e:10:01"}
	for i := 0; i < 10; i++ {
		farmHome.others = append(farmHome.others, lanHost{fmt.Sprintf("192.168.50.%d", 101+i), fmt.Sprintf("a0:c5:89:01:%02x:%02x", 44+i, 101+i)})
	}
	farm := func(i int, caseText string, fam []string, parts ...part) devSpec {
		id := fmt.Sprintf("ctr-farm-%02d", i+1)
		m := with(laptop(id, tn, 300+i, farmHome, 101+i), parts...)
		return devSpec{id: id, label: "farm", caseText: caseText, group: "contractors", families: append([]string{"fleet"}, fam...),
			machine: &m, activity: koreaShift(tn), egress: []egressSpec{comcast.at("73.120.88.41")}, person: us(tn),
			wifi: &wifiSpec{ssid: "NETGEAR-5G", bssid: "c0:06:c3:5e:10:02"}}
	}
	ben := func(id, caseText string, fam []string, zone string, n int, e egressSpec, parts ...part) devSpec {
		h := newHome(n, "10.0.0.")
		return devSpec{id: id, label: "benign", caseText: caseText, group: "contractors", families: fam,
			machine: mp(with(laptop(id, zone, n, h, 12), parts...)), activity: dayShift(zone), egress: []egressSpec{e}, person: us(zone),
			wifi: &wifiSpec{ssid: fmt.Sprintf("home-%d", n), bssid: fmt.Sprintf("d8:07:b6:%02x:%02x:30", n/256, n%256)}}
	}
	rd := rustdesk(true, "45.76.178.22")
	ad := anydesk(true, true)
	f := []devSpec{
		farm(0, "farm laptop 1 of 10: RustDesk session", []string{"remote_tool", "relay", "location"}, rd, korean()),
		farm(1, "farm laptop 2 of 10: RustDesk session", []string{"remote_tool", "relay", "location"}, rd),
		farm(2, "farm laptop 3 of 10: RustDesk installed, idle", []string{"remote_tool", "relay"}, rustdesk(false, "45.76.178.22")),
		farm(3, "farm laptop 4 of 10: RustDesk session, Korean IME", []string{"remote_tool", "relay", "location"}, rd, korean()),
		farm(4, "farm laptop 5 of 10: AnyDesk unattended with a fresh session", []string{"remote_tool", "relay"}, ad),
		farm(5, "farm laptop 6 of 10: AnyDesk unattended with a fresh session", []string{"remote_tool", "relay"}, ad),
		farm(6, "farm laptop 7 of 10: AnyDesk unattended, idle", []string{"remote_tool"}, anydesk(true, false)),
		farm(7, "farm laptop 8 of 10: nothing installed; Korean IME and Seoul working hours only", []string{"location"}, korean()),
		farm(8, "farm laptop 9 of 10: nothing installed; Seoul working hours only", []string{"location"}),
		farm(9, "farm laptop 10 of 10: Tailscale and x11vnc serving the LAN with a peer connected", []string{"overlay", "os_remote", "remote_tool"}, tailscale(), x11vnc("0.0.0.0:5900", "100.101.7.3:51022")),
	}
	f[1].pcaps = []string{"tls_rustdesk.pcap"}
	f[4].pcaps = []string{"dns_anydesk.pcap"}
	b := []devSpec{
		ben("ctr-dev-1", "contractor, plain laptop", nil, tn, 351, comcast.at("73.120.14.2")),
		ben("ctr-dev-2", "contractor in the same city and on the same ISP as the farm (different home)", []string{"fleet"}, tn, 352, comcast.at("73.120.88.99")),
		ben("ctr-dev-3", "contractor with Logitech receiver and Dell dock", []string{"hid"}, "America/New_York", 353, verizon.at("71.172.9.14"), usb(usbDellDock, usbLogitech)),
		ben("ctr-dev-video", "contractor on video calls all day (STUN to a call provider)", []string{"relay"}, "America/Denver", 354, comcast.at("73.3.190.8")),
		ben("ctr-dev-anydesk", "contractor with AnyDesk installed to help relatives, idle", []string{"remote_tool"}, tn, 355, att.at("99.60.2.11"), anydesk(false, false)),
		ben("ctr-dev-tailscale", "contractor with a personal tailnet", []string{"overlay"}, "America/Los_Angeles", 356, charter.at("24.55.70.6"), tailscale()),
		ben("ctr-dev-late", "contractor who works late (12:00-22:00 local)", []string{"location"}, "America/New_York", 357, verizon.at("71.10.5.77")),
		ben("ctr-dev-yubi", "contractor with a YubiKey and a headset", []string{"hid"}, tn, 358, comcast.at("73.88.3.16"), usb(usbYubiKey, usbHeadset)),
	}
	b[3].pcaps = []string{"stun_binding.pcap"}
	b[6].activity = &schedule{zone: "America/New_York", from: 12, to: 22, days: 14}
	return fleetSpec{file: "contractors.json", name: "fabrikam-contractors",
		description: "Contractors working from home; ten of them are one laptop farm in a Nashville house: one gateway, one Wi-Fi, one egress, laptops that see each other, driven from Korea through RustDesk, AnyDesk, x11vnc over Tailscale, or with nothing installed at all.",
		devices:     append(f, b...),
	}
}

// hardware has a KVM-over-IP farm (seven boxes in one home), single KVM and HID injector
// setups, and laptops reshipped abroad.
func hardware() fleetSpec {
	const pdx = "America/Los_Angeles"
	kvmHome := home{prefix: "192.168.8.", gwMAC: "94:83:c4:22:7a:01"}
	for i := 0; i < 7; i++ {
		kvmHome.others = append(kvmHome.others, lanHost{fmt.Sprintf("192.168.8.%d", 150+i), fmt.Sprintf("a0:c5:89:02:%02x:%02x", 144+i, 150+i)})
		kvmHome.others = append(kvmHome.others, lanHost{fmt.Sprintf("192.168.8.%d", 200+i), fmt.Sprintf("dc:a6:32:%02x:11:%02x", i, 200+i)}) // the KVM boxes
	}
	kvm := func(i int, caseText string, fam []string, parts ...part) devSpec {
		id := fmt.Sprintf("hw-kvm-%02d", i+1)
		m := with(laptop(id, pdx, 400+i, kvmHome, 150+i), parts...)
		return devSpec{id: id, label: "farm", caseText: caseText, group: "field-engineering", families: append([]string{"kvm", "fleet"}, fam...),
			machine: &m, activity: koreaShift(pdx), egress: []egressSpec{charter.at("24.20.117.5")}, person: us(pdx),
			wifi: &wifiSpec{ssid: "TP-Link_7A01", bssid: "94:83:c4:22:7a:02"}}
	}
	alone := func(id, label, caseText string, fam []string, zone string, n int, e egressSpec, parts ...part) devSpec {
		h := newHome(n, "192.168.2.")
		return devSpec{id: id, label: label, caseText: caseText, group: "field-engineering", families: fam,
			machine: mp(with(laptop(id, zone, n, h, 60), parts...)), activity: dayShift(zone), egress: []egressSpec{e}, person: us(zone),
			wifi: &wifiSpec{ssid: fmt.Sprintf("home-%d", n), bssid: fmt.Sprintf("d8:07:b6:%02x:%02x:40", n/256, n%256)}}
	}
	reship := func(id, caseText string, fam []string, n int, e egressSpec, parts ...part) devSpec {
		d := alone(id, "farm", caseText, append([]string{"location"}, fam...), pdx, n, e, parts...)
		d.activity = dayShift(pdx) // the laptop's own clock still says Portland; the day fits
		return d
	}
	k := []devSpec{
		kvm(0, "PiKVM V4 Plus with its EDID and virtual CD-ROM", []string{"hid"}, usb(usbPiKVMv4), monitor("pikvm-v4plus.bin")),
		kvm(1, "PiKVM (2021-2025 kvmd) with its EDID (same CAFEBABE serial as its neighbour)", nil, usb(usbPiKVM2022), monitor("pikvm-2022.bin")),
		kvm(2, "TinyPilot with its EDID", []string{"hid"}, usb(usbTinyPilot), monitor("tinypilot.bin")),
		kvm(3, "JetKVM, default identity", nil, usb(usbJetKVM), monitor("jetkvm-default.bin")),
		kvm(4, "JetKVM with the Logitech spoof preset and the Acer monitor preset", []string{"hid"}, usb(usbJetKVMSpoof), monitor("jetkvm-acer-b246wl.bin")),
		kvm(5, "Sipeed NanoKVM with its Philips monitor preset", nil, usb(usbNanoKVM), monitor("nanokvm-phl-342e2.bin")),
		kvm(6, "GL.iNet Comet, no EDID captured, Korean IME", []string{"location"}, usb(usbGLiNet), korean()),
	}
	single := []devSpec{
		alone("hw-blikvm", "farm", "BliKVM alone in a facilitator's flat (TC358743 EDID)", []string{"kvm"}, pdx, 410, comcast.at("73.37.12.200"), usb(usbBliKVM), monitor("tc358743-toshiba-h2c.bin")),
		alone("hw-ch9329", "farm", "CH9329 UART-to-HID cable driven by a Raspberry Pi", []string{"kvm", "hid"}, "America/Denver", 411, comcast.at("73.229.4.41"), usb(usbCH9329)),
		alone("hw-ms2109", "farm", "MS2109 HDMI capture dongle on the HDMI port with a mouse jiggler, Seoul working hours", []string{"kvm", "hid", "location"}, "America/New_York", 412, verizon.at("71.183.61.2"), usb(usbWiggler), monitor("ms2109.bin")),
		alone("hw-ms2130", "farm", "MS2130 HDMI capture dongle on the HDMI port, Korean IME", []string{"kvm", "location"}, "America/Chicago", 413, att.at("99.102.33.7"), monitor("ms2130.bin"), korean()),
	}
	single[2].activity = koreaShift("America/New_York")
	r := []devSpec{
		reship("hw-reship-cn", "laptop reshipped to China: egress China Unicom, clock still on Portland", nil, 420, unicom.at("112.224.3.9")),
		reship("hw-reship-ru", "laptop reshipped to Russia with xrdp serving a local client", []string{"os_remote", "remote_tool"}, 421, rostel.at("95.24.10.5"), xrdp("192.168.2.77:49822")),
		reship("hw-reship-vps", "laptop reached from a VPS: RustDesk session relayed, egress through a hosting network", []string{"remote_tool", "relay"}, 422, hostingD.at("159.203.77.12"), rustdesk(true, "159.203.77.20")),
	}
	r[0].typed = []typedSpec{{
		why:    "the collector measures round trips on its own TCP connection (TCP_INFO); no recorded source exists outside a live collector",
		signal: "location.rtt", key: "too_far", severity: "medium", confidence: 0.5,
		title:    "Round trip 212 ms is too slow for a laptop in Portland (declared 0 km away; slowest plausible 95 ms)",
		evidence: map[string]string{"min_rtt_ms": "212", "samples": "14", "declared_distance_km": "0", "slowest_plausible_ms": "95", "basis": "hr-zone"},
	}}
	b := []devSpec{
		alone("hw-lab-bmc", "benign", "lab engineer with an ATEN virtual keyboard/mouse of a server-room KVM on the laptop", []string{"kvm", "hid"}, pdx, 430, comcast.at("73.96.40.1"), usb(device{vid: "0557", pid: "2419", bcd: "0100", mfr: "ATEN", product: "Virtual mouse/keyboard", ifaces: []iface{kbd(pikvmKeyboard), ptr(bootRelMouse)}, inputRel: true})),
		alone("hw-eng-dock", "benign", "field engineer with a Dell dock", []string{"kvm"}, pdx, 431, comcast.at("73.96.41.9"), usb(usbDellDock, usbWebcam)),
		alone("hw-eng-mexico", "benign", "field engineer on a customer visit in Mexico City, zone switched", []string{"location"}, "America/Mexico_City", 432, telmex.at("187.189.20.5")),
		alone("hw-eng-plain", "benign", "field engineer, plain laptop", nil, "America/Denver", 433, comcast.at("73.14.9.120")),
	}
	b[2].person = us(pdx)
	return fleetSpec{file: "hardware.json", name: "globex-field",
		description: "A hardware field-engineering org: a KVM-over-IP farm of seven laptops in one Portland home, single KVM, HID-injector and capture setups, laptops reshipped to China, Russia and a VPS, and benign engineers (server-room KVM, dock, a trip to Mexico).",
		devices:     append(append(append(k, single...), r...), b...),
	}
}

// The fleet file, as server/eval reads it (docs/scenarios.md).
type fleetFile struct {
	Fleet       string       `json:"fleet"`
	Description string       `json:"description"`
	Observed    string       `json:"observed"`
	Devices     []deviceFile `json:"devices"`
}

type deviceFile struct {
	ID       string          `json:"id"`
	Hostname string          `json:"hostname"`
	Label    string          `json:"label"`
	Families []string        `json:"families"`
	Case     string          `json:"case"`
	Group    string          `json:"group,omitempty"`
	Recorded []string        `json:"recorded,omitempty"`
	Egress   []egressFile    `json:"egress,omitempty"`
	Person   *personFile     `json:"person,omitempty"`
	Facts    json.RawMessage `json:"facts,omitempty"`
	Findings []findingFile   `json:"findings,omitempty"`
}

type egressFile struct {
	Address   string `json:"address"`
	FirstSeen string `json:"first_seen"`
	LastSeen  string `json:"last_seen"`
	Country   string `json:"country,omitempty"`
	ASN       uint32 `json:"asn,omitempty"`
	ASOrg     string `json:"as_org,omitempty"`
	Class     string `json:"class,omitempty"`
}

type personFile struct {
	Country    string   `json:"country,omitempty"`
	TimeZone   string   `json:"time_zone,omitempty"`
	Languages  []string `json:"languages,omitempty"`
	NightShift bool     `json:"night_shift,omitempty"`
}

type findingFile struct {
	Typed      bool              `json:"typed"`
	Why        string            `json:"why"`
	Signal     string            `json:"signal"`
	Key        string            `json:"key"`
	Severity   string            `json:"severity"`
	Confidence float64           `json:"confidence"`
	Title      string            `json:"title"`
	Evidence   map[string]string `json:"evidence,omitempty"`
}

func writeFleet(path string, fl fleetSpec) error {
	out := fleetFile{Fleet: fl.name, Description: fl.description, Observed: epoch.Format(time.RFC3339)}
	for _, d := range fl.devices {
		host := d.id
		if d.machine != nil && d.machine.captured != "" {
			host = "farm-laptop-07" // the captured tree's own hostname
		}
		df := deviceFile{ID: d.id, Hostname: host, Label: d.label, Families: d.families, Case: d.caseText, Group: d.group, Person: nil}
		if df.Families == nil {
			df.Families = []string{}
		}
		if d.machine != nil {
			df.Recorded = append(df.Recorded, "recorded/"+d.id+".json")
		}
		for _, p := range d.pcaps {
			df.Recorded = append(df.Recorded, "recorded/pcap-"+p[:len(p)-len(".pcap")]+".json")
		}
		for _, e := range d.egress {
			df.Egress = append(df.Egress, egressFile{Address: e.address,
				FirstSeen: epoch.Add(-time.Duration(e.firstDaysAgo * float64(24*time.Hour))).Format(time.RFC3339),
				LastSeen:  epoch.Add(-time.Duration(e.lastHoursAgo * float64(time.Hour))).Format(time.RFC3339),
				Country:   e.country, ASN: e.asn, ASOrg: e.asOrg, Class: e.class})
		}
		if p := d.person; p != nil {
			df.Person = &personFile{Country: p.country, TimeZone: p.zone, Languages: p.languages, NightShift: p.nightShift}
		}
		if w := d.wifi; w != nil {
			df.Facts = json.RawMessage(fmt.Sprintf(`{"lan":{"wifi":[{"interface":"wlp0s20f3","ssid":%q,"bssid":%q,"known":true}]}}`, w.ssid, w.bssid))
		}
		for _, t := range d.typed {
			df.Findings = append(df.Findings, findingFile{Typed: true, Why: t.why, Signal: t.signal, Key: t.key, Severity: t.severity, Confidence: t.confidence, Title: t.title, Evidence: t.evidence})
		}
		out.Devices = append(out.Devices, df)
	}
	return writeJSON(path, out)
}
