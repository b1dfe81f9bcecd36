package lan

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

const routeTable = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT                                                       
wlp0s20f3	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0                                                                               
wlp0s20f3	0001A8C0	00000000	0001	0	0	600	00FFFFFF	0	0	0                                                                               
docker0	000011AC	00000000	0001	0	0	0	0000FFFF	0	0	0                                                                               
`

const ipv6RouteTable = `fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 wlp0s20f3
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000021122fffe334455 00000400 00000001 00000000 00000003 wlp0s20f3
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
`

const arpTable = `IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         00:11:22:33:44:55     *        wlp0s20f3
192.168.1.23     0x1         0x2         3C:22:FB:AA:BB:01     *        wlp0s20f3
192.168.1.24     0x1         0x2         3c:22:fb:aa:bb:02     *        wlp0s20f3
192.168.1.99     0x1         0x0         00:00:00:00:00:00     *        wlp0s20f3
172.17.0.2       0x1         0x6         02:42:ac:11:00:02     *        docker0
`

// writeTree builds a captured Linux tree; files maps slash paths to contents, dirs are created.
func writeTree(t *testing.T, files map[string]string, dirs ...string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestReadCapturedTree(t *testing.T) {
	root := writeTree(t, map[string]string{
		"proc/net/route":      routeTable,
		"proc/net/ipv6_route": ipv6RouteTable,
		"proc/net/arp":        arpTable,
	}, "sys/class/net/wlp0s20f3/wireless", "sys/class/net/enp0s31f6")
	got, err := Read(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{
		Gateways: []Gateway{
			{IP: "192.168.1.1", MAC: "00:11:22:33:44:55", Interface: "wlp0s20f3"},
			{IP: "fe80::211:22ff:fe33:4455", Interface: "wlp0s20f3"},
		},
		Neighbours: []Neighbour{
			{IP: "172.17.0.2", MAC: "02:42:ac:11:00:02", Interface: "docker0", State: "permanent"},
			{IP: "192.168.1.1", MAC: "00:11:22:33:44:55", Interface: "wlp0s20f3", State: "complete"},
			{IP: "192.168.1.23", MAC: "3c:22:fb:aa:bb:01", Interface: "wlp0s20f3", State: "complete"},
			{IP: "192.168.1.24", MAC: "3c:22:fb:aa:bb:02", Interface: "wlp0s20f3", State: "complete"},
		},
		WiFi: []WiFi{{Interface: "wlp0s20f3",
			Note: "captured tree: the Wi-Fi association is kernel state (nl80211), not a file"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestReadEmptyTree(t *testing.T) {
	got, err := Read(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Info{}) {
		t.Errorf("Read(empty) = %+v, want zero Info", got)
	}
}

func TestReadUnreadableTable(t *testing.T) {
	// A directory where a table should be is a read failure, not absence.
	root := writeTree(t, nil, "proc/net/route")
	if _, err := Read(context.Background(), root); err == nil || !strings.Contains(err.Error(), "route") {
		t.Errorf("Read() error = %v, want one naming the route table", err)
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Gateway
	}{
		{"default", routeTable, []Gateway{{IP: "192.168.1.1", Interface: "wlp0s20f3"}}},
		{"header only", "Iface\tDestination\n", nil},
		{"gateway flag missing", "h\neth0\t00000000\t0101A8C0\t0001\t0\t0\t0\t00000000\n", nil},
		{"not up", "h\neth0\t00000000\t0101A8C0\t0002\t0\t0\t0\t00000000\n", nil},
		{"two defaults", "h\neth0\t00000000\t010010AC\t0003\t0\t0\t100\t00000000\nwlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\n",
			[]Gateway{{IP: "172.16.0.1", Interface: "eth0"}, {IP: "192.168.1.1", Interface: "wlan0"}}},
		{"bad hex", "h\neth0\t0000000Z\t0101A8C0\t0003\t0\t0\t0\t00000000\n", nil},
		{"short line", "h\neth0\t00000000\t0101A8C0\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRoute([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseRoute = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseIPv6Route(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Gateway
	}{
		{"default", "h\n" + ipv6RouteTable, []Gateway{{IP: "fe80::211:22ff:fe33:4455", Interface: "wlp0s20f3"}}},
		{"no gateway flag", "h\n00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000001 eth0\n", nil},
		{"short address", "h\n0000 00 0000 00 fe80 0 0 0 3 eth0\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseIPv6Route([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseIPv6Route = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseARP(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Neighbour
	}{
		{"incomplete skipped", "h\n10.0.0.9 0x1 0x0 00:00:00:00:00:00 * eth0\n", nil},
		{"ipv6 not arp", "h\nfe80::1 0x1 0x2 00:11:22:33:44:55 * eth0\n", nil},
		{"bad mac", "h\n10.0.0.9 0x1 0x2 zz * eth0\n", nil},
		{"complete", "h\n10.0.0.9 0x1 0x2 AA:BB:CC:DD:EE:FF * eth0\n",
			[]Neighbour{{IP: "10.0.0.9", MAC: "aa:bb:cc:dd:ee:ff", Interface: "eth0", State: "complete"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseARP([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseARP = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// nlattr encodes a netlink attribute in host order.
func nlattr(typ uint16, val []byte) []byte {
	l := 4 + len(val)
	b := make([]byte, (l+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(l))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[4:], val)
	return b
}

func TestParseNdmsg(t *testing.T) {
	hdr := make([]byte, sizeofNdmsg)
	hdr[0] = afInet6
	binary.NativeEndian.PutUint32(hdr[4:8], 3)
	binary.NativeEndian.PutUint16(hdr[8:10], 0x04) // NUD_STALE
	dst := []byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x11, 0x22, 0xff, 0xfe, 0x33, 0x44, 0x55}
	b := append(append(hdr, nlattr(ndaDst, dst)...), nlattr(ndaLLAddr, []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55})...)
	got, ok := parseNdmsg(b, func(i int) string { return "if" + string(rune('0'+i)) })
	want := Neighbour{IP: "fe80::211:22ff:fe33:4455", MAC: "00:11:22:33:44:55", Interface: "if3", State: "stale"}
	if !ok || got != want {
		t.Errorf("parseNdmsg = %+v, %v; want %+v", got, ok, want)
	}
	mc := append(append(hdr[:sizeofNdmsg:sizeofNdmsg], nlattr(ndaDst, dst)...), nlattr(ndaLLAddr, []byte{0x33, 0x33, 0, 0, 0, 0x16})...)
	if _, ok := parseNdmsg(mc, func(int) string { return "" }); ok {
		t.Error("multicast neighbour kept")
	}
	binary.NativeEndian.PutUint16(b[8:10], 0x20) // NUD_FAILED
	if _, ok := parseNdmsg(b, func(int) string { return "" }); ok {
		t.Error("failed entry kept")
	}
}

func TestParseBSS(t *testing.T) {
	ies := append([]byte{0, 7}, "HomeNet"...)
	ies = append(ies, 1, 2, 0x82, 0x84) // supported rates
	status := make([]byte, 4)
	binary.NativeEndian.PutUint32(status, bssAssociated)
	bss := append(append(nlattr(bssBSSID, []byte{0xa0, 0x63, 0x91, 0x01, 0x02, 0x03}), nlattr(bssIEs, ies)...), nlattr(bssStatus, status)...)
	ssid, bssid, ok := parseBSS(append(nlattr(3, []byte{2, 0, 0, 0}), nlattr(attrBSS|0x8000, bss)...))
	if !ok || ssid != "HomeNet" || bssid != "a0:63:91:01:02:03" {
		t.Errorf("parseBSS = %q, %q, %v", ssid, bssid, ok)
	}
	noStatus := append(nlattr(bssBSSID, []byte{1, 2, 3, 4, 5, 6}), nlattr(bssIEs, ies)...)
	if _, _, ok := parseBSS(nlattr(attrBSS, noStatus)); ok {
		t.Error("BSS without status reported as associated")
	}
}

func TestWindowsConversion(t *testing.T) {
	v4 := func(a, b, c, d byte) (s winSockaddr) {
		binary.LittleEndian.PutUint16(s[0:2], winAFInet)
		s[4], s[5], s[6], s[7] = a, b, c, d
		return s
	}
	var v6 winSockaddr
	binary.LittleEndian.PutUint16(v6[0:2], winAFInet6)
	copy(v6[8:24], []byte{0xfe, 0x80, 15: 1})
	name := func(i uint32) string { return map[uint32]string{12: "Wi-Fi", 7: "Ethernet"}[i] }
	neigh := winNeighbours([]winNeighbour{
		{Address: v4(192, 168, 1, 1), IfIndex: 12, Phys: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, State: 5},
		{Address: v4(192, 168, 1, 23), IfIndex: 12, Phys: []byte{0x3c, 0x22, 0xfb, 0xaa, 0xbb, 1}, State: 4},
		{Address: v4(192, 168, 1, 99), IfIndex: 12, Phys: make([]byte, 6), State: 0},
		{Address: v4(224, 0, 0, 22), IfIndex: 12, Phys: []byte{1, 0, 0x5e, 0, 0, 0x16}, State: 6},
		{Address: v6, IfIndex: 12, Phys: []byte{0, 0x11, 0x22, 0x33, 0x44, 0x55}, State: 3},
	}, name)
	wantN := []Neighbour{
		{IP: "192.168.1.1", MAC: "00:11:22:33:44:55", Interface: "Wi-Fi", State: "reachable"},
		{IP: "192.168.1.23", MAC: "3c:22:fb:aa:bb:01", Interface: "Wi-Fi", State: "stale"},
		{IP: "fe80::1", MAC: "00:11:22:33:44:55", Interface: "Wi-Fi", State: "delay"},
	}
	if !reflect.DeepEqual(neigh, wantN) {
		t.Errorf("winNeighbours =\n%+v\nwant\n%+v", neigh, wantN)
	}
	gws := winGateways([]winRoute{
		{IfIndex: 12, Prefix: v4(0, 0, 0, 0), PrefixLen: 0, NextHop: v4(192, 168, 1, 1)},
		{IfIndex: 12, Prefix: v4(192, 168, 1, 0), PrefixLen: 24, NextHop: v4(0, 0, 0, 0)},
		{IfIndex: 7, Prefix: v4(0, 0, 0, 0), PrefixLen: 0, NextHop: v4(0, 0, 0, 0)},
	}, name)
	info := Info{Gateways: gws, Neighbours: neigh}
	finish(&info)
	if want := []Gateway{{IP: "192.168.1.1", MAC: "00:11:22:33:44:55", Interface: "Wi-Fi"}}; !reflect.DeepEqual(info.Gateways, want) {
		t.Errorf("gateways = %+v, want %+v", info.Gateways, want)
	}
	var ssid [32]byte
	copy(ssid[:], "HomeNet")
	if got, want := winWiFi("Wi-Fi", 1, 7, ssid, [6]byte{0xa0, 0x63, 0x91, 1, 2, 3}), (WiFi{Interface: "Wi-Fi", SSID: "HomeNet", BSSID: "a0:63:91:01:02:03", Known: true}); got != want {
		t.Errorf("winWiFi = %+v, want %+v", got, want)
	}
	if got := winWiFi("Wi-Fi", 1, 99, ssid, [6]byte{}); got.SSID != string(ssid[:]) || got.BSSID != "" || got.Note == "" {
		t.Errorf("winWiFi(withheld) = %+v", got)
	}
}

func TestReadLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live test is for linux")
	}
	got, err := Read(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		t.Skip("no /proc/net/route")
	}
	if len(parseRoute(b)) > 0 && len(got.Gateways) == 0 {
		t.Errorf("/proc/net/route has a default route but Read reported no gateway: %+v", got)
	}
	for _, w := range got.WiFi {
		if !w.Known && w.Note == "" {
			t.Errorf("unknown Wi-Fi %s without a note", w.Interface)
		}
	}
	t.Logf("%+v", got)
}
