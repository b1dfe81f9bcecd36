package lan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	modiphlpapi         = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetIpNetTable2  = modiphlpapi.NewProc("GetIpNetTable2")
	modwlanapi          = windows.NewLazySystemDLL("wlanapi.dll")
	procWlanOpenHandle  = modwlanapi.NewProc("WlanOpenHandle")
	procWlanCloseHandle = modwlanapi.NewProc("WlanCloseHandle")
	procWlanEnumIfaces  = modwlanapi.NewProc("WlanEnumInterfaces")
	procWlanQueryIface  = modwlanapi.NewProc("WlanQueryInterface")
	procWlanFreeMemory  = modwlanapi.NewProc("WlanFreeMemory")
)

// mibIpnetRow2 is MIB_IPNET_ROW2 (netioapi.h), 88 bytes on 64-bit Windows.
type mibIpnetRow2 struct {
	Address               winSockaddr // SOCKADDR_INET, offset 0
	InterfaceIndex        uint32      // offset 28
	InterfaceLuid         uint64      // offset 32
	PhysicalAddress       [32]byte    // IF_MAX_PHYS_ADDRESS_LENGTH, offset 40
	PhysicalAddressLength uint32      // offset 72
	State                 uint32      // NL_NEIGHBOR_STATE, offset 76
	Flags                 uint8       // IsRouter:1, IsUnreachable:1, offset 80
	_                     [3]byte
	ReachabilityTime      uint32 // offset 84
}

// mibIpnetTable2 is MIB_IPNET_TABLE2: NumEntries then the rows, 8-byte aligned.
type mibIpnetTable2 struct {
	NumEntries uint32
	_          uint32
	Table      [1]mibIpnetRow2
}

// wlanInterfaceInfo is WLAN_INTERFACE_INFO (wlanapi.h), 532 bytes.
type wlanInterfaceInfo struct {
	InterfaceGUID windows.GUID
	Description   [256]uint16
	State         uint32
}

// wlanInterfaceInfoList is WLAN_INTERFACE_INFO_LIST.
type wlanInterfaceInfoList struct {
	NumberOfItems uint32
	Index         uint32
	InterfaceInfo [1]wlanInterfaceInfo
}

// wlanConnectionAttributes is WLAN_CONNECTION_ATTRIBUTES (wlanapi.h), 604 bytes.
type wlanConnectionAttributes struct {
	State       uint32      // WLAN_INTERFACE_STATE
	Mode        uint32      // WLAN_CONNECTION_MODE
	ProfileName [256]uint16 // offset 8
	// WLAN_ASSOCIATION_ATTRIBUTES, offset 520
	SSIDLength    uint32   // DOT11_SSID.uSSIDLength
	SSID          [32]byte // DOT11_SSID.ucSSID, offset 524
	BSSType       uint32   // offset 556
	BSSID         [6]byte  // DOT11_MAC_ADDRESS, offset 560
	_             [2]byte
	PhyType       uint32 // offset 568
	PhyIndex      uint32
	SignalQuality uint32
	RxRate        uint32
	TxRate        uint32
	// WLAN_SECURITY_ATTRIBUTES, offset 588
	SecurityEnabled int32
	OneXEnabled     int32
	AuthAlgorithm   uint32
	CipherAlgorithm uint32
}

const wlanIntfOpcodeCurrentConnection = 7

func read(ctx context.Context) (Info, error) {
	var info Info
	neigh, err := ipNetTable()
	if err != nil {
		return Info{}, err
	}
	info.Neighbours = winNeighbours(neigh, ifName)
	routes, err := ipForwardTable()
	if err != nil {
		return Info{}, err
	}
	info.Gateways = winGateways(routes, ifName)
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	info.WiFi = wlanConnections()
	return info, nil
}

func ifName(index uint32) string {
	if ni, err := net.InterfaceByIndex(int(index)); err == nil {
		return ni.Name
	}
	return fmt.Sprintf("if%d", index)
}

func ipNetTable() ([]winNeighbour, error) {
	if err := procGetIpNetTable2.Find(); err != nil {
		return nil, fmt.Errorf("lan: GetIpNetTable2: %w", err)
	}
	var t *mibIpnetTable2
	r, _, _ := procGetIpNetTable2.Call(uintptr(windows.AF_UNSPEC), uintptr(unsafe.Pointer(&t)))
	if r != 0 {
		return nil, fmt.Errorf("lan: GetIpNetTable2: %w", windows.Errno(r))
	}
	defer windows.FreeMibTable(unsafe.Pointer(t))
	rows := unsafe.Slice(&t.Table[0], min(t.NumEntries, maxEntries))
	out := make([]winNeighbour, 0, len(rows))
	for _, r := range rows {
		out = append(out, winNeighbour{
			Address:   r.Address,
			IfIndex:   r.InterfaceIndex,
			Phys:      append([]byte(nil), r.PhysicalAddress[:min(r.PhysicalAddressLength, 32)]...),
			State:     r.State,
			Unreached: r.Flags&2 != 0,
		})
	}
	return out, nil
}

