package lan

import (
	"net/netip"
	"testing"
)

func checkGateways(t *testing.T, gws []Gateway) {
	for _, g := range gws {
		if _, err := netip.ParseAddr(g.IP); err != nil || g.Interface == "" {
			t.Fatalf("bad gateway %+v", g)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	f.Add([]byte(routeTable))
	f.Add([]byte("h\n\x00\x00\t00000000\tFFFFFFFF\tFFFF\t0\t0\t0\t00000000"))
	f.Fuzz(func(t *testing.T, b []byte) { checkGateways(t, parseRoute(b)) })
}

func FuzzParseIPv6Route(f *testing.F) {
	f.Add([]byte("h\n" + ipv6RouteTable))
	f.Fuzz(func(t *testing.T, b []byte) { checkGateways(t, parseIPv6Route(b)) })
}

func FuzzParseARP(f *testing.F) {
	f.Add([]byte(arpTable))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range parseARP(b) {
			if _, err := netip.ParseAddr(n.IP); err != nil || n.MAC == "" {
				t.Fatalf("bad neighbour %+v", n)
			}
		}
	})
}

func FuzzParseNetlink(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 20, 0, 1, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 10, 0, 2, 0, 1, 2, 3, 4, 5, 6, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseNdmsg(b, func(int) string { return "x" })
		parseBSS(b)
		ieSSID(b)
	})
}
