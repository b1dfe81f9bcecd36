package host

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestReadCapturedTree(t *testing.T) {
	tests := []struct {
		root string
		want Identity
	}{
		{
			root: "testdata/debian",
			want: Identity{
				Hostname:      "deb-lt-0042", // proc wins over the stale /etc/hostname
				OS:            "linux",
				Platform:      "debian",
				PrettyName:    "Debian GNU/Linux 12 (bookworm)",
				OSVersion:     "12",
				KernelVersion: "6.1.0-18-amd64",
				Arch:          "amd64",
				HardwareUUID:  "4c4c4544-0042-3510-8051-b4c04f4e3732",
				SerialNumber:  "PF2ABCDE",
				MachineID:     "3f1c2b7e9a4d4b0f8e6a1c2d3e4f5a6b",
				MACAddresses:  []string{"54:e1:ad:12:34:56", "a0:c5:89:aa:bb:cc"},
			},
		},
		{
			// Captured without /proc: hostname from /etc, no kernel or arch,
			// no serial; two bonded NICs share one MAC; virbr0 is virtual.
			root: "testdata/fedora",
			want: Identity{
				Hostname:     "fedora-ws-7",
				OS:           "linux",
				Platform:     "fedora",
				PrettyName:   "Fedora Linux 40 (Workstation Edition)",
				OSVersion:    "40",
				HardwareUUID: "03000200-0400-0500-0006-000700080009",
				MachineID:    "b08dfa6083e7567a1921a715000001fb",
				MACAddresses: []string{"3c:ec:ef:01:02:03"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			got, err := Read(context.Background(), tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Read() =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestReadMissingRoot(t *testing.T) {
	if _, err := Read(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("Read(missing root) returned no error")
	}
}

// An absolute symlink in a captured tree must not be followed into the live
// system: the field stays empty, instead of holding this machine's value, and
// the refusal is reported.
func TestReadCapturedTreeStaysInside(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/machine-id", filepath.Join(root, "etc", "machine-id")); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), root)
	if err == nil || !strings.Contains(err.Error(), "machine-id") {
		t.Errorf("Read error = %v, want one naming machine-id", err)
	}
	if got.MachineID != "" {
		t.Errorf("MachineID = %q read through an absolute symlink", got.MachineID)
	}
}

func TestGoarch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "riscv64": "riscv64", "": ""} {
		if got := goarch(in); got != want {
			t.Errorf("goarch(%q) = %q, want %q", in, got, want)
		}
	}
}

// smbiosTable builds a raw 'RSMB' table: header, a BIOS (type 0) structure,
// a System (type 1) structure, and the end marker.
func smbiosTable(major, minor byte, uuid []byte, serialIdx byte) []byte {
	var s []byte
	s = append(s, 0, 0x18, 0, 0)         // type 0, length 0x18
	s = append(s, make([]byte, 0x14)...) // rest of formatted area
	s = append(s, "LENOVO\x00N2IET\x00\x00"...)
	t1 := []byte{1, 0x1b, 1, 0, 1, 2, 3, serialIdx}
	t1 = append(t1, uuid...)
	t1 = append(t1, 6, 4, 5) // wake-up type, SKU, family
	s = append(s, t1...)
	s = append(s, "LENOVO\x0020XW0055GE\x00ThinkPad X1\x00PF2ABCDE \x00\x00"...)
	s = append(s, 127, 4, 0, 0, 0, 0)
	h := []byte{0, major, minor, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(h[4:], uint32(len(s)))
	return append(h, s...)
}

func TestSMBIOSSystem(t *testing.T) {
	uuid := []byte{0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x51, 0xb4, 0xc0, 0x4f, 0x4e, 0x37, 0x32}
	tests := []struct {
		name       string
		raw        []byte
		wantUUID   string
		wantSerial string
		wantErr    bool
	}{
		{"smbios 3.2 little-endian uuid", smbiosTable(3, 2, uuid, 4), "4c4c4544-0042-3510-8051-b4c04f4e3732", "PF2ABCDE", false},
		{"smbios 2.4 raw uuid", smbiosTable(2, 4, uuid, 4), "44454c4c-4200-1035-8051-b4c04f4e3732", "PF2ABCDE", false},
		{"no serial string", smbiosTable(3, 0, uuid, 0), "4c4c4544-0042-3510-8051-b4c04f4e3732", "", false},
		{"uuid not present", smbiosTable(3, 0, make([]byte, 16), 4), "", "PF2ABCDE", false},
		{"truncated", smbiosTable(3, 0, uuid, 4)[:30], "", "", true},
		{"empty", nil, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, err := smbiosSystem(tt.raw)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if u != tt.wantUUID || s != tt.wantSerial {
				t.Errorf("smbiosSystem() = %q, %q; want %q, %q", u, s, tt.wantUUID, tt.wantSerial)
			}
		})
	}
}

func FuzzSMBIOSSystem(f *testing.F) {
	f.Add(smbiosTable(3, 2, make([]byte, 16), 4))
	f.Fuzz(func(t *testing.T, raw []byte) {
		smbiosSystem(raw) // must not panic
	})
}

func TestIoregPlatform(t *testing.T) {
	out := []byte(`+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000212, registered, matched, active, busy 0 (67 ms), retain 38>
    {
      "IOPlatformSerialNumber" = "C02XK1ABJGH5"
      "IOPlatformUUID" = "5C8B2A1E-0D3A-5B7E-9C3F-1A2B3C4D5E6F"
      "model" = <"MacBookPro18,3">
    }
`)
	u, s := ioregPlatform(out)
	if u != "5c8b2a1e-0d3a-5b7e-9c3f-1a2b3c4d5e6f" || s != "C02XK1ABJGH5" {
		t.Errorf("ioregPlatform() = %q, %q", u, s)
	}
}

func TestReadLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live identity test is for linux")
	}
	got, err := Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if got.Hostname != hostname {
		t.Errorf("Hostname = %q, want %q", got.Hostname, hostname)
	}
	if got.OS != "linux" || got.Arch != runtime.GOARCH {
		t.Errorf("OS/Arch = %s/%s, want linux/%s", got.OS, got.Arch, runtime.GOARCH)
	}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	if got.KernelVersion != strings.TrimSpace(string(release)) || got.KernelVersion == "" {
		t.Errorf("KernelVersion = %q, want %q", got.KernelVersion, release)
	}
	if _, err := os.Stat("/etc/os-release"); err == nil && got.Platform == "" {
		t.Error("Platform empty although /etc/os-release exists")
	}
	if id, err := os.ReadFile("/etc/machine-id"); err == nil && got.MachineID != strings.TrimSpace(string(id)) {
		t.Errorf("MachineID = %q, want %q", got.MachineID, id)
	}
	if !slices.IsSorted(got.MACAddresses) || len(slices.Compact(slices.Clone(got.MACAddresses))) != len(got.MACAddresses) {
		t.Errorf("MACAddresses not sorted and unique: %v", got.MACAddresses)
	}
	for _, m := range got.MACAddresses {
		if m != strings.ToLower(m) || strings.Trim(m, "0:") == "" {
			t.Errorf("bad MAC %q", m)
		}
	}
}
