package netif

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
)

// sysfsIface describes one interface of a fake /sys tree.
type sysfsIface struct {
	name    string
	devPath string // under /sys/devices
	device  string // target of the "device" link, "" for none
	address string
	flags   string
	absLink bool // class/net link is absolute, as some capture tools write it
}

// makeSysfs builds ROOT/sys/devices/... and ROOT/sys/class/net/NAME symlinks
// the way the kernel lays them out.
func makeSysfs(t *testing.T, ifaces []sysfsIface) string {
	t.Helper()
	root := t.TempDir()
	classNet := filepath.Join(root, "sys", "class", "net")
	if err := os.MkdirAll(classNet, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		dir := filepath.Join(root, "sys", "devices", i.devPath)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, v := range map[string]string{"address": i.address + "\n", "flags": i.flags + "\n"} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if i.device != "" {
			if err := os.Symlink(i.device, filepath.Join(dir, "device")); err != nil {
				t.Fatal(err)
			}
		}
		target := filepath.Join("..", "..", "devices", i.devPath)
		if i.absLink {
			target = filepath.Join("/sys/devices", i.devPath)
		}
		if err := os.Symlink(target, filepath.Join(classNet, i.name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// debianLaptop is a ThinkPad-like tree: wired and wireless PCI NICs, loopback,
// a Docker bridge and a Tailscale tunnel.
var debianLaptop = []sysfsIface{
	{name: "lo", devPath: "virtual/net/lo", address: "00:00:00:00:00:00", flags: "0x9"},
	{name: "enp0s31f6", devPath: "pci0000:00/0000:00:1f.6/net/enp0s31f6", device: "../../../0000:00:1f.6", address: "54:E1:AD:12:34:56", flags: "0x1003"},
	{name: "wlp2s0", devPath: "pci0000:00/0000:00:1c.0/0000:02:00.0/net/wlp2s0", device: "../../../0000:02:00.0", address: "a0:c5:89:aa:bb:cc", flags: "0x1003", absLink: true},
	{name: "docker0", devPath: "virtual/net/docker0", address: "02:42:8e:11:22:33", flags: "0x1003"},
	{name: "tailscale0", devPath: "virtual/net/tailscale0", address: "", flags: "0x11"},
}

func TestReadSysfs(t *testing.T) {
	root := makeSysfs(t, debianLaptop)
	got, err := List(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []Interface{
		{Name: "docker0", MACAddress: "02:42:8e:11:22:33", Flags: []string{"up", "broadcast", "multicast"}, Virtual: true},
		{Name: "enp0s31f6", MACAddress: "54:e1:ad:12:34:56", Flags: []string{"up", "broadcast", "multicast"}},
		{Name: "lo", Flags: []string{"up", "loopback"}, Virtual: true},
		{Name: "tailscale0", Flags: []string{"up", "pointtopoint"}, Virtual: true},
		{Name: "wlp2s0", MACAddress: "a0:c5:89:aa:bb:cc", Flags: []string{"up", "broadcast", "multicast"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadSysfsMissingRoot(t *testing.T) {
	if _, err := List(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Fatal("List(missing root) returned no error")
	}
}

func TestWindowsVirtual(t *testing.T) {
	tests := []struct {
		ifType uint32
		desc   string
		want   bool
	}{
		{6, "Intel(R) Ethernet Connection (7) I219-LM", false},
		{71, "Intel(R) Wi-Fi 6 AX201 160MHz", false},
		{6, "Hyper-V Virtual Ethernet Adapter", true},
		{6, "TAP-Windows Adapter V9", true},
		{53, "Tailscale Tunnel", true},
		{24, "Software Loopback Interface 1", true},
		{131, "Teredo Tunneling Pseudo-Interface", true},
		{6, "VirtualBox Host-Only Ethernet Adapter", true},
	}
	for _, tt := range tests {
		if got := windowsVirtual(tt.ifType, tt.desc); got != tt.want {
			t.Errorf("windowsVirtual(%d, %q) = %v, want %v", tt.ifType, tt.desc, got, tt.want)
		}
	}
}

func TestDarwinVirtual(t *testing.T) {
	for name, want := range map[string]bool{"en0": false, "en7": false, "utun3": true, "awdl0": true, "bridge0": true, "lo0": true} {
		if got := darwinVirtual(name); got != want {
			t.Errorf("darwinVirtual(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live sysfs test is for linux")
	}
	got, err := List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	nis, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(nis) {
		t.Errorf("List returned %d interfaces, net.Interfaces %d", len(got), len(nis))
	}
	for _, ni := range nis {
		i := slices.IndexFunc(got, func(x Interface) bool { return x.Name == ni.Name })
		if i < 0 {
			t.Errorf("interface %s missing", ni.Name)
			continue
		}
		if ni.Flags&net.FlagLoopback != 0 {
			if !got[i].Virtual {
				t.Errorf("loopback %s not virtual", ni.Name)
			}
			if !slices.Contains(got[i].Addresses, "127.0.0.1/8") {
				t.Errorf("loopback %s addresses %v lack 127.0.0.1/8", ni.Name, got[i].Addresses)
			}
		}
		if want := normalizeMAC(ni.HardwareAddr.String()); got[i].MACAddress != want {
			t.Errorf("%s MAC = %q, want %q", ni.Name, got[i].MACAddress, want)
		}
	}
}
