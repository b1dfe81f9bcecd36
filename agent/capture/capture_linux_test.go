package capture

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// flow is the transport view of a captured frame.
type flow struct {
	proto        byte // protoTCP or protoUDP
	sport, dport uint16
	payload      []byte
}

// parseFrame decodes Ethernet (one optional 802.1Q tag) / IPv4 or IPv6 /
// TCP or UDP. ok is false for anything else.
func parseFrame(f Frame) (fl flow, ok bool) {
	b := f.Data
	if f.Link != LinkEthernet || len(b) < 14 {
		return fl, false
	}
	et, b := binary.BigEndian.Uint16(b[12:]), b[14:]
	if et == etherTypeVLAN && len(b) >= 4 {
		et, b = binary.BigEndian.Uint16(b[2:]), b[4:]
	}
	switch {
	case et == etherTypeIPv4 && len(b) >= 20:
		hl := int(b[0]&0xf) * 4
		if len(b) < hl {
			return fl, false
		}
		fl.proto, b = b[9], b[hl:]
	case et == etherTypeIPv6 && len(b) >= 40:
		fl.proto, b = b[6], b[40:]
	default:
		return fl, false
	}
	switch {
	case fl.proto == protoUDP && len(b) >= 8:
		fl.payload = b[8:]
	case fl.proto == protoTCP && len(b) >= 20 && len(b) >= int(b[12]>>4)*4:
		fl.payload = b[int(b[12]>>4)*4:]
	default:
		return fl, false
	}
	fl.sport, fl.dport = binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	return fl, true
}

func openLoopback(t testing.TB, o Options) Source {
	t.Helper()
	o.Interfaces = []string{"lo"}
	src, err := Open(o)
	if errors.Is(err, ErrNotPermitted) {
		t.Skipf("capture needs root or CAP_NET_RAW: %v", err)
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "relay.example.net"},
		DNSNames:     []string{"relay.example.net"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// udpPort returns a bound, unread UDP socket's port on 127.0.0.1.
func udpPort(t testing.TB) (*net.UDPConn, uint16) {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, uint16(c.LocalAddr().(*net.UDPAddr).Port)
}

func TestLiveLoopback(t *testing.T) {
	src := openLoopback(t, Options{})
	start := time.Now()

	// DNS: a server on port 53 of another loopback address, if one is free.
	var dnsPort53 bool
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.53"} {
		srv, err := net.ListenPacket("udp4", ip+":53")
		if err != nil {
			continue
		}
		defer srv.Close()
		go func() {
			buf := make([]byte, 512)
			n, from, err := srv.ReadFrom(buf)
			if err == nil {
				buf[2] |= 0x80 // QR: answer
				srv.WriteTo(buf[:n], from)
			}
		}()
		c, err := net.Dial("udp4", ip+":53")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write(dnsQuery); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 512)); err != nil {
			t.Fatalf("DNS answer: %v", err)
		}
		dnsPort53 = true
		break
	}
	if !dnsPort53 {
		t.Log("DNS case skipped: port 53 is taken on 127.0.0.2, .3 and .53")
	}

	// TLS to a random port: captured thanks to the handshake-record rule.
	ln, err := tls.Listen("tcp4", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	tlsPort := uint16(ln.Addr().(*net.TCPAddr).Port)
	tc, err := tls.Dial("tcp4", ln.Addr().String(), &tls.Config{ServerName: "relay.example.net", InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS: %v", err)
	}
	tc.Close()

	// STUN Binding request to a random UDP port.
	_, stunPort := udpPort(t)
	sc, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", itoa(stunPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Write(stunBinding); err != nil {
		t.Fatal(err)
	}

	// Plain HTTP: must not be captured.
	hl, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })}
	go hs.Serve(hl)
	defer hs.Close()
	httpPort := uint16(hl.Addr().(*net.TCPAddr).Port)
	resp, err := http.Get("http://" + hl.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	var (
		frames                                  int
		dnsQ, dnsA, hello, serverHello, stunReq bool
	)
	done := func() bool { return (!dnsPort53 || dnsQ && dnsA) && hello && serverHello && stunReq }
	deadline := time.Now().Add(10 * time.Second)
	var quietUntil time.Time
	for {
		if done() && quietUntil.IsZero() {
			quietUntil = time.Now().Add(300 * time.Millisecond) // let stragglers in
		}
		end := deadline
		if !quietUntil.IsZero() {
			end = quietUntil
		}
		ctx, cancel := context.WithDeadline(context.Background(), end)
		f, err := src.Read(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		frames++
		if f.Interface != "lo" || f.Link != LinkEthernet || f.OrigLen < len(f.Data) || f.Time.Before(start.Add(-time.Second)) {
			t.Errorf("frame metadata: if=%q link=%d origlen=%d len=%d time=%v", f.Interface, f.Link, f.OrigLen, len(f.Data), f.Time)
		}
		fl, ok := parseFrame(f)
		if !ok {
			t.Errorf("captured an unparsable frame % x", f.Data)
			continue
		}
		switch {
		case fl.proto == protoUDP && fl.dport == 53:
			dnsQ = true
		case fl.proto == protoUDP && fl.sport == 53:
			dnsA = true
		case fl.proto == protoTCP && fl.dport == tlsPort && len(fl.payload) > 5 && fl.payload[0] == 0x16 && fl.payload[5] == 1:
			hello = true
		case fl.proto == protoTCP && fl.sport == tlsPort && len(fl.payload) > 5 && fl.payload[0] == 0x16 && fl.payload[5] == 2:
			serverHello = true
		case fl.proto == protoUDP && fl.dport == stunPort:
			stunReq = true
		case fl.sport == httpPort || fl.dport == httpPort:
			t.Errorf("captured HTTP: %+v", fl)
		}
	}
	if !done() {
		t.Errorf("missing frames within 10 s: DNS query %v answer %v (port 53 usable: %v), ClientHello %v, ServerHello %v, STUN %v",
			dnsQ, dnsA, dnsPort53, hello, serverHello, stunReq)
	}
	st := src.Stats()
	t.Logf("%d frames read in %v; stats %+v", frames, time.Since(start).Round(time.Millisecond), st)
	if st.Received < uint64(frames) || st.Shed != 0 {
		t.Errorf("stats %+v after %d frames", st, frames)
	}

	// Read honours ctx, Close ends Read and is idempotent.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for {
		if _, err := src.Read(ctx); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Read with expired ctx: %v", err)
			}
			break
		}
	}
	closeStart := time.Now()
	if err := src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(closeStart); d > time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := src.Read(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
	if st2 := src.Stats(); st2.Received < st.Received {
		t.Errorf("stats after Close %+v < %+v", st2, st)
	}
}

