//go:build linux || darwin

package overlay

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// tailscaled serves h as the LocalAPI on a unix socket in a short temp dir
// (socket paths are limited to about 100 bytes) and returns its path.
func tailscaled(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "tailscaled.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestListTailscale(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	path := tailscaled(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.Host+" "+r.URL.Path)
		mu.Unlock()
		if r.Host != "local-tailscaled.sock" || r.URL.Path != "/localapi/v0/status" {
			http.Error(w, "invalid localapi request", http.StatusForbidden)
			return
		}
		w.Write(fixture(t, "tailscale-status.json"))
	})
	cfg := testConfig(t)
	cfg.goos = "darwin"
	cfg.tailscaleSocket = path
	cfg.dialTailscale = dialUnix
	cfg.interfaces = func(context.Context) ([]ifaceInfo, error) {
		return []ifaceInfo{
			{Name: "en0", Up: true, IPs: []string{"192.168.1.20"}},
			{Name: "utun3", Up: true, IPs: []string{"fe80::1"}},
			{Name: "utun4", Up: true, IPs: []string{"100.101.102.103", "fd7a:115c:a1e0::1a01:6667"}},
		}, nil
	}
	got, err := list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("list = %+v, want one overlay", got)
	}
	o := got[0]
	if o.Kind != KindTailscale || !o.Running || !o.Connected || !o.Active || len(o.Peers) != 3 ||
		!reflect.DeepEqual(o.Interfaces, []string{"utun4"}) || o.Source != "tailscale localapi, interfaces" ||
		o.Self.Network != "jdoe@example.com" || o.Peers[1].Relay != "fra" || o.Peers[0].Direct != "192.168.1.44:41641" {
		t.Errorf("list = %+v", o)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"GET local-tailscaled.sock /localapi/v0/status"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("tailscaled was asked %q, want %q", asked, want)
	}
}

func TestListTailscaleStates(t *testing.T) {
	forbidden := tailscaled(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "access denied", http.StatusForbidden)
	})
	hanging := tailscaled(t, hang)
	huger := tailscaled(t, huge)
	tests := []struct {
		name, socket string
		want         []Overlay
		wantErr      string
	}{
		{"refused", forbidden, []Overlay{{Kind: KindTailscale, Running: true, Source: "tailscale localapi", Flags: []string{"unauthorized"}}}, ""},
		{"no socket", filepath.Join(t.TempDir(), "absent.sock"), []Overlay{}, ""},
		{"hangs", hanging, []Overlay{}, "tailscale localapi"},
		{"10 MiB", huger, []Overlay{{Kind: KindTailscale, Running: true, Source: "tailscale localapi", Flags: []string{"truncated"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.tailscaleSocket = tt.socket
			cfg.dialTailscale = dialUnix
			start := time.Now()
			got, err := list(context.Background(), cfg)
			if d := time.Since(start); d > requestTimeout+time.Second {
				t.Errorf("list took %v", d)
			}
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("list = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestListTailscaleNoAccess(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores socket permissions")
	}
	path := tailscaled(t, func(http.ResponseWriter, *http.Request) {})
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.tailscaleSocket = path
	cfg.dialTailscale = dialUnix
	got, err := list(context.Background(), cfg)
	want := []Overlay{{Kind: KindTailscale, Source: "tailscale localapi", Flags: []string{"no-access"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("list = %+v, %v; want %+v", got, err, want)
	}
}
