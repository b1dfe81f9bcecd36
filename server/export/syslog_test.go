package export

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// syslogFrame is one received message and the connection (numbered from 1) it came on.
type syslogFrame struct {
	msg  string
	conn int
}

// syslogReceiver listens on loopback (TLS when cfg is set) and parses RFC 6587 octet-counted
// frames. After a connection has delivered closeAfter frames the receiver closes it
// (0: never), to make the exporter reconnect.
func syslogReceiver(t *testing.T, cfg *tls.Config, closeAfter int) (addr string, frames <-chan syslogFrame) {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	if cfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan syslogFrame, 1000)
	go func() {
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
					return // the client refused our certificate
				}
				r := bufio.NewReader(c)
				for i := 1; closeAfter == 0 || i <= closeAfter; i++ {
					msg, err := readFrame(r)
					if err == io.EOF {
						return
					}
					if err != nil {
						t.Errorf("conn %d: %v", n, err)
						return
					}
					ch <- syslogFrame{msg, n}
				}
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// readFrame reads "MSG-LEN SP SYSLOG-MSG" (RFC 6587 §3.4.1).
func readFrame(r *bufio.Reader) (string, error) {
	head, err := r.ReadString(' ')
	if err != nil {
		if err == io.EOF && head == "" {
			return "", io.EOF
		}
		return "", fmt.Errorf("frame length: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(head, " "))
	if err != nil || n < 1 || strings.HasPrefix(head, "0") {
		return "", fmt.Errorf("bad frame length %q", head)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return "", fmt.Errorf("frame of %d octets: %w", n, err)
	}
	return string(msg), nil
}

// rfc5424 is a parsed message: the header fields, the one SD element, and MSG.
type rfc5424 struct {
	pri, version                            int
	timestamp                               time.Time
	hostname, app, procid, msgid, sdID, msg string
	params                                  map[string]string
	rawSD                                   string
	bom                                     bool
}

// parseRFC5424 checks a message against the RFC 5424 grammar as far as we produce it.
func parseRFC5424(t *testing.T, s string) rfc5424 {
	t.Helper()
	var m rfc5424
	if !strings.HasPrefix(s, "<") {
		t.Fatalf("no PRI: %q", s)
	}
	end := strings.IndexByte(s, '>')
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri < 0 || pri > 191 {
		t.Fatalf("bad PRI in %q", s)
	}
	m.pri = pri
	fields := strings.SplitN(s[end+1:], " ", 7)
	if len(fields) != 7 {
		t.Fatalf("want VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD, got %q", s)
	}
	if m.version, err = strconv.Atoi(fields[0]); err != nil || m.version != 1 {
		t.Fatalf("VERSION %q, want 1", fields[0])
	}
	if m.timestamp, err = time.Parse(time.RFC3339Nano, fields[1]); err != nil {
		t.Fatalf("TIMESTAMP %q: %v", fields[1], err)
	}
	if frac := strings.TrimSuffix(fields[1][strings.IndexByte(fields[1], '.')+1:], "Z"); len(frac) > 6 {
		t.Errorf("TIME-SECFRAC %q longer than 6 digits", frac)
	}
	for i, limit := range map[int]int{2: 255, 3: 48, 4: 128, 5: 32} {
		f := fields[i]
		if len(f) < 1 || len(f) > limit {
			t.Errorf("header field %d %q: want 1-%d characters", i, f, limit)
		}
		for _, c := range []byte(f) {
			if c < 33 || c > 126 {
				t.Errorf("header field %d %q: byte %#x is not PRINTUSASCII", i, f, c)
			}
		}
	}
	m.hostname, m.app, m.procid, m.msgid = fields[2], fields[3], fields[4], fields[5]

	rest := fields[6]
	if !strings.HasPrefix(rest, "[") {
		t.Fatalf("no SD element: %q", rest)
	}
	m.params = map[string]string{}
	i := 1
	for i < len(rest) && rest[i] != ' ' && rest[i] != ']' {
		i++
	}
	m.sdID = rest[1:i]
	for rest[i] == ' ' {
		i++
		eq := strings.IndexByte(rest[i:], '=')
		name := rest[i : i+eq]
		if strings.ContainsAny(name, ` ]"`) || len(name) > 32 {
			t.Fatalf("bad PARAM-NAME %q", name)
		}
		i += eq + 1
		if rest[i] != '"' {
			t.Fatalf("PARAM-VALUE of %s not quoted", name)
		}
		i++
		var v strings.Builder
		for ; rest[i] != '"'; i++ {
			if rest[i] == '\\' && strings.ContainsRune(`"\]`, rune(rest[i+1])) {
				i++
			} else if rest[i] == ']' {
				t.Fatalf("unescaped ] in value of %s", name)
			}
			v.WriteByte(rest[i])
		}
		i++
		if !utf8.ValidString(v.String()) {
			t.Fatalf("PARAM-VALUE of %s is not UTF-8", name)
		}
		m.params[name] = v.String()
	}
	if rest[i] != ']' {
		t.Fatalf("SD element not closed at %q", rest[i:])
	}
	m.rawSD = rest[:i+1]
	msg := strings.TrimPrefix(rest[i+1:], " ")
	if m.bom = strings.HasPrefix(msg, "\xEF\xBB\xBF"); m.bom {
		msg = msg[3:]
	}
	m.msg = msg
	return m
}

// selfSigned returns a server config and a client pool trusting it, for 127.0.0.1.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "farmwatch test syslog"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const hostile = "bad\"]host\x00<script>"

func TestSyslogDeliversRFC5424(t *testing.T) {
	serverTLS, pool := selfSigned(t)
	tests := []struct {
		network   string
		serverTLS *tls.Config
		clientTLS *tls.Config
	}{
		{"tcp", nil, nil},
		{"tls", serverTLS, &tls.Config{RootCAs: pool}},
	}
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			addr, frames := syslogReceiver(t, tt.serverTLS, 0)
			e := newExporter(t, Config{Syslog: []Syslog{{Network: tt.network, Address: addr, TLS: tt.clientTLS, Hostname: "collector-1"}}})
			ev := bandEvent("s1", hostile, "high", "critical", 91.25)
			e.Publish(ev)
			cl := Event{Kind: KindNewCluster, ID: "s2", At: ev.At, Cluster: &ClusterInfo{ID: "c-9", Members: []string{"d1", "d2", "d3"}, Kinds: []string{"gateway_mac", "wifi"}}}
			e.Publish(cl)
			band := parseRFC5424(t, recv(t, frames).msg)
			cluster := parseRFC5424(t, recv(t, frames).msg)
			closeExporter(t, e)

			if band.pri != 16*8+2 || band.hostname != "collector-1" || band.app != "farmwatch" ||
				band.procid != strconv.Itoa(os.Getpid()) || band.msgid != "band_change" || band.sdID != "farmwatch@32473" ||
				!band.timestamp.Equal(ev.At.Truncate(time.Microsecond)) {
				t.Errorf("band_change header = %+v", band)
			}
			wantParams := map[string]string{"id": "s1", "device_id": "dev-s1", "hostname": "bad\"]host\uFFFD<script>", "from": "high", "to": "critical", "score": "91.25"}
			if !reflect.DeepEqual(band.params, wantParams) {
				t.Errorf("band_change params = %q, want %q", band.params, wantParams)
			}
			if want := `hostname="bad\"\]host` + "\uFFFD" + `<script>"`; !strings.Contains(band.rawSD, want) {
				t.Errorf("SD %q lacks escaped %q", band.rawSD, want)
			}
			if strings.ContainsRune(band.msg, 0) || !band.bom || !strings.Contains(band.msg, "moved from band high to critical") {
				t.Errorf("band_change MSG %q (BOM %v): want sanitised UTF-8 with BOM", band.msg, band.bom)
			}

			if cluster.pri != 16*8+4 || cluster.msgid != "new_cluster" {
				t.Errorf("new_cluster PRI %d MSGID %q, want 132 new_cluster", cluster.pri, cluster.msgid)
			}
			wantParams = map[string]string{"id": "s2", "cluster_id": "c-9", "member_count": "3", "members": "d1,d2,d3", "kinds": "gateway_mac,wifi"}
			if !reflect.DeepEqual(cluster.params, wantParams) {
				t.Errorf("new_cluster params = %q, want %q", cluster.params, wantParams)
			}
			if cluster.bom || cluster.msg != "new cluster c-9: 3 devices share a home (gateway_mac, wifi)" {
				t.Errorf("new_cluster MSG %q (BOM %v)", cluster.msg, cluster.bom)
			}
			if st := onlyStats(t, e); st != (SinkStats{Sent: 2}) {
				t.Errorf("stats = %+v, want 2 sent", st)
			}
		})
	}
}

