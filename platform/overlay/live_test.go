package overlay

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a real HTTP server on 127.0.0.1 that records what it was asked.
type server struct {
	port    int
	mu      sync.Mutex
	methods []string
	headers []http.Header
}

func (s *server) seen() ([]string, []http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.methods...), append([]http.Header(nil), s.headers...)
}

func (s *server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.methods = append(s.methods, r.Method)
	s.headers = append(s.headers, r.Header.Clone())
}

func startServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		h(w, r)
	}))
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	s.port, _ = strconv.Atoi(u.Port())
	return s
}

// hang answers nothing until the client gives up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// huge sends 10 MiB.
func huge(w http.ResponseWriter, _ *http.Request) {
	chunk := []byte(strings.Repeat("{", 64<<10))
	for range 160 {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// testConfig is a live config whose every endpoint is a closed port.
func testConfig(t *testing.T) config {
	c := closedPort(t)
	return config{
		goos:          "linux",
		live:          true,
		host:          "127.0.0.1",
		zeroTierPorts: []int{c},
		ngrokPorts:    []int{c},
		cfPorts:       []int{c},
		timeout:       requestTimeout,
		max:           maxBody,
		interfaces:    func(context.Context) ([]ifaceInfo, error) { return nil, nil },
	}
}

func onlyGET(t *testing.T, s *server) {
	t.Helper()
	methods, _ := s.seen()
	for _, m := range methods {
		if m != http.MethodGet {
			t.Errorf("server saw %s", m)
		}
	}
}

func TestListNgrok(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/tunnels" {
			http.NotFound(w, r)
			return
		}
		w.Write(fixture(t, "ngrok-tunnels.json"))
	})
	cfg := testConfig(t)
	// 4040 refused (another program died), the agent took the next port.
	cfg.ngrokPorts = []int{closedPort(t), s.port}
	got, err := list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{{
		Kind: KindNgrok, Running: true, Connected: true, Active: true,
		Tunnels: []Tunnel{{PublicURL: "https://7c3e-198-51-100-23.ngrok-free.app", Proto: "https", Addr: "http://localhost:3389"}},
		Source:  "ngrok api", Flags: []string{"exposes-rdp"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list =\n%+v\nwant\n%+v", got, want)
	}
	onlyGET(t, s)
}

func TestListCloudflared(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ready":
			fmt.Fprint(w, `{"status":200,"readyConnections":4,"connectorId":"5b0f7d7e-7b1c-4a8e-9b53-2f6e1c9a0d11"}`)
		case "/metrics":
			w.Write(fixture(t, "cloudflared-metrics.txt"))
		default:
			http.NotFound(w, r)
		}
	})
	notReady := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "cloudflared_tunnel_ha_connections 0\n")
	})
	cfg := testConfig(t)
	cfg.cfPorts = []int{s.port, closedPort(t), notReady.port}
	got, err := list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{{
		Kind: KindCloudflared, Running: true, Connected: true, Active: true,
		Tunnels: []Tunnel{{PublicURL: "https://files.farm-example.com", Proto: "https"}, {PublicURL: "https://rdp.farm-example.com", Proto: "https"}},
		Source:  "cloudflared metrics", Flags: []string{"not-ready"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list =\n%+v\nwant\n%+v", got, want)
	}
	onlyGET(t, s)
	onlyGET(t, notReady)
}

// zeroTierHome writes a ZeroTier home directory.
func zeroTierHome(t *testing.T, token string) string {
	t.Helper()
	home := t.TempDir()
	if token != "" {
		if err := os.WriteFile(filepath.Join(home, "authtoken.secret"), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(home, "networks.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"identity.public":                        "a1b2c3d4e5:0:8f3c1e2d4b5a6978\n",
		"networks.d/8056c2e21c000001.conf":       "binary dictionary",
		"networks.d/8056c2e21c000001.local.conf": "allowManaged=1\n",
	} {
		if err := os.WriteFile(filepath.Join(home, filepath.FromSlash(name)), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

func TestListZeroTier(t *testing.T) {
	const token = "q7x2k9w4m1v8c3z6b5n0p2r4"
	s := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-ZT1-Auth") != token {
			http.Error(w, `{}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/status":
			w.Write(fixture(t, "zerotier-status.json"))
		case "/network":
			w.Write(fixture(t, "zerotier-network.json"))
		case "/peer":
			w.Write(fixture(t, "zerotier-peer.json"))
		default:
			http.NotFound(w, r)
		}
	})
	cfg := testConfig(t)
	cfg.zeroTierPorts = []int{s.port}
	cfg.zeroTierHomes = []string{zeroTierHome(t, token)}
	cfg.interfaces = func(context.Context) ([]ifaceInfo, error) {
		return []ifaceInfo{
			{Name: "eth0", Up: true, IPs: []string{"192.168.1.20"}},
			{Name: "ztmjfmfyq6", Up: true, IPs: []string{"10.147.17.23"}},
		}, nil
	}
	got, err := list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{{
		Kind: KindZeroTier, Interfaces: []string{"ztmjfmfyq6"}, Running: true, Connected: true, Active: true,
		Peers:  []Peer{{Name: "0badc0de99"}, {Name: "f00dbeef42", Direct: "203.0.113.77/21004", Active: true}},
		Self:   SelfInfo{Name: "a1b2c3d4e5", Addresses: []string{"10.147.17.23", "fd80:56c2:e21c:0:199:93a1:b2c3:d4e5"}, Network: "8056c2e21c000001"},
		Source: "zerotier api, zerotier state, interfaces",
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list =\n%+v\nwant\n%+v", got, want)
	}
	methods, headers := s.seen()
	if len(methods) != 3 {
		t.Errorf("server saw %d requests, want 3", len(methods))
	}
	for _, h := range headers {
		if h.Get("X-ZT1-Auth") != token {
			t.Errorf("request without the token header: %v", h)
		}
	}
	onlyGET(t, s)
	if strings.Contains(fmt.Sprintf("%+v", got), token) {
		t.Error("token leaked into the result")
	}

	// Without a readable token the service refuses: running, flagged.
	cfg.zeroTierHomes = []string{zeroTierHome(t, "")}
	cfg.interfaces = nil
	got, err = list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want = []Overlay{{Kind: KindZeroTier, Running: true, Self: SelfInfo{Name: "a1b2c3d4e5", Network: "8056c2e21c000001"},
		Source: "zerotier api, zerotier state", Flags: []string{"no-token"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list without token =\n%+v\nwant\n%+v", got, want)
	}

	// A wrong token: unauthorized.
	home := zeroTierHome(t, "wrong-token-value")
	cfg.zeroTierHomes = []string{home}
	got, err = list(context.Background(), cfg)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0].Flags, []string{"unauthorized"}) {
		t.Errorf("list with a wrong token = %+v, %v", got, err)
	}
}

func TestListTimeout(t *testing.T) {
	s := startServer(t, hang)
	cfg := testConfig(t)
	cfg.ngrokPorts = []int{s.port}
	cfg.zeroTierPorts = []int{s.port}
	cfg.cfPorts = []int{s.port}
	cfg.zeroTierHomes = []string{zeroTierHome(t, "secret-token-123")}
	start := time.Now()
	got, err := list(context.Background(), cfg)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("no error from hanging servers")
	}
	for _, what := range []string{"ngrok api port", "zerotier api port", "cloudflared metrics port"} {
		if !strings.Contains(err.Error(), what) {
			t.Errorf("error %q does not mention %s", err, what)
		}
	}
	if strings.Contains(err.Error(), "secret-token-123") {
		t.Errorf("error leaks the token: %v", err)
	}
	// Three requests of 300 ms each, plus slack.
	if elapsed > 3*requestTimeout+time.Second {
		t.Errorf("list took %v", elapsed)
	}
	for _, o := range got {
		if o.Kind != KindZeroTier || o.Running { // the state dir alone
			t.Errorf("unexpected overlay %+v", o)
		}
	}
}

func TestListTruncated(t *testing.T) {
	s := startServer(t, huge)
	cfg := testConfig(t)
	cfg.ngrokPorts = []int{s.port}
	got, err := list(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{{Kind: KindNgrok, Running: true, Source: "ngrok api", Flags: []string{"truncated"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list = %+v, want %+v", got, want)
	}

	g := newLoopbackGetter(requestTimeout, maxBody)
	r, err := g.get(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/", s.port), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.body) != maxBody || !r.truncated {
		t.Errorf("get read %d bytes, truncated %v; want %d, true", len(r.body), r.truncated, maxBody)
	}
}

func TestGetterOnlyGET(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	g := newLoopbackGetter(requestTimeout, maxBody)
	u := fmt.Sprintf("http://127.0.0.1:%d/api/tunnels", s.port)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions} {
		req, err := http.NewRequest(m, u, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := g.client.Do(req); err == nil {
			resp.Body.Close()
			t.Errorf("%s was sent", m)
		}
	}
	if methods, _ := s.seen(); len(methods) != 0 {
		t.Errorf("server saw %v", methods)
	}
	if _, err := g.get(context.Background(), u, nil); err != nil {
		t.Errorf("GET failed: %v", err)
	}
	onlyGET(t, s)
}

func TestGetterNoRedirect(t *testing.T) {
	s := startServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	})
	g := newLoopbackGetter(requestTimeout, maxBody)
	r, err := g.get(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/", s.port), nil)
	if err != nil || r.status != http.StatusFound {
		t.Errorf("get = %d, %v; want the redirect itself", r.status, err)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:4040": true, "[::1]:4040": true, "127.8.9.1:1": true,
		"192.0.2.1:4040": false, "[2001:db8::1]:80": false, "localhost:80": false, "nonsense": false} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("loopbackOnly(%s) = %v", addr, err)
		}
	}
	g := newLoopbackGetter(requestTimeout, maxBody)
	if _, err := g.get(context.Background(), "http://192.0.2.1:4040/api/tunnels", nil); err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Errorf("get to a non-loopback address: %v", err)
	}
}

// captured builds a Linux tree with sysfs interfaces and state dirs.
func captured(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, flags := range map[string]string{"lo": "0x9", "eth0": "0x1003", "tailscale0": "0x11", "wg0": "0x90", "ztmjfmfyq6": "0x1003", "wt0": "0x91"} {
		write("sys/class/net/"+name+"/flags", flags+"\n")
		write("sys/class/net/"+name+"/address", "00:00:00:00:00:00\n")
	}
	write("var/lib/tailscale/tailscaled.state", `{"_machinekey":"privkey:secret"}`)
	write("var/lib/zerotier-one/identity.public", "a1b2c3d4e5:0:abcdef\n")
	write("var/lib/zerotier-one/networks.d/8056c2e21c000001.conf", "x")
	write("var/lib/zerotier-one/authtoken.secret", "never-read-in-a-capture")
	return root
}

func TestListCaptured(t *testing.T) {
	got, err := List(context.Background(), captured(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []Overlay{
		{Kind: KindNetBird, Interfaces: []string{"wt0"}, Running: true, Source: "interfaces"},
		{Kind: KindTailscale, Interfaces: []string{"tailscale0"}, Running: true, Source: "tailscale state, interfaces"},
		{Kind: KindWireGuard, Interfaces: []string{"wg0"}, Source: "interfaces"},
		{Kind: KindZeroTier, Interfaces: []string{"ztmjfmfyq6"}, Running: true, Self: SelfInfo{Name: "a1b2c3d4e5", Network: "8056c2e21c000001"}, Source: "zerotier state, interfaces"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List(captured) =\n%+v\nwant\n%+v", got, want)
	}
	if strings.Contains(fmt.Sprintf("%+v", got), "secret") {
		t.Error("a secret leaked")
	}
}

func TestListCapturedEmpty(t *testing.T) {
	got, err := List(context.Background(), t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("List(empty tree) = %+v, %v", got, err)
	}
}

func TestAttributeByAddress(t *testing.T) {
	known := map[string]*Overlay{KindTailscale: {Kind: KindTailscale, Self: SelfInfo{Addresses: []string{"100.101.102.103"}}}}
	got := attribute("darwin", []ifaceInfo{
		{Name: "utun4", Up: true, IPs: []string{"100.101.102.103", "fe80::1"}},
		{Name: "utun0", Up: true, IPs: []string{"fe80::2"}},
		{Name: "feth2001", Up: false},
	}, known)
	want := []Overlay{
		{Kind: KindTailscale, Interfaces: []string{"utun4"}, Running: true, Source: "interfaces"},
		{Kind: KindZeroTier, Interfaces: []string{"feth2001"}, Source: "interfaces"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attribute =\n%+v\nwant\n%+v", got, want)
	}
}

func TestListLive(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip("no live reader")
	}
	start := time.Now()
	got, err := List(context.Background(), "")
	t.Logf("List() = %+v, %v (%v)", got, err, time.Since(start))
	if d := time.Since(start); d > 15*requestTimeout+2*time.Second {
		t.Errorf("List took %v", d)
	}
}

func TestListTailscaleNoAccessDial(t *testing.T) {
	cfg := testConfig(t)
	cfg.tailscaleSocket = "tailscaled"
	cfg.dialTailscale = func(context.Context, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: fmt.Errorf("connect: %w", fs.ErrPermission)}
	}
	got, err := list(context.Background(), cfg)
	want := []Overlay{{Kind: KindTailscale, Source: "tailscale localapi", Flags: []string{"no-access"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("list = %+v, %v; want %+v", got, err, want)
	}
}
