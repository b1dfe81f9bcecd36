package sysfstest

// HID report descriptors used by the trees. The PiKVM ones are the bytes of
// research/hardware.md §1.3 (pikvm/kvmd keyboard.py and mouse.py); the
// Logitech receiver's are stand-ins of the same shape (HID 1.11 Appendix
// E.6 keyboard, Appendix B.2 wheel mouse, a HID++ vendor collection).
var (
	PiKVMKeyboard = MustHex("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 26 FF 00 05 07 19 00 2A FF 00 81 00 C0")
	PiKVMAbsMouse = MustHex("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 08 15 00 25 01 95 08 75 01 81 02 05 01 09 30 09 31 16 00 00 26 FF 7F 75 10 95 02 81 02 09 38 15 81 25 7F 75 08 95 01 81 06 05 0C 0A 38 02 15 81 25 7F 75 08 95 01 81 06 C0 C0")
	LogiKeyboard  = MustHex("05 01 09 06 A1 01 05 07 19 E0 29 E7 15 00 25 01 75 01 95 08 81 02 95 01 75 08 81 01 95 05 75 01 05 08 19 01 29 05 91 02 95 01 75 03 91 01 95 06 75 08 15 00 25 65 05 07 19 00 29 65 81 00 C0")
	LogiMouse     = MustHex("05 01 09 02 A1 01 09 01 A1 00 05 09 19 01 29 03 15 00 25 01 95 03 75 01 81 02 95 01 75 05 81 01 05 01 09 30 09 31 09 38 15 81 25 7F 75 08 95 03 81 06 C0 C0")
	LogiHIDPP     = MustHex("06 00 FF 09 01 A1 01 85 10 75 08 95 06 15 00 26 FF 00 09 01 81 00 09 01 91 00 C0")
)

const xhci = "sys/devices/pci0000:00/0000:00:14.0"