func TestSyslogTLSRejectsUntrustedServer(t *testing.T) {
	serverTLS, _ := selfSigned(t)
	addr, frames := syslogReceiver(t, serverTLS, 0)
	e := newExporter(t, Config{Syslog: []Syslog{{Network: "tls", Address: addr}}}) // system roots only
	e.Publish(bandEvent("u1", "h", "low", "high", 1))
	time.Sleep(200 * time.Millisecond)
	if len(frames) != 0 {
		t.Fatal("delivered to a server with an untrusted certificate")
	}
	ctx, cancel := contextWithTimeout(100 * time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); err == nil {
		t.Error("Close = nil, want the undelivered event reported")
	}
	if st := onlyStats(t, e); st.Sent != 0 || st.Failed+st.Dropped != 1 || st.Queued != 0 {
		t.Errorf("stats = %+v, want the event failed or dropped", st)
	}
}

func TestSyslogReconnectsAfterReceiverCloses(t *testing.T) {
	addr, frames := syslogReceiver(t, nil, 1) // each connection takes one frame
	e := newExporter(t, Config{Syslog: []Syslog{{Network: "tcp", Address: addr}}})
	var got []syslogFrame
	for i := range 3 {
		e.Publish(bandEvent(fmt.Sprint("c", i), "h", "low", "medium", 30))
		got = append(got, recv(t, frames))
		time.Sleep(50 * time.Millisecond) // let the receiver's close reach us
	}
	closeExporter(t, e)
	for i, f := range got {
		m := parseRFC5424(t, f.msg)
		if m.params["id"] != fmt.Sprint("c", i) || f.conn != i+1 {
			t.Errorf("frame %d: id %s on connection %d, want c%d on %d", i, m.params["id"], f.conn, i, i+1)
		}
	}
	if st := onlyStats(t, e); st != (SinkStats{Sent: 3}) {
		t.Errorf("stats = %+v, want 3 sent", st)
	}
}

