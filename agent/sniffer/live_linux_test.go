package sniffer

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/farmwatch/farmwatch/agent/capture"
	"github.com/farmwatch/farmwatch/agent/detect"
	_ "github.com/farmwatch/farmwatch/agent/detectors"
	"github.com/farmwatch/farmwatch/agent/netwatch"
	"github.com/farmwatch/farmwatch/agent/scan"
	"github.com/farmwatch/farmwatch/catalog"
	pb "github.com/farmwatch/farmwatch/proto/farmwatch/v1"
	"github.com/farmwatch/farmwatch/server/pki"
)

// The live test runs real programs on loopback: dnsmasq answering relay names, dig asking
// them, openssl s_client opening TLS to a relay name, and a STUN binding request; the live
// sniffer (AF_PACKET on lo) must see each, and a scan must attribute them to the processes.

func needBin(t *testing.T, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed: .ci/run must install it", b)
			}
			t.Skipf("%s not installed", b)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
}

func startCmd(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, _ := os.Create(filepath.Join(t.TempDir(), name+".log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logf.Close()
	})
	return cmd
}

func stunBinding(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 20)
	binary.BigEndian.PutUint16(msg[0:], 0x0001) // Binding request
	binary.BigEndian.PutUint16(msg[2:], 0)
	binary.BigEndian.PutUint32(msg[4:], 0x2112A442)
	copy(msg[8:], "farmwatch-tx")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
}

func TestLiveSnifferSeesRelayTrafficOfRealClients(t *testing.T) {
	needBin(t, "dnsmasq", "dig", "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	an := netwatch.New(cat)
	live, err := Start(ctx, capture.Options{Interfaces: []string{"lo"}}, an, nil)
	if err != nil {
		t.Fatalf("live capture on lo: %v", err)
	}
	defer live.Close()

	// A real DNS server that knows the relay names, on loopback only.
	l, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Skipf("port 53 on loopback is taken: %v", err)
	}
	l.Close()
	startCmd(t, "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53",
		"--address=/net.anydesk.com/127.0.0.2", "--address=/rustdesk.com/127.0.0.3", "--address=/tailscale.com/127.0.0.4", "--user=root")
	time.Sleep(300 * time.Millisecond)
	out, err := exec.Command("dig", "@127.0.0.1", "+short", "+tries=3", "+time=1", "relay-1a2b3c4d.net.anydesk.com").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "127.0.0.2") {
		t.Fatalf("dig: %v %s", err, out)
	}

	// A real TLS server, and openssl s_client asking for a RustDesk rendezvous name. s_client
	// stays connected (stdin open) so the scan sees its socket.
	ca, _, err := pki.LoadOrCreate(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	der, key, err := ca.IssueServer([]string{"127.0.0.1"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); time.Sleep(30 * time.Second); c.Close() }()
		}
	}()
	pr, pw, _ := os.Pipe()
	defer pw.Close()
	client := exec.Command("openssl", "s_client", "-connect", tl.Addr().String(), "-servername", "rs-ny.rustdesk.com", "-quiet")
	client.Stdin = pr
	client.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-client.Process.Pid, syscall.SIGKILL); _ = client.Wait() }()

	// A STUN binding request to a Tailscale DERP name's address (learned from DNS above).
	if out, err := exec.Command("dig", "@127.0.0.1", "+short", "derp1.tailscale.com").CombinedOutput(); err != nil {
		t.Fatalf("dig derp: %v %s", err, out)
	}
	stunBinding(t, "127.0.0.4:3478")

	// Scan the live machine with the sniffer's analyzer, as `run` does.
	dets, err := detect.New(nil, []string{"relay"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &scan.Scanner{Detectors: dets, Network: an}
	var rep *pb.Report
	deadline := time.Now().Add(20 * time.Second)
	for {
		if rep, err = s.Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if has(rep, "relay.dns", "anydesk", "") && has(rep, "relay.tls", "rustdesk", "openssl") && has(rep, "relay.stun", "tailscale", "") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("missing relay findings (sniffer %+v); findings:\n%s", live.Stats(), dump(rep))
		}
		time.Sleep(300 * time.Millisecond)
	}
	st := live.Stats()
	if st.Decoded == 0 || st.Capture.Received == 0 {
		t.Errorf("sniffer stats %+v", st)
	}
}