// KVMLaptop is a laptop (Intel xHCI, internal SATA disk, i8042 keyboard,
// I2C touchpad) with:
//
//	1-1      Genesys Logic hub 05e3:0610
//	1-1.2    PiKVM 1d6b:0104 "PiKVM" "PiKVM Composite Device" CAFEBABE:
//	         1.0 keyboard (hidraw0), 1.1 absolute mouse (hidraw1),
//	         1.2 mass storage -> sr0 "PiKVM   " "Optical Drive   " "1.00", type 5
//	1-2      Logitech Unifying receiver 046d:c52b, three HID interfaces
//	2-1      SanDisk Ultra Fit 0781:5583 -> sdb, removable disk
//	sda      internal SATA SSD (not USB)
//
// and /proc/bus/input/devices entries for all of them in the format Linux
// 6.1 writes, written by hand: the i8042, touchpad and keyboard bitmaps
// are modeled on real devices, the PiKVM and Logitech entries composed to
// match their descriptors.
func KVMLaptop() *Tree {
	t := New()
	t.AddUSB(USBDevice{Parent: xhci, Name: "usb1", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0002", "bcdDevice", "0601", "version", " 2.00",
		"bDeviceClass", "09", "bDeviceSubClass", "00", "bDeviceProtocol", "01",
		"manufacturer", "Linux 6.1.0-18-amd64 xhci-hcd", "product", "xHCI Host Controller", "serial", "0000:00:14.0",
		"bMaxPower", "0mA", "speed", "480", "bmAttributes", "e0", "bNumInterfaces", " 1", "busnum", "1", "devnum", "1", "removable", "unknown",
	}, Interfaces: []USBInterface{{Suffix: "1.0", Driver: "hub", Attrs: []string{
		"bInterfaceNumber", "00", "bInterfaceClass", "09", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00",
	}}}})
	t.AddUSB(USBDevice{Parent: xhci + "/usb1", Name: "1-1", Attrs: []string{
		"idVendor", "05e3", "idProduct", "0610", "bcdDevice", "9226", "version", " 2.10",
		"bDeviceClass", "09", "bDeviceSubClass", "00", "bDeviceProtocol", "02",
		"manufacturer", "GenesysLogic", "product", "USB2.1 Hub",
		"bMaxPower", "100mA", "speed", "480", "bmAttributes", "e0", "bNumInterfaces", " 1", "busnum", "1", "devnum", "2", "removable", "removable",
	}, Interfaces: []USBInterface{{Suffix: "1.0", Driver: "hub", Attrs: []string{
		"bInterfaceNumber", "00", "bInterfaceClass", "09", "bInterfaceSubClass", "00", "bInterfaceProtocol", "02",
	}}}})
	pikvm := xhci + "/usb1/1-1/1-1.2"
	t.AddUSB(USBDevice{Parent: xhci + "/usb1/1-1", Name: "1-1.2", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0104", "bcdDevice", "0100", "version", " 2.00",
		"bDeviceClass", "00", "bDeviceSubClass", "00", "bDeviceProtocol", "00",
		"manufacturer", "PiKVM", "product", "PiKVM Composite Device", "serial", "CAFEBABE",
		"bMaxPower", "250mA", "speed", "480", "bmAttributes", "a0", "bNumInterfaces", " 3", "busnum", "1", "devnum", "5", "removable", "unknown",
	}, Interfaces: []USBInterface{
		{Suffix: "1.0", Driver: "usbhid", HID: "0003:1D6B:0104.0003", Report: PiKVMKeyboard, Hidraw: "hidraw3", Attrs: []string{
			"bInterfaceNumber", "00", "bInterfaceClass", "03", "bInterfaceSubClass", "01", "bInterfaceProtocol", "01", "interface", "HID Interface",
		}},
		{Suffix: "1.1", Driver: "usbhid", HID: "0003:1D6B:0104.0004", Report: PiKVMAbsMouse, Hidraw: "hidraw4", Attrs: []string{
			"bInterfaceNumber", "01", "bInterfaceClass", "03", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00", "interface", "HID Interface",
		}},
		{Suffix: "1.2", Driver: "usb-storage", Attrs: []string{
			"bInterfaceNumber", "02", "bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50", "interface", "Mass Storage",
		}},
	}})
	t.AddBlock(Block{SCSIDir: pikvm + "/1-1.2:1.2/host6/target6:0:0/6:0:0:0", Name: "sr0",
		Vendor: "PiKVM   ", Model: "Optical Drive   ", Rev: "1.00", Type: 5, Removable: true, ReadOnly: true})
	t.AddUSB(USBDevice{Parent: xhci + "/usb1", Name: "1-2", Attrs: []string{
		"idVendor", "046d", "idProduct", "c52b", "bcdDevice", "1211", "version", " 2.00",
		"bDeviceClass", "00", "bDeviceSubClass", "00", "bDeviceProtocol", "00",
		"manufacturer", "Logitech", "product", "USB Receiver", "configuration", "RQR12.11_B0032",
		"bMaxPower", "98mA", "speed", "12", "bmAttributes", "a0", "bNumInterfaces", " 3", "busnum", "1", "devnum", "3", "removable", "removable",
	}, Interfaces: []USBInterface{
		{Suffix: "1.0", Driver: "usbhid", HID: "0003:046D:C52B.0001", Report: LogiKeyboard, Hidraw: "hidraw0", Attrs: []string{
			"bInterfaceNumber", "00", "bInterfaceClass", "03", "bInterfaceSubClass", "01", "bInterfaceProtocol", "01",
		}},
		{Suffix: "1.1", Driver: "usbhid", HID: "0003:046D:C52B.0002", Report: LogiMouse, Hidraw: "hidraw1", Attrs: []string{
			"bInterfaceNumber", "01", "bInterfaceClass", "03", "bInterfaceSubClass", "01", "bInterfaceProtocol", "02",
		}},
		{Suffix: "1.2", Driver: "usbhid", HID: "0003:046D:C52B.0005", Report: LogiHIDPP, Hidraw: "hidraw2", Attrs: []string{
			"bInterfaceNumber", "02", "bInterfaceClass", "03", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00",
		}},
	}})
	t.AddUSB(USBDevice{Parent: xhci, Name: "usb2", Attrs: []string{
		"idVendor", "1d6b", "idProduct", "0003", "bcdDevice", "0601", "version", " 3.10",
		"bDeviceClass", "09", "bDeviceSubClass", "00", "bDeviceProtocol", "03",
		"manufacturer", "Linux 6.1.0-18-amd64 xhci-hcd", "product", "xHCI Host Controller", "serial", "0000:00:14.0",
		"bMaxPower", "0mA", "speed", "10000", "bmAttributes", "e0", "bNumInterfaces", " 1", "busnum", "2", "devnum", "1", "removable", "unknown",
	}, Interfaces: []USBInterface{{Suffix: "1.0", Driver: "hub", Attrs: []string{
		"bInterfaceNumber", "00", "bInterfaceClass", "09", "bInterfaceSubClass", "00", "bInterfaceProtocol", "00",
	}}}})
	t.AddUSB(USBDevice{Parent: xhci + "/usb2", Name: "2-1", Attrs: []string{
		"idVendor", "0781", "idProduct", "5583", "bcdDevice", "0100", "version", " 3.20",
		"bDeviceClass", "00", "bDeviceSubClass", "00", "bDeviceProtocol", "00",
		"manufacturer", "SanDisk", "product", "Ultra Fit", "serial", "4C530001231119116044",
		"bMaxPower", "896mA", "speed", "5000", "bmAttributes", "80", "bNumInterfaces", " 1", "busnum", "2", "devnum", "2", "removable", "removable",
	}, Interfaces: []USBInterface{{Suffix: "1.0", Driver: "usb-storage", Attrs: []string{
		"bInterfaceNumber", "00", "bInterfaceClass", "08", "bInterfaceSubClass", "06", "bInterfaceProtocol", "50",
	}}}})
	t.AddBlock(Block{SCSIDir: xhci + "/usb2/2-1/2-1:1.0/host7/target7:0:0/7:0:0:0", Name: "sdb",
		Vendor: "SanDisk ", Model: "Ultra Fit       ", Rev: "1.00", Type: 0, Removable: true})
	t.AddBlock(Block{SCSIDir: "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0", Name: "sda",
		Vendor: "ATA     ", Model: "Samsung SSD 860 ", Rev: "4B6Q", Type: 0})
	t.File("proc/bus/input/devices", []byte(laptopInput))
	return t
}