func ipForwardTable() ([]winRoute, error) {
	var t *windows.MibIpForwardTable2
	if err := windows.GetIpForwardTable2(windows.AF_UNSPEC, &t); err != nil {
		return nil, fmt.Errorf("lan: GetIpForwardTable2: %w", err)
	}
	defer windows.FreeMibTable(unsafe.Pointer(t))
	rows := t.Rows()
	rows = rows[:min(len(rows), maxEntries)]
	out := make([]winRoute, 0, len(rows))
	for _, r := range rows {
		out = append(out, winRoute{
			IfIndex:   r.InterfaceIndex,
			Prefix:    *(*winSockaddr)(unsafe.Pointer(&r.DestinationPrefix.Prefix)),
			PrefixLen: r.DestinationPrefix.PrefixLength,
			NextHop:   *(*winSockaddr)(unsafe.Pointer(&r.NextHop)),
		})
	}
	return out, nil
}

// wlanConnections asks the WLAN AutoConfig service for each wireless interface's connection.
// No wlanapi.dll (Server without the Wireless LAN feature) or no running service means no
// Wi-Fi in use: the result is empty. Since Windows 11 24H2 the BSSID and SSID need location
// permission for non-administrator apps; the agent runs as SYSTEM, but a withheld answer is
// reported with Known=false.
func wlanConnections() []WiFi {
	if procWlanOpenHandle.Find() != nil {
		return nil
	}
	var version uint32
	var h windows.Handle
	if r, _, _ := procWlanOpenHandle.Call(2, 0, uintptr(unsafe.Pointer(&version)), uintptr(unsafe.Pointer(&h))); r != 0 {
		return nil
	}
	defer procWlanCloseHandle.Call(uintptr(h), 0)
	var list *wlanInterfaceInfoList
	if r, _, _ := procWlanEnumIfaces.Call(uintptr(h), 0, uintptr(unsafe.Pointer(&list))); r != 0 {
		return []WiFi{{Note: "WlanEnumInterfaces: " + windows.Errno(r).Error()}}
	}
	defer procWlanFreeMemory.Call(uintptr(unsafe.Pointer(list)))
	names := adapterNames()
	var out []WiFi
	for _, ii := range unsafe.Slice(&list.InterfaceInfo[0], min(list.NumberOfItems, 64)) {
		name := names[strings.ToUpper(ii.InterfaceGUID.String())]
		if name == "" {
			name = windows.UTF16ToString(ii.Description[:])
		}
		out = append(out, queryConnection(h, name, &ii.InterfaceGUID))
	}
	return out
}

func queryConnection(h windows.Handle, name string, guid *windows.GUID) WiFi {
	var size uint32
	var attrs *wlanConnectionAttributes
	r, _, _ := procWlanQueryIface.Call(uintptr(h), uintptr(unsafe.Pointer(guid)), wlanIntfOpcodeCurrentConnection, 0,
		uintptr(unsafe.Pointer(&size)), uintptr(unsafe.Pointer(&attrs)), 0)
	switch err := windows.Errno(r); {
	case r == 0:
	case errors.Is(err, windows.ERROR_INVALID_STATE):
		return WiFi{Interface: name, Known: true, Note: "not associated"}
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return WiFi{Interface: name, Note: "WlanQueryInterface: access denied (Windows 11 24H2+ needs location permission)"}
	default:
		return WiFi{Interface: name, Note: "WlanQueryInterface: " + err.Error()}
	}
	defer procWlanFreeMemory.Call(uintptr(unsafe.Pointer(attrs)))
	if uintptr(size) < unsafe.Sizeof(*attrs) {
		return WiFi{Interface: name, Note: fmt.Sprintf("WlanQueryInterface: short reply (%d bytes)", size)}
	}
	return winWiFi(name, attrs.State, attrs.SSIDLength, attrs.SSID, attrs.BSSID)
}

// adapterNames maps "{GUID}" adapter names (upper case) to friendly names.
func adapterNames() map[string]string {
	size := uint32(15000)
	for range 4 {
		buf := make([]byte, size)
		first := (*windows.IpAdapterAddresses)(unsafe.Pointer(&buf[0]))
		err := windows.GetAdaptersAddresses(windows.AF_UNSPEC,
			windows.GAA_FLAG_SKIP_UNICAST|windows.GAA_FLAG_SKIP_ANYCAST|
				windows.GAA_FLAG_SKIP_MULTICAST|windows.GAA_FLAG_SKIP_DNS_SERVER,
			0, first, &size)
		if err == windows.ERROR_BUFFER_OVERFLOW {
			continue
		}
		if err != nil {
			return nil
		}
		out := make(map[string]string)
		for a := first; a != nil; a = a.Next {
			out[strings.ToUpper(windows.BytePtrToString(a.AdapterName))] = windows.UTF16PtrToString(a.FriendlyName)
		}
		return out
	}
	return nil
}
