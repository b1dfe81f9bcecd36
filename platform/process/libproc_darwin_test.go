package process

import (
	"context"
	"net"
	"os"
	"slices"
	"testing"
)

// TestLiveSocketsDarwin checks the libproc reader against a listener and a
// connection of our own. Compile-only off macOS.
func TestLiveSocketsDarwin(t *testing.T) {
	if _, err := loadLibproc(); err != nil {
		t.Fatalf("libproc: %v", err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := uint32(c.LocalAddr().(*net.TCPAddr).Port)

	pid := int32(os.Getpid())
	got, err := liveSockets(context.Background(), []Process{{PID: pid}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []Socket{
		{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: port, State: "LISTEN"},
		{Protocol: "tcp", LocalAddress: "127.0.0.1", LocalPort: local, RemoteAddress: "127.0.0.1", RemotePort: port, State: "ESTABLISHED"},
	} {
		if !slices.Contains(got[pid], want) {
			t.Errorf("own sockets %+v lack %+v", got[pid], want)
		}
	}
}
