package rdpclient

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
)

// The logs in testdata were written by Debian 12's xrdp 0.9.21.1 and xrdp-sesman
// for FreeRDP 2.11 clients on loopback (xfreerdp /kbd:0x00000412
// /client-hostname:KIMPC, then a reconnection with /kbd:0x00000409
// /client-hostname:SECONDPC):
//
//   - xrdp-info.log: the first connection at xrdp's default level, INFO;
//   - xrdp-trace.log: the same connection at LogLevel=TRACE;
//   - xrdp-pid.log: the reconnection with EnableProcessId=true;
//   - xrdp-loginscreen.log: connections that never logged in (wrong
//     password, dropped), with a daemon restart;
//   - xrdp-sesman.log: sesman at TRACE for both, up to the session's end.

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func peer(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestXrdpLogYieldsPeerNameLayoutAndSession(t *testing.T) {
	kim := xrdpConn{Peer: peer("127.0.0.1:53102"), ClientName: "KIMPC", Layout: "00000412", User: "fwrdp", Display: ":10"}
	for _, tc := range []struct {
		file string
		want []xrdpConn
	}{
		{"xrdp-info.log", []xrdpConn{kim}},
		{"xrdp-trace.log", []xrdpConn{kim}},
		{"xrdp-pid.log", []xrdpConn{{Peer: peer("127.0.0.1:52290"), ClientName: "SECONDPC", Layout: "00000409", User: "fwrdp", Display: ":10"}}},
		{"xrdp-loginscreen.log", []xrdpConn{
			{Peer: peer("127.0.0.1:58104"), ClientName: "vm", Layout: "00000409"},
			{Peer: peer("127.0.0.1:50132")},
			{Peer: peer("127.0.0.1:50142"), ClientName: "vm"},
			{Peer: peer("127.0.0.1:37404")},
			{Peer: peer("127.0.0.1:37416"), ClientName: "vm"},
			{Peer: peer("127.0.0.1:60754")},
			{Peer: peer("127.0.0.1:60764")},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var got []xrdpConn
			for _, c := range parseXrdpLog(readTestdata(t, tc.file)) {
				got = append(got, *c)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Lines of two connections interleave when they connect at once.
func TestInterleavedConnectionsAreKeptApart(t *testing.T) {
	const (
		recvA = "[20261122-04:40:12] [INFO ] Socket 12: AF_INET6 connection received from ::ffff:10.0.0.1 port 40001\n"
		recvB = "[20261122-04:40:12] [INFO ] Socket 12: AF_INET6 connection received from ::ffff:10.0.0.2 port 40002\n"
		tlsA  = "[20261122-04:40:13] [INFO ] TLS connection established from ::ffff:10.0.0.1 port 40001: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384\n"
		tlsB  = "[20261122-04:40:13] [INFO ] TLS connection established from ::ffff:10.0.0.2 port 40002: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384\n"
		kbd   = "[20261122-04:40:13] [INFO ] xrdp_load_keyboard_layout: Keyboard information sent by the RDP client, keyboard_type:[0x04], keyboard_subtype:[0x00], keylayout:[0x%s]\n"
	)
	layout := func(l string) string { return strings.Replace(kbd, "%s", l, 1) }
	name := func(n string) string {
		return "[20261122-04:40:12] [INFO ] Connected client computer name: " + n + "\n"
	}
	pidLine := func(pid, line string) string {
		i := strings.Index(line, "] [") + len("] [")
		j := strings.Index(line[i:], "] ") + i + 2
		return line[:j] + "[pid:" + pid + " tid:1] " + line[j:]
	}
	for _, tc := range []struct {
		name string
		log  string
	}{
		// xrdp logs name and layout before the TLS line; B's child logs first.
		{"by process id and TLS line", pidLine("1", recvA) + pidLine("1", recvB) + pidLine("20", name("B-PC")) + pidLine("10", name("A-PC")) +
			pidLine("20", layout("00000409")) + pidLine("10", layout("00000412")) + pidLine("20", tlsB) + pidLine("10", tlsA) +
			pidLine("1", "[x] [INFO ] Received termination signal\n")},
		{"by process id without TLS, in fork order", pidLine("1", recvA) + pidLine("1", recvB) + pidLine("10", name("A-PC")) + pidLine("20", name("B-PC")) +
			pidLine("20", layout("00000409")) + pidLine("10", layout("00000412"))},
		{"without process ids, one after the other", recvA + name("A-PC") + layout("00000412") + tlsA + recvB + name("B-PC") + layout("00000409") + tlsB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []xrdpConn
			for _, c := range parseXrdpLog(tc.log) {
				got = append(got, *c)
			}
			want := []xrdpConn{
				{Peer: peer("10.0.0.1:40001"), ClientName: "A-PC", Layout: "00000412"},
				{Peer: peer("10.0.0.2:40002"), ClientName: "B-PC", Layout: "00000409"},
			}
			if !slices.Equal(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestSesmanLogMapsPeersToSessions(t *testing.T) {
	got := parseSesmanLog(readTestdata(t, "xrdp-sesman.log"))
	want := map[netip.AddrPort]sesmanSession{
		peer("127.0.0.1:53102"): {User: "fwrdp", Display: ":10", PID: 2206, Ended: true},
		peer("127.0.0.1:52290"): {User: "fwrdp", Display: ":10", PID: 2206, Ended: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %+v, want %+v", k, got[k], v)
		}
	}
	// Before "++ terminated session" the session is running.
	log := readTestdata(t, "xrdp-sesman.log")
	log = log[:strings.Index(log, "++ terminated session")]
	if s := parseSesmanLog(log)[peer("127.0.0.1:52290")]; s.Ended || s.PID != 2206 {
		t.Errorf("before the end: %+v, want pid 2206 not ended", s)
	}
}

func TestLiveClientsKeepsConnectedAndLastOnRunningSession(t *testing.T) {
	a := func() *xrdpConn {
		return &xrdpConn{Peer: peer("127.0.0.1:53102"), ClientName: "KIMPC", Layout: "00000412", Display: ":10"}
	}
	b := func() *xrdpConn {
		return &xrdpConn{Peer: peer("127.0.0.1:52290"), ClientName: "SECONDPC", Layout: "00000409", Display: ":10"}
	}
	login := func() *xrdpConn { return &xrdpConn{Peer: peer("192.0.2.4:50000"), ClientName: "AT-LOGIN"} }
	running := map[netip.AddrPort]sesmanSession{
		peer("127.0.0.1:53102"): {User: "fwrdp", Display: ":10", PID: 2206},
		peer("127.0.0.1:52290"): {User: "fwrdp", Display: ":10", PID: 2206},
	}
	ended := map[netip.AddrPort]sesmanSession{
		peer("127.0.0.1:53102"): {User: "fwrdp", Display: ":10", PID: 2206, Ended: true},
		peer("127.0.0.1:52290"): {User: "fwrdp", Display: ":10", PID: 2206, Ended: true},
	}
	alive := func(pid int) bool { return pid == 2206 }
	for _, tc := range []struct {
		name     string
		conns    []*xrdpConn
		sessions map[netip.AddrPort]sesmanSession
		peers    []string
		alive    func(int) bool
		want     []string
	}{
		{"connected client", []*xrdpConn{a()}, running, []string{"127.0.0.1:53102"}, alive, []string{"KIMPC"}},
		{"disconnected client of a running session", []*xrdpConn{a()}, running, nil, alive, []string{"KIMPC"}},
		{"only the last client of a running session", []*xrdpConn{a(), b()}, running, nil, alive, []string{"SECONDPC"}},
		{"session process gone", []*xrdpConn{a(), b()}, running, nil, func(int) bool { return false }, nil},
		{"session ended, pid reused", []*xrdpConn{a(), b()}, ended, nil, alive, nil},
		{"at the login screen", []*xrdpConn{login(), a()}, ended, []string{"192.0.2.4:50000"}, alive, []string{"AT-LOGIN"}},
		{"login screen left", []*xrdpConn{login()}, nil, nil, alive, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peers := map[netip.AddrPort]bool{}
			for _, p := range tc.peers {
				peers[peer(p)] = true
			}
			var got []string
			for _, c := range liveClients(tc.conns, tc.sessions, peers, tc.alive) {
				got = append(got, c.GetClientName())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProcNetAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0100007F:1716", "127.0.0.1:5910"},
		{"0000000000000000FFFF00000100007F:CF6E", "127.0.0.1:53102"},
		{"B80D0120000000000000000001000000:0D3D", "[2001:db8::1]:3389"},
		{"zz:1", ""},
		{"0100007F", ""},
	} {
		p, ok := procNetAddr(tc.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tc.want {
			t.Errorf("procNetAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// tree writes a captured Linux tree of the first recorded session: xrdp
// started with -c /tmp/rdpx/xrdp.ini (logging to /tmp/rdpx/xrdp.log), its
// connection child holding the client's socket (inode 447230, the real
// /proc/net/tcp6 line) unless disconnected, and sesman's session process
// unless ended.
func tree(t *testing.T, connected, sessionRunning bool) string {
	t.Helper()
	root := t.TempDir()
	sesman := readTestdata(t, "xrdp-sesman.log")
	sesman = sesman[:strings.Index(sesman, "[20261122-04:40:59]")] // the first session, still running
	files := map[string]string{
		"etc/xrdp/xrdp.ini":            "[Globals]\nport=3389\n[Logging]\nLogFile=xrdp.log\n",
		"etc/xrdp/sesman.ini":          "[Logging]\nLogFile=xrdp-sesman.log\n",
		"tmp/rdpx/xrdp.ini":            "[Logging]\nLogFile=/tmp/rdpx/xrdp.log\nLogLevel=INFO\n",
		"tmp/rdpx/xrdp.log":            readTestdata(t, "xrdp-info.log"),
		"var/log/xrdp.log":             readTestdata(t, "xrdp-loginscreen.log"),
		"var/log/xrdp-sesman.log":      sesman,
		"proc/2132/comm":               "xrdp-sesman\n",
		"proc/2134/comm":               "xrdp\n",
		"proc/2134/cmdline":            "xrdp\x00--nodaemon\x00--port\x003391\x00-c\x00/tmp/rdpx/xrdp.ini\x00",
		"proc/2169/comm":               "xrdp\n",
		"proc/2169/cmdline":            "xrdp\x00--nodaemon\x00--port\x003391\x00-c\x00/tmp/rdpx/xrdp.ini\x00",
		"proc/2169/net/tcp":            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
		"proc/2169/net/tcp6":           "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   5: 0000000000000000FFFF00000100007F:0D3F 0000000000000000FFFF00000100007F:CF6E 01 00000000:00000000 02:000AEF24 00000000     0        0 447230 2 0000000008a81930 20 4 19 18 -1\n",
		"proc/2207/comm":               "sleep\n",
		"proc/self/comm":               "agent\n",
		"proc/2208/cmdline":            "Xvnc\x00:10\x00",
		"proc/2208/comm":               "Xvnc\n",
		"proc/2222/comm":               "xrdp-chansrv\n",
		"proc/not-a-pid/comm":          "xrdp\n",
		"var/log/xrdp-sesman.log.1.gz": "\x1f\x8b",
	}
	if sessionRunning {
		files["proc/2206/comm"] = "xrdp-sesman\n"
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if connected {
		fd := filepath.Join(root, "proc", "2169", "fd")
		if err := os.MkdirAll(fd, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, target := range map[string]string{"0": "/dev/null", "12": "socket:[447230]", "13": "socket:[999]"} {
			if err := os.Symlink(target, filepath.Join(fd, n)); err != nil {
				if runtime.GOOS == "windows" {
					t.Skipf("cannot create symlinks here: %v", err)
				}
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestCapturedTreeReportsLiveXrdpClients(t *testing.T) {
	kim := "session:\":10\" user:\"fwrdp\" client_name:\"KIMPC\" client_address:\"127.0.0.1\" keyboard_layout:\"00000412\" source:\"xrdp-log\""
	for _, tc := range []struct {
		name                      string
		connected, sessionRunning bool
		want                      []string
	}{
		{"connected client", true, true, []string{kim}},
		{"client disconnected, session running", false, true, []string{kim}},
		{"connected, sesman gone", true, false, []string{kim}},
		{"disconnected and session ended", false, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := tree(t, tc.connected, tc.sessionRunning)
			// Clients walks the tree's proc; ClientsAmong is given the processes as a
			// scan lists them (every pid directory with its comm): the same answer.
			var listed []Proc
			dirs, _ := os.ReadDir(filepath.Join(root, "proc"))
			for _, d := range dirs {
				pid, err := strconv.Atoi(d.Name())
				if err != nil {
					continue
				}
				comm, _ := os.ReadFile(filepath.Join(root, "proc", d.Name(), "comm"))
				listed = append(listed, Proc{PID: pid, Name: strings.TrimSpace(string(comm))})
			}
			for name, read := range map[string]func() ([]*pb.RdpClient, error){
				"Clients":      func() ([]*pb.RdpClient, error) { return Clients(context.Background(), root) },
				"ClientsAmong": func() ([]*pb.RdpClient, error) { return ClientsAmong(context.Background(), root, listed) },
			} {
				cs, err := read()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, c := range cs {
					got = append(got, strings.Join(strings.Fields(c.String()), " "))
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: got  %q\nwant %q", name, got, tc.want)
				}
			}
		})
	}
}

// The default log of an xrdp that no longer runs (here: one that served STALEPC on the same
// display number, later) is not read while every running xrdp logs elsewhere: its connection
// would be taken for the display's last one and hide the disconnected KIMPC.
func TestStaleDefaultLogIsNotRead(t *testing.T) {
	root := tree(t, false, true)
	stale := strings.NewReplacer("KIMPC", "STALEPC", "port 53102", "port 40000", "04:40:", "05:10:").Replace(readTestdata(t, "xrdp-info.log"))
	if err := os.WriteFile(filepath.Join(root, "var", "log", "xrdp.log"), []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	cs, err := Clients(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].GetClientName() != "KIMPC" {
		t.Errorf("got %v, want KIMPC's disconnected session", cs)
	}
	// An xrdp started without -c writes the default log: it is read then.
	if got := logPaths(root, xrdpIni, "xrdp.log", map[int][]string{2134: {"xrdp", "--nodaemon"}, 2169: {"xrdp", "-c", "/tmp/rdpx/xrdp.ini"}}); !slices.Equal(got, []string{"/tmp/rdpx/xrdp.log", "/var/log/xrdp.log"}) {
		t.Errorf("logs of a default and a configured xrdp: %q", got)
	}
	if got := logPaths(root, xrdpIni, "xrdp.log", map[int][]string{2169: {"xrdp", "-c", "/tmp/rdpx/xrdp.ini"}}); !slices.Equal(got, []string{"/tmp/rdpx/xrdp.log"}) {
		t.Errorf("logs of a configured xrdp: %q", got)
	}
}

func TestCapturedTreeWithoutXrdpIsEmpty(t *testing.T) {
	root := t.TempDir()
	cs, err := Clients(context.Background(), root)
	if err != nil || cs != nil {
		t.Errorf("got %v, %v; want nil, nil", cs, err)
	}
	if _, err := Clients(context.Background(), filepath.Join(root, "missing")); err == nil {
		t.Error("a missing root is not an error")
	}
}

func TestReadTailStartsAtAWholeLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("first line\nsecond line\nthird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int64
		want  string
	}{{100, "first line\nsecond line\nthird\n"}, {15, "third\n"}, {3, ""}} {
		b, err := readTail(p, tc.limit)
		if err != nil || string(b) != tc.want {
			t.Errorf("readTail(%d) = %q, %v; want %q", tc.limit, b, err, tc.want)
		}
	}
	if b, err := readTail(p+".missing", 10); b != nil || err != nil {
		t.Errorf("missing file: %q, %v", b, err)
	}
}

func FuzzParseXrdpLog(f *testing.F) {
	for _, name := range []string{"xrdp-info.log", "xrdp-pid.log", "xrdp-loginscreen.log", "xrdp-sesman.log"} {
		f.Add(readTestdata(f, name))
	}
	f.Add("[x] [INFO ] [pid:-1 tid:] connection received from ::ffff:1.2.3.4%eth0 port 0\n[]]]] keylayout:[0xffffffffff]")
	f.Fuzz(func(t *testing.T, log string) {
		conns := parseXrdpLog(log)
		sessions := parseSesmanLog(log)
		for _, c := range conns {
			if !c.Peer.IsValid() || c.Peer.Port() == 0 {
				t.Errorf("invalid peer %v", c.Peer)
			}
			if c.Layout != "" && len(c.Layout) != 8 {
				t.Errorf("layout %q is not 8 hex digits", c.Layout)
			}
			if len([]rune(c.ClientName)) > 64 || strings.ContainsAny(c.ClientName, "\n\r\x00") {
				t.Errorf("client name %q", c.ClientName)
			}
		}
		peers := map[netip.AddrPort]bool{}
		for _, c := range conns {
			peers[c.Peer] = true
		}
		for _, c := range liveClients(conns, sessions, peers, func(int) bool { return true }) {
			if c.GetClientAddress() == "" || c.GetSource() != SourceXrdpLog {
				t.Errorf("bad record %v", c)
			}
		}
	})
}