func has(r *pb.Report, signal, tool, process string) bool {
	for _, f := range r.GetFindings() {
		if f.GetSignal() == signal && f.GetEvidence()["tool"] == tool && (process == "" || f.GetEvidence()["process"] == process) {
			return true
		}
	}
	return false
}

func dump(r *pb.Report) string {
	var b strings.Builder
	for _, f := range r.GetFindings() {
		fmt.Fprintf(&b, "  %s %s %v\n", f.GetSignal(), f.GetTitle(), f.GetEvidence())
	}
	return b.String()
}

func TestLiveSnifferOffWithoutPrivilegeSaysWhy(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root here; the capture layer's own test covers the unprivileged case")
	}
	_, err := Start(context.Background(), capture.Options{Interfaces: []string{"lo"}}, netwatch.New(&catalog.Catalog{}), nil)
	if !errors.Is(err, capture.ErrNotPermitted) {
		t.Fatalf("unprivileged start: %v", err)
	}
}

// TestHelperSender is not a test: BenchmarkLiveSnifferCPU runs the test binary again with
// FARMWATCH_SEND_PPS set, so the traffic comes from another process and the benchmark's own
// CPU time is the sniffer's alone.
func TestHelperSender(t *testing.T) {
	pps, _ := strconv.Atoi(os.Getenv("FARMWATCH_SEND_PPS"))
	if pps == 0 {
		t.Skip("helper for BenchmarkLiveSnifferCPU")
	}
	secs, _ := strconv.Atoi(os.Getenv("FARMWATCH_SEND_SECONDS"))
	c, err := net.Dial("udp", os.Getenv("FARMWATCH_SEND_TO"))
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 20)
	binary.BigEndian.PutUint16(msg[0:], 0x0001)
	binary.BigEndian.PutUint32(msg[4:], 0x2112A442)
	// Mixed traffic: STUN (passes the filter) and plain UDP (dropped in the kernel), 1:1.
	plain := make([]byte, 200)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	perTick := pps / 1000
	end := time.Now().Add(time.Duration(secs) * time.Second)
	for time.Now().Before(end) {
		<-tick.C
		for i := 0; i < perTick; i++ {
			if i%2 == 0 {
				c.Write(msg)
			} else {
				c.Write(plain)
			}
		}
	}
}

// BenchmarkLiveSnifferCPU measures the CPU the live sniffer adds while another process sends
// 10,000 packets/s of mixed traffic on loopback for 3 s: the figure is cpu_%_of_core.
func BenchmarkLiveSnifferCPU(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		an := netwatch.New(cat)
		live, err := Start(ctx, capture.Options{Interfaces: []string{"lo"}}, an, nil)
		if err != nil {
			b.Fatal(err)
		}
		sink, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var before, after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSender$")
		cmd.Env = append(os.Environ(), "FARMWATCH_SEND_PPS=10000", "FARMWATCH_SEND_SECONDS=3", "FARMWATCH_SEND_TO="+sink.LocalAddr().String())
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sender: %v\n%s", err, out)
		}
		wall := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		cpu := time.Duration(after.Utime.Nano()-before.Utime.Nano()) + time.Duration(after.Stime.Nano()-before.Stime.Nano())
		st := live.Stats()
		live.Close()
		sink.Close()
		cancel()
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu_%_of_core")
		b.ReportMetric(float64(st.Decoded)/wall.Seconds(), "decoded/s")
		b.ReportMetric(float64(st.Capture.Shed), "shed")
		b.ReportMetric(float64(st.Capture.Dropped), "dropped")
	}
}
