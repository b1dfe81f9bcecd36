package lan

import (
	"testing"
	"unsafe"
)

// TestWindowsLayouts pins the struct sizes and offsets to the Windows SDK headers (64-bit).
func TestWindowsLayouts(t *testing.T) {
	var row mibIpnetRow2
	var tab mibIpnetTable2
	var wi wlanInterfaceInfo
	var wl wlanInterfaceInfoList
	var ca wlanConnectionAttributes
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof MIB_IPNET_ROW2", unsafe.Sizeof(row), 88},
		{"MIB_IPNET_ROW2.InterfaceIndex", unsafe.Offsetof(row.InterfaceIndex), 28},
		{"MIB_IPNET_ROW2.InterfaceLuid", unsafe.Offsetof(row.InterfaceLuid), 32},
		{"MIB_IPNET_ROW2.PhysicalAddress", unsafe.Offsetof(row.PhysicalAddress), 40},
		{"MIB_IPNET_ROW2.PhysicalAddressLength", unsafe.Offsetof(row.PhysicalAddressLength), 72},
		{"MIB_IPNET_ROW2.State", unsafe.Offsetof(row.State), 76},
		{"MIB_IPNET_ROW2.Flags", unsafe.Offsetof(row.Flags), 80},
		{"MIB_IPNET_ROW2.ReachabilityTime", unsafe.Offsetof(row.ReachabilityTime), 84},
		{"MIB_IPNET_TABLE2.Table", unsafe.Offsetof(tab.Table), 8},
		{"sizeof WLAN_INTERFACE_INFO", unsafe.Sizeof(wi), 532},
		{"WLAN_INTERFACE_INFO_LIST.InterfaceInfo", unsafe.Offsetof(wl.InterfaceInfo), 8},
		{"sizeof WLAN_CONNECTION_ATTRIBUTES", unsafe.Sizeof(ca), 604},
		{"dot11Ssid", unsafe.Offsetof(ca.SSIDLength), 520},
		{"dot11Bssid", unsafe.Offsetof(ca.BSSID), 560},
		{"dot11PhyType", unsafe.Offsetof(ca.PhyType), 568},
		{"wlanSecurityAttributes", unsafe.Offsetof(ca.SecurityEnabled), 588},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}
