package block

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/farmwatch/farmwatch/platform/usb/sysfstest"
)

func writeTree(t *testing.T, tree *sysfstest.Tree) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("sysfs names contain ':'")
	}
	root := t.TempDir()
	if err := tree.Write(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestListCapturedLaptop(t *testing.T) {
	root := writeTree(t, sysfstest.KVMLaptop())
	got, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Disk{
		{Name: "sda", Vendor: "ATA", Model: "Samsung SSD 860", Revision: "4B6Q", Transport: "ata"},
		{Name: "sdb", Vendor: "SanDisk", Model: "Ultra Fit", Revision: "1.00", Removable: true, Transport: "usb", USBPath: "2-1"},
		{Name: "sr0", Vendor: "PiKVM", Model: "Optical Drive", Revision: "1.00", Removable: true, ReadOnly: true, Transport: "usb", USBPath: "1-1.2", Type: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListEmptyAndMissing(t *testing.T) {
	if got, err := List(context.Background(), t.TempDir()); err != nil || got != nil {
		t.Errorf("List(empty tree) = %v, %v; want nil, nil", got, err)
	}
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("List(missing root) gave no error")
	}
}

func TestListLive(t *testing.T) {
	disks, err := List(context.Background(), "")
	if err != nil && err != ErrNotImplemented {
		t.Fatalf("List(live): %v", err)
	}
	t.Logf("%d live drives", len(disks))
}

func TestListHostileTree(t *testing.T) {
	tree := sysfstest.New()
	tree.AddBlock(sysfstest.Block{SCSIDir: "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/host9/target9:0:0/9:0:0:0",
		Name: "sdc", Vendor: "Evil\x1b[2J", Model: "Disk\xff", Rev: "9.99", Type: 0})
	tree.Attrs("sys/devices/pci0000:00/0000:00:14.0/usb1/1-3/1-3:1.0/host9/target9:0:0/9:0:0:0", "type", "lots")
	tree.RawLink("sys/block/sdd", "../../../../../../../../etc")
	tree.RawLink("sys/block/loop0", "../devices/virtual/block/loop0")
	root := writeTree(t, tree)
	got, err := List(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "sys/block/sdd") {
		t.Errorf("escaping link not reported: %v", err)
	}
	want := []Disk{{Name: "sdc", Vendor: "Evil\uFFFD[2J", Model: "Disk\uFFFD", Revision: "9.99", Transport: "usb", USBPath: "1-3",
		Flags: []string{"control-chars", "invalid-utf8", "bad-attribute"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List =\n%+v\nwant\n%+v", got, want)
	}
}

func TestTransport(t *testing.T) {
	tests := []struct{ target, transport, usbPath string }{
		{"../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.2/host6/target6:0:0/6:0:0:0/block/sr0", "usb", "1-1.2"},
		{"../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host7/target7:0:0/7:0:0:0/block/sdb", "usb", "2-1"},
		// A dock: card reader behind two hubs.
		{"../devices/pci0000:00/0000:00:0d.0/usb4/4-1/4-1.3/4-1.3.2/4-1.3.2:1.0/host8/target8:0:0/8:0:0:0/block/sdc", "usb", "4-1.3.2"},
		{"../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda", "ata", ""},
		{"../devices/virtual/block/loop0", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		tr, p := transport(tt.target)
		if tr != tt.transport || p != tt.usbPath {
			t.Errorf("transport(%q) = %q, %q; want %q, %q", tt.target, tr, p, tt.transport, tt.usbPath)
		}
	}
}

func TestParseStorageID(t *testing.T) {
	tests := []struct {
		id                   string
		vendor, product, rev string
		typ                  uint8
		usb, ok              bool
	}{
		{`USBSTOR\CdRomPiKVM___Optical_Drive___1.00`, "PiKVM", "Optical Drive", "1.00", 5, true, true},
		{`USBSTOR\DiskPiKVM___Flash_Drive_____1.00`, "PiKVM", "Flash Drive", "1.00", 0, true, true},
		{`USBSTOR\DiskGlinet__Optical_Drive___1.00`, "Glinet", "Optical Drive", "1.00", 0, true, true},
		{`USBSTOR\DiskNanoKVM_USB_Mass_Storage0520`, "NanoKVM", "USB Mass Storage", "0520", 0, true, true},
		{`USBSTOR\CdRomPiKVM___Optical_Drive___`, "PiKVM", "Optical Drive", "", 5, true, true},
		{`USBSTOR\CdRomPiKVM___`, "PiKVM", "", "", 5, true, true},
		{`SCSI\DiskNVMe____SAMSUNG_MZVLB5120000`, "NVMe", "SAMSUNG MZVLB512", "0000", 0, false, true},
		{`usbstor\sfloppySanDisk_Ultra_Fit_______1.00`, "SanDisk", "Ultra Fit", "1.00", 0, true, true},
		{`USBSTOR\GenCdRom`, "", "", "", 0, false, false},
		{`PiKVM___Optical_Drive___1`, "", "", "", 0, false, false},
		{`USB\VID_1D6B&PID_0104`, "", "", "", 0, false, false},
		{`USBSTOR\CdRomPiKVM`, "", "", "", 0, false, false},
	}
	for _, tt := range tests {
		v, p, r, typ, u, ok := parseStorageID(tt.id)
		if v != tt.vendor || p != tt.product || r != tt.rev || typ != tt.typ || u != tt.usb || ok != tt.ok {
			t.Errorf("parseStorageID(%q) = %q %q %q %d %v %v; want %q %q %q %d %v %v",
				tt.id, v, p, r, typ, u, ok, tt.vendor, tt.product, tt.rev, tt.typ, tt.usb, tt.ok)
		}
	}
}

// testdata/setupapi_disks.json holds the records the Windows reader would
// make for the DiskDrive and CDROM classes of a laptop with an NVMe disk, a
// PiKVM in CD-ROM mode, a SanDisk stick and a JetKVM with its Logitech spoof
// preset: written by hand in the USBSTOR id format, with the inquiry strings
// of research/hardware.md §1.2.
func TestFromSetupAPI(t *testing.T) {
	b, err := os.ReadFile("testdata/setupapi_disks.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []diskRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	got := fromSetupAPI(recs)
	want := []Disk{
		{Name: `SCSI\DISK&VEN_NVME&PROD_SAMSUNG_MZVLB512\5&1A2B3C4D&0&000000`, Vendor: "NVMe", Model: "SAMSUNG MZVLB512", Revision: "0000"},
		{Name: `USBSTOR\CDROM&VEN_JETKVM&PROD_VIRTUAL_MEDIA&REV_\3&1A2B3C4&0&1&0`, Vendor: "JetKVM", Model: "Virtual Media", Type: 5,
			Removable: true, Transport: "usb", USBPath: `USB\VID_046D&PID_C52B\3&1A2B3C4&0&1`},
		{Name: `USBSTOR\CDROM&VEN_PIKVM&PROD_OPTICAL_DRIVE&REV_1.00\CAFEBABE&0`, Vendor: "PiKVM", Model: "Optical Drive", Revision: "1.00", Type: 5,
			Removable: true, Transport: "usb", USBPath: `USB\VID_1D6B&PID_0104\CAFEBABE`},
		{Name: `USBSTOR\DISK&VEN_SANDISK&PROD_ULTRA_FIT&REV_1.00\4C530001231119116044&0`, Vendor: "SanDisk", Model: "Ultra Fit", Revision: "1.00",
			Removable: true, Transport: "usb", USBPath: `USB\VID_0781&PID_5583\4C530001231119116044`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fromSetupAPI =\n%+v\nwant\n%+v", got, want)
	}
}

func FuzzStorageID(f *testing.F) {
	for _, s := range []string{`USBSTOR\CdRomPiKVM___Optical_Drive___1.00`, `SCSI\DiskNVMe____SAMSUNG_MZVLB5120000`, `USBSTOR\GenCdRom`, `USBSTOR\Disk`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, p, r, _, _, ok := parseStorageID(s)
		if !ok && v+p+r != "" {
			t.Fatalf("fields without ok: %q %q %q", v, p, r)
		}
		if len(v) > 8 || len(p) > 16 || len(r) > 4 {
			t.Fatalf("fields too long: %q %q %q", v, p, r)
		}
		d := fromSetupAPI([]diskRecord{{InstanceID: s, HardwareIDs: []string{s}, Parent: s}})
		if len(d) != 1 || slices.ContainsFunc([]string{d[0].Vendor, d[0].Model, d[0].USBPath}, func(x string) bool { return strings.ContainsRune(x, 0) }) {
			t.Fatalf("bad disk %+v", d)
		}
	})
}

func FuzzTransport(f *testing.F) {
	f.Add("../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2:1.2/host6/target6:0:0/6:0:0:0/block/sr0")
	f.Fuzz(func(t *testing.T, s string) {
		tr, p := transport(s)
		if (tr == "usb") != (p != "") {
			t.Fatalf("transport %q with path %q", tr, p)
		}
	})
}