func itoa(p uint16) string { return big.NewInt(int64(p)).String() }

func TestLiveShedding(t *testing.T) {
	src := openLoopback(t, Options{MaxPacketsPerSecond: 10})
	_, port := udpPort(t)
	c, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 200
	for range sent {
		if _, err := c.Write(stunBinding); err != nil {
			t.Fatal(err)
		}
	}
	// Read the burst: a handful passes, the rest is shed.
	count := func(d time.Duration, anyFrame bool) (n int) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		for {
			f, err := src.Read(ctx)
			if err != nil {
				return n
			}
			if fl, ok := parseFrame(f); anyFrame || ok && fl.dport == port {
				n++
			}
		}
	}
	got := count(500*time.Millisecond, false)
	st := src.Stats()
	t.Logf("burst of %d: %d read, stats %+v", sent, got, st)
	if st.Shed == 0 || got == 0 || got > 20 {
		t.Errorf("burst of %d at 10/s: read %d, stats %+v", sent, got, st)
	}
	// Loopback frames are seen once; other tests' loopback traffic that passes the kernel
	// filter (TLS hellos, DNS) may add a few, so only fewer than sent is a loss.
	if st.Received < sent {
		t.Errorf("Received %d, want at least the %d sent", st.Received, sent)
	}
	// The bucket refills: Read keeps returning (any frame: other tests' loopback traffic that
	// passes the filter may take the refilled tokens before ours).
	time.Sleep(300 * time.Millisecond)
	if _, err := c.Write(stunBinding); err != nil {
		t.Fatal(err)
	}
	if n := count(time.Second, true); n == 0 {
		t.Errorf("no frame after the bucket refilled; stats %+v", src.Stats())
	}
}

func TestOpenAllInterfaces(t *testing.T) {
	src, err := Open(Options{})
	if errors.Is(err, ErrNotPermitted) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := src.(*source)
	var names []string
	for _, h := range s.handles {
		names = append(names, h.name)
	}
	t.Logf("capturing on %v", names)
	if !strings.Contains(" "+strings.Join(names, " ")+" ", " lo ") {
		t.Errorf("loopback missing from %v", names)
	}
	if err := src.Close(); err != nil {
		t.Error(err)
	}
	if _, err := Open(Options{Interfaces: []string{"no-such-if0"}}); err == nil || errors.Is(err, ErrNotPermitted) {
		t.Errorf("Open(no-such-if0): %v", err)
	}
}

const helperEnv = "FARMWATCH_CAPTURE_HELPER"

// TestHelperOpen runs in the unprivileged subprocess of TestOpenNotPermitted.
func TestHelperOpen(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper of TestOpenNotPermitted")
	}
	src, err := Open(Options{Interfaces: []string{"lo"}})
	if err == nil {
		src.Close()
		t.Fatalf("uid %d: Open succeeded", os.Getuid())
	}
	if !errors.Is(err, ErrNotPermitted) || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("uid %d: Open: %v, want ErrNotPermitted wrapping EPERM", os.Getuid(), err)
	}
	t.Logf("HELPER-OK: %v", err)
}

func TestOpenNotPermitted(t *testing.T) {
	if os.Geteuid() != 0 {
		_, err := Open(Options{Interfaces: []string{"lo"}})
		if !errors.Is(err, ErrNotPermitted) {
			t.Skipf("not root and Open gave %v (CAP_NET_RAW?)", err)
		}
		return
	}
	// Re-exec the test binary as nobody. It must be readable by nobody.
	dir, err := os.MkdirTemp("", "capture-helper-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "capture.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperOpen$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("cannot switch to uid 65534: %v", err)
	}
	if err != nil || !strings.Contains(string(out), "HELPER-OK") {
		t.Fatalf("helper as uid 65534: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "HELPER-OK") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// BenchmarkFilter measures the Source end to end on loopback: STUN packets
// to a random port are blasted by a goroutine, pass the kernel filter, and
// are read through Read (no rate limit). It reports frames/s.
func BenchmarkFilter(b *testing.B) {
	src := openLoopback(b, Options{MaxPacketsPerSecond: -1, BufferBytes: 8 << 20})
	_, port := udpPort(b)
	c, err := net.Dial("udp4", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for range 64 {
				c.Write(stunBinding)
				n++
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if _, err := src.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stop)
	n := <-sent
	c.Close()
	st := src.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "frames/s")
	b.Logf("N=%d in %v, %d sent, stats %+v", b.N, elapsed.Round(time.Millisecond), n, st)
}