// laptopInput is /proc/bus/input/devices for KVMLaptop.
const laptopInput = `I: Bus=0011 Vendor=0001 Product=0001 Version=ab83
N: Name="AT Translated Set 2 keyboard"
P: Phys=isa0060/serio0/input0
S: Sysfs=/devices/platform/i8042/serio0/input/input3
U: Uniq=
H: Handlers=sysrq kbd event3 leds 
B: PROP=0
B: EV=120013
B: KEY=402000000 3803078f800d001 feffffdfffefffff fffffffffffffffe
B: MSC=10
B: LED=7

I: Bus=0018 Vendor=06cb Product=cd8b Version=0100
N: Name="SYNA8004:00 06CB:CD8B Touchpad"
P: Phys=i2c-SYNA8004:00
S: Sysfs=/devices/pci0000:00/0000:00:15.1/i2c_designware.1/i2c-2/i2c-SYNA8004:00/0018:06CB:CD8B.0006/input/input12
U: Uniq=
H: Handlers=mouse1 event8 
B: PROP=5
B: EV=1b
B: KEY=e520 10000 0 0 0 0
B: ABS=2e0800000000003
B: MSC=20

I: Bus=0003 Vendor=046d Product=c52b Version=1211
N: Name="Logitech USB Receiver"
P: Phys=usb-0000:00:14.0-2/input0
S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/0003:046D:C52B.0001/input/input14
U: Uniq=
H: Handlers=sysrq kbd leds event14 
B: PROP=0
B: EV=120013
B: KEY=1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe
B: MSC=10
B: LED=1f

I: Bus=0003 Vendor=046d Product=406d Version=1211
N: Name="Logitech M705"
P: Phys=usb-0000:00:14.0-2/input2:1
S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.2/0003:046D:C52B.0005/0003:046D:406D.0007/input/input19
U: Uniq=406d-a1-b2-c3-d4
H: Handlers=mouse0 event5 
B: PROP=0
B: EV=17
B: KEY=ffff0000 0 0 0 0
B: REL=1943
B: MSC=10

I: Bus=0003 Vendor=1d6b Product=0104 Version=0100
N: Name="PiKVM PiKVM Composite Device"
P: Phys=usb-0000:00:14.0-1.2/input0
S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.0/0003:1D6B:0104.0003/input/input20
U: Uniq=CAFEBABE
H: Handlers=sysrq kbd leds event20 
B: PROP=0
B: EV=120013
B: KEY=1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe
B: MSC=10
B: LED=1f

I: Bus=0003 Vendor=1d6b Product=0104 Version=0100
N: Name="PiKVM PiKVM Composite Device"
P: Phys=usb-0000:00:14.0-1.2/input1
S: Sysfs=/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.1/0003:1D6B:0104.0004/input/input21
U: Uniq=CAFEBABE
H: Handlers=mouse2 event21 
B: PROP=0
B: EV=1f
B: KEY=ff0000 0 0 0 0
B: REL=1940
B: ABS=3
B: MSC=10

`
