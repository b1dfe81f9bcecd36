package remoteaccess

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"unicode/utf16"

	"github.com/farmwatch/farmwatch/platform/regfile"
	"howett.net/plist"
)

func hive(t *testing.T, file string) *regfile.Hive {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	h, err := regfile.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRDPConfig(t *testing.T) {
	policy, err := regfile.Parse([]byte("Windows Registry Editor Version 5.00\r\n\r\n" +
		"[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server]\r\n\"fDenyTSConnections\"=dword:00000001\r\n\r\n" +
		"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services]\r\n" +
		"\"fDenyTSConnections\"=dword:00000000\r\n\"UserAuthentication\"=dword:00000001\r\n\"Shadow\"=dword:00000004\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    regReader
		want *RDPConfig
	}{
		{"enabled on 3390, NLA off", hive(t, "testdata/windows/rdp-3390-nla-off.reg"),
			&RDPConfig{Enabled: true, Port: 3390, NLA: false, Shadow: 2, Source: tsKey}},
		{"Windows defaults", hive(t, "testdata/windows/rdp-default-regedit4.reg"),
			&RDPConfig{Enabled: false, Port: 3389, NLA: true, Source: tsKey}},
		{"group policy wins", policy, &RDPConfig{Enabled: true, Port: 3389, NLA: true, Shadow: 4, Source: tsPolicy}},
		{"no Terminal Server key", &regfile.Hive{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rdpConfig(tt.r); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rdpConfig() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// utf16zBytes is a WTS string buffer: UTF-16LE with a terminating NUL.
func utf16zBytes(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0)
}

// wtsAddress is a WTS_CLIENT_ADDRESS buffer.
func wtsAddress(family uint32, addr ...byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, family)
	var a [20]byte
	copy(a[2:], addr)
	return append(b, a[:]...)
}

func TestWTSRecordSession(t *testing.T) {
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	le16 := func(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
	tests := []struct {
		name string
		rec  wtsRecord
		want Session
		ok   bool
	}{
		{"rdp from a Windows 11 client", wtsRecord{ID: 2, State: 0, info: map[uint32][]byte{
			wtsUserName: utf16zBytes("jdoe"), wtsDomainName: utf16zBytes("CONTOSO"), wtsClientBuildNumber: le32(22631),
			wtsClientName: utf16zBytes("DESKTOP-7Q2K4LM"), wtsClientAddress: wtsAddress(2, 203, 0, 113, 45), wtsClientProtocolType: le16(2),
		}}, Session{ID: 2, User: "jdoe", Domain: "CONTOSO", Protocol: "rdp", State: "active", ClientName: "DESKTOP-7Q2K4LM",
			ClientAddress: "203.0.113.45", ClientBuild: 22631}, true},
		{"disconnected rdp over IPv6", wtsRecord{ID: 3, State: 4, info: map[uint32][]byte{
			wtsUserName: utf16zBytes("ана"), wtsClientProtocolType: le16(2), wtsClientBuildNumber: le32(2600),
			wtsClientAddress: wtsAddress(23, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		}}, Session{ID: 3, User: "ана", Protocol: "rdp", State: "disconnected", ClientAddress: "2001:db8::1", ClientBuild: 2600}, true},
		{"console", wtsRecord{ID: 1, State: 0, info: map[uint32][]byte{
			wtsUserName: utf16zBytes("jdoe"), wtsDomainName: utf16zBytes("LAPTOP-01"), wtsClientProtocolType: le16(0),
			wtsClientName: utf16zBytes(""), wtsClientAddress: wtsAddress(0), wtsClientBuildNumber: le32(0),
		}}, Session{ID: 1, User: "jdoe", Domain: "LAPTOP-01", Protocol: "console", State: "active"}, true},
		{"services session, queries failed", wtsRecord{ID: 0, State: 4, info: map[uint32][]byte{}},
			Session{ID: 0, State: "disconnected"}, true},
		{"listener", wtsRecord{ID: 65536, State: wtsListen}, Session{}, false},
		{"short and hostile buffers", wtsRecord{ID: 9, State: 42, info: map[uint32][]byte{
			wtsUserName: {'a', 0, 0x1b, 0, 'b'}, wtsClientBuildNumber: {1}, wtsClientAddress: {2, 0, 0, 0, 1}, wtsClientProtocolType: {2},
		}}, Session{ID: 9, User: "a", State: "unknown"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.rec.session()
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("session() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestReadMacTree(t *testing.T) {
	got, err := Read(context.Background(), "testdata/macos")
	if err != nil {
		t.Fatal(err)
	}
	want := State{ScreenSharing: &MacSharing{ScreenSharing: true, RemoteManagement: true,
		Source: "/System/Library/LaunchDaemons/com.apple.screensharing.plist,/private/var/db/com.apple.xpc.launchd/disabled.plist," +
			"/Library/Application Support/Apple/Remote Desktop/RemoteManagement.launchd"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read() = %+v, want %+v", got.ScreenSharing, want.ScreenSharing)
	}
}

func TestMacSharingOverrides(t *testing.T) {
	write := func(t *testing.T, root, rel string, v any, format int) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := plist.Marshal(v, format)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		overrides map[string]bool // nil: no disabled.plist
		jobOff    bool
		want      bool
	}{
		{"off in the overrides database", map[string]bool{"com.apple.screensharing": true}, false, false},
		{"on in the overrides database beats the plist", map[string]bool{"com.apple.screensharing": false}, true, true},
		{"no entry: the plist's Disabled", map[string]bool{"com.apple.ftp-proxy": true}, true, false},
		{"no database, plist enabled", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, screenSharingJob, map[string]any{"Label": screenSharingLabel, "Disabled": tt.jobOff}, plist.XMLFormat)
			if tt.overrides != nil {
				write(t, root, launchdOverrides[0], tt.overrides, plist.BinaryFormat)
			}
			got, err := Read(context.Background(), root)
			if err != nil {
				t.Fatal(err)
			}
			if got.ScreenSharing == nil || got.ScreenSharing.ScreenSharing != tt.want || got.ScreenSharing.RemoteManagement {
				t.Errorf("Read() = %+v, want ScreenSharing %v", got.ScreenSharing, tt.want)
			}
		})
	}
}

func TestReadLinuxTree(t *testing.T) {
	got, err := Read(context.Background(), "testdata/debian")
	if err != nil || !reflect.DeepEqual(got, State{}) {
		t.Errorf("Read(linux tree) = %+v, %v; want empty state", got, err)
	}
	if _, err := Read(context.Background(), filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("Read(missing root) returned no error")
	}
}

func TestReadLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live test is for linux")
	}
	got, err := Read(context.Background(), "")
	if err != nil || !reflect.DeepEqual(got, State{}) {
		t.Errorf("Read() = %+v, %v; want an empty state on linux", got, err)
	}
}

func FuzzWTSRecord(f *testing.F) {
	f.Add(uint32(0), utf16zBytes("jdoe"), wtsAddress(2, 10, 0, 0, 5), []byte{2, 0})
	f.Fuzz(func(t *testing.T, state uint32, name, addr, proto []byte) {
		s, ok := wtsRecord{State: state, info: map[uint32][]byte{wtsUserName: name, wtsClientAddress: addr, wtsClientProtocolType: proto}}.session()
		if ok && len([]rune(s.User)) > 512 {
			t.Fatalf("user %d runes", len([]rune(s.User)))
		}
	})
}
