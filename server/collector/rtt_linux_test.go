package collector

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread switched into the named network namespace; sockets fn creates
// stay in that namespace.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("cannot return to the original network namespace: %v", err))
		}
	}()
	fn()
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// openTun creates a TUN interface in the current thread's namespace.
func openTun(t *testing.T, name string) *os.File {
	t.Helper()
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		t.Fatal(err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		t.Skipf("TUNSETIFF: %v", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "tun-"+name)
}

// wire copies IP packets from one TUN device to the other, each delayed by d: a real path
// with a real round trip, for kernels without netem.
func wire(from, to *os.File, d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	type pkt struct {
		at   time.Time
		data []byte
	}
	q := make(chan pkt, 4096)
	go func() {
		for p := range q {
			time.Sleep(time.Until(p.at))
			to.Write(p.data)
		}
	}()
	defer close(q)
	buf := make([]byte, 65536)
	for {
		n, err := from.Read(buf)
		if err != nil {
			return
		}
		q <- pkt{time.Now().Add(d), append([]byte(nil), buf[:n]...)}
	}
}

// The collector's round trip comes from the kernel's TCP estimate on the real connection: here
// a path of two namespaces joined by a 20 ms-each-way wire.
func TestRTTMeasuredOnDelayedPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	a, b := fmt.Sprintf("fwrtt%da", os.Getpid()), fmt.Sprintf("fwrtt%db", os.Getpid())
	for _, ns := range []string{a, b} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	var tunA, tunB *os.File
	inNetns(t, a, func() { tunA = openTun(t, "fwa") })
	inNetns(t, b, func() { tunB = openTun(t, "fwb") })
	sh(t, "ip", "-n", a, "addr", "add", "10.231.0.1", "peer", "10.231.0.2", "dev", "fwa")
	sh(t, "ip", "-n", b, "addr", "add", "10.231.0.2", "peer", "10.231.0.1", "dev", "fwb")
	sh(t, "ip", "-n", a, "link", "set", "fwa", "up")
	sh(t, "ip", "-n", b, "link", "set", "fwb", "up")
	var wg sync.WaitGroup
	wg.Add(2)
	go wire(tunA, tunB, 20*time.Millisecond, &wg)
	go wire(tunB, tunA, 20*time.Millisecond, &wg)
	t.Cleanup(func() { tunA.Close(); tunB.Close(); wg.Wait() })

	var l net.Listener
	inNetns(t, a, func() {
		var err error
		if l, err = net.Listen("tcp", "10.231.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer l.Close()
	c := &Collector{}
	tl := c.Listen(l).(*connTracker)
	var client net.Conn
	inNetns(t, b, func() {
		var err error
		if client, err = net.DialTimeout("tcp", l.Addr().String(), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	defer client.Close()
	server, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	// A few request/response exchanges give the kernel round-trip samples.
	go io.Copy(client, client)
	buf := make([]byte, 4)
	for i := 0; i < 5; i++ {
		server.Write([]byte("ping"))
		if _, err := io.ReadFull(server, buf); err != nil {
			t.Fatal(err)
		}
	}
	conn := tl.lookup(client.LocalAddr().String())
	if conn == nil {
		t.Fatal("accepted connection not tracked")
	}
	rtt, ok := connRTT(conn)
	t.Logf("kernel round trip on a 2×20 ms path: %v", rtt)
	if !ok || rtt < 38*time.Millisecond || rtt > 150*time.Millisecond {
		t.Fatalf("round trip = %v (ok=%v), want about 40 ms", rtt, ok)
	}
	server.Close()
	if tl.lookup(client.LocalAddr().String()) != nil {
		t.Fatal("closed connection still tracked")
	}
}