func TestSyslogRetriesUntilReceiverStarts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens yet
	e := newExporter(t, Config{Syslog: []Syslog{{Network: "tcp", Address: addr}}})
	e.Publish(bandEvent("late", "h", "low", "medium", 30))
	time.Sleep(100 * time.Millisecond) // several refused dials

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, err := readFrame(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	if m := parseRFC5424(t, msg); m.params["id"] != "late" {
		t.Errorf("got %q", msg)
	}
}

func TestSyslogSeverityByBand(t *testing.T) {
	tests := []struct {
		ev   Event
		want int
	}{
		{Event{Kind: KindBandChange, To: "critical"}, 130},
		{Event{Kind: KindBandChange, To: "high"}, 131},
		{Event{Kind: KindBandChange, To: "medium"}, 132},
		{Event{Kind: KindBandChange, To: "low"}, 133},
		{Event{Kind: KindBandChange, From: "critical", To: "low"}, 133},
		{Event{Kind: KindNewCluster, Cluster: &ClusterInfo{ID: "c"}}, 132},
		{Event{Kind: "something_else"}, 133},
	}
	for _, tt := range tests {
		got := parseRFC5424(t, string(formatRFC5424(tt.ev, "h", "farmwatch", "1")))
		if got.pri != tt.want {
			t.Errorf("%s to %q: PRI %d, want %d", tt.ev.Kind, tt.ev.To, got.pri, tt.want)
		}
	}
}

func TestSyslogFormatGolden(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	events := []Event{
		{Kind: KindBandChange, At: at, ID: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", DeviceID: "d-42", Hostname: "laptop-42", From: "medium", To: "high", Score: 64.5},
		{Kind: KindBandChange, At: at, ID: "x", DeviceID: "d-43", Hostname: hostile + "\xff\u202e\\end", To: "low"},
		{Kind: KindNewCluster, At: at, ID: "y", Cluster: &ClusterInfo{ID: "c-1", Members: []string{"d-1", "d-2"}, Kinds: []string{"gateway_mac"}}},
	}
	var b strings.Builder
	for _, ev := range events {
		b.Write(formatRFC5424(ev, "collector-1", "farmwatch", "4242"))
		b.WriteByte('\n')
	}
	if *update {
		if err := os.WriteFile("testdata/rfc5424.golden", []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/rfc5424.golden")
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("formatted:\n%s\nwant (testdata/rfc5424.golden):\n%s", b.String(), want)
	}
}

func TestSyslogHeaderFieldsSanitised(t *testing.T) {
	tests := []struct{ in, want string }{
		{"collector-1.example.com", "collector-1.example.com"},
		{"bad host\n\x00é", "badhost"},
		{"", "-"},
		{"\x01\x02", "-"},
		{strings.Repeat("a", 300), strings.Repeat("a", 255)},
	}
	for _, tt := range tests {
		if got := headerField(tt.in, 255); got != tt.want {
			t.Errorf("headerField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSyslogMembersCapped(t *testing.T) {
	members := make([]string, 2000)
	for i := range members {
		members[i] = fmt.Sprintf("device-%05d", i)
	}
	msg := formatRFC5424(Event{Kind: KindNewCluster, ID: "big", Cluster: &ClusterInfo{ID: "c", Members: members, Kinds: []string{"wifi"}}}, "h", "a", "1")
	if len(msg) > 8192 {
		t.Errorf("message of %d octets, want at most 8192", len(msg))
	}
	m := parseRFC5424(t, string(msg))
	if m.params["member_count"] != "2000" || !strings.HasPrefix(m.params["members"], "device-00000,device-00001,") {
		t.Errorf("member_count %q members %.40q", m.params["member_count"], m.params["members"])
	}
}
