package overlay

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseTailscaleStatus(t *testing.T) {
	got, err := ParseTailscaleStatus(fixture(t, "tailscale-status.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Overlay{
		Kind:      KindTailscale,
		Running:   true,
		Connected: true,
		Active:    true,
		Peers: []Peer{
			{Name: "barn-nas", Addresses: []string{"100.70.3.41", "fd7a:115c:a1e0::9a01:329"}, Direct: "192.168.1.44:41641", Active: true, OS: "linux"},
			{Name: "contractor-laptop", Addresses: []string{"100.88.14.9", "fd7a:115c:a1e0::e801:e09"}, Relay: "fra", Active: true, OS: "windows"},
			{Name: "jdoe-macbook", Addresses: []string{"100.120.7.5", "fd7a:115c:a1e0::3b01:705"}, OS: "macOS"},
		},
		Self:   SelfInfo{Name: "farm-office-pc", Addresses: []string{"100.101.102.103", "fd7a:115c:a1e0::1a01:6667"}, Network: "jdoe@example.com"},
		Source: "tailscale localapi",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTailscaleStatus =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseTailscaleStatusStates(t *testing.T) {
	tests := []struct {
		in        string
		connected bool
		flags     []string
		wantErr   bool
	}{
		{`{"BackendState":"NeedsLogin","Self":{"HostName":"pc"}}`, false, []string{"needs-login"}, false},
		{`{"BackendState":"NeedsMachineAuth"}`, false, []string{"unauthorized"}, false},
		{`{"BackendState":"Stopped"}`, false, []string{"stopped"}, false},
		{`{"BackendState":"Running","Peer":{"k":{"HostName":"gw","ExitNode":true,"Active":true,"PeerRelay":"192.0.2.1:7000:vni:5"},"n":null}}`, true, []string{"exit-node"}, false},
		{`{"BackendState":"Starting"}`, false, nil, false},
		{`{}`, false, nil, true},
		{`null`, false, nil, true},
		{`[1,2]`, false, nil, true},
		{`{"BackendState":`, false, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseTailscaleStatus([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Connected != tt.connected || !reflect.DeepEqual(got.Flags, tt.flags) {
			t.Errorf("%s: Connected %v Flags %q, want %v %q", tt.in, got.Connected, got.Flags, tt.connected, tt.flags)
		}
	}
	got, _ := ParseTailscaleStatus([]byte(`{"BackendState":"Running","Peer":{"k":{"HostName":"gw","Active":true,"PeerRelay":"192.0.2.1:7000:vni:5"}}}`))
	if len(got.Peers) != 1 || got.Peers[0].Relay != "peer-relay 192.0.2.1:7000:vni:5" {
		t.Errorf("peer relay: %+v", got.Peers)
	}
	got, _ = ParseTailscaleStatus([]byte(`{"BackendState":"Running","Peer":{"k":{"DNSName":"gw.tail1.ts.net."}}}`))
	if len(got.Peers) != 1 || got.Peers[0].Name != "gw.tail1.ts.net" {
		t.Errorf("DNSName fallback: %+v", got.Peers)
	}
}

func TestParseZeroTierStatus(t *testing.T) {
	got, err := ParseZeroTierStatus(fixture(t, "zerotier-status.json"), fixture(t, "zerotier-network.json"), fixture(t, "zerotier-peer.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Overlay{
		Kind:       KindZeroTier,
		Interfaces: []string{"ztmjfmfyq6"},
		Running:    true,
		Connected:  true,
		Active:     true,
		Peers: []Peer{
			{Name: "0badc0de99"},
			{Name: "f00dbeef42", Direct: "203.0.113.77/21004", Active: true},
		},
		Self:   SelfInfo{Name: "a1b2c3d4e5", Addresses: []string{"10.147.17.23", "fd80:56c2:e21c:0:199:93a1:b2c3:d4e5"}, Network: "8056c2e21c000001"},
		Source: "zerotier api",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseZeroTierStatus =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseZeroTierStatusEdges(t *testing.T) {
	// Status only, offline, relayed over TCP.
	got, err := ParseZeroTierStatus([]byte(`{"address":"a1b2c3d4e5","online":false,"tcpFallbackActive":true}`), nil, nil)
	if err != nil || got.Connected || !reflect.DeepEqual(got.Flags, []string{"tcp-fallback"}) {
		t.Errorf("offline: %+v, %v", got, err)
	}
	// Networks refused or waiting, old "nwid" field.
	got, err = ParseZeroTierStatus([]byte(`{"address":"a","online":true}`),
		[]byte(`[{"nwid":"1111111111111111","status":"ACCESS_DENIED"},{"id":"2222222222222222","status":"REQUESTING_CONFIGURATION"}]`), []byte(`[]`))
	if err != nil || got.Self.Network != "1111111111111111,2222222222222222" ||
		!reflect.DeepEqual(got.Flags, []string{"unauthorized", "network-requesting-configuration"}) || got.Active {
		t.Errorf("denied: %+v, %v", got, err)
	}
	// A bad /peer keeps /status and /network.
	got, err = ParseZeroTierStatus([]byte(`{"address":"a","online":true}`), []byte(`[{"id":"1111111111111111","status":"OK"}]`), []byte(`{`))
	if err == nil || got.Self.Network != "1111111111111111" {
		t.Errorf("bad peers: %+v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `[]`, `nope`, `{"online":"yes"}`} {
		if _, err := ParseZeroTierStatus([]byte(bad), nil, nil); err == nil {
			t.Errorf("ParseZeroTierStatus(%s) returned no error", bad)
		}
	}
}

func TestParseNgrokTunnels(t *testing.T) {
	got, err := ParseNgrokTunnels(fixture(t, "ngrok-tunnels.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := Overlay{
		Kind:      KindNgrok,
		Running:   true,
		Connected: true,
		Active:    true,
		Tunnels:   []Tunnel{{PublicURL: "https://7c3e-198-51-100-23.ngrok-free.app", Proto: "https", Addr: "http://localhost:3389"}},
		Source:    "ngrok api",
		Flags:     []string{"exposes-rdp"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNgrokTunnels =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseNgrokTunnelsEdges(t *testing.T) {
	tests := []struct {
		in                string
		connected, active bool
		tunnels           []Tunnel
		flags             []string
		wantErr           bool
	}{
		{`{"tunnels":[],"uri":"/api/tunnels"}`, false, false, nil, nil, false},
		{`{"tunnels":[{"public_uri":"tcp://0.tcp.eu.ngrok.io:13254","config":{"addr":"localhost:5900"},"metrics":{"conns":{"count":0}}}]}`,
			true, false, []Tunnel{{PublicURL: "tcp://0.tcp.eu.ngrok.io:13254", Proto: "tcp", Addr: "localhost:5900"}}, []string{"exposes-vnc"}, false},
		{`{"tunnels":[{"public_url":"tls://x.ngrok.app","proto":"tls","config":{"addr":22},"metrics":{"conns":{"gauge":1}}}]}`,
			true, true, []Tunnel{{PublicURL: "tls://x.ngrok.app", Proto: "tls", Addr: "22"}}, []string{"exposes-ssh"}, false},
		{`{"tunnels":[{}]}`, false, false, nil, nil, false},
		{`{"uri":"/api/tunnels"}`, false, false, nil, nil, true},
		{`<html>`, false, false, nil, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseNgrokTunnels([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Connected != tt.connected || got.Active != tt.active || !reflect.DeepEqual(got.Tunnels, tt.tunnels) || !reflect.DeepEqual(got.Flags, tt.flags) {
			t.Errorf("%s: got %+v", tt.in, got)
		}
	}
}

func TestParseCloudflaredMetrics(t *testing.T) {
	got, err := ParseCloudflaredMetrics(200, fixture(t, "cloudflared-metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := Overlay{
		Kind:      KindCloudflared,
		Running:   true,
		Connected: true,
		Active:    true,
		Tunnels: []Tunnel{
			{PublicURL: "https://files.farm-example.com", Proto: "https"},
			{PublicURL: "https://rdp.farm-example.com", Proto: "https"},
		},
		Source: "cloudflared metrics",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseCloudflaredMetrics =\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseCloudflaredMetricsEdges(t *testing.T) {
	tests := []struct {
		ready             int
		in                string
		connected, active bool
		flags             []string
		wantErr           bool
	}{
		{503, "cloudflared_tunnel_ha_connections 0\n", false, false, []string{"not-ready"}, false},
		{404, "cloudflared_tunnel_ha_connections 2\r\n", true, true, []string{"not-ready"}, false},
		{0, "cloudflared_tunnel_ha_connections{a=\"x\\\"} y\"} 1 1700000000000\ncloudflared_tunnel_ha_connections NaN\n", true, true, nil, false},
		{200, "go_goroutines 12\n", false, false, nil, true},
		{200, "", false, false, nil, true},
		{200, "cloudflared_tunnel_ha_connections{broken 3\n", false, false, nil, true},
	}
	for _, tt := range tests {
		got, err := ParseCloudflaredMetrics(tt.ready, []byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%d %q: err = %v, want error %v", tt.ready, tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got.Connected != tt.connected || got.Active != tt.active || !reflect.DeepEqual(got.Flags, tt.flags) {
			t.Errorf("%d %q: got %+v", tt.ready, tt.in, got)
		}
	}
}

func TestParsePrometheusLabels(t *testing.T) {
	in := "m{a=\"1\",b=\"x\\\\y\\n\\\"z\\\"\",} 2.5\n m2 7 # c\nbad line\n{x=\"1\"} 3\nm3{a=\"open 4\n"
	type sample struct {
		name   string
		labels map[string]string
		v      float64
	}
	var got []sample
	parsePrometheus([]byte(in), func(name string, labels map[string]string, v float64) {
		got = append(got, sample{name, labels, v})
	})
	want := []sample{{"m", map[string]string{"a": "1", "b": "x\\y\n\"z\""}, 2.5}, {"m2", nil, 7}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsePrometheus = %+v, want %+v", got, want)
	}
}

func TestInterfaceKind(t *testing.T) {
	tests := []struct {
		goos, name, desc, want string
	}{
		{"linux", "tailscale0", "", KindTailscale},
		{"windows", "Tailscale", "Tailscale Tunnel", KindTailscale},
		{"linux", "ztmjfmfyq6", "", KindZeroTier},
		{"darwin", "feth2001", "", KindZeroTier},
		{"linux", "feth2001", "", ""},
		{"windows", "ZeroTier One [8056c2e21c000001]", "ZeroTier Virtual Port", KindZeroTier},
		{"windows", "zt0", "", ""},
		{"linux", "wt0", "", KindNetBird},
		{"windows", "wt0", "WireGuard Tunnel", KindNetBird},
		{"linux", "wg0", "", KindWireGuard},
		{"windows", "office", "WireGuard Tunnel", KindWireGuard},
		{"windows", "Ethernet 3", "Astrill VPN Adapter", KindAstrill},
		{"darwin", "utun4", "", ""},
		{"darwin", "utun100", "", KindNetBird},
		{"linux", "utun100", "", ""},
		{"linux", "eth0", "", ""},
		{"linux", "wlan0", "", ""},
		{"linux", "wgx", "", ""},
	}
	for _, tt := range tests {
		if got := interfaceKind(tt.goos, tt.name, tt.desc); got != tt.want {
			t.Errorf("interfaceKind(%s, %q, %q) = %q, want %q", tt.goos, tt.name, tt.desc, got, tt.want)
		}
	}
}

func TestExposure(t *testing.T) {
	for addr, want := range map[string]string{
		"http://localhost:3389": "exposes-rdp", "3389": "exposes-rdp", "localhost:5901": "exposes-vnc",
		"tcp://127.0.0.1:22": "exposes-ssh", "http://localhost:8080": "", "file:///srv": "", "": "",
	} {
		if got := exposure(addr); got != want {
			t.Errorf("exposure(%q) = %q, want %q", addr, got, want)
		}
	}
}

// checkStrings fails when a parsed string is not bounded valid UTF-8.
func checkStrings(t *testing.T, o Overlay) {
	t.Helper()
	var all []string
	all = append(all, o.Kind, o.Source, o.Self.Name, o.Self.Network)
	all = append(all, o.Interfaces...)
	all = append(all, o.Flags...)
	all = append(all, o.Self.Addresses...)
	for _, p := range o.Peers {
		all = append(all, p.Name, p.Relay, p.Direct, p.OS)
		all = append(all, p.Addresses...)
	}
	for _, tu := range o.Tunnels {
		all = append(all, tu.PublicURL, tu.Proto, tu.Addr)
	}
	for _, s := range all {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
		if len(s) > maxString && !strings.Contains(s, ",") {
			t.Fatalf("string of %d bytes", len(s))
		}
	}
}

func FuzzParseTailscaleStatus(f *testing.F) {
	f.Add(fixture(f, "tailscale-status.json"))
	f.Add([]byte(`{"BackendState":"Running","Peer":{"a":null,"b":{"Active":true,"Relay":"fra"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseTailscaleStatus(b)
		if err != nil {
			return
		}
		if o.Kind != KindTailscale || !o.Running || len(o.Peers) > len(b) {
			t.Fatalf("bad overlay %+v", o)
		}
		checkStrings(t, o)
	})
}

func FuzzParseZeroTierStatus(f *testing.F) {
	f.Add(fixture(f, "zerotier-status.json"), fixture(f, "zerotier-network.json"), fixture(f, "zerotier-peer.json"))
	f.Add([]byte(`{"online":true}`), []byte(`[{"status":"X"}]`), []byte(`[{"role":"LEAF","paths":[{"active":true}]}]`))
	f.Fuzz(func(t *testing.T, s, n, p []byte) {
		o, err := ParseZeroTierStatus(s, n, p)
		if err != nil && o.Kind == "" {
			return
		}
		if o.Kind != KindZeroTier || len(o.Peers) > len(p) {
			t.Fatalf("bad overlay %+v", o)
		}
		checkStrings(t, o)
	})
}

func FuzzParseNgrokTunnels(f *testing.F) {
	f.Add(fixture(f, "ngrok-tunnels.json"))
	f.Add([]byte(`{"tunnels":[{"public_uri":"tcp://a:1","config":{"addr":3389}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseNgrokTunnels(b)
		if err != nil {
			return
		}
		if o.Kind != KindNgrok || len(o.Tunnels) > len(b) || o.Connected != (len(o.Tunnels) > 0) {
			t.Fatalf("bad overlay %+v", o)
		}
		checkStrings(t, o)
	})
}

func FuzzParseCloudflaredMetrics(f *testing.F) {
	f.Add(200, fixture(f, "cloudflared-metrics.txt"))
	f.Add(503, []byte("cloudflared_tunnel_user_hostnames_counts{userHostname=\"a\\\"b\"} 1\n"))
	f.Fuzz(func(t *testing.T, ready int, b []byte) {
		o, err := ParseCloudflaredMetrics(ready, b)
		if err != nil {
			return
		}
		if o.Kind != KindCloudflared || len(o.Tunnels) > len(b) {
			t.Fatalf("bad overlay %+v", o)
		}
		checkStrings(t, o)
	})
}
